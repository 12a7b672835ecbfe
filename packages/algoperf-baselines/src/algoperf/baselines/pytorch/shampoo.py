"""Shampoo grafted onto RMSProp in PyTorch, with warmup + cosine decay.

The same function as `algoperf.baselines.jax.shampoo`; search space
`search_space_path('shampoo')`.
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.pytorch import optimizers, train

SUBMISSION = train.TorchBaseline(
    train.adam_like(optimizers.Shampoo), train.warmup_cosine, ADAM_HYPERPARAMETERS
)
