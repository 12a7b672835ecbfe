"""NAdamW, AlgoPerf's baseline (reference-spec 6.2), in JAX: external tuning.

Tuned over the reference's list of 5 points (`search_space_path('nadamw')`); the schedule is
warmup + cosine decay by step hint.
"""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.jax import optimizers, train

SUBMISSION = train.JaxBaseline(train.adam_like(optimizers.nadamw), ADAM_HYPERPARAMETERS)
