"""LAMB in PyTorch, with warmup + cosine decay.

The same function as `algoperf.baselines.jax.lamb`; search space `search_space_path('lamb')`.
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.pytorch import optimizers, train

SUBMISSION = train.TorchBaseline(
    train.adam_like(optimizers.Lamb), train.warmup_cosine, ADAM_HYPERPARAMETERS
)
