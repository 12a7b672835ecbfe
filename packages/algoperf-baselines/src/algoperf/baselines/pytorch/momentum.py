"""Heavy-ball momentum SGD in PyTorch, with warmup + linear decay.

The same function as `algoperf.baselines.jax.momentum`;
search space `search_space_path('momentum')`.
"""

from __future__ import annotations

import torch
from torch import nn

from algoperf.api import Hyperparameters
from algoperf.baselines._common import SGD_HYPERPARAMETERS
from algoperf.baselines.pytorch import train


def make_optimizer(
    params: list[nn.Parameter], hyperparameters: Hyperparameters, nesterov: bool = False
) -> torch.optim.Optimizer:
    """SGD with L2 weight decay added to the gradient before momentum (`nesterov.py` sets it)."""
    return torch.optim.SGD(
        params,
        lr=hyperparameters.learning_rate,
        momentum=1.0 - hyperparameters.one_minus_beta1,
        weight_decay=hyperparameters.weight_decay,
        nesterov=nesterov,
    )


SUBMISSION = train.TorchBaseline(make_optimizer, train.warmup_linear_decay, SGD_HYPERPARAMETERS)
