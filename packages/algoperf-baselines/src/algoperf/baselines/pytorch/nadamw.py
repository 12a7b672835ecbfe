"""NAdamW, AlgoPerf's baseline, in PyTorch: external tuning.

The same function as `algoperf.baselines.jax.nadamw`; search space `search_space_path('nadamw')`.
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.pytorch import optimizers, train

SUBMISSION = train.TorchBaseline(
    train.adam_like(optimizers.NAdamW), train.warmup_cosine, ADAM_HYPERPARAMETERS
)
