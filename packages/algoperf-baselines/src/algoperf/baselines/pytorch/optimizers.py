"""The baselines' hand-written optimizers in PyTorch: pure update functions, thin wrappers.

Each rule is a function that updates lists of tensors in place; its `torch.optim.Optimizer`
only gathers per-parameter state and calls it. The formulas are documented once, on the JAX
side (`algoperf.baselines.jax.optimizers`), and each function here computes the same thing
with the same hyperparameter names and defaults. AdamW and SGD use `torch.optim` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from algoperf.baselines._common import (
    NEWTON_SCHULZ_COEFFICIENTS,
    NEWTON_SCHULZ_STEPS,
    factored_dims,
    muon_scale,
)

State = dict[str, Tensor]


def gradients(params: Sequence[Tensor]) -> list[Tensor]:
    """The parameters' gradients; each step computes every one of them."""
    grads = [p.grad for p in params]
    missing = [i for i, g in enumerate(grads) if g is None]
    if missing:
        raise ValueError(f"parameters {missing} have no gradient: call backward() first")
    return grads  # type: ignore[return-value]  # every one checked above


class FunctionalOptimizer(torch.optim.Optimizer):
    """Calls `update(params, grads, states, step=, **group)` on each parameter group.

    Subclasses set `update` (a pure function over tensor lists) and `init_state`. The step
    count lives in every parameter's state (as in `torch.optim.Adam`), so `state_dict()`
    round-trips.
    """

    update: ClassVar[Callable[..., Any]]

    def __init__(self, params: Iterable[Any], **defaults: Any) -> None:
        super().__init__(params, defaults)
        # `load_state_dict` adds torch's own keys (e.g. 'differentiable') to `defaults`;
        # the update takes only the names it was built with.
        self.update_keys = tuple(defaults)

    def init_state(self, p: Tensor, group: dict[str, Any]) -> State:
        """Fresh state for parameter `p`."""
        raise NotImplementedError

    def apply_update(
        self, group: dict[str, Any], params: list[Tensor], states: list[State], step: int
    ) -> None:
        """Run `update` with the group's hyperparameters (not a scheduler's extra keys)."""
        hparams = {k: group[k] for k in self.update_keys}
        type(self).update(params, gradients(params), states, step=step, **hparams)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = []
            for p in params:
                state = self.state[p]
                if not state:
                    state.update(self.init_state(p, group))
                    state["step"] = torch.zeros((), dtype=torch.float32)
                state["step"] += 1
                states.append(state)
            self.apply_update(group, params, states, int(states[0]["step"]))
        return loss


class _AdamMoments(FunctionalOptimizer):
    """An optimizer with Adam's hyperparameters and first and second moment state."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)

    def init_state(self, p: Tensor, group: dict[str, Any]) -> State:
        """Zero first and second moments."""
        return {"mu": torch.zeros_like(p), "nu": torch.zeros_like(p)}


# --- NAdamW ------------------------------------------------------------------------------


def _update_moments(state: State, g: Tensor, b1: float, b2: float) -> tuple[Tensor, Tensor]:
    """Adam's first and second moments of `state` moved towards `g` in place; returned."""
    mu, nu = state["mu"], state["nu"]
    mu.mul_(b1).add_(g, alpha=1.0 - b1)
    nu.mul_(b2).addcmul_(g, g, value=1.0 - b2)
    return mu, nu


def nadamw(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[State],
    *,
    step: int,
    lr: float,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> None:
    """One NAdamW step in place; see `algoperf.baselines.jax.optimizers.nadamw`."""
    c1, c2 = 1.0 - b1**step, 1.0 - b2**step
    for p, g, s in zip(params, grads, states, strict=True):
        mu, nu = _update_moments(s, g, b1, b2)
        mu_hat = (b1 * mu + (1.0 - b1) * g) / c1
        update = mu_hat / ((nu / c2).sqrt() + eps)
        p.sub_(lr * (update + weight_decay * p))


class NAdamW(_AdamMoments):
    """AlgoPerf's NAdamW; see `algoperf.baselines.jax.optimizers.nadamw`."""

    update = staticmethod(nadamw)


# --- LAMB --------------------------------------------------------------------------------


def lamb(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[State],
    *,
    step: int,
    lr: float,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> None:
    """One LAMB step in place; see `algoperf.baselines.jax.optimizers.lamb`."""
    c1, c2 = 1.0 - b1**step, 1.0 - b2**step
    for p, g, s in zip(params, grads, states, strict=True):
        mu, nu = _update_moments(s, g, b1, b2)
        update = (mu / c1) / ((nu / c2).sqrt() + eps) + weight_decay * p
        p_norm, u_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(update)
        ratio = torch.where((p_norm == 0) | (u_norm == 0), 1.0, p_norm / u_norm)
        p.sub_(lr * ratio * update)


class Lamb(_AdamMoments):
    """LAMB; see `algoperf.baselines.jax.optimizers.lamb`."""

    update = staticmethod(lamb)


# --- Adafactor -----------------------------------------------------------------------------


def adafactor(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[State],
    *,
    step: int,
    lr: float,
    b1: float = 0.9,
    weight_decay: float = 0.0,
    decay_rate: float = 0.8,
    eps: float = 1e-30,
    clipping_threshold: float = 1.0,
    min_dim_size_to_factor: int = 128,
) -> None:
    """One Adafactor step in place; see `algoperf.baselines.jax.optimizers.adafactor`."""
    beta = 1.0 - step**-decay_rate
    for p, g, s in zip(params, grads, states, strict=True):
        g2 = g * g + eps
        dims = factored_dims(tuple(p.shape), min_dim_size_to_factor)
        if dims is None:
            v = s["v"].mul_(beta).add_(g2, alpha=1.0 - beta)
            u = g / v.sqrt()
        else:
            a, b = dims
            r = s["v_row"].mul_(beta).add_(g2.mean(dim=b, keepdim=True), alpha=1.0 - beta)
            c = s["v_col"].mul_(beta).add_(g2.mean(dim=a, keepdim=True), alpha=1.0 - beta)
            u = g / (r / r.mean(dim=a, keepdim=True)).sqrt() / c.sqrt()
        rms = u.square().mean().sqrt()
        u = u / torch.clamp(rms / clipping_threshold, min=1.0)
        m = s["mu"].mul_(b1).add_(u, alpha=1.0 - b1)
        p.sub_(lr * (m + weight_decay * p))


class Adafactor(FunctionalOptimizer):
    """Adafactor with momentum; see `algoperf.baselines.jax.optimizers.adafactor`."""

    update = staticmethod(adafactor)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        b1: float = 0.9,
        weight_decay: float = 0.0,
        decay_rate: float = 0.8,
        eps: float = 1e-30,
        clipping_threshold: float = 1.0,
        min_dim_size_to_factor: int = 128,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            b1=b1,
            weight_decay=weight_decay,
            decay_rate=decay_rate,
            eps=eps,
            clipping_threshold=clipping_threshold,
            min_dim_size_to_factor=min_dim_size_to_factor,
        )

    def init_state(self, p: Tensor, group: dict[str, Any]) -> State:
        """Row/column statistics for factored parameters, else the full moment."""
        state = {"mu": torch.zeros_like(p)}
        dims = factored_dims(tuple(p.shape), group["min_dim_size_to_factor"])
        if dims is None:
            state["v"] = torch.zeros_like(p)
        else:
            a, b = dims
            state["v_row"] = torch.zeros_like(p.mean(dim=b, keepdim=True))
            state["v_col"] = torch.zeros_like(p.mean(dim=a, keepdim=True))
        return state


# --- Schedule-Free AdamW ---------------------------------------------------------------------


def schedule_free_adamw(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[State],
    *,
    step: int,
    lr: float,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    lr_max: float = 0.0,
    weight_sum: float = 0.0,
) -> tuple[float, float]:
    """One step in place, parameters moved to y; returns the new (lr_max, weight_sum).

    See `algoperf.baselines.jax.optimizers.schedule_free_adamw`.
    """
    c2 = 1.0 - b2**step
    lr_max = max(lr_max, lr)
    weight = lr_max**2
    weight_sum = weight_sum + weight
    c = weight / weight_sum
    for p, g, s in zip(params, grads, states, strict=True):
        z, x, nu = s["z"], s["x"], s["nu"]
        y = (1.0 - b1) * z + b1 * x
        nu.mul_(b2).addcmul_(g, g, value=1.0 - b2)
        u = g / ((nu / c2).sqrt() + eps) + weight_decay * y
        z.sub_(lr * u)
        x.mul_(1.0 - c).add_(c * z)
        p.copy_((1.0 - b1) * z + b1 * x)
    return lr_max, weight_sum


class ScheduleFreeAdamW(FunctionalOptimizer):
    """Schedule-Free AdamW; see `algoperf.baselines.jax.optimizers.schedule_free_adamw`.

    Call `train()` before computing gradients and `eval()` before evaluating, as with the
    `schedulefree` package: they set the parameters to y and to x.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            b1=b1,
            b2=b2,
            eps=eps,
            weight_decay=weight_decay,
            lr_max=0.0,
            weight_sum=0.0,
        )

    update = staticmethod(schedule_free_adamw)

    def init_state(self, p: Tensor, group: dict[str, Any]) -> State:
        """Z = x = the initial parameters; zero second moment."""
        return {"z": p.detach().clone(), "x": p.detach().clone(), "nu": torch.zeros_like(p)}

    def apply_update(
        self, group: dict[str, Any], params: list[Tensor], states: list[State], step: int
    ) -> None:
        """Run the update and keep the averaging weights in the group."""
        hparams = {k: group[k] for k in self.update_keys}
        group["lr_max"], group["weight_sum"] = schedule_free_adamw(
            params, gradients(params), states, step=step, **hparams
        )

    @torch.no_grad()
    def train(self) -> None:
        """Set the parameters to y = (1 - b1) z + b1 x, where gradients are taken."""
        for group in self.param_groups:
            for p in group["params"]:
                if self.state[p]:
                    z, x = self.state[p]["z"], self.state[p]["x"]
                    p.copy_((1.0 - group["b1"]) * z + group["b1"] * x)

    @torch.no_grad()
    def eval(self) -> None:
        """Set the parameters to the averaged sequence x."""
        for group in self.param_groups:
            for p in group["params"]:
                if self.state[p]:
                    p.copy_(self.state[p]["x"])


# --- Muon ------------------------------------------------------------------------------------


def newton_schulz(g: Tensor) -> Tensor:
    """The approximate orthogonal factor of a matrix; see the JAX `newton_schulz`."""
    a, b, c = NEWTON_SCHULZ_COEFFICIENTS
    x = g / (torch.linalg.matrix_norm(g) + 1e-7)
    transposed = g.shape[0] > g.shape[1]
    if transposed:
        x = x.T
    for _ in range(NEWTON_SCHULZ_STEPS):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x.T if transposed else x


def muon(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[State],
    *,
    step: int,
    lr: float,
    b1: float = 0.95,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> None:
    """One Muon step in place; see `algoperf.baselines.jax.optimizers.muon`."""
    c1, c2 = 1.0 - b1**step, 1.0 - b2**step
    for p, g, s in zip(params, grads, states, strict=True):
        mu, nu = _update_moments(s, g, b1, b2)
        if p.ndim == 2:
            update = muon_scale(tuple(p.shape)) * newton_schulz(b1 * mu + (1.0 - b1) * g)
        else:
            update = (mu / c1) / ((nu / c2).sqrt() + eps)
        p.sub_(lr * (update + weight_decay * p))


class Muon(FunctionalOptimizer):
    """Muon with AdamW for non-matrix parameters; see `algoperf.baselines.jax.optimizers.muon`."""

    update = staticmethod(muon)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        b1: float = 0.95,
        b2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)

    def init_state(self, p: Tensor, group: dict[str, Any]) -> State:
        """Zero momentum and second moment."""
        return {"mu": torch.zeros_like(p), "nu": torch.zeros_like(p)}


# --- Shampoo ---------------------------------------------------------------------------------


def inverse_fourth_root(matrix: Tensor, epsilon: float) -> Tensor:
    """See the JAX `inverse_fourth_root`."""
    eigenvalues, vectors = torch.linalg.eigh(matrix)
    eigenvalues = eigenvalues.clamp(min=0.0)
    damping = epsilon * eigenvalues.max().clamp(min=1e-30)
    return (vectors * (eigenvalues + damping) ** -0.25) @ vectors.T


def _preconditioned(shape: tuple[int, ...], max_dim: int) -> bool:
    return len(shape) == 2 and max(shape) <= max_dim


def shampoo(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[State],
    *,
    step: int,
    lr: float,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    matrix_epsilon: float = 1e-6,
    max_preconditioner_dim: int = 1024,
) -> None:
    """One Shampoo step in place; see `algoperf.baselines.jax.optimizers.shampoo`."""
    c1, c2 = 1.0 - b1**step, 1.0 - b2**step
    for p, g, s in zip(params, grads, states, strict=True):
        nu = s["nu"].mul_(b2).addcmul_(g, g, value=1.0 - b2)
        direction = g / ((nu / c2).sqrt() + eps)
        if _preconditioned(tuple(p.shape), max_preconditioner_dim):
            left = s["left"].mul_(b2).add_(g @ g.T, alpha=1.0 - b2)
            right = s["right"].mul_(b2).add_(g.T @ g, alpha=1.0 - b2)
            precond = (
                inverse_fourth_root(left, matrix_epsilon)
                @ g
                @ inverse_fourth_root(right, matrix_epsilon)
            )
            norm = torch.linalg.matrix_norm(direction) / (torch.linalg.matrix_norm(precond) + 1e-30)
            direction = precond * norm
        mu = s["mu"].mul_(b1).add_(direction, alpha=1.0 - b1)
        p.sub_(lr * (mu / c1 + weight_decay * p))


class Shampoo(FunctionalOptimizer):
    """Shampoo with RMSProp grafting; see `algoperf.baselines.jax.optimizers.shampoo`."""

    update = staticmethod(shampoo)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        matrix_epsilon: float = 1e-6,
        max_preconditioner_dim: int = 1024,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            b1=b1,
            b2=b2,
            eps=eps,
            weight_decay=weight_decay,
            matrix_epsilon=matrix_epsilon,
            max_preconditioner_dim=max_preconditioner_dim,
        )

    def init_state(self, p: Tensor, group: dict[str, Any]) -> State:
        """Zero moments, and zero Kronecker factors for preconditioned matrices."""
        state = {"mu": torch.zeros_like(p), "nu": torch.zeros_like(p)}
        if _preconditioned(tuple(p.shape), group["max_preconditioner_dim"]):
            state["left"] = p.new_zeros((p.shape[0], p.shape[0]))
            state["right"] = p.new_zeros((p.shape[1], p.shape[1]))
        return state
