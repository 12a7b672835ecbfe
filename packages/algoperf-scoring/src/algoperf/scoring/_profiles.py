"""Rules across submissions, performance profiles and the benchmark score.

Every function here works on arrays whose last two axes are (submission, workload), so the
bootstrap can run them on a leading axis of resamples at once.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from algoperf.api import RuleVersion, get_workload_spec

FloatArray = npt.NDArray[np.float64]

NUM_POINTS = 100
"""Points of tau the reference's trapezoid integration uses."""

# Codes of the rule that made a time infinite, in the order the rules run.
NO_RULE, BASE_FAILED, BEYOND_MAX_RATIO, HELD_OUT_INVALIDATED = range(4)


class Integration(enum.StrEnum):
    """How the area under a performance profile is computed."""

    TRAPEZOID = "trapezoid"
    """The reference's: trapezoid rule on `num_points` values of tau (comparable to
    published numbers)."""
    EXACT = "exact"
    """The exact area under the step function."""


def held_out_pairs(workloads: Sequence[str], rules: RuleVersion) -> list[tuple[int, int]]:
    """(variant column, base column) of each held-out workload of `rules`, in its order."""
    return [
        (workloads.index(v), workloads.index(get_workload_spec(v).base_workload))
        for v in rules.held_out_workloads
    ]


def apply_rules(
    seconds: npt.ArrayLike, pairs: Sequence[tuple[int, int]], max_ratio: float
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """Apply the rules across submissions, in the order the reference scored v0.5.

    1. A held-out variant is infinite if its base workload is (inf or NaN).
    2. A time more than `max_ratio` times the fastest submission's (NaN ignored) is infinite.
    3. A base workload is infinite if its held-out variant is (inf or NaN).

    Args:
        seconds: (..., submission, workload) per-workload times.
        pairs: (variant column, base column) of each held-out workload.
        max_ratio: the 4x rule's ratio.

    Returns:
        The times after the rules, and per entry the code of the rule that made a finite
        time infinite (`NO_RULE` where none did).
    """
    t = np.array(seconds, dtype=np.float64)
    rule = np.zeros(t.shape, dtype=np.int8)
    for variant, base in pairs:
        _invalidate(t, rule, variant, ~np.isfinite(t[..., base]), BASE_FAILED)
    fastest = np.min(np.where(np.isnan(t), np.inf, t), axis=-2, keepdims=True)
    slow = np.isfinite(t) & (t > max_ratio * fastest)
    rule[slow] = BEYOND_MAX_RATIO
    t[slow] = np.inf
    for variant, base in pairs:
        _invalidate(t, rule, base, ~np.isfinite(t[..., variant]), HELD_OUT_INVALIDATED)
    return t, rule


def _invalidate(
    t: FloatArray, rule: npt.NDArray[np.int8], column: int, hit: npt.NDArray[np.bool_], code: int
) -> None:
    rule[..., column][hit & np.isfinite(t[..., column])] = code
    t[..., column][hit] = np.inf


def performance_ratios(seconds: npt.ArrayLike) -> FloatArray:
    """Each time divided by the fastest submission's on the workload; NaN counts as inf."""
    t = np.asarray(seconds, dtype=np.float64)
    t = np.where(np.isnan(t), np.inf, t)
    fastest = t.min(axis=-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(t == fastest, 1.0, t / fastest)
    return np.where(np.isfinite(t), ratios, np.inf)


def performance_profile(ratios: npt.ArrayLike, taus: npt.ArrayLike) -> FloatArray:
    """rho(tau): the fraction of workloads with a ratio <= tau.

    The denominator is the number of workload columns (the base workloads of the rules), so
    a missing workload counts as a failure.

    Returns:
        (..., submission, tau).
    """
    r = np.asarray(ratios, dtype=np.float64)
    t = np.asarray(taus, dtype=np.float64)
    # Counted a workload at a time: summing one (..., workload, tau) array over its middle
    # axis took half as long again on the bootstrap's 10k profiles.
    within = np.zeros((*r.shape[:-1], len(t)), dtype=np.int32)
    for w in range(r.shape[-1]):
        np.add(within, r[..., w, None] <= t, out=within)
    return within / r.shape[-1]


def benchmark_scores(
    ratios: npt.ArrayLike,
    max_tau: float,
    integration: Integration = Integration.TRAPEZOID,
    num_points: int = NUM_POINTS,
) -> FloatArray:
    """Area under each submission's profile for tau in [1, max_tau], divided by max_tau - 1.

    Returns:
        (..., submission) scores in [0, 1]; 1 is fastest on every workload.
    """
    r = np.asarray(ratios, dtype=np.float64)
    if Integration(integration) is Integration.EXACT:
        # Workload w adds 1/n to rho on [r_w, max_tau]: an area of max_tau - r_w.
        area = np.clip(max_tau - r, 0.0, None).sum(axis=-1) / r.shape[-1]
    else:
        taus = np.linspace(1.0, max_tau, num_points)
        rho = performance_profile(r, taus)
        area = ((rho[..., 1:] + rho[..., :-1]) * np.diff(taus)).sum(axis=-1) / 2
    return area / (max_tau - 1.0)


def ranks(scores: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """1 + the number of submissions with a strictly higher score (ties share a rank)."""
    s = np.asarray(scores, dtype=np.float64)
    return 1 + (s[..., None, :] > s[..., :, None]).sum(axis=-1)
