"""Find and read every trial under a logs folder, in either layout, noting each anomaly once.

A logs folder holds one folder per submission, in one of two layouts:

- ours: any nesting of trial folders holding `trial.json` and `evals.jsonl` (the spec in
  `trial.json` names the submission, workload, study and trial);
- the reference implementation's:
  `<submission>/study_<k>/<workload>_<framework>/trial_<i>/eval_measurements.csv`.

Targets come from the `algoperf.api` registry, never from the logs' own metadata (the
reference's `meta_data_*.json` files hold stale targets for some variants).

The folders are walked first; then `read_trials` reads the trial files (in parallel when
there are many), and the results are booked here in path order.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from algoperf.api import (
    RULE_VERSIONS,
    TRIAL_FILE,
    WORKLOADS,
    Framework,
    Ruleset,
    RuleVersion,
    did_you_mean,
    get_rules,
    scored_workloads,
)
from algoperf.scoring._anomalies import (
    Anomaly,
    AnomalyKind,
    ScoringError,
    raise_if_strict,
    summarize_anomalies,
)
from algoperf.scoring._readers import REFERENCE_EVALS_FILE, Job, TrialRead, read_trials

_STUDY = re.compile(r"study_(\d+)")
_TRIAL = re.compile(r"trial_(\d+)")
_FRAMEWORKS = frozenset(f.value for f in Framework)
_Folder = Path | os.DirEntry[str]
"""A folder given by the caller (a `Path`) or found while walking (a directory entry)."""


@dataclass(frozen=True, slots=True)
class TrialLog:
    """One trial's evals, reduced to the two series scoring needs."""

    submission: str
    workload: str
    study: int
    trial: int
    folder: str
    """The trial folder (a string: a leaderboard has thousands, and `path` builds a Path)."""
    times: npt.NDArray[np.float64]
    """Accumulated submission time at each eval, in seconds."""
    values: npt.NDArray[np.float64]
    """The workload's validation target metric at each eval."""

    @property
    def path(self) -> Path:
        """The trial folder."""
        return Path(self.folder)


@dataclass(frozen=True)
class Logs:
    """The trials of every submission under a logs folder, and what was wrong with them."""

    rules: RuleVersion
    ruleset: Ruleset
    submissions: tuple[str, ...]
    trials: tuple[TrialLog, ...]
    anomalies: tuple[Anomaly, ...]


def load_logs(
    root: str | Path,
    rules: str | RuleVersion | None = None,
    ruleset: Ruleset | str = Ruleset.EXTERNAL,
    *,
    strict: bool = False,
    workers: int | None = None,
) -> Logs:
    """Read the trials of the workloads `rules` scores, from one folder per submission.

    Args:
        root: the folder holding one folder per submission, in either layout.
        rules: the rule version ('v0.5', 'v0.6', 'v0.6-lm'); decides which workloads are read
            and how many studies and trials are expected.
        ruleset: external or self tuning; our records of another ruleset are skipped.
        strict: raise instead of collecting anomalies.
        workers: processes that read trial files; None: one per CPU, 500 trials or more each.

    Raises:
        ScoringError: `root` holds no submission, or `strict` is set and there are anomalies.
    """
    root = Path(root)
    if not root.is_dir():
        raise ScoringError(
            f"{root}: not a folder; pass the folder that holds one folder per submission"
        )
    reader = _LogReader(get_rules(rules), Ruleset(ruleset))
    jobs = [job for folder in _subfolders(root) for job in reader.discover(folder)]
    for trial in read_trials(jobs, reader.rules, reader.ruleset, workers):
        reader.accept(trial)
    logs = reader.finish()
    if not logs.submissions:
        found = f"\n{summarize_anomalies(logs.anomalies)}" if logs.anomalies else ""
        raise ScoringError(
            f"{root}: no submission found; expected <root>/<submission>/study_<k>/"
            f"<workload>_<framework>/trial_<i>/{REFERENCE_EVALS_FILE} or "
            f"<root>/<submission>/**/{TRIAL_FILE}{found}"
        )
    if not logs.trials and reader.elsewhere:
        found = f"\n{summarize_anomalies(logs.anomalies)}"
        raise ScoringError(f"{root}: {reader.wrong_rules()}{found}")
    raise_if_strict(logs.anomalies, strict)
    return logs


class _LogReader:
    """Finds the trial folders of each submission and keeps the books on what was read."""

    def __init__(self, rules: RuleVersion, ruleset: Ruleset) -> None:
        self.rules = rules
        self.ruleset = ruleset
        self.scored = tuple(spec.name for spec in scored_workloads(rules))
        self.trials: list[TrialLog] = []
        self.anomalies: list[Anomaly] = []
        self.submissions: set[str] = set()
        # (submission, workload) -> study -> trial numbers, to find missing and duplicate ones.
        self.seen: dict[tuple[str, str], dict[int, set[int]]] = {}
        # Skipped workloads and other-rules trials are reported once per submission and name.
        self.skipped: dict[tuple[AnomalyKind, str, str], set[int]] = {}
        # Workloads skipped as not scored by these rules, and the rules of skipped trials.
        self.elsewhere: set[str] = set()
        self.other_rules: set[str] = set()

    def discover(self, folder: _Folder) -> Iterator[Job]:
        """The trial folders of one submission folder, noting the folders that are not."""
        layout = _layout(folder)
        if layout == "ours":
            for path, folders, files in os.walk(folder):
                if TRIAL_FILE in files:
                    folders.clear()
                    yield Job(path)
                else:
                    folders.sort(key=_natural_key)
        elif layout == "reference":
            self.submissions.add(folder.name)
            yield from self._discover_reference(folder)
        else:
            self._note(AnomalyKind.EMPTY_FOLDER, folder, "neither study_<k>/ folders nor trials")

    def _discover_reference(self, folder: _Folder) -> Iterator[Job]:
        for study_folder in _subfolders(folder):
            match = _STUDY.fullmatch(study_folder.name)
            if match is None:
                self._note(AnomalyKind.UNEXPECTED_PATH, study_folder, "not a study_<k> folder")
                continue
            workload_folders = _subfolders(study_folder)
            if not workload_folders:
                self._note(AnomalyKind.EMPTY_FOLDER, study_folder, "no workload folders")
            for workload_folder in workload_folders:
                yield from self._discover_workload(folder.name, int(match[1]), workload_folder)

    def _discover_workload(self, submission: str, study: int, folder: _Folder) -> Iterator[Job]:
        name, _, framework = folder.name.rpartition("_")
        if framework not in _FRAMEWORKS:
            self._skip(AnomalyKind.UNKNOWN_WORKLOAD, submission, folder.name, study)
            return
        if not self._is_scored(submission, name, study):
            return
        trial_folders = []
        for sub in _subfolders(folder):
            if _TRIAL.fullmatch(sub.name):
                trial_folders.append(sub)
            else:
                self._note(AnomalyKind.UNEXPECTED_PATH, sub, "not a trial_<i> folder")
        if not trial_folders:
            self._note(AnomalyKind.EMPTY_FOLDER, folder, "no trial_<i> folders")
        for sub in trial_folders:
            yield Job(sub.path, submission, name, study, int(sub.name.removeprefix("trial_")))

    def _is_scored(self, submission: str, name: str, study: int) -> bool:
        """Whether the rules score workload `name`; notes the names they do not."""
        if name in self.scored:
            return True
        kind = AnomalyKind.NOT_SCORED if name in WORKLOADS else AnomalyKind.UNKNOWN_WORKLOAD
        if kind is AnomalyKind.NOT_SCORED:
            self.elsewhere.add(name)
        self._skip(kind, submission, name, study)
        return False

    def wrong_rules(self) -> str:
        """Why nothing was scored when every trial found is of other rules' workloads."""
        names = ", ".join(sorted(self.elsewhere))
        fits = [
            r.name
            for r in RULE_VERSIONS.values()
            if self.elsewhere <= {s.name for s in scored_workloads(r)}
        ]
        message = (
            f"no trial to score under rules {self.rules.name}, {self.ruleset} tuning: the "
            f"trials are of {names}"
        )
        if self.other_rules:
            message += f", recorded for {'; '.join(sorted(self.other_rules))}"
        if fits:
            return f"{message}; pass --rules {' or '.join(fits)} (and the matching --ruleset)"
        return f"{message}; no rule version scores all of them: pass the --rules of the run"

    def accept(self, read: TrialRead) -> None:
        """Keep the books on one read trial, and keep it if it is one to score."""
        if read.problem is not None and not read.submission:
            self.anomalies.append(read.problem)  # an unreadable trial.json: identity unknown
            return
        self.submissions.add(read.submission)
        if read.other_rules:
            self.elsewhere.add(read.workload)
            self.other_rules.add(read.other_rules)
            self._skip(AnomalyKind.OTHER_RULES, read.submission, read.other_rules, read.study)
            return
        if read.job.ours and not self._is_scored(read.submission, read.workload, read.study):
            return
        trials = self.seen.setdefault((read.submission, read.workload), {})
        numbers = trials.setdefault(read.study, set())
        if read.trial in numbers:
            detail = f"{read.submission}: {read.workload} study {read.study} trial {read.trial}"
            self._note(AnomalyKind.DUPLICATE_TRIAL, read.job.folder, detail)
            return
        numbers.add(read.trial)
        if read.series is None:
            assert read.problem is not None  # a worker sets one of the two
            self.anomalies.append(read.problem)
        self.anomalies.extend(read.notes)
        if read.series is None:
            return
        times, values = read.series
        if not len(times):
            self._note(AnomalyKind.NO_EVALS, read.job.folder, "no eval in the trial's eval file")
        self.trials.append(
            TrialLog(
                read.submission,
                read.workload,
                read.study,
                read.trial,
                read.job.folder,
                times,
                values,
            )
        )

    def _note(self, kind: AnomalyKind, where: str | _Folder, detail: str) -> None:
        self.anomalies.append(Anomaly(kind, os.fspath(where), detail))

    def _skip(self, kind: AnomalyKind, submission: str, name: str, study: int) -> None:
        self.skipped.setdefault((kind, submission, name), set()).add(study)

    def finish(self) -> Logs:
        """The trials read, and every anomaly, the skipped names and the counts included."""
        for (kind, submission, name), studies in self.skipped.items():
            where = submission if kind is AnomalyKind.OTHER_RULES else f"{submission}: {name}"
            detail = f"{_skip_detail(kind, name)}; studies {_ids(studies)}"
            self.anomalies.append(Anomaly(kind, where, detail))
        submissions = tuple(sorted(self.submissions))
        for submission in submissions:
            self._check_counts(submission)
        return Logs(
            self.rules, self.ruleset, submissions, tuple(self.trials), tuple(self.anomalies)
        )

    def _check_counts(self, submission: str) -> None:
        expected_trials = self.rules.num_trials if self.ruleset is Ruleset.EXTERNAL else 1
        for name in self.scored:
            where = f"{submission}: {name}"
            studies = self.seen.get((submission, name))
            if not studies:
                self.anomalies.append(Anomaly(AnomalyKind.MISSING_WORKLOAD, where))
                continue
            if len(studies) != self.rules.num_studies:
                detail = f"{len(studies)} of {self.rules.num_studies} studies ({_ids(studies)})"
                self.anomalies.append(Anomaly(AnomalyKind.STUDY_COUNT, where, detail))
            for study, trials in sorted(studies.items()):
                if len(trials) != expected_trials:
                    detail = f"{len(trials)} of {expected_trials} trials ({_ids(trials)})"
                    anomaly = Anomaly(AnomalyKind.TRIAL_COUNT, f"{where} study {study}", detail)
                    self.anomalies.append(anomaly)


def _skip_detail(kind: AnomalyKind, name: str) -> str:
    if kind is AnomalyKind.NOT_SCORED:
        return f"a registered {WORKLOADS[name].kind} workload"
    if kind is AnomalyKind.OTHER_RULES:
        return f"trials recorded for {name}"
    return f"not '<registered workload>_<jax|pytorch>'{did_you_mean(name, WORKLOADS)}"


def _ids(numbers: Iterable[int]) -> str:
    return ", ".join(str(n) for n in sorted(numbers))


def _layout(folder: _Folder) -> str | None:
    """Which layout a submission folder is in: 'ours', 'reference' or None (neither).

    The first study_<k>/<workload>/trial_<i>/ folder decides, so that a large reference
    layout is not walked twice.
    """
    for study in _subfolders(folder):
        if _STUDY.fullmatch(study.name):
            for workload in _subfolders(study):
                for trial in _subfolders(workload):
                    if _TRIAL.fullmatch(trial.name):
                        ours = os.path.isfile(os.path.join(trial.path, TRIAL_FILE))
                        return "ours" if ours else "reference"
    if any(TRIAL_FILE in files for _, _, files in os.walk(folder)):
        return "ours"
    return "reference" if any(_STUDY.fullmatch(f.name) for f in _subfolders(folder)) else None


def _subfolders(folder: _Folder) -> list[os.DirEntry[str]]:
    """Sub-folders in natural order (study_10 after study_9), hidden ones left out.

    Directory entries, not `Path`s: a leaderboard has thousands of trial folders, and a
    `Path` costs more to build than the entry costs to read.
    """
    with os.scandir(folder) as entries:
        found = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
    return sorted(found, key=lambda e: _natural_key(e.name))


@functools.lru_cache(maxsize=4096)  # every submission repeats the same study and trial names
def _natural_key(name: str) -> tuple[int | str, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))
