"""Learning-rate schedules as pure functions of the step, shared by both frameworks.

Each builder returns `factor(step)`, the multiplier of the peak learning rate before update
number `step` (0-based, the optax `count`). Pass `xp=jax.numpy` to trace it inside a jitted
optax schedule; the default numpy gives floats for PyTorch's `LambdaLR`. Both frameworks thus
run the same formula (reference-spec 6.3).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

Schedule = Callable[[Any], Any]
"""`factor(step)`: the learning-rate multiplier at 0-based step `step`."""


def warmup_steps(warmup_factor: float, step_hint: int) -> int:
    """`int(warmup_factor * step_hint)`, as the reference computes it."""
    return int(warmup_factor * step_hint)


def warmup_cosine(warmup_factor: float, step_hint: int, *, xp: ModuleType = np) -> Schedule:
    """Linear warmup 0 → 1, then cosine decay 1 → 0 over `max(step_hint - warmup, 1)` steps.

    The Adam family's schedule (reference-spec 6.3): equal to optax's `join_schedules` of
    `linear_schedule(0, lr, warmup)` and `cosine_decay_schedule(lr, step_hint - warmup)`.
    """
    warmup = warmup_steps(warmup_factor, step_hint)
    decay = max(step_hint - warmup, 1)

    def factor(step: Any) -> Any:
        step = xp.asarray(step, dtype=xp.float32)
        warm = step / max(warmup, 1)
        progress = xp.clip((step - warmup) / decay, 0.0, 1.0)
        return xp.where(step < warmup, warm, 0.5 * (1.0 + xp.cos(math.pi * progress)))

    return factor


def warmup_linear_decay(
    warmup_factor: float,
    step_hint: int,
    decay_steps_factor: float,
    end_factor: float,
    *,
    xp: ModuleType = np,
) -> Schedule:
    """Linear warmup 0 → 1, then linear decay 1 → `end_factor`, then constant.

    The SGD family's schedule (reference-spec 6.3): the decay lasts
    `int((step_hint - warmup) * decay_steps_factor)` steps (optax `polynomial_schedule` with
    power 1).
    """
    warmup = warmup_steps(warmup_factor, step_hint)
    decay = int((step_hint - warmup) * decay_steps_factor)

    def factor(step: Any) -> Any:
        step = xp.asarray(step, dtype=xp.float32)
        warm = step / max(warmup, 1)
        progress = xp.clip((step - warmup) / max(decay, 1), 0.0, 1.0)
        return xp.where(step < warmup, warm, 1.0 + (end_factor - 1.0) * progress)

    return factor


def warmup_constant(warmup_factor: float, step_hint: int, *, xp: ModuleType = np) -> Schedule:
    """`min(1, (step + 1) / warmup)`: the only schedule Schedule-Free needs.

    It starts at 1/warmup rather than 0 (as the `schedulefree` package does), so the
    averaging weight of the first step is positive.
    """
    warmup = max(warmup_steps(warmup_factor, step_hint), 1)

    def factor(step: Any) -> Any:
        step = xp.asarray(step, dtype=xp.float32)
        return xp.minimum(1.0, (step + 1.0) / warmup)

    return factor
