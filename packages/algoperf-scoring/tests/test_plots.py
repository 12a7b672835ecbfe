"""Plots, drawn when the `plots` extra (matplotlib) is installed."""

import pytest

from algoperf.api import get_rules
from algoperf.scoring import (
    ScoringOptions,
    plot_performance_profiles,
    plot_tau_sensitivity,
    read_times_csv,
    score,
)

pytest.importorskip("matplotlib", reason="the plots extra is not installed")


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_profile_and_sensitivity_plots(write_times, tmp_path, suffix):
    rows = [("A", "wmt", 100.0), ("B", "wmt", 250.0), ("A", "ogbg", "inf"), ("B", "ogbg", 9.0)]
    options = ScoringOptions(rules=get_rules("v0.6"), bootstrap_samples=0)
    report = score(read_times_csv(write_times(rows), "v0.6"), options)
    for plot in (plot_performance_profiles, plot_tau_sensitivity):
        path = plot(report, tmp_path / f"{plot.__name__}{suffix}")
        head = path.read_bytes()[:200]
        assert (
            head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in head or b"<?xml" in head
        )
