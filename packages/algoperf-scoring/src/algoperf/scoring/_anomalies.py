"""Problems found in the input: collected while reading, reported once per kind, or raised."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from algoperf.api import AlgoPerfError

_SHOWN_PER_KIND = 12


class ScoringError(AlgoPerfError, ValueError):
    """Input that cannot be scored; the message names the file, the field and the fix."""


class AnomalyKind(enum.Enum):
    """What is wrong with the logs, and the fix the summary suggests."""

    UNKNOWN_WORKLOAD = (
        "folders that name no registered workload (skipped)",
        "name workload folders '<workload>_<jax|pytorch>' after a registered workload",
    )
    NOT_SCORED = (
        "workloads these rules do not score (skipped)",
        "nothing to fix if these are extra runs; check --rules if they should count",
    )
    UNEXPECTED_PATH = (
        "folders outside the layout (ignored)",
        "keep only 'study_<k>/<workload>_<framework>/trial_<i>/' folders in a submission",
    )
    EMPTY_FOLDER = (
        "empty folders (ignored)",
        "remove them, or copy the runs that belong there",
    )
    UNREADABLE = (
        "files that cannot be read (trial skipped)",
        "restore the file from the run's output; the detail names the field",
    )
    MISSING_COLUMN = (
        "eval files without a column scoring needs (trial skipped)",
        "log 'accumulated_submission_time' and the workload's 'validation/<metric>' at each eval",
    )
    BAD_TIME = (
        "eval files with a negative or infinite time (trial skipped)",
        "restore the eval file from the run's output: accumulated_submission_time is the "
        "trial's timed seconds so far, finite and >= 0",
    )
    OUT_OF_ORDER = (
        "eval files whose steps or times go backwards (trial skipped)",
        "keep one run's evals per trial folder, in the order they were logged (a resumed run "
        "appends after the evals it restored)",
    )
    CONFLICTING_EVALS = (
        "eval files with a step logged twice with different values (trial skipped)",
        "keep the copy of each eval that the run logged; the detail names both lines",
    )
    DUPLICATE_EVAL = (
        "note: eval files with a step logged twice, identically (the copy is ignored)",
        "nothing to fix; remove the repeated line to silence this note",
        True,
    )
    PARTIAL_LINE = (
        "note: eval files whose last line is unterminated (a write in progress or a killed "
        "writer; that line is not read)",
        "nothing to fix while the trial runs; after it, the line was never committed",
        True,
    )
    NO_EVALS = (
        "trials without any eval (an error before the first eval: no time to target)",
        "nothing to fix if the trial failed; otherwise restore its eval file",
    )
    NAN_VALUES = (
        "evals with NaN values (a NaN metric never reaches the target; a NaN time is dropped)",
        "nothing to fix if the run diverged",
    )
    DUPLICATE_TRIAL = (
        "trials recorded twice (the first, in path order, is kept)",
        "keep one copy of each (submission, workload, study, trial)",
    )
    OTHER_RULES = (
        "trials recorded under another rule version or ruleset (skipped)",
        "score them with the matching --rules and --ruleset",
    )
    MISSING_WORKLOAD = (
        "scored workloads without any trial (count as infinite)",
        "run the workload, or copy its logs into the submission folder",
    )
    STUDY_COUNT = (
        "workloads with the wrong number of studies",
        "run every study the rules ask for",
    )
    TRIAL_COUNT = (
        "studies with the wrong number of trials",
        "run every trial the rules ask for",
    )

    def __init__(self, description: str, fix: str, note: bool = False) -> None:
        self.description = description
        self.fix = fix
        self.note = note
        """A note is reported but never an error, even with --strict."""


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One problem, where it is, and its details."""

    kind: AnomalyKind
    where: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}" if self.detail else self.where


class AnomalyError(ScoringError):
    """A reader's problem with one file, raised to the ingestion that records it."""

    def __init__(self, anomaly: Anomaly) -> None:
        super().__init__(str(anomaly))
        self.anomaly = anomaly


def summarize_anomalies(anomalies: Iterable[Anomaly]) -> str:
    """One block per kind, listing where (at most a dozen, then a count) and the fix."""
    by_kind: dict[AnomalyKind, list[Anomaly]] = {}
    for anomaly in anomalies:
        by_kind.setdefault(anomaly.kind, []).append(anomaly)
    if not by_kind:
        return "no anomalies in the input"
    kinds = [k for k in by_kind if not k.note]
    total = sum(len(by_kind[k]) for k in kinds)
    notes = sum(len(v) for k, v in by_kind.items() if k.note)
    head = f"{_count(total, 'anomaly', 'anomalies')} in the input, of {_count(len(kinds), 'kind')}"
    lines = [f"{head}, and {_count(notes, 'note')}:" if notes else f"{head}:"]
    for kind in AnomalyKind:
        found = by_kind.get(kind)
        if not found:
            continue
        lines.append(f"- {kind.description}: {len(found)}")
        lines.extend(f"    {a}" for a in found[:_SHOWN_PER_KIND])
        if len(found) > _SHOWN_PER_KIND:
            lines.append(f"    ... and {len(found) - _SHOWN_PER_KIND} more")
        lines.append(f"  fix: {kind.fix}")
    return "\n".join(lines)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def raise_if_strict(anomalies: tuple[Anomaly, ...], strict: bool) -> None:
    """With --strict, turn every anomaly (notes aside) into one error listing them all."""
    if strict and any(not a.kind.note for a in anomalies):
        raise ScoringError(
            f"{summarize_anomalies(anomalies)}\n"
            "--strict is set: fix these, or drop --strict to score around them"
        )
