"""NAdamW against numbers computed by hand from its formula (reference-spec 6.2)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from algoperf.baselines.jax import optimizers as jax_optimizers
from algoperf.baselines.pytorch import optimizers as torch_optimizers

LR, B1, B2, EPS, WD = 0.1, 0.9, 0.999, 1e-8, 0.1
THETA0 = np.array([0.5, -1.0, 2.0], dtype=np.float32)
GRADS = np.array([[0.2, -0.4, 1.0], [0.1, 0.3, -0.5], [-0.2, 0.2, 0.4]], dtype=np.float32)


def by_hand() -> list[np.ndarray]:
    """The formula, written out in float64."""
    theta, m, v, out = THETA0.astype(np.float64), 0.0, 0.0, []
    for t, g in enumerate(GRADS.astype(np.float64), start=1):
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g**2
        m_hat = (B1 * m + (1 - B1) * g) / (1 - B1**t)
        v_hat = v / (1 - B2**t)
        theta = theta - LR * (m_hat / (np.sqrt(v_hat) + EPS) + WD * theta)
        out.append(theta)
    return out


def test_first_step_is_1_9_times_the_gradient_sign() -> None:
    # t = 1: m = 0.1 g, look-ahead (0.09 + 0.1) g / 0.1 = 1.9 g, v_hat = g^2. optax.nadamw
    # would step 1.47 sign(g) here: its bias correction differs.
    expected = THETA0 - LR * (1.9 * np.sign(GRADS[0]) + WD * THETA0)
    np.testing.assert_allclose(by_hand()[0], expected, rtol=1e-6)


def jax_trajectory() -> list[np.ndarray]:
    tx = jax_optimizers.nadamw(LR, B1, B2, EPS, WD)
    params, state, out = jnp.asarray(THETA0), None, []
    state = tx.init(params)
    for g in GRADS:
        updates, state = tx.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
        out.append(np.asarray(params))
    return out


def torch_trajectory() -> list[np.ndarray]:
    p = torch.nn.Parameter(torch.from_numpy(THETA0.copy()))
    opt = torch_optimizers.NAdamW([p], lr=LR, b1=B1, b2=B2, eps=EPS, weight_decay=WD)
    out = []
    for g in GRADS:
        p.grad = torch.from_numpy(g.copy())
        opt.step()
        out.append(p.detach().numpy().copy())
    return out


@pytest.mark.parametrize("trajectory", [jax_trajectory, torch_trajectory])
def test_nadamw_matches_the_formula(trajectory) -> None:
    for step, (actual, expected) in enumerate(zip(trajectory(), by_hand(), strict=True)):
        # fp32 arithmetic (JAX computes the bias corrections in float32 too).
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6, err_msg=f"step {step}")


def test_nadamw_is_not_optax_nadamw() -> None:
    tx = optax.nadamw(LR, B1, B2, EPS, weight_decay=WD)
    params = jnp.asarray(THETA0)
    updates, _ = tx.update(jnp.asarray(GRADS[0]), tx.init(params), params)
    assert not np.allclose(np.asarray(params + updates), by_hand()[0], rtol=1e-3)
