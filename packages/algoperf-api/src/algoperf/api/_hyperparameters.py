"""Hyperparameters: one immutable point of a search space, read by attribute."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

HyperparameterValue = bool | int | float | str


class Hyperparameters(Mapping[str, HyperparameterValue]):
    """An immutable mapping of hyperparameter names to values with attribute access.

    Submissions written for the reference read `hyperparameters.learning_rate` and sometimes
    call `_asdict()` (it was a namedtuple there); both work here.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, HyperparameterValue] | None = None, /, **kwargs: Any):
        merged = dict(values or {}) | kwargs
        for name in merged:
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"hyperparameter name {name!r} is not a Python identifier")
        object.__setattr__(self, "_values", merged)

    def __getattr__(self, name: str) -> Any:  # a value of any JSON type, as the space says
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            known = ", ".join(sorted(self._values)) or "none"
            raise AttributeError(f"hyperparameter {name!r} is not set (set: {known})") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Hyperparameters are immutable")

    def __getitem__(self, name: str) -> HyperparameterValue:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Hyperparameters({inner})"

    def __reduce__(self) -> tuple[type, tuple[dict[str, HyperparameterValue]]]:
        return (Hyperparameters, (dict(self._values),))

    def to_dict(self) -> dict[str, HyperparameterValue]:
        """A plain dict copy (JSON-ready)."""
        return dict(self._values)

    _asdict = to_dict
