"""Flax's initialisers for PyTorch modules, so both frameworks start from the same distribution."""

from __future__ import annotations

import math

from torch import nn

TRUNCATED_STD = 0.87962566103423978
"""Standard deviation of a unit normal truncated to [-2, 2] (Flax's variance_scaling)."""


def flax_default_init(module: nn.Module) -> None:
    """LeCun-normal (truncated at two std) weights and zero biases, as Flax initialises Dense/Conv.

    LayerNorm already starts at Flax's (1, 0); other modules are left alone.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear | nn.Conv2d):
            fan_in = layer.weight[0].numel()
            std = math.sqrt(1.0 / fan_in) / TRUNCATED_STD
            nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
            if layer.bias is not None:  # bias-free layers keep none
                nn.init.zeros_(layer.bias)
