"""Schedule-Free AdamW in JAX: warmup only, evaluated at the averaged sequence x.

`prepare_for_eval` swaps in x before each eval (reference-spec 1.2). A baseline the reference
lacks; search space `search_space_path('schedule_free_adamw')`.
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.jax import optimizers, train

SUBMISSION = train.ScheduleFreeBaseline(
    train.adam_like(optimizers.schedule_free_adamw, train.warmup_constant_lr),
    ADAM_HYPERPARAMETERS,
)
