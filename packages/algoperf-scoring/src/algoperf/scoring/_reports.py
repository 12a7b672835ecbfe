"""A score report as text: readable tables, a long CSV, or JSON with one object per submission."""

from __future__ import annotations

import csv
import enum
import io
import json
import math
from collections.abc import Sequence
from typing import Any

from algoperf.api import Ruleset
from algoperf.scoring._analysis import Speedups
from algoperf.scoring._profiles import Integration, ranks
from algoperf.scoring._scoring import ScoreReport
from algoperf.scoring._times import TIMES_COLUMNS, Status


class Format(enum.StrEnum):
    """Output formats of `render`."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def render(report: ScoreReport, fmt: Format | str = Format.TABLE) -> str:
    """The report as text in format `fmt`."""
    renderers = {Format.TABLE: _table, Format.CSV: _csv, Format.JSON: _json}
    return renderers[Format(fmt)](report)


def _status_label(report: ScoreReport, status: Status) -> str:
    labels = {
        Status.NOT_REACHED: "not reached",
        Status.ERROR: "error",
        Status.MISSING: "missing",
        Status.BASE_FAILED: "base failed",
        Status.BEYOND_MAX_RATIO: f"> {report.options.rules.max_ratio_to_fastest:g}x fastest",
        Status.HELD_OUT_INVALIDATED: "held-out failed",
    }
    return labels[status]


def _mode(report: ScoreReport) -> str:
    if report.options.reference_compat:
        return "reference-compat (trial with the earliest target-reaching eval; no budget cut-off)"
    return "rules as written (fastest trial by time; evals past the budget do not count)"


def _table(report: ScoreReport) -> str:
    o = report.options
    sections = [
        f"AlgoPerf scores, rules {o.rules.name}, {o.ruleset} tuning\n"
        f"mode: {_mode(report)}\n"
        f"score: area under the performance profile for tau in [1, {o.rules.max_tau:g}], "
        f"divided by {o.rules.max_tau - 1:g}",
        _leaderboard(report),
        _per_workload(report),
        *([] if report.speedups is None else [_speedups(report.submissions, report.speedups)]),
        _sensitivity(report),
        _leave_one_out(report),
        _qualification(report),
    ]
    return "\n\n".join(sections) + "\n"


def _leaderboard(report: ScoreReport) -> str:
    o = report.options
    other = next(i for i in Integration if i is not o.integration)
    header = ["rank", "submission", "score", str(other)]
    title = f"Leaderboard (score: {o.integration} integration"
    if report.intervals is not None:
        header.append(f"{o.confidence:.0%} CI")
        title += f"; CI: {o.bootstrap_samples} resamples of the studies, seed {o.seed}"
    rows = []
    for i in sorted(range(len(report.submissions)), key=lambda i: report.ranks[i]):
        row = [
            str(report.ranks[i]),
            report.submissions[i],
            f"{report.score[i]:.4f}",
            f"{report.scores[other][i]:.4f}",
        ]
        if report.intervals is not None:
            row.append(f"[{report.intervals[i, 0]:.4f}, {report.intervals[i, 1]:.4f}]")
        rows.append(row)
    return f"{title})\n" + _grid(header, rows, left=2)


def _per_workload(report: ScoreReport) -> str:
    base = set(report.options.rules.base_workloads)
    rows = []
    for j, workload in enumerate(report.times.workloads):
        name = workload if workload in base else f"{workload} (held-out)"
        cells = [_runtime_cell(report, i, j) for i in range(len(report.submissions))]
        rows.append([name, f"{report.budgets[j]:.0f}", *cells])
    return "Runtime as a fraction of the budget (inf: why it does not count)\n" + _grid(
        ["workload", "budget s", *report.submissions], rows
    )


def _runtime_cell(report: ScoreReport, i: int, j: int) -> str:
    status = report.status[i, j]
    if status == Status.REACHED:
        return f"{report.seconds[i, j] / report.budgets[j]:.3f}"
    return f"inf ({_status_label(report, status)})"


def _speedups(submissions: Sequence[str], s: Speedups) -> str:
    rows = [
        [name, f"{s.mean_ratio[i]:.4f}", f"{1 - s.mean_ratio[i]:+.1%}"]
        for i, name in enumerate(submissions)
    ]
    return (
        f"Speed-ups vs {s.reference} (geometric mean over base workloads of time ratios; "
        "failures at the budget; no held-out rules)\n"
        + _grid(["submission", "time ratio", "faster by"], rows)
    )


def _sensitivity(report: ScoreReport) -> str:
    taus = [f"{t:g}" for t in report.options.tau_maxes]
    rows = [
        [name, *(f"{v:.4f}" for v in report.tau_sensitivity[:, i])]
        for i, name in enumerate(report.submissions)
    ]
    return "Score by tau_max\n" + _grid(["submission", *taus], rows)


def _leave_one_out(report: ScoreReport) -> str:
    loo_ranks = ranks(report.leave_one_out)
    rows = [
        [
            workload,
            *(
                f"{report.leave_one_out[w, i]:.4f} ({loo_ranks[w, i]})"
                for i in range(len(report.submissions))
            ),
        ]
        for w, workload in enumerate(report.options.rules.base_workloads)
    ]
    return "Score (rank) without one base workload\n" + _grid(
        ["left out", *report.submissions], rows
    )


def _qualification(report: ScoreReport) -> str:
    rules = report.options.rules
    studies = "first study" if report.options.ruleset is Ruleset.EXTERNAL else "all studies"
    rows = [[name, f"{report.qualification[i]:.4f}"] for i, name in enumerate(report.submissions)]
    return f"Qualification set ({', '.join(rules.qualification_workloads)}; {studies})\n" + _grid(
        ["submission", "score"], rows
    )


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A plain-text table: the first `left` columns left-aligned, the others right-aligned."""
    widths = [max(len(r[c]) for r in (header, *rows)) for c in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.ljust(w) if k < left else c.rjust(w)
            for k, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def _csv(report: ScoreReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*TIMES_COLUMNS, "fraction_of_budget", "status", "score", "rank"])
    for i, submission in enumerate(report.submissions):
        for j, workload in enumerate(report.times.workloads):
            seconds = report.times.seconds[i, j]
            writer.writerow(
                [
                    submission,
                    workload,
                    repr(float(seconds)),
                    repr(float(seconds / report.budgets[j])),
                    report.status[i, j],
                    repr(float(report.score[i])),
                    report.ranks[i],
                ]
            )
    return out.getvalue()


def _json(report: ScoreReport) -> str:
    """A JSON array, one submission per line.

    Not `indent`: it switches json to its pure-Python encoder, three times slower on a
    leaderboard's report.
    """
    lines = (json.dumps(_submission_json(report, i)) for i in range(len(report.submissions)))
    return "[\n" + ",\n".join(lines) + "\n]\n"


def _submission_json(report: ScoreReport, i: int) -> dict[str, Any]:
    o = report.options
    entry: dict[str, Any] = {
        "submission": report.submissions[i],
        "rank": int(report.ranks[i]),
        "score": _number(report.score[i]),
        "scores": {str(k): _number(v[i]) for k, v in report.scores.items()},
        "confidence_interval": None
        if report.intervals is None
        else [_number(v) for v in report.intervals[i]],
        "rules": o.rules.name,
        "ruleset": str(o.ruleset),
        "reference_compat": o.reference_compat,
        "integration": str(o.integration),
        "qualification_score": _number(report.qualification[i]),
        "tau_max_sensitivity": {
            f"{t:g}": _number(v)
            for t, v in zip(o.tau_maxes, report.tau_sensitivity[:, i], strict=True)
        },
        "leave_one_workload_out": {
            w: _number(v)
            for w, v in zip(o.rules.base_workloads, report.leave_one_out[:, i], strict=True)
        },
        "workloads": {
            w: _workload_json(report, i, j) for j, w in enumerate(report.times.workloads)
        },
    }
    if report.speedups is not None:
        entry["speedup"] = {
            "reference": report.speedups.reference,
            "time_ratio": _number(report.speedups.mean_ratio[i]),
            "per_workload": {
                w: _number(v)
                for w, v in zip(report.speedups.workloads, report.speedups.ratios[i], strict=True)
            },
        }
    return entry


def _workload_json(report: ScoreReport, i: int, j: int) -> dict[str, Any]:
    seconds = report.times.seconds[i, j]
    entry: dict[str, Any] = {
        "seconds": _number(seconds),
        "scored_seconds": _number(report.seconds[i, j]),
        "fraction_of_budget": _number(seconds / report.budgets[j]),
        "status": str(report.status[i, j]),
    }
    studies = report.times.studies
    if studies is not None:
        entry["studies"] = [
            {
                "study": int(studies.ids[i, j, k]),
                "seconds": _number(studies.seconds[i, j, k]),
                "trial": int(studies.trials[i, j, k]) or None,
            }
            for k in range(studies.counts[i, j])
        ]
    return entry


def _number(value: float) -> float | None:
    """A JSON number; inf and NaN become null (the status says which)."""
    value = float(value)
    return value if math.isfinite(value) else None
