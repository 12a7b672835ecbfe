"""Tuning search spaces: ranges and discrete choices, or a list of fixed points.

Two JSON forms exist (reference-spec 2.6):

* a dict ``{name: {"min", "max", "scaling"} | {"feasible_points": [...]}}`` sampled by the
  harness's quasi-random search;
* a list of dicts, each one fixed point, taken in order.

Every problem in a file is reported at once, each naming the file and the field. Loading
checks only what holds for any submission: the format, no duplicate JSON key, positive bounds
under log scaling, and the value ranges of `_BOUNDS` (a probability lies in [0, 1], a
learning rate is not negative). What one submission needs, the names it reads, is checked
against it by `check_search_space`.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from algoperf.api._errors import SearchSpaceError, did_you_mean, validation_problems
from algoperf.api._hyperparameters import Hyperparameters, HyperparameterValue

if TYPE_CHECKING:
    from algoperf.api._submission import Submission

_RANGE_KEYS = ("min", "max", "scaling")
_DISCRETE_KEYS = ("feasible_points",)


@dataclass(frozen=True)
class _Bound:
    """The values any hyperparameter whose whole name matches `pattern` can take."""

    pattern: str
    low: float
    high: float
    why: str

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` (None when it is in range or not a number)."""
        if not _is_number(value) or self.low <= value <= self.high:
            return None
        return (
            f"{value} is outside [{self.low:g}, {self.high:g}] ({self.why}); "
            "use a value in that range"
        )


_BOUNDS = (
    _Bound(r"(\w+_)?dropout(_rate)?", 0, 1, "a dropout rate is a probability"),
    _Bound(r"label_smoothing", 0, 1, "label smoothing is a probability"),
    _Bound(r"(one_minus_)?beta_?\d*", 0, 1, "a moment decay and 1 - it lie in [0, 1]"),
    _Bound(r"(\w+_)?learning_rate", 0, math.inf, "a learning rate is not negative"),
)
"""Value ranges that hold for every submission, matched against the whole name (first wins)."""


class RangeParameter(BaseModel):
    """A continuous parameter sampled between `min` and `max`."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    min: float
    """Smallest value."""
    max: float
    """Largest value (at least `min`)."""
    scaling: Literal["linear", "log"]
    """'linear' samples uniformly, 'log' log-uniformly (then `min` must be positive)."""

    def value_at(self, u: float) -> float:
        """The value at quantile `u` in [0, 1) of this range under its scaling."""
        if self.scaling == "log":
            return self.min * math.exp(u * math.log(self.max / self.min))
        return self.min + u * (self.max - self.min)


class DiscreteParameter(BaseModel):
    """A parameter chosen among `feasible_points`."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    feasible_points: tuple[HyperparameterValue, ...] = Field(min_length=1)
    """The allowed values (at least one)."""

    def value_at(self, u: float) -> HyperparameterValue:
        """The point at quantile `u` in [0, 1): each point owns an equal slice."""
        index = min(int(u * len(self.feasible_points)), len(self.feasible_points) - 1)
        return self.feasible_points[index]


Parameter = RangeParameter | DiscreteParameter


class SearchSpace(RootModel[dict[str, Parameter]]):
    """The dict form: one range or discrete choice per hyperparameter."""

    model_config = ConfigDict(frozen=True)

    @property
    def parameters(self) -> dict[str, Parameter]:
        """Parameters by name, in file order."""
        return self.root

    def point_at(self, quantiles: Mapping[str, float]) -> Hyperparameters:
        """The hyperparameters at per-parameter quantiles in [0, 1)."""
        return Hyperparameters({n: p.value_at(quantiles[n]) for n, p in self.root.items()})


class FixedPoints(RootModel[tuple[dict[str, HyperparameterValue], ...]]):
    """The list form: each entry is one complete set of hyperparameters, used in order."""

    model_config = ConfigDict(frozen=True)

    def points(self, count: int | None = None) -> list[Hyperparameters]:
        """The first `count` points (all when None), as `Hyperparameters`."""
        return [Hyperparameters(p) for p in self.root[:count]]


TuningSpace = SearchSpace | FixedPoints


def load_search_space(path: str | Path) -> TuningSpace:
    """Read and validate a search-space JSON file.

    Raises:
        SearchSpaceError: the file is missing, is not JSON, or breaks the format; the message
            lists every problem with the file name and the field.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise SearchSpaceError(f"{path}: cannot read the search space ({e.strerror})") from None
    try:
        data = json.loads(text, object_pairs_hook=_JsonObject.from_pairs)
    except json.JSONDecodeError as e:
        raise SearchSpaceError(
            f"{path}:{e.lineno}:{e.colno}: not valid JSON ({e.msg}); fix the syntax there"
        ) from None
    return _validated(data, str(path), _duplicate_key_problems(data))


def parse_search_space(data: Any, source: str = "<search space>") -> TuningSpace:
    """Validate already-decoded search-space data; `source` names it in error messages."""
    return _validated(data, source, [])


def check_search_space(
    space: TuningSpace, submission: Submission, *, source: str | Path = "<search space>"
) -> None:
    """Check that `space` sets every hyperparameter `submission` declares it requires.

    Call it before the first trial: without the check, each trial fails on the first read of
    the missing name. `source` (the search-space file) names the space in the message.

    Raises:
        SearchSpaceError: naming the file, the submission, the missing names and the fix.
    """
    names = set(space.parameters) if isinstance(space, SearchSpace) else set(space.root[0])
    missing = [n for n in submission.required_hyperparameters if n not in names]
    if not missing:
        return
    where = (
        'to it, e.g. "learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"} or '
        '{"feasible_points": [...]}'
        if isinstance(space, SearchSpace)
        else "to every point of the list"
    )
    raise SearchSpaceError(
        f"{source}: the search space does not set {', '.join(missing)}, which the submission "
        f"{submission.path} requires; add {'it' if len(missing) == 1 else 'them'} {where}"
    )


def _validated(data: Any, source: str, problems: list[str]) -> TuningSpace:
    if isinstance(data, dict):
        problems += _dict_form_problems(data)
        model: type[SearchSpace | FixedPoints] = SearchSpace
    elif isinstance(data, list):
        problems += _list_form_problems(data)
        model = FixedPoints
    else:
        problems.append(
            f"the top level is a {type(data).__name__}; write an object of ranges "
            '{"name": {"min", "max", "scaling"} or {"feasible_points"}} or a list of fixed points'
        )
        model = SearchSpace
    if not problems:
        try:
            return model.model_validate(data)
        except ValidationError as e:
            problems = validation_problems(e)
    raise SearchSpaceError(
        f"{source}: invalid search space:\n" + "\n".join(f"  - {p}" for p in problems)
    )


class _JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers the keys its text repeated (the last one wins)."""

    duplicates: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> _JsonObject:
        obj = cls(pairs)
        obj.duplicates = tuple(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        return obj


def _duplicate_key_problems(data: Any, where: str = "") -> list[str]:
    """One line per repeated key, anywhere in `data`, with its path."""
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _duplicate_key_problems(v, f"{where}[{i}]")]
    if not isinstance(data, _JsonObject):
        return []
    problems = [
        f"{where}{'.' if where else ''}{key}: the key appears more than once and JSON keeps "
        "only the last; delete or rename the others"
        for key in data.duplicates
    ]
    for key, value in data.items():
        problems += _duplicate_key_problems(value, f"{where}{'.' if where else ''}{key}")
    return problems


def _bound_of(name: str) -> _Bound | None:
    return next((b for b in _BOUNDS if re.fullmatch(b.pattern, name)), None)


def _dict_form_problems(data: dict[str, Any]) -> list[str]:
    if not data:
        return ["the search space is empty; name at least one hyperparameter"]
    problems = []
    for name, spec in data.items():
        if not str(name).isidentifier():
            problems.append(f"{name!r}: a hyperparameter name must be a Python identifier")
        if not isinstance(spec, dict):
            problems.append(
                f"{name}: expected an object with min/max/scaling or feasible_points, "
                f"got {json.dumps(spec)}"
            )
            continue
        problems += [f"{name}.{p}" for p in _parameter_problems(spec, _bound_of(str(name)))]
    return problems


def _parameter_problems(spec: dict[str, Any], bound: _Bound | None) -> list[str]:
    allowed = _DISCRETE_KEYS if "feasible_points" in spec else _RANGE_KEYS
    problems = [
        f"{key}: unknown key{did_you_mean(key, allowed)}; allowed keys: {', '.join(allowed)}"
        for key in spec
        if key not in allowed
    ]
    problems += [f"{key}: missing; add it" for key in allowed if key not in spec]
    if problems:
        return problems
    if allowed is _DISCRETE_KEYS:
        points = spec["feasible_points"]
        if not isinstance(points, list) or not points:
            return ["feasible_points: must be a non-empty list of values"]
        return _out_of_bounds(bound, {f"feasible_points[{i}]": v for i, v in enumerate(points)})
    lo, hi, scaling = spec["min"], spec["max"], spec["scaling"]
    if not _is_number(lo) or not _is_number(hi):
        return ["min/max: must be numbers"]
    if scaling not in ("linear", "log"):
        return [f"scaling: {scaling!r} is not 'linear' or 'log'"]
    if lo > hi:
        problems.append(f"min: {lo} is greater than max {hi}; swap them")
    if scaling == "log":
        problems += [
            f"{key}: {value} must be positive with log scaling; use a positive {key} or 'linear'"
            for key, value in (("min", lo), ("max", hi))
            if value <= 0
        ]
    return problems or _out_of_bounds(bound, {"min": lo, "max": hi})


def _out_of_bounds(bound: _Bound | None, values: Mapping[str, Any]) -> list[str]:
    if bound is None:
        return []
    return [f"{key}: {p}" for key, value in values.items() if (p := bound.problem(value))]


def _list_form_problems(data: list[Any]) -> list[str]:
    if not data:
        return ["the list of fixed points is empty; add at least one point"]
    problems = []
    first_keys: set[str] | None = None
    for i, point in enumerate(data):
        if not isinstance(point, dict) or not point:
            problems.append(f"[{i}]: each fixed point must be a non-empty object of values")
            continue
        for name, value in point.items():
            if not str(name).isidentifier():
                problems.append(f"[{i}].{name}: a hyperparameter name must be an identifier")
            if not isinstance(value, bool | int | float | str):
                problems.append(
                    f"[{i}].{name}: {json.dumps(value)} is not a number, bool or string"
                )
            elif (bound := _bound_of(str(name))) and (problem := bound.problem(value)):
                problems.append(f"[{i}].{name}: {problem}")
        if first_keys is None:
            first_keys = set(point)
        elif set(point) != first_keys:
            missing, extra = sorted(first_keys - set(point)), sorted(set(point) - first_keys)
            problems.append(
                f"[{i}]: its names differ from point [0] (missing {missing}, extra {extra}); "
                "every point must set the same hyperparameters"
            )
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
