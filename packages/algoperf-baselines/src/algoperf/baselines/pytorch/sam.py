"""SAM over AdamW in PyTorch, with warmup + cosine decay.

The same function as `algoperf.baselines.jax.sam`; search space `search_space_path('sam')`.
"""

from __future__ import annotations

from algoperf.baselines.pytorch import train
from algoperf.baselines.pytorch.adamw import make_optimizer

BASELINE = train.SamBaseline(make_optimizer, train.warmup_cosine)
get_batch_size = BASELINE.get_batch_size
init_optimizer_state = BASELINE.init_optimizer_state
update_params = BASELINE.update_params
data_selection = BASELINE.data_selection
