"""NAdamW, AlgoPerf's baseline, in JAX: self-tuning, at its fixed point (reference-spec 6.4)."""

from algoperf.baselines._common import ADAM_HYPERPARAMETERS, NADAMW_SELF_TUNING
from algoperf.baselines.jax import nadamw, train

SUBMISSION = train.JaxBaseline(
    nadamw.SUBMISSION.make_optimizer, ADAM_HYPERPARAMETERS, NADAMW_SELF_TUNING
)
