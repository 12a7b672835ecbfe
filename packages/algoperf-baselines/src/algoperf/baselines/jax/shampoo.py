"""Shampoo grafted onto RMSProp (`optimizers.shampoo`) in JAX, with warmup + cosine decay.

Search space: reference-spec 6.4 (`search_space_path('shampoo')`).
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.jax import optimizers, train

SUBMISSION = train.JaxBaseline(train.adam_like(optimizers.shampoo), ADAM_HYPERPARAMETERS)
