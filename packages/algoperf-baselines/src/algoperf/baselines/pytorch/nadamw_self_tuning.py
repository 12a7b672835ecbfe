"""NAdamW, AlgoPerf's baseline, in PyTorch: self-tuning, at its fixed point (reference-spec 6.4)."""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS, NADAMW_SELF_TUNING
from algoperf.baselines.pytorch import nadamw, train

SUBMISSION = train.TorchBaseline(
    nadamw.SUBMISSION.make_optimizer, train.warmup_cosine, ADAM_HYPERPARAMETERS, NADAMW_SELF_TUNING
)
