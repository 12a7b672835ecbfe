"""Plots of a score report (the `plots` extra): performance profiles and τ_max sensitivity.

matplotlib is imported only here and only when a plot is drawn, through its object API
(no pyplot), so no backend or global state is touched.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from algoperf.scoring._anomalies import ScoringError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from algoperf.scoring._scoring import ScoreReport

FORMATS = (".png", ".svg")


def plot_performance_profiles(report: ScoreReport, path: str | Path) -> Path:
    """Draw every submission's performance profile rho(tau) into `path` (.png or .svg).

    Raises:
        ScoringError: matplotlib is missing or the suffix is not .png or .svg.
    """
    path = _checked(path)
    figure = _figure()
    axes = figure.subplots()
    for i, name in enumerate(report.submissions):
        label = f"{name} ({report.score[i]:.3f})"
        axes.plot(report.taus, report.profiles[i], drawstyle="steps-post", label=label)
    axes.set_xlim(1.0, report.options.rules.max_tau)
    axes.set_ylim(0.0, 1.02)
    axes.set_xlabel("tau: time / fastest submission's time")
    axes.set_ylabel("fraction of base workloads with ratio <= tau")
    axes.set_title(_title(report, "performance profiles"))
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.savefig(path)
    return path


def plot_tau_sensitivity(report: ScoreReport, path: str | Path) -> Path:
    """Draw each submission's score against τ_max into `path` (.png or .svg).

    Raises:
        ScoringError: matplotlib is missing or the suffix is not .png or .svg.
    """
    path = _checked(path)
    figure = _figure()
    axes = figure.subplots()
    for i, name in enumerate(report.submissions):
        axes.plot(report.options.tau_maxes, report.tau_sensitivity[:, i], marker="o", label=name)
    axes.axvline(report.options.rules.max_tau, color="grey", linestyle=":")
    axes.set_xlabel("tau_max")
    axes.set_ylabel("benchmark score")
    axes.set_title(_title(report, "score by tau_max"))
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path)
    return path


def check_plot_path(path: str | Path) -> Path:
    """`path`, once sure that a plot can be written there (before any scoring work).

    Raises:
        ScoringError: the suffix is not .png or .svg, the folder does not exist or cannot be
            written, or matplotlib is missing.
    """
    path = _checked(path)
    folder = path.parent
    if not folder.is_dir():
        raise ScoringError(f"--plot {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ScoringError(f"--plot {path}: the folder {folder} is not writable; pick another")
    if importlib.util.find_spec("matplotlib") is None:
        raise ScoringError("plots need matplotlib: pip install 'algoperf-scoring[plots]'")
    return path


def _title(report: ScoreReport, what: str) -> str:
    o = report.options
    compat = ", reference-compat" if o.reference_compat else ""
    return f"AlgoPerf {o.rules.name} {o.ruleset} tuning{compat}: {what}"


def _checked(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ScoringError(
            f"{path}: plots are written as {' or '.join(FORMATS)}; change the suffix"
        )
    return path


def _figure() -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ScoringError("plots need matplotlib: pip install 'algoperf-scoring[plots]'") from None
    return Figure(figsize=(8, 5), layout="constrained")
