"""Adafactor in PyTorch, with warmup + cosine decay.

The same function as `algoperf.baselines.jax.adafactor`;
search space `search_space_path('adafactor')`.
"""

from __future__ import annotations

import torch
from torch import nn

from algoperf.api import Hyperparameters
from algoperf.baselines._common import ADAFACTOR_HYPERPARAMETERS
from algoperf.baselines.pytorch import optimizers, train


def make_optimizer(
    params: list[nn.Parameter], hyperparameters: Hyperparameters
) -> torch.optim.Optimizer:
    """Adafactor at the peak learning rate (the schedule scales it); it has no `beta2`."""
    return optimizers.Adafactor(
        params,
        lr=hyperparameters.learning_rate,
        b1=1.0 - hyperparameters.one_minus_beta1,
        weight_decay=hyperparameters.weight_decay,
    )


SUBMISSION = train.TorchBaseline(make_optimizer, train.warmup_cosine, ADAFACTOR_HYPERPARAMETERS)
