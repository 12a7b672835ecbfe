"""Errors a user can cause, each carrying one message that names the file, the field and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class AlgoPerfError(Exception):
    """Base class of every user-facing error raised by the algoperf packages."""


class UnknownNameError(AlgoPerfError, KeyError):
    """A workload or rule-version name that is not registered."""

    def __str__(self) -> str:
        # KeyError would otherwise print the message with quotes around it.
        return str(self.args[0]) if self.args else ""


class SearchSpaceError(AlgoPerfError, ValueError):
    """A tuning search space file (or dict) that does not follow the format."""


class SubmissionError(AlgoPerfError):
    """A submission file that cannot be imported or does not implement the contract.

    Attributes:
        path: the submission file.
        problems: one line per problem found, all of them, not only the first.
    """

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: the submission does not follow the AlgoPerf API:\n{lines}")


class RecordError(AlgoPerfError, ValueError):
    """A trial record on disk (`trial.json`, `evals.jsonl`) that cannot be read.

    Attributes:
        path: the file.
        line: the 1-based line of a bad `evals.jsonl` record, or None.
        detail: what is wrong, without the location.
    """

    def __init__(self, path: str, detail: str, line: int | None = None) -> None:
        self.path, self.line, self.detail = path, line, detail
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {detail}")


def did_you_mean(name: str, choices: Iterable[object]) -> str:
    """A ' (did you mean ...?)' hint for a misspelt name, or '' when nothing is close."""
    close = difflib.get_close_matches(name, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_bounds(owner: object, *, above: float = 0, **values: float | None) -> None:
    """Raise naming the first of `values` (field name: value) not above `above` (None passes).

    The registry's frozen dataclasses check their numbers with it; it is code, not user
    input, so a slip there is a programming error (ValueError) caught by the tests.
    """
    for field, value in values.items():
        if value is not None and not value > above:
            raise ValueError(f"{type(owner).__name__}.{field} is {value!r}; it must be > {above}")


def validation_problems(error: Any) -> list[str]:
    """One 'field.path: message' line per error of a pydantic ValidationError."""
    lines = []
    for err in error.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{field}: {err['msg']}")
    return lines
