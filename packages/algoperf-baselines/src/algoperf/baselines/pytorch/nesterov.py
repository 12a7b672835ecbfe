"""Nesterov momentum SGD in PyTorch, with warmup + linear decay.

The same function as `algoperf.baselines.jax.nesterov`;
search space `search_space_path('nesterov')`.
"""

from __future__ import annotations

import torch
from torch import nn

from algoperf.api import Hyperparameters
from algoperf.baselines.pytorch import train


def make_optimizer(
    params: list[nn.Parameter], hyperparameters: Hyperparameters
) -> torch.optim.Optimizer:
    """SGD with L2 weight decay added to the gradient before momentum."""
    return torch.optim.SGD(
        params,
        lr=hyperparameters.learning_rate,
        momentum=1.0 - hyperparameters.one_minus_beta1,
        weight_decay=hyperparameters.weight_decay,
        nesterov=True,
    )


BASELINE = train.TorchBaseline(make_optimizer, train.warmup_linear_decay)
get_batch_size = BASELINE.get_batch_size
init_optimizer_state = BASELINE.init_optimizer_state
update_params = BASELINE.update_params
data_selection = BASELINE.data_selection
