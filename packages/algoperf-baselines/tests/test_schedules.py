"""The shared schedules equal the reference's optax constructions, in numpy and in jax.numpy."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algoperf.baselines import _schedules

STEP_HINT = 200


@pytest.mark.parametrize("warmup_factor", [0.0, 0.05, 0.1])
def test_warmup_cosine_matches_optax_join_schedules(warmup_factor: float) -> None:
    warmup = int(warmup_factor * STEP_HINT)
    reference = optax.join_schedules(
        [
            optax.linear_schedule(0.0, 1.0, warmup),
            optax.cosine_decay_schedule(1.0, max(STEP_HINT - warmup, 1)),
        ],
        [warmup],
    )
    steps = np.arange(STEP_HINT + 10)
    expected = np.array([reference(s) for s in steps])
    for xp in (np, jnp):
        factor = _schedules.warmup_cosine(warmup_factor, STEP_HINT, xp=xp)
        np.testing.assert_allclose(np.asarray(factor(steps)), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("end_factor", [1e-3, 1e-2])
def test_warmup_linear_decay_matches_optax_polynomial(end_factor: float) -> None:
    warmup = int(0.05 * STEP_HINT)
    decay = int((STEP_HINT - warmup) * 0.9)
    reference = optax.join_schedules(
        [
            optax.linear_schedule(0.0, 1.0, warmup),
            optax.polynomial_schedule(1.0, end_factor, power=1, transition_steps=decay),
        ],
        [warmup],
    )
    steps = np.arange(STEP_HINT + 10)
    expected = np.array([reference(s) for s in steps])
    for xp in (np, jnp):
        factor = _schedules.warmup_linear_decay(0.05, STEP_HINT, 0.9, end_factor, xp=xp)
        np.testing.assert_allclose(np.asarray(factor(steps)), expected, rtol=1e-6, atol=1e-7)
    assert expected[-1] == pytest.approx(end_factor)


def test_warmup_constant_starts_positive_and_holds_at_one() -> None:
    factor = _schedules.warmup_constant(0.05, STEP_HINT)
    assert float(factor(0)) == pytest.approx(1 / 10)
    assert float(factor(9)) == 1.0
    assert float(factor(STEP_HINT * 3)) == 1.0
