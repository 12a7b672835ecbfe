"""Nesterov momentum SGD in PyTorch: `momentum.py` with `nesterov=True`.

The same function as `algoperf.baselines.jax.nesterov`;
search space `search_space_path('nesterov')`.
"""

from functools import partial

from algoperf.baselines._common import SGD_HYPERPARAMETERS
from algoperf.baselines.pytorch import momentum, train

SUBMISSION = train.TorchBaseline(
    partial(momentum.make_optimizer, nesterov=True), train.warmup_linear_decay, SGD_HYPERPARAMETERS
)
