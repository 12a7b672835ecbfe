"""The explicit table of implemented workloads and `get_workload`.

Entries name a module and a class, importable and written out by hand (torchtitan's
`_supported_models`), never paths searched by reflection. Modules are imported only when a
workload is built, so importing this package imports no framework and a JAX-only or
PyTorch-only install works.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from algoperf.api import (
    AlgoPerfError,
    Framework,
    RuleVersion,
    UnknownNameError,
    Workload,
    get_workload_spec,
)


class FrameworkNotInstalledError(AlgoPerfError, ImportError):
    """A workload was requested in a framework whose packages are not installed."""


@dataclass(frozen=True)
class Implementation:
    """Where one framework's implementation of a workload lives."""

    module: str
    """Importable module, e.g. 'algoperf.workloads.digits.jax_workload'."""
    cls: str
    """Name of the `Workload` subclass in `module`."""


_REQUIRED = MappingProxyType(
    {Framework.JAX: ("jax", "flax", "optax"), Framework.PYTORCH: ("torch",)}
)


def _both(package: str, cls: str) -> Mapping[Framework, Implementation]:
    """A workload class of the same name in `package`'s jax_workload and torch_workload."""
    return MappingProxyType(
        {
            Framework.JAX: Implementation(f"algoperf.workloads.{package}.jax_workload", cls),
            Framework.PYTORCH: Implementation(f"algoperf.workloads.{package}.torch_workload", cls),
        }
    )


_DIGITS = _both("digits", "DigitsWorkload")
_OGBG = _both("ogbg", "OgbgWorkload")
_CRITEO = _both("criteo1tb", "Criteo1TbWorkload")
_MNIST = _both("mnist", "MnistWorkload")
_CIFAR = _both("cifar", "CifarWorkload")
_LM = _both("finewebedu_lm", "FineWebEduLmWorkload")
_WMT = _both("wmt", "WmtWorkload")
_RESNET = _both("imagenet_resnet", "ImagenetResnetWorkload")
_VIT = _both("imagenet_vit", "ImagenetVitWorkload")
_FASTMRI = _both("fastmri", "FastMRIWorkload")
_LIBRISPEECH = _both("librispeech", "LibriSpeechWorkload")

IMPLEMENTATIONS: Mapping[str, Mapping[Framework, Implementation]] = MappingProxyType(
    {
        "digits_mlp": _DIGITS,
        "digits_cnn": _DIGITS,
        "ogbg": _OGBG,
        "ogbg_gelu": _OGBG,
        "ogbg_silu": _OGBG,
        "ogbg_model_size": _OGBG,
        "criteo1tb": _CRITEO,
        "criteo1tb_layernorm": _CRITEO,
        "criteo1tb_embed_init": _CRITEO,
        "criteo1tb_resnet": _CRITEO,
        "criteo1tb_test": _CRITEO,
        "mnist": _MNIST,
        "cifar": _CIFAR,
        "finewebedu_lm": _LM,
        "wmt": _WMT,
        "wmt_post_ln": _WMT,
        "wmt_attention_temp": _WMT,
        "wmt_glu_tanh": _WMT,
        "imagenet_resnet": _RESNET,
        "imagenet_resnet_silu": _RESNET,
        "imagenet_resnet_gelu": _RESNET,
        "imagenet_resnet_large_bn_init": _RESNET,
        "imagenet_vit": _VIT,
        "imagenet_vit_glu": _VIT,
        "imagenet_vit_post_ln": _VIT,
        "imagenet_vit_map": _VIT,
        "fastmri": _FASTMRI,
        "fastmri_model_size": _FASTMRI,
        "fastmri_tanh": _FASTMRI,
        "fastmri_layernorm": _FASTMRI,
        "librispeech_conformer": _LIBRISPEECH,
        "librispeech_conformer_attention_temperature": _LIBRISPEECH,
        "librispeech_conformer_layernorm": _LIBRISPEECH,
        "librispeech_conformer_gelu": _LIBRISPEECH,
        "librispeech_deepspeech": _LIBRISPEECH,
        "librispeech_deepspeech_tanh": _LIBRISPEECH,
        "librispeech_deepspeech_no_resnet": _LIBRISPEECH,
        "librispeech_deepspeech_norm_and_spec_aug": _LIBRISPEECH,
    }
)
"""Workload name to its implementation per framework."""


def implemented_workloads() -> tuple[str, ...]:
    """Names of the workloads this package implements."""
    return tuple(IMPLEMENTATIONS)


def _check_installed(framework: Framework) -> None:
    missing = [m for m in _REQUIRED[framework] if importlib.util.find_spec(m) is None]
    if missing:
        raise FrameworkNotInstalledError(
            f"{framework.value} workloads need {', '.join(missing)}, which is not installed; "
            f"install it with: pip install 'algoperf-workloads[{framework.value}]'"
        )


def get_workload(
    name: str,
    framework: Framework | str,
    rules: str | RuleVersion | None = None,
    **options: Any,
) -> Workload:
    """Build workload `name` in `framework`.

    Args:
        name: a registered workload name, e.g. 'digits_mlp'.
        framework: 'jax' or 'pytorch'.
        rules: rule version whose budget and step hint the workload reports (default v0.5).
        **options: workload options, e.g. `synthetic=True` for random data of the real
            shapes and dtypes.

    Returns:
        The workload, with its metadata from the api registry.

    Raises:
        UnknownNameError: if `name` is not registered or not implemented here.
        FrameworkNotInstalledError: if the framework's extra is not installed.
    """
    spec = get_workload_spec(name)
    framework = Framework(framework)
    if name not in IMPLEMENTATIONS:
        raise UnknownNameError(
            f"workload {name!r} is registered but not implemented yet; "
            f"implemented workloads: {', '.join(IMPLEMENTATIONS)}"
        )
    _check_installed(framework)
    impl = IMPLEMENTATIONS[name][framework]
    cls = getattr(importlib.import_module(impl.module), impl.cls)
    return cls(spec, rules, **options)
