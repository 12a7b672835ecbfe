"""SAM over AdamW in PyTorch, with warmup + cosine decay.

The same function as `algoperf.baselines.jax.sam`; search space `search_space_path('sam')`.
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.pytorch import adamw, train

SUBMISSION = train.SamBaseline(
    adamw.SUBMISSION.make_optimizer, train.warmup_cosine, ADAM_HYPERPARAMETERS
)
