"""SAM over AdamW in JAX, with warmup + cosine decay.

The neighbourhood radius is the `rho` hyperparameter. Search space: reference-spec 6.4
(`search_space_path('sam')`).
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.jax import adamw, train

SUBMISSION = train.SamBaseline(adamw.SUBMISSION.make_optimizer, ADAM_HYPERPARAMETERS)
