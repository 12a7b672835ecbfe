"""SAM over AdamW in JAX, with warmup + cosine decay.

The neighbourhood radius is the `rho` hyperparameter. Search space: reference-spec 6.4
(`search_space_path('sam')`).
"""

from __future__ import annotations

from algoperf.baselines.jax import train
from algoperf.baselines.jax.adamw import make_optimizer

BASELINE = train.SamBaseline(make_optimizer)
get_batch_size = BASELINE.get_batch_size
init_optimizer_state = BASELINE.init_optimizer_state
update_params = BASELINE.update_params
data_selection = BASELINE.data_selection
