"""Nesterov momentum SGD in JAX: `momentum.py` with `nesterov=True`.

Search space: reference-spec 6.4 (`search_space_path('nesterov')`, the same as momentum's).
"""

from functools import partial

from algoperf.baselines._common import SGD_HYPERPARAMETERS
from algoperf.baselines.jax import momentum, train

SUBMISSION = train.JaxBaseline(partial(momentum.make_optimizer, nesterov=True), SGD_HYPERPARAMETERS)
