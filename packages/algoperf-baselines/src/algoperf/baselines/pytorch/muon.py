"""Muon (AdamW for non-matrix parameters) in PyTorch, with warmup + cosine decay.

The same function as `algoperf.baselines.jax.muon`; search space `search_space_path('muon')`.
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.pytorch import optimizers, train

SUBMISSION = train.TorchBaseline(
    train.adam_like(optimizers.Muon), train.warmup_cosine, ADAM_HYPERPARAMETERS
)
