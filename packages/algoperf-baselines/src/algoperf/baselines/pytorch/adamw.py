"""AdamW (`torch.optim.AdamW`) in PyTorch, with warmup + cosine decay.

The same function as `algoperf.baselines.jax.adamw`; search space `search_space_path('adamw')`.
"""

from __future__ import annotations

import torch
from torch import nn

from algoperf.api import Hyperparameters
from algoperf.baselines._common import ADAM_HYPERPARAMETERS
from algoperf.baselines.pytorch import train


def make_optimizer(
    params: list[nn.Parameter], hyperparameters: Hyperparameters
) -> torch.optim.Optimizer:
    """AdamW at the peak learning rate (the schedule scales it); torch names its betas a pair."""
    return torch.optim.AdamW(
        params,
        lr=hyperparameters.learning_rate,
        betas=(1.0 - hyperparameters.one_minus_beta1, hyperparameters.beta2),
        eps=1e-8,
        weight_decay=hyperparameters.weight_decay,
    )


SUBMISSION = train.TorchBaseline(make_optimizer, train.warmup_cosine, ADAM_HYPERPARAMETERS)
