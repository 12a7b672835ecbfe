"""The baselines' optimizers as optax `GradientTransformation`s.

Each hand-written rule is a factory returning `init_fn`/`update_fn` with a `NamedTuple` state
(optax style). The formula is documented here once; `algoperf.baselines.pytorch.optimizers`
implements the same function and points back to these docstrings. Learning rates are
optax schedules (callables of the update count) or floats.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from algoperf.baselines._common import (
    NEWTON_SCHULZ_COEFFICIENTS,
    NEWTON_SCHULZ_STEPS,
    factored_dims,
    muon_scale,
)

ScalarOrSchedule = float | optax.Schedule


def _moment(updates: Any, moments: Any, decay: float, order: int) -> Any:
    """`decay * moment + (1 - decay) * update**order`, leaf by leaf."""
    return jax.tree.map(lambda g, t: decay * t + (1.0 - decay) * g**order, updates, moments)


def _bias_correction(moment: Any, decay: float, count: jax.Array) -> Any:
    correction = 1.0 - decay ** count.astype(jnp.float32)
    return jax.tree.map(lambda t: t / correction.astype(t.dtype), moment)


def _transformation(init_fn: Any, update_fn: Any) -> optax.GradientTransformation:
    """An optax transformation from functions typed with their own state class.

    optax types `update`'s state as its base `OptState`; ours name the exact NamedTuple.
    """
    return optax.GradientTransformation(init_fn, update_fn)


def _unzip(template: Any, tuples: Any, n: int) -> tuple[Any, ...]:
    """Split a tree whose leaves (those of `template`) became n-tuples into n trees."""
    return tuple(jax.tree.map(lambda _, t, i=i: t[i], template, tuples) for i in range(n))


# --- NAdamW ------------------------------------------------------------------------------


class ScaleByNadamState(NamedTuple):
    """State of `scale_by_nadam`."""

    count: jax.Array  # pyright: ignore[reportIncompatibleMethodOverride] - optax's name
    mu: Any
    nu: Any


def scale_by_nadam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
    """Rescale updates by NAdam's Nesterov look-ahead moment (see `nadamw`)."""

    def init_fn(params: Any) -> ScaleByNadamState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return ScaleByNadamState(count=jnp.zeros([], jnp.int32), mu=zeros, nu=zeros)

    def update_fn(updates: Any, state: ScaleByNadamState, params: Any = None) -> tuple[Any, Any]:
        del params
        mu = _moment(updates, state.mu, b1, 1)
        nu = _moment(updates, state.nu, b2, 2)
        count = state.count + 1
        mu_hat = _bias_correction(_moment(updates, mu, b1, 1), b1, count)
        nu_hat = _bias_correction(nu, b2, count)
        updates = jax.tree.map(lambda m, v: m / (jnp.sqrt(v) + eps), mu_hat, nu_hat)
        return updates, ScaleByNadamState(count=count, mu=mu, nu=nu)

    return _transformation(init_fn, update_fn)


def nadamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> optax.GradientTransformation:
    r"""AlgoPerf's NAdamW: "simpler NAdam" with decoupled weight decay (reference-spec 6.2).

    With gradient $g_t$, step $t \ge 1$ and learning rate $\eta_t$:

    $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2$$
    $$\hat m_t = \frac{\beta_1 m_t + (1-\beta_1) g_t}{1-\beta_1^t},\quad
      \hat v_t = \frac{v_t}{1-\beta_2^t}$$
    $$\theta_t = \theta_{t-1} - \eta_t \Big(\frac{\hat m_t}{\sqrt{\hat v_t}+\epsilon}
      + \lambda\,\theta_{t-1}\Big)$$

    The look-ahead moment is bias-corrected by $1-\beta_1^t$, which is why this is not
    `optax.nadamw`; there is no momentum-decay schedule (Table 1 of arXiv:1910.05446).
    Weight decay applies to every parameter, as in the reference.
    """
    return optax.chain(
        scale_by_nadam(b1, b2, eps),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_learning_rate(learning_rate),
    )


# --- Adafactor ---------------------------------------------------------------------------


class ScaleByAdafactorState(NamedTuple):
    """State of `scale_by_adafactor`: row/column statistics, or the full moment (in `v`)."""

    count: jax.Array  # pyright: ignore[reportIncompatibleMethodOverride] - optax's name
    v_row: Any
    v_col: Any
    v: Any


def scale_by_adafactor(
    decay_rate: float = 0.8,
    eps: float = 1e-30,
    clipping_threshold: float = 1.0,
    min_dim_size_to_factor: int = 128,
) -> optax.GradientTransformation:
    """Adafactor's factored second-moment scaling with update clipping (see `adafactor`)."""

    def init_leaf(p: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        dims = factored_dims(p.shape, min_dim_size_to_factor)
        if dims is None:
            return jnp.zeros([1]), jnp.zeros([1]), jnp.zeros_like(p)
        a, b = dims
        return (
            jnp.zeros_like(jnp.mean(p, axis=b, keepdims=True)),
            jnp.zeros_like(jnp.mean(p, axis=a, keepdims=True)),
            jnp.zeros([1]),
        )

    def init_fn(params: Any) -> ScaleByAdafactorState:
        row, col, full = _unzip(params, jax.tree.map(init_leaf, params), 3)
        return ScaleByAdafactorState(jnp.zeros([], jnp.int32), row, col, full)

    def update_leaf(g, r, c, v, beta):
        g2 = g * g + eps
        dims = factored_dims(g.shape, min_dim_size_to_factor)
        if dims is None:
            v = beta * v + (1.0 - beta) * g2
            u = g / jnp.sqrt(v)
        else:
            a, b = dims
            r = beta * r + (1.0 - beta) * jnp.mean(g2, axis=b, keepdims=True)
            c = beta * c + (1.0 - beta) * jnp.mean(g2, axis=a, keepdims=True)
            # Row and column factors apart: the product r * c can underflow in fp32.
            u = g / jnp.sqrt(r / jnp.mean(r, axis=a, keepdims=True)) / jnp.sqrt(c)
        rms = jnp.sqrt(jnp.mean(u * u))
        return u / jnp.maximum(1.0, rms / clipping_threshold), r, c, v

    def update_fn(
        updates: Any, state: ScaleByAdafactorState, params: Any = None
    ) -> tuple[Any, Any]:
        del params
        count = state.count + 1
        beta = 1.0 - count.astype(jnp.float32) ** -decay_rate
        out = jax.tree.map(
            lambda g, r, c, v: update_leaf(g, r, c, v, beta),
            updates,
            state.v_row,
            state.v_col,
            state.v,
        )
        u, row, col, full = _unzip(updates, out, 4)
        return u, ScaleByAdafactorState(count, row, col, full)

    return _transformation(init_fn, update_fn)


def adafactor(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    weight_decay: float = 0.0,
    decay_rate: float = 0.8,
    eps: float = 1e-30,
    clipping_threshold: float = 1.0,
    min_dim_size_to_factor: int = 128,
) -> optax.GradientTransformation:
    r"""Adafactor with momentum and decoupled weight decay (Shazeer & Stern, 2018).

    With $\hat\beta_t = 1 - t^{-\text{decay\_rate}}$ and $G = g_t^2 + \epsilon$: for a
    parameter whose two largest axes $(a, b)$ (`factored_dims`) are both at least
    `min_dim_size_to_factor`,
    $R_t = \hat\beta_t R_{t-1} + (1-\hat\beta_t)\,\mathrm{mean}_b G$,
    $C_t = \hat\beta_t C_{t-1} + (1-\hat\beta_t)\,\mathrm{mean}_a G$ and
    $\hat v_t = R_t C_t / \mathrm{mean}_a R_t$; otherwise
    $\hat v_t = \hat\beta_t \hat v_{t-1} + (1-\hat\beta_t) G$. Then
    $u_t = g_t/\sqrt{\hat v_t}$ is clipped to $u_t / \max(1, \mathrm{RMS}(u_t)/d)$,
    $m_t = \beta_1 m_{t-1} + (1-\beta_1) u_t$ and
    $\theta_t = \theta_{t-1} - \eta_t (m_t + \lambda\theta_{t-1})$.
    No relative step size or parameter scaling: the learning rate is absolute, as for the
    Adam family. Not `optax.adafactor` or `torch.optim.Adafactor`, which differ from each
    other in these details.
    """
    return optax.chain(
        scale_by_adafactor(decay_rate, eps, clipping_threshold, min_dim_size_to_factor),
        optax.ema(b1, debias=False),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_learning_rate(learning_rate),
    )


# --- LAMB, AdamW, SGD ----------------------------------------------------------------------


def lamb(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> optax.GradientTransformation:
    r"""LAMB (You et al., 2019): `optax.lamb`, i.e. Adam plus weight decay, layer-wise trusted.

    With $\hat m_t, \hat v_t$ Adam's bias-corrected moments,
    $u_t = \hat m_t/(\sqrt{\hat v_t}+\epsilon) + \lambda\theta_{t-1}$ and per parameter
    tensor $r_t = \lVert\theta_{t-1}\rVert / \lVert u_t\rVert$ (1 when either norm is 0):
    $\theta_t = \theta_{t-1} - \eta_t r_t u_t$.
    """
    return optax.lamb(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)


# --- Schedule-Free AdamW ---------------------------------------------------------------------


class ScheduleFreeState(NamedTuple):
    """State of `schedule_free_adamw`: the z and x sequences, Adam's v, the weighting."""

    count: jax.Array  # pyright: ignore[reportIncompatibleMethodOverride] - optax's name
    z: Any
    x: Any
    nu: Any
    lr_max: jax.Array
    weight_sum: jax.Array


def schedule_free_adamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> optax.GradientTransformation:
    r"""Schedule-Free AdamW (Defazio et al., 2024), r = 0 and weight_lr_power = 2.

    Gradients are taken at $y_{t-1} = (1-\beta_1) z_{t-1} + \beta_1 x_{t-1}$ (the training
    parameters; `schedule_free_train_params`). With $\gamma_t$ the (warmup) learning rate,
    $v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2$,
    $u_t = g_t / (\sqrt{v_t/(1-\beta_2^t)} + \epsilon) + \lambda y_{t-1}$,
    $z_t = z_{t-1} - \gamma_t u_t$, $w_t = (\max_{s\le t}\gamma_s)^2$,
    $c_t = w_t / \sum_{s\le t} w_s$, $x_t = (1-c_t) x_{t-1} + c_t z_t$. The update moves the
    parameters to $y_t$; evaluate at $x_t$ (`schedule_free_eval_params`). The state, not the
    incoming parameters, defines $y$, so evaluating at $x$ in between does not disturb it.
    This is the `schedulefree` package's `AdamWScheduleFree` step, not optax.contrib's.
    """
    lr_fn = learning_rate if callable(learning_rate) else (lambda _: learning_rate)

    def init_fn(params: Any) -> ScheduleFreeState:
        zero = jnp.zeros([], jnp.float32)
        return ScheduleFreeState(
            count=jnp.zeros([], jnp.int32),
            z=params,
            x=params,
            nu=jax.tree.map(jnp.zeros_like, params),
            lr_max=zero,
            weight_sum=zero,
        )

    def update_fn(updates: Any, state: ScheduleFreeState, params: Any = None) -> tuple[Any, Any]:
        if params is None:
            raise ValueError("schedule_free_adamw needs the parameters in update()")
        lr = jnp.asarray(lr_fn(state.count), jnp.float32)
        count = state.count + 1
        y = _schedule_free_y(state.z, state.x, b1)
        nu = _moment(updates, state.nu, b2, 2)
        correction = 1.0 - b2 ** count.astype(jnp.float32)
        u = jax.tree.map(
            lambda g, v, p: g / (jnp.sqrt(v / correction) + eps) + weight_decay * p, updates, nu, y
        )
        z = jax.tree.map(lambda z, u: z - lr * u, state.z, u)
        lr_max = jnp.maximum(state.lr_max, lr)
        weight = lr_max**2
        weight_sum = state.weight_sum + weight
        c = weight / weight_sum
        x = jax.tree.map(lambda x, z: (1.0 - c) * x + c * z, state.x, z)
        new_y = _schedule_free_y(z, x, b1)
        deltas = jax.tree.map(lambda n, p: n - p, new_y, params)
        return deltas, ScheduleFreeState(count, z, x, nu, lr_max, weight_sum)

    return _transformation(init_fn, update_fn)


def _schedule_free_y(z: Any, x: Any, b1: float) -> Any:
    return jax.tree.map(lambda z, x: (1.0 - b1) * z + b1 * x, z, x)


def schedule_free_train_params(state: ScheduleFreeState, b1: float) -> Any:
    """The parameters to take gradients at: y = (1 - b1) z + b1 x."""
    return _schedule_free_y(state.z, state.x, b1)


def schedule_free_eval_params(state: ScheduleFreeState) -> Any:
    """The parameters to evaluate: the averaged sequence $x$."""
    return state.x


# --- Muon ------------------------------------------------------------------------------------


def newton_schulz(g: jax.Array) -> jax.Array:
    """The approximate orthogonal factor U V^T of a matrix (5 quintic iterations)."""
    a, b, c = NEWTON_SCHULZ_COEFFICIENTS
    x = g / (jnp.linalg.norm(g) + 1e-7)
    transposed = g.shape[0] > g.shape[1]
    if transposed:
        x = x.T
    for _ in range(NEWTON_SCHULZ_STEPS):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x.T if transposed else x


class ScaleByMuonState(NamedTuple):
    """State of `scale_by_muon`: momentum for all, Adam's v for the non-matrix parameters."""

    count: jax.Array  # pyright: ignore[reportIncompatibleMethodOverride] - optax's name
    mu: Any
    nu: Any


def scale_by_muon(
    b1: float = 0.95, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
    """Orthogonalised momentum for matrices, Adam for the rest (see `muon`)."""

    def init_fn(params: Any) -> ScaleByMuonState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return ScaleByMuonState(count=jnp.zeros([], jnp.int32), mu=zeros, nu=zeros)

    def update_fn(updates: Any, state: ScaleByMuonState, params: Any = None) -> tuple[Any, Any]:
        del params
        count = state.count + 1
        mu = _moment(updates, state.mu, b1, 1)
        nu = _moment(updates, state.nu, b2, 2)
        c1 = 1.0 - b1 ** count.astype(jnp.float32)
        c2 = 1.0 - b2 ** count.astype(jnp.float32)

        def leaf(g: jax.Array, m: jax.Array, v: jax.Array) -> jax.Array:
            if g.ndim == 2:
                return muon_scale(g.shape) * newton_schulz(b1 * m + (1.0 - b1) * g)
            return (m / c1) / (jnp.sqrt(v / c2) + eps)

        return jax.tree.map(leaf, updates, mu, nu), ScaleByMuonState(count, mu, nu)

    return _transformation(init_fn, update_fn)


def muon(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.95,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> optax.GradientTransformation:
    r"""Muon (Jordan et al., 2024) for 2-D weights, AdamW for every other parameter.

    Every parameter keeps $m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$. A matrix $W$ of shape
    $(A, B)$ steps along $0.2\sqrt{\max(A,B)}\,\mathrm{NS}_5(\beta_1 m_t + (1-\beta_1) g_t)$
    (Nesterov momentum, Newton-Schulz orthogonalisation, Moonlight's AdamW-matching scale, so
    one learning rate serves both parts); other parameters step along Adam's
    $\hat m_t / (\sqrt{\hat v_t} + \epsilon)$. Then
    $\theta_t = \theta_{t-1} - \eta_t (\text{step} + \lambda\theta_{t-1})$. Convolution
    kernels (4-D) use the Adam part. Not `optax.contrib.muon` or `torch.optim.Muon`, which
    differ in scaling and momentum details.
    """
    return optax.chain(
        scale_by_muon(b1, b2, eps),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_learning_rate(learning_rate),
    )


# --- Shampoo ---------------------------------------------------------------------------------


def inverse_fourth_root(matrix: jax.Array, epsilon: float) -> jax.Array:
    """(M + epsilon * max eigenvalue * I)^(-1/4) of a symmetric PSD matrix, by eigh."""
    eigenvalues, vectors = jnp.linalg.eigh(matrix)
    eigenvalues = jnp.maximum(eigenvalues, 0.0)
    damping = epsilon * jnp.maximum(jnp.max(eigenvalues), 1e-30)
    return (vectors * (eigenvalues + damping) ** -0.25) @ vectors.T


class ScaleByShampooState(NamedTuple):
    """State of `scale_by_shampoo`: momentum, the graft's v, Kronecker factors L and R."""

    count: jax.Array  # pyright: ignore[reportIncompatibleMethodOverride] - optax's name
    mu: Any
    nu: Any
    left: Any
    right: Any


def _preconditioned(shape: tuple[int, ...], max_dim: int) -> bool:
    return len(shape) == 2 and max(shape) <= max_dim


def scale_by_shampoo(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    matrix_epsilon: float = 1e-6,
    max_preconditioner_dim: int = 1024,
) -> optax.GradientTransformation:
    """Shampoo's Kronecker-factored preconditioning, grafted onto RMSProp (see `shampoo`)."""

    def factors(p: jax.Array) -> tuple[jax.Array, jax.Array]:
        if not _preconditioned(p.shape, max_preconditioner_dim):
            return jnp.zeros([1, 1]), jnp.zeros([1, 1])
        return jnp.zeros((p.shape[0],) * 2), jnp.zeros((p.shape[1],) * 2)

    def init_fn(params: Any) -> ScaleByShampooState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return ScaleByShampooState(
            count=jnp.zeros([], jnp.int32),
            mu=zeros,
            nu=zeros,
            left=jax.tree.map(lambda p: factors(p)[0], params),
            right=jax.tree.map(lambda p: factors(p)[1], params),
        )

    def update_fn(updates: Any, state: ScaleByShampooState, params: Any = None) -> tuple[Any, Any]:
        del params
        count = state.count + 1
        nu = _moment(updates, state.nu, b2, 2)
        c2 = 1.0 - b2 ** count.astype(jnp.float32)

        def leaf(g, v, left, right):
            graft = g / (jnp.sqrt(v / c2) + eps)
            if not _preconditioned(g.shape, max_preconditioner_dim):
                return graft, left, right
            left = b2 * left + (1.0 - b2) * g @ g.T
            right = b2 * right + (1.0 - b2) * g.T @ g
            s = (
                inverse_fourth_root(left, matrix_epsilon)
                @ g
                @ inverse_fourth_root(right, matrix_epsilon)
            )
            s = s * (jnp.linalg.norm(graft) / (jnp.linalg.norm(s) + 1e-30))
            return s, left, right

        out = jax.tree.map(leaf, updates, nu, state.left, state.right)
        grafted, left, right = _unzip(updates, out, 3)
        mu = _moment(grafted, state.mu, b1, 1)
        c1 = 1.0 - b1 ** count.astype(jnp.float32)
        step = jax.tree.map(lambda m: m / c1, mu)
        return step, ScaleByShampooState(count, mu, nu, left, right)

    return _transformation(init_fn, update_fn)


def shampoo(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    matrix_epsilon: float = 1e-6,
    max_preconditioner_dim: int = 1024,
) -> optax.GradientTransformation:
    r"""Shampoo (Gupta et al., 2018; Anil et al., 2020) with RMSProp grafting, every step.

    For a matrix $G_t$ whose sides are at most `max_preconditioner_dim`:
    $L_t = \beta_2 L_{t-1} + (1-\beta_2) G_t G_t^\top$,
    $R_t = \beta_2 R_{t-1} + (1-\beta_2) G_t^\top G_t$ and
    $S_t = \tilde L_t^{-1/4} G_t \tilde R_t^{-1/4}$ with $\tilde M = M + \epsilon_M
    \lambda_{max}(M) I$ (eigh), rescaled to the Frobenius norm of the graft
    $P_t = G_t / (\sqrt{v_t/(1-\beta_2^t)} + \epsilon)$ (RMSProp with
    $v_t = \beta_2 v_{t-1} + (1-\beta_2) G_t^2$). Other parameters use $P_t$ itself. Then
    $m_t = \beta_1 m_{t-1} + (1-\beta_1) S_t$ and
    $\theta_t = \theta_{t-1} - \eta_t (m_t/(1-\beta_1^t) + \lambda\theta_{t-1})$.
    A compact version of init2winit's `distributed_shampoo` (no blocking, no statistics
    interval: preconditioners are recomputed every step).
    """
    return optax.chain(
        scale_by_shampoo(b1, b2, eps, matrix_epsilon, max_preconditioner_dim),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_learning_rate(learning_rate),
    )
