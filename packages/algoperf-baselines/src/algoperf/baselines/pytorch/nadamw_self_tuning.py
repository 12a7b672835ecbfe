"""NAdamW, AlgoPerf's baseline, in PyTorch: self-tuning, at its fixed point (reference-spec 6.4)."""

from __future__ import annotations

from algoperf.baselines._common import NADAMW_SELF_TUNING
from algoperf.baselines.pytorch import train
from algoperf.baselines.pytorch.nadamw import make_optimizer

BASELINE = train.TorchBaseline(make_optimizer, train.warmup_cosine, NADAMW_SELF_TUNING)
get_batch_size = BASELINE.get_batch_size
init_optimizer_state = BASELINE.init_optimizer_state
update_params = BASELINE.update_params
data_selection = BASELINE.data_selection
