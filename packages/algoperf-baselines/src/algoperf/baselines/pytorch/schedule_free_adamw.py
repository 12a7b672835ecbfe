"""Schedule-Free AdamW in PyTorch: warmup only, evaluated at the averaged sequence x.

The same function as `algoperf.baselines.jax.schedule_free_adamw`; `prepare_for_eval` swaps in x.
Search space `search_space_path('schedule_free_adamw')`.
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.pytorch import optimizers, train

SUBMISSION = train.ScheduleFreeBaseline(
    train.adam_like(optimizers.ScheduleFreeAdamW), train.warmup_constant, ADAM_HYPERPARAMETERS
)
