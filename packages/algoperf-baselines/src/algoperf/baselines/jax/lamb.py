"""LAMB (`optimizers.lamb`) in JAX, with warmup + cosine decay.

Search space: reference-spec 6.4 (`search_space_path('lamb')`).
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.jax import optimizers, train

SUBMISSION = train.JaxBaseline(train.adam_like(optimizers.lamb), ADAM_HYPERPARAMETERS)
