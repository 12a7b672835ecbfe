"""The explicit table of baselines and where their submission and search-space files are.

Submission files live in `jax/` and `pytorch/`, named after the baseline; search spaces are
JSON package data in `search_spaces/`. Looking a name up never imports a framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from algoperf.api import Framework, Ruleset, UnknownNameError, did_you_mean

_ROOT = Path(__file__).parent
_FOLDERS = MappingProxyType({Framework.JAX: "jax", Framework.PYTORCH: "pytorch"})


@dataclass(frozen=True)
class BaselineInfo:
    """One baseline: its name, ruleset and search space."""

    name: str
    """Also the stem of its submission file in each framework's folder."""
    description: str
    ruleset: Ruleset = Ruleset.EXTERNAL
    search_space: str | None = None
    """File name in `search_spaces/`; None for self-tuning baselines."""


BASELINES: Mapping[str, BaselineInfo] = MappingProxyType(
    {
        b.name: b
        for b in (
            BaselineInfo(
                "nadamw", "NAdamW, AlgoPerf's baseline: 5 fixed points", search_space="nadamw.json"
            ),
            BaselineInfo(
                "nadamw_self_tuning", "NAdamW at the self-tuning fixed point", Ruleset.SELF
            ),
            BaselineInfo("adamw", "AdamW", search_space="adamw.json"),
            BaselineInfo("momentum", "SGD with heavy-ball momentum", search_space="momentum.json"),
            BaselineInfo("nesterov", "SGD with Nesterov momentum", search_space="nesterov.json"),
            BaselineInfo("lamb", "LAMB", search_space="lamb.json"),
            BaselineInfo("sam", "SAM over AdamW", search_space="sam.json"),
            BaselineInfo("adafactor", "Adafactor with momentum", search_space="adafactor.json"),
            BaselineInfo(
                "schedule_free_adamw",
                "Schedule-Free AdamW",
                search_space="schedule_free_adamw.json",
            ),
            BaselineInfo("muon", "Muon, AdamW for non-matrix parameters", search_space="muon.json"),
            BaselineInfo("shampoo", "Shampoo grafted onto RMSProp", search_space="shampoo.json"),
        )
    }
)
"""Every baseline, by name."""


def baseline_names(ruleset: Ruleset | str | None = None) -> tuple[str, ...]:
    """Names of the baselines, optionally only those of one ruleset."""
    wanted = None if ruleset is None else Ruleset(ruleset)
    return tuple(n for n, b in BASELINES.items() if wanted is None or b.ruleset is wanted)


def get_baseline(name: str) -> BaselineInfo:
    """The catalog entry of baseline `name`.

    Raises:
        UnknownNameError: `name` is not a baseline.
    """
    try:
        return BASELINES[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown baseline {name!r}{did_you_mean(name, BASELINES)}; "
            f"baselines: {', '.join(BASELINES)}"
        ) from None


def submission_path(name: str, framework: Framework | str) -> Path:
    """The submission file of baseline `name` in `framework`, for `load_submission`."""
    get_baseline(name)
    return _ROOT / _FOLDERS[Framework(framework)] / f"{name}.py"


def search_space_path(name: str) -> Path:
    """The search-space JSON of baseline `name`, for `load_search_space`.

    Raises:
        UnknownNameError: `name` is not a baseline.
        ValueError: the baseline is self-tuning and has no search space.
    """
    baseline = get_baseline(name)
    if baseline.search_space is None:
        raise ValueError(f"baseline {name!r} is self-tuning: it has no search space")
    return _ROOT / "search_spaces" / baseline.search_space
