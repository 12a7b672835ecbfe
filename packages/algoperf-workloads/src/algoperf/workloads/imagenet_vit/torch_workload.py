"""The imagenet_vit workloads in PyTorch."""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn

from algoperf.api import ParameterType
from algoperf.workloads._params import ParamRule
from algoperf.workloads.imagenet.torch_workload import ImagenetTorchWorkload
from algoperf.workloads.imagenet_vit import torch_model
from algoperf.workloads.imagenet_vit.workload import ImagenetVitBase

_P = ParameterType
_ATTENTION_RULES: dict[type[nn.Module], ParamRule] = {
    torch_model.Attention: {
        r"query\.weight": _P.ATTENTION_Q,
        r"key\.weight": _P.ATTENTION_K,
        r"value\.weight": _P.ATTENTION_V,
        r"out\.weight": _P.ATTENTION_OUT,
        r"(query|key|value|out)\.bias": _P.ATTENTION_BIAS,
    }
}


class ImagenetVitWorkload(ImagenetVitBase, ImagenetTorchWorkload):
    """imagenet_vit and its variants, chosen by the spec's name."""

    output_layer = "head"

    @property
    def param_type_rules(self) -> Mapping[type[nn.Module], ParamRule]:  # type: ignore[override]
        """Attention projections by role; the MAP head's probe (MAP variant only) a weight."""
        if self.config.use_map:
            return _ATTENTION_RULES | {torch_model.MAPHead: {"probe": _P.WEIGHT}}
        return _ATTENTION_RULES

    def build_model(self) -> nn.Module:
        """The configured ViT."""
        return torch_model.ViT(self.config)
