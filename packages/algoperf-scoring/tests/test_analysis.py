"""Golden tests of speed-ups, τ_max sensitivity, leave-one-out, qualification and bootstrap."""

import math

import numpy as np
import pytest

from algoperf.api import Ruleset, get_rules, scored_workloads
from algoperf.scoring import (
    Integration,
    ScoringError,
    Status,
    StudyTimes,
    WorkloadTimes,
    apply_rules,
    benchmark_scores,
    bootstrap_scores,
    confidence_interval,
    held_out_pairs,
    leave_one_workload_out,
    median_over_studies,
    performance_ratios,
    qualification_scores,
    read_times_csv,
    speedups,
    tau_max_sensitivity,
)

INF = math.inf
EXACT = Integration.EXACT


def test_speedups_impute_failures_with_the_budget(write_times):
    # S halves criteo1tb (1000 -> 500 s); on fastmri R fails, so R's time is the v0.5
    # external budget 8859 s and S's 4429.5 s is a ratio of 0.5; the other six are equal.
    # Geometric mean: (0.5 * 0.5 * 1^6)^(1/8) = 2^(-1/4) = 0.8409. S's failed held-out
    # variant does not count here (no held-out rules).
    rules = get_rules("v0.5")
    rows = []
    for w in rules.base_workloads + rules.held_out_workloads:
        r_time, s_time = {"criteo1tb": (1000.0, 500.0), "fastmri": (INF, 4429.5)}.get(w, (9.0, 9.0))
        rows += [("R", w, r_time), ("S", w, INF if w == "criteo1tb_embed_init" else s_time)]
    times = read_times_csv(write_times(rows), rules)
    result = speedups(times, "S", Ruleset.EXTERNAL)  # against S: R is 2^(1/4) slower
    assert result.mean_ratio.tolist() == pytest.approx([2**0.25, 1.0])
    result = speedups(times, "R", Ruleset.EXTERNAL)
    assert result.mean_ratio.tolist() == pytest.approx([1.0, 2**-0.25])
    assert result.ratios[1, list(rules.base_workloads).index("fastmri")] == pytest.approx(0.5)
    # The reference's imputation: budget + 1 s, so fastmri's ratio is 4429.5 / 8860.
    compat = speedups(times, "R", Ruleset.EXTERNAL, extra_seconds=1.0)
    assert compat.mean_ratio[1] == pytest.approx((0.5 * 4429.5 / 8860) ** (1 / 8))
    # Self-tuning budgets are 3x in v0.5: fastmri 26577 s.
    self_tuning = speedups(times, "R", Ruleset.SELF)
    assert self_tuning.ratios[1, 1] == pytest.approx(4429.5 / 26577)


def test_speedups_against_an_unknown_submission(write_times):
    times = read_times_csv(write_times([("baseline", "wmt", 1.0), ("shampoo", "wmt", 2.0)]))
    message = r"unknown submission 'basline' \(did you mean 'baseline'\?\); the submissions are"
    with pytest.raises(ScoringError, match=message):
        speedups(times, "basline", Ruleset.EXTERNAL)


def test_tau_max_sensitivity():
    # One workload, ratios 1 and 2.2, exact areas (t - r) / (t - 1) clipped at 0:
    # t = 2: 1 and 0 (2.2 > 2); t = 3: 1 and 0.8 / 2 = 0.4; t = 6: 1 and 3.8 / 5 = 0.76.
    result = tau_max_sensitivity(np.array([[1.0], [2.2]]), (2.0, 3.0, 6.0), EXACT)
    np.testing.assert_allclose(result, [[1.0, 0.0], [1.0, 0.4], [1.0, 0.76]])


def test_leave_one_workload_out():
    # A: ratios 1 and inf; B: 2.2 and 1. Exact, tau_max 4: with both, A = (1 + 0) / 2 = 0.5
    # and B = (0.6 + 1) / 2 = 0.8. Without workload 0: A 0, B 1. Without 1: A 1, B 0.6.
    ratios = np.array([[1.0, INF], [2.2, 1.0]])
    np.testing.assert_allclose(leave_one_workload_out(ratios, 4.0, EXACT), [[0.0, 1.0], [1.0, 0.6]])


def _times_with_studies(rules_name: str, studies: dict[str, list[float]]) -> WorkloadTimes:
    """One submission; each workload's study times (default: one study at 100 s)."""
    rules = get_rules(rules_name)
    workloads = tuple(s.name for s in scored_workloads(rules))
    width = max(len(v) for v in studies.values())
    seconds = np.full((1, len(workloads), width), math.nan)
    counts = np.ones((1, len(workloads)), dtype=np.int64)
    seconds[0, :, 0] = 100.0
    for name, values in studies.items():
        j = workloads.index(name)
        seconds[0, j, : len(values)] = values
        counts[0, j] = len(values)
    ids = np.where(np.arange(width) < counts[..., None], np.arange(width), -1)
    per_workload = median_over_studies(seconds, counts)
    status = np.empty(per_workload.shape, dtype=object)
    status[...] = Status.REACHED
    status[np.isinf(per_workload)] = Status.NOT_REACHED
    studies_ = StudyTimes(seconds, counts, ids, np.ones_like(ids))
    return WorkloadTimes(rules, ("A",), workloads, per_workload, status, studies_)


def test_qualification_uses_the_first_study_under_external_tuning():
    # criteo1tb's first study failed but its median (of inf, 100, 100) is 100 s.
    # External: first study only -> criteo1tb fails -> 2 of 3 workloads -> 2/3.
    # Self-tuning: all studies -> 3 of 3 -> 1.
    times = _times_with_studies("v0.5", {"criteo1tb": [INF, 100.0, 100.0]})
    external = qualification_scores(times, Ruleset.EXTERNAL, max_tau=4.0)
    self_tuning = qualification_scores(times, Ruleset.SELF, max_tau=4.0)
    assert external.tolist() == pytest.approx([2 / 3])
    assert self_tuning.tolist() == pytest.approx([1.0])


BOOTSTRAP_CASE = {"criteo1tb": [100.0, INF, INF]}


def test_bootstrap_resamples_studies():
    # v0.6, one submission; criteo1tb has studies (100, inf, inf), every other base workload
    # one study at 100 s. A resample of criteo1tb's 3 studies has a finite median when at
    # least 2 of 3 draws are the finite one: 3 (1/3)^2 (2/3) + (1/3)^3 = 7/27. The score is
    # then 1, else 7/8, so the mean is 7/8 + 7/27/8 = 0.9074 (within sampling error).
    times = _times_with_studies("v0.6", BOOTSTRAP_CASE)
    samples = bootstrap_scores(times, samples=4000, seed=0, max_tau=4.0)
    assert set(np.round(samples[:, 0], 12)) == {0.875, 1.0}
    assert samples.mean() == pytest.approx(7 / 8 + 7 / 27 / 8, abs=0.006)
    np.testing.assert_allclose(confidence_interval(samples, 0.95), [[0.875, 1.0]])


def test_bootstrap_is_deterministic_given_the_seed():
    times = _times_with_studies("v0.6", BOOTSTRAP_CASE)
    first = bootstrap_scores(times, samples=200, seed=3, max_tau=4.0)
    again = bootstrap_scores(times, samples=200, seed=3, max_tau=4.0)
    other = bootstrap_scores(times, samples=200, seed=4, max_tau=4.0)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_bootstrap_needs_per_study_times(write_times):
    times = read_times_csv(write_times([("A", "wmt", 10.0)]))
    with pytest.raises(ScoringError, match="per-study times"):
        bootstrap_scores(times, samples=10, seed=0, max_tau=4.0)


@pytest.mark.parametrize("samples", [1, 2, 7, 1000])
@pytest.mark.parametrize("confidence", [0.0, 0.5, 0.95, 1.0])
def test_confidence_interval_is_numpys_quantile(samples, confidence):
    rng = np.random.default_rng(samples)
    scores = rng.random((samples, 4))
    scores[:, 0] = 0.875  # constant
    scores[: samples // 2, 1] = 1.0  # a tie across the middle
    tails = [(1 - confidence) / 2, 1 - (1 - confidence) / 2]
    expected = np.quantile(scores, tails, axis=0).T
    assert np.array_equal(confidence_interval(scores, confidence), expected)


def test_bootstrap_blocks_continue_one_stream():
    # Resamples are scored in blocks (possibly in other processes), each starting the
    # generator where the previous block left it: the same samples as one draw of them all.
    times = _times_with_studies("v0.5", {"criteo1tb": [INF, 100.0, 90.0], "wmt": [80.0, 120.0]})
    studies = times.studies
    samples = 250  # two full blocks and a part
    uniform = np.random.default_rng(7).random((samples, *studies.seconds.shape))
    draws = (uniform * studies.counts[..., None]).astype(np.int64)
    resampled = np.take_along_axis(studies.seconds[None], draws, axis=-1)
    counts = np.broadcast_to(studies.counts, (samples, *studies.counts.shape))
    pairs = held_out_pairs(times.workloads, times.rules)
    ruled, _ = apply_rules(median_over_studies(resampled, counts), pairs, 4.0)
    base = [times.workloads.index(w) for w in times.rules.base_workloads]
    expected = benchmark_scores(performance_ratios(ruled[..., base]), 4.0)
    assert np.array_equal(bootstrap_scores(times, samples=samples, seed=7, max_tau=4.0), expected)
