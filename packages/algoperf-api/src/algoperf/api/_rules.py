"""Rule versions of the benchmark as data: each competition round is one `RuleVersion`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from algoperf.api._errors import UnknownNameError, check_bounds, did_you_mean


# Frozen dataclasses, not pydantic models: the registry is code, checked by its tests and
# `__post_init__`, and scoring reads it without paying for pydantic (a third of its run).
@dataclass(frozen=True, kw_only=True)
class HardwareSpec:
    """The hardware a rule version scores on; runs on other hardware are not comparable."""

    device_kind: str
    """Accelerator model, e.g. 'NVIDIA V100 16GB'."""
    device_count: int
    """Number of accelerators in one trial's machine (>= 1)."""

    def __post_init__(self) -> None:
        check_bounds(self, device_count=self.device_count)


@dataclass(frozen=True, kw_only=True)
class RuleVersion:
    """Every rule that differs between competition rounds.

    Per-workload budgets and step hints are keyed by `name` in the workload registry.
    """

    name: str
    """Version label, e.g. 'v0.5'."""
    base_workloads: tuple[str, ...]
    """The workloads whose times make up the performance profile."""
    held_out_workloads: tuple[str, ...]
    """Variants that must be trained within the rules for their base workload to count."""
    num_studies: int
    """Independent studies per workload (both rulesets); the median over studies is scored."""
    num_trials: int
    """External-tuning trials (hyperparameter points) per study."""
    self_tuning_budget_factor: float
    """Self-tuning submissions get this multiple of the workload's max runtime."""
    max_tau: float
    """Largest performance ratio of the profile; ratios above it count as failures."""
    max_ratio_to_fastest: float
    """A time more than this multiple of the fastest submission's time counts as infinite."""
    qualification_workloads: tuple[str, ...]
    """The cheap subset used to qualify submissions."""
    has_prepare_for_eval: bool
    """Whether the optional `prepare_for_eval` submission function is called (timed)."""
    hardware: HardwareSpec
    """The benchmark hardware; the harness records the hardware it actually ran on."""
    max_steps: int | None = None
    """A cap on every trial's steps (None: only the time budget ends training)."""
    budget_rules: str | None = None
    """Name of the rule version whose per-workload budgets and step hints this one uses
    (None: its own name). A version that only adds workloads to another reuses its budgets."""
    provisional: bool = False
    """True for a version no competition has published: its results are for research, not a
    leaderboard, and its workload list may still change."""

    def __post_init__(self) -> None:
        check_bounds(
            self,
            num_studies=self.num_studies,
            num_trials=self.num_trials,
            self_tuning_budget_factor=self.self_tuning_budget_factor,
            max_steps=self.max_steps,
        )
        check_bounds(
            self, above=1, max_tau=self.max_tau, max_ratio_to_fastest=self.max_ratio_to_fastest
        )

    @property
    def budget_key(self) -> str:
        """The key of this version's budgets in each workload's `budgets`."""
        return self.budget_rules or self.name


_BASE_WORKLOADS = (
    "criteo1tb",
    "fastmri",
    "imagenet_resnet",
    "imagenet_vit",
    "librispeech_conformer",
    "librispeech_deepspeech",
    "ogbg",
    "wmt",
)
_V100X8 = HardwareSpec(device_kind="NVIDIA V100 16GB", device_count=8)
_QUALIFICATION = ("criteo1tb", "ogbg", "wmt")

RULES_V05 = RuleVersion(
    name="v0.5",
    base_workloads=_BASE_WORKLOADS,
    # Sampled once per dataset group by the organisers (seed 3438810845); published list.
    held_out_workloads=(
        "librispeech_conformer_layernorm",
        "imagenet_resnet_large_bn_init",
        "ogbg_model_size",
        "wmt_glu_tanh",
        "fastmri_tanh",
        "criteo1tb_embed_init",
    ),
    num_studies=5,
    num_trials=5,
    self_tuning_budget_factor=3.0,
    max_tau=4.0,
    max_ratio_to_fastest=4.0,
    qualification_workloads=_QUALIFICATION,
    has_prepare_for_eval=False,
    hardware=_V100X8,
)

RULES_V06 = RuleVersion(
    name="v0.6",
    base_workloads=_BASE_WORKLOADS,
    held_out_workloads=(),
    num_studies=3,
    num_trials=5,
    self_tuning_budget_factor=1.5,
    max_tau=4.0,
    max_ratio_to_fastest=4.0,
    qualification_workloads=_QUALIFICATION,
    has_prepare_for_eval=True,
    hardware=_V100X8,
)

RULES_V06_LM = RuleVersion(
    name="v0.6-lm",
    # Provisional: the reference added the FineWeb-Edu LM after the v0.6 competition, and the
    # leaderboard's targets file (submissions_algorithms scoring/workload_targets.json,
    # benchmark_version "0.6") lists it as a ninth base workload. v0.6 stays the published eight.
    base_workloads=(*_BASE_WORKLOADS, "finewebedu_lm"),
    held_out_workloads=(),
    num_studies=RULES_V06.num_studies,
    num_trials=RULES_V06.num_trials,
    self_tuning_budget_factor=RULES_V06.self_tuning_budget_factor,
    max_tau=RULES_V06.max_tau,
    max_ratio_to_fastest=RULES_V06.max_ratio_to_fastest,
    qualification_workloads=_QUALIFICATION,
    has_prepare_for_eval=True,
    hardware=_V100X8,
    budget_rules="v0.6",
    provisional=True,
)

RULES_DEV = RuleVersion(
    name="dev",
    # The built-in workloads (no download): a benchmark of the benchmark, minutes on a CPU.
    base_workloads=("digits_mlp", "digits_cnn"),
    held_out_workloads=(),
    num_studies=2,
    num_trials=2,
    self_tuning_budget_factor=1.5,
    max_tau=4.0,
    max_ratio_to_fastest=4.0,
    qualification_workloads=("digits_mlp",),
    has_prepare_for_eval=True,
    hardware=HardwareSpec(device_kind="cpu", device_count=1),
    # Minutes for the whole dev benchmark: the baselines reach the targets in ~150 steps.
    max_steps=300,
)

RULE_VERSIONS: Mapping[str, RuleVersion] = MappingProxyType(
    {r.name: r for r in (RULES_V05, RULES_V06, RULES_V06_LM, RULES_DEV)}
)
DEFAULT_RULES = RULES_V05


def get_rules(version: str | RuleVersion | None = None) -> RuleVersion:
    """The rule version named `version` ('v0.5', 'v0.6', 'v0.6-lm'); None: the default, v0.5."""
    if version is None:
        return DEFAULT_RULES
    if isinstance(version, RuleVersion):
        return version
    try:
        return RULE_VERSIONS[version]
    except KeyError:
        known = ", ".join(RULE_VERSIONS)
        raise UnknownNameError(
            f"unknown rule version {version!r}{did_you_mean(version, RULE_VERSIONS)}; "
            f"known versions: {known}"
        ) from None
