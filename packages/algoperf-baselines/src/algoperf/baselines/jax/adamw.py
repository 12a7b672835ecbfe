"""AdamW (`optax.adamw`, eps 1e-8) in JAX, with warmup + cosine decay.

Search space: reference-spec 6.4 (`search_space_path('adamw')`).
"""

import optax

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.jax import train

SUBMISSION = train.JaxBaseline(train.adam_like(optax.adamw), ADAM_HYPERPARAMETERS)
