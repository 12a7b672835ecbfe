"""Tuning search spaces: ranges and discrete choices, or a list of fixed points.

Two JSON forms exist (reference-spec 2.6):

* a dict ``{name: {"min", "max", "scaling"} | {"feasible_points": [...]}}`` sampled by the
  harness's quasi-random search;
* a list of dicts, each one fixed point, taken in order.

Every problem in a file is reported at once, each naming the file and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from algoperf.api._errors import SearchSpaceError, did_you_mean, validation_problems
from algoperf.api._hyperparameters import Hyperparameters, HyperparameterValue

_RANGE_KEYS = ("min", "max", "scaling")
_DISCRETE_KEYS = ("feasible_points",)


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
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SearchSpaceError(
            f"{path}:{e.lineno}:{e.colno}: not valid JSON ({e.msg}); fix the syntax there"
        ) from None
    return parse_search_space(data, source=str(path))


def parse_search_space(data: Any, source: str = "<search space>") -> TuningSpace:
    """Validate already-decoded search-space data; `source` names it in error messages."""
    if isinstance(data, dict):
        problems = _dict_form_problems(data)
        model: type[SearchSpace | FixedPoints] = SearchSpace
    elif isinstance(data, list):
        problems = _list_form_problems(data)
        model = FixedPoints
    else:
        problems = [
            f"the top level is a {type(data).__name__}; write an object of ranges "
            '{"name": {"min", "max", "scaling"} or {"feasible_points"}} or a list of fixed points'
        ]
        model = SearchSpace
    if not problems:
        try:
            return model.model_validate(data)
        except ValidationError as e:
            problems = validation_problems(e)
    raise SearchSpaceError(
        f"{source}: invalid search space:\n" + "\n".join(f"  - {p}" for p in problems)
    )


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
        problems += [f"{name}.{p}" for p in _parameter_problems(spec)]
    return problems


def _parameter_problems(spec: dict[str, Any]) -> list[str]:
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
        return []
    lo, hi, scaling = spec["min"], spec["max"], spec["scaling"]
    if not _is_number(lo) or not _is_number(hi):
        return ["min/max: must be numbers"]
    if scaling not in ("linear", "log"):
        return [f"scaling: {scaling!r} is not 'linear' or 'log'"]
    if lo > hi:
        return [f"min: {lo} is greater than max {hi}; swap them"]
    if scaling == "log" and lo <= 0:
        return [f"min: {lo} must be positive with log scaling; use a positive min or 'linear'"]
    return []


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
