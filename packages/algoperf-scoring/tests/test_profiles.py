"""Golden tests of the rules across submissions, the profiles and the score, worked by hand."""

import math

import pytest

from algoperf.api import get_rules
from algoperf.scoring import (
    Integration,
    ScoringOptions,
    Status,
    apply_rules,
    benchmark_scores,
    held_out_pairs,
    performance_profile,
    performance_ratios,
    ranks,
    read_times_csv,
    score,
)
from algoperf.scoring._profiles import (
    BASE_FAILED,
    BEYOND_MAX_RATIO,
    HELD_OUT_INVALIDATED,
    NO_RULE,
)

INF, NAN = math.inf, math.nan
# Columns: a base workload, then its held-out variant.
PAIR = [(1, 0)]


def test_v05_held_out_workloads_pair_with_their_base_in_the_rules_order():
    rules = get_rules("v0.5")
    workloads = rules.base_workloads + rules.held_out_workloads
    pairs = held_out_pairs(workloads, rules)
    assert [(workloads[v], workloads[b]) for v, b in pairs] == [
        ("librispeech_conformer_layernorm", "librispeech_conformer"),
        ("imagenet_resnet_large_bn_init", "imagenet_resnet"),
        ("ogbg_model_size", "ogbg"),
        ("wmt_glu_tanh", "wmt"),
        ("fastmri_tanh", "fastmri"),
        ("criteo1tb_embed_init", "criteo1tb"),
    ]
    assert held_out_pairs(workloads, get_rules("v0.6")) == []


def test_variant_is_infinite_when_its_base_is():
    # Base not reached (inf) or errored (NaN): the variant's 100 s is dropped.
    t, rule = apply_rules([[INF, 100.0], [NAN, 100.0], [50.0, 100.0]], PAIR, 4.0)
    assert t[:, 1].tolist() == [INF, INF, 100.0]
    assert rule[:, 1].tolist() == [BASE_FAILED, BASE_FAILED, NO_RULE]


def test_more_than_four_times_the_fastest_is_infinite():
    # Fastest 100 s: 400 s is exactly 4x (kept), 450 s is more (inf); NaN is not the fastest.
    t, rule = apply_rules([[100.0], [400.0], [450.0], [NAN]], [], 4.0)
    assert t[:3, 0].tolist() == [100.0, 400.0, INF]
    assert math.isnan(t[3, 0])
    assert rule[:, 0].tolist() == [NO_RULE, NO_RULE, BEYOND_MAX_RATIO, NO_RULE]


def test_base_is_infinite_when_its_variant_is():
    t, rule = apply_rules([[100.0, INF], [120.0, NAN], [110.0, 90.0]], PAIR, 4.0)
    assert t[:, 0].tolist() == [INF, INF, 110.0]
    assert rule[:, 0].tolist() == [HELD_OUT_INVALIDATED, HELD_OUT_INVALIDATED, NO_RULE]


def test_the_four_times_rule_runs_before_the_held_out_invalidation():
    # X: base 100 s but its variant failed; Y: base 500 s, variant fine.
    # Reference order: the 4x rule still sees X's 100 s as the fastest, so Y's 500 s (> 400)
    # becomes inf; then X's base is invalidated. Both end up infinite. (Invalidating X first
    # would have made Y's 500 s the fastest and kept it.)
    t, rule = apply_rules([[100.0, INF], [500.0, 100.0]], PAIR, 4.0)
    assert t[:, 0].tolist() == [INF, INF]
    assert rule[:, 0].tolist() == [HELD_OUT_INVALIDATED, BEYOND_MAX_RATIO]


def test_ratios_to_the_fastest_with_nan_as_inf():
    # Fastest per workload: 100 and 150. NaN and inf are both infinite ratios.
    r = performance_ratios([[100.0, 300.0, NAN], [200.0, 150.0, INF]])
    assert r.tolist() == [[1.0, 2.0, INF], [2.0, 1.0, INF]]


def test_profile_is_the_fraction_of_workloads_within_tau():
    # Row 0 has ratios 1 and 2.2: rho = 1/2 up to tau 2.2, then 1. Row 1: 3 and inf.
    rho = performance_profile([[1.0, 2.2], [3.0, INF]], [1.0, 2.0, 3.0, 4.0])
    assert rho.tolist() == [[0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5]]


def test_trapezoid_and_exact_areas():
    # One workload; ratios 1 and 2.2; tau in [1, 4].
    # Exact: (4 - 2.2) / 3 = 0.6. Trapezoid on linspace(1, 4, 100), step h = 3/99: rho jumps
    # between tau_39 = 2.1818 and tau_40 = 2.2121, so the area is h * (0.5 + 59) and the
    # score 59.5 / 99 = 0.60101.
    ratios = [[1.0], [2.2]]
    exact = benchmark_scores(ratios, 4.0, Integration.EXACT)
    trapezoid = benchmark_scores(ratios, 4.0, Integration.TRAPEZOID)
    assert exact.tolist() == pytest.approx([1.0, 0.6])
    assert trapezoid.tolist() == pytest.approx([1.0, 59.5 / 99])


def test_ranks_share_ties():
    assert ranks([0.5, 0.9, 0.5, 0.1]).tolist() == [2, 1, 2, 4]


def _all_reached(submission, seconds=1000.0, rules="v0.5"):
    names = get_rules(rules).base_workloads + get_rules(rules).held_out_workloads
    return [(submission, w, seconds) for w in names]


def test_denominator_is_the_number_of_base_workloads(write_times):
    # A leaves out wmt: 7 of 8 base workloads at ratio 1 -> 7/8 for every tau.
    rows = [r for r in _all_reached("A") if r[1] != "wmt"]
    report = score(read_times_csv(write_times(rows)), ScoringOptions(bootstrap_samples=0))
    assert report.score.tolist() == pytest.approx([7 / 8])
    assert report.status[0, report.times.workloads.index("wmt")] == Status.MISSING


def test_nan_counts_as_infinite(write_times):
    # Same scores whether imagenet_resnet is NaN (error) or inf (not reached): 7/8; the
    # status says which. The variant's base failed, so it is infinite too.
    for value, status in (("nan", Status.ERROR), ("inf", Status.NOT_REACHED)):
        rows = [(s, w, value if w == "imagenet_resnet" else t) for s, w, t in _all_reached("A")]
        report = score(read_times_csv(write_times(rows)), ScoringOptions(bootstrap_samples=0))
        workloads = report.times.workloads
        assert report.score.tolist() == pytest.approx([7 / 8])
        assert report.status[0, workloads.index("imagenet_resnet")] == status
        assert report.status[0, workloads.index("imagenet_resnet_large_bn_init")] == (
            Status.BASE_FAILED
        )


def test_two_submissions_scored_end_to_end(write_times):
    # B is twice as slow as A on criteo1tb (ratio 2) and fails ogbg's held-out variant, which
    # invalidates its ogbg. A is fastest everywhere else, tied with B.
    # A: all 8 at ratio 1 -> 1.0.
    # B exact: 6 workloads at ratio 1 contribute 3 each, criteo1tb (4 - 2) = 2, ogbg 0:
    #   (6 * 3 + 2) / (8 * 3) = 20/24 = 0.8333.
    rows = _all_reached("A")
    for _, w, t in _all_reached("B"):
        seconds = {"criteo1tb": 2000.0, "ogbg_model_size": INF}.get(w, t)
        rows.append(("B", w, seconds))
    options = ScoringOptions(bootstrap_samples=0, integration=Integration.EXACT)
    report = score(read_times_csv(write_times(rows)), options)
    assert report.score.tolist() == pytest.approx([1.0, 20 / 24])
    assert report.ranks.tolist() == [1, 2]
    ogbg = report.times.workloads.index("ogbg")
    assert report.status[1, ogbg] == Status.HELD_OUT_INVALIDATED
