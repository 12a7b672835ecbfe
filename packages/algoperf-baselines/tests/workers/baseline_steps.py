"""The NAdamW steps both device-count workers take, as plain data shared by the two.

Three `update_params` steps of the NAdamW baseline on `digits_mlp` from its seed-0
initialisation, each on a fixed random global batch of 64 with some examples masked out
(`weights` 0) so that every device (JAX, 8 x 8 examples) and every rank (PyTorch, 2 x 32)
holds a different number of valid examples. The steps are passed as global steps 0, 100 and
200, so the baseline logs loss and gradient norm at each of them; the learning rate has no
warmup, so the first step already moves the parameters.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

WORKLOAD = "digits_mlp"
BATCH_SIZE = 64
HYPERPARAMETERS = {
    "learning_rate": 1e-2,
    "one_minus_beta1": 0.1,
    "beta2": 0.99,
    "weight_decay": 0.01,
    "warmup_factor": 0.0,
    "label_smoothing": 0.1,
    "dropout_rate": 0.0,
}
GLOBAL_STEPS = (0, 100, 200)
MASKED = (
    np.arange(0, 12),  # JAX devices 0 and 1: 0 and 4 of 8 valid; ranks 20 and 32 of 32
    np.r_[3, 40:64],  # ranks: 31 and 8 valid
    np.arange(0, BATCH_SIZE, 3),  # every third: devices 3 or 2 masked, ranks 11 and 10
)


def global_batches() -> Iterator[dict[str, np.ndarray]]:
    """The global batch of each step (numpy), with its masked examples."""
    rng = np.random.default_rng(0)
    for masked in MASKED:
        weights = np.ones(BATCH_SIZE, np.float32)
        weights[masked] = 0.0
        yield {
            "inputs": rng.standard_normal((BATCH_SIZE, 8, 8, 1), dtype=np.float32),
            "targets": rng.integers(0, 10, BATCH_SIZE, dtype=np.int32),
            "weights": weights,
        }
