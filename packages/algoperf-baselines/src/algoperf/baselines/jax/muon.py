"""Muon (`optimizers.muon`; AdamW for non-matrix parameters) in JAX, with warmup + cosine decay.

A baseline the reference lacks; search space `search_space_path('muon')`.
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.jax import optimizers, train

SUBMISSION = train.JaxBaseline(train.adam_like(optimizers.muon), ADAM_HYPERPARAMETERS)
