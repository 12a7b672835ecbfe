"""JAX→PyTorch tables of the Conformer's and DeepSpeech's parameters and batch statistics.

Every name is written out from the models' structure; `jax_to_torch` fails on any entry
either side lacks. The LSTM's JAX parameters are PyTorch's per direction: `ih_kernel` and
`hh_kernel` are `weight_ih_l0` and `weight_hh_l0` transposed (gate rows i, f, g, o in both),
`ih_bias` and `hh_bias` are `bias_ih_l0` and `bias_hh_l0`; the backward direction's are the
`_reverse` ones.
"""

from __future__ import annotations

from types import MappingProxyType

from algoperf.workloads._params import Layout, ParamMap
from algoperf.workloads.librispeech.config import CONFIGS, ConformerConfig, DeepSpeechConfig

_C, _C1, _D, _S = Layout.CONV, Layout.CONV1D, Layout.DENSE, Layout.SAME
_Table = dict[tuple[str, ...], tuple[str, Layout]]


def _path(name: str) -> tuple[str, ...]:
    return tuple(name.split("/"))


def _dense(jax_name: str, torch_name: str) -> _Table:
    return {
        (*_path(jax_name), "kernel"): (f"{torch_name}.weight", _D),
        (*_path(jax_name), "bias"): (f"{torch_name}.bias", _S),
    }


def _norm(jax_name: str, torch_name: str) -> _Table:
    return {
        (*_path(jax_name), "scale"): (f"{torch_name}.scale", _S),
        (*_path(jax_name), "bias"): (f"{torch_name}.bias", _S),
    }


def _stats(jax_name: str, torch_name: str) -> _Table:
    return {
        (*_path(jax_name), "mean"): (f"{torch_name}.running_mean", _S),
        (*_path(jax_name), "var"): (f"{torch_name}.running_var", _S),
    }


def _subsample() -> _Table:
    table: _Table = {}
    for conv in ("conv1", "conv2"):
        table[("subsample", conv, "conv", "kernel")] = (f"subsample.{conv}.conv.weight", _C)
        table[("subsample", conv, "conv", "bias")] = (f"subsample.{conv}.conv.bias", _S)
    return table | _dense("subsample/dense", "subsample.dense")


def conformer_map(cfg: ConformerConfig) -> ParamMap:
    """The parameter table of the Conformer of `cfg`."""
    table = _subsample()
    for i in range(cfg.num_encoder_layers):
        j, t = f"block_{i}", f"blocks.{i}"
        for ff in ("ff1", "ff2"):
            table |= _norm(f"{j}/{ff}/ln", f"{t}.{ff}.ln")
            table |= _dense(f"{j}/{ff}/dense1", f"{t}.{ff}.dense1")
            table |= _dense(f"{j}/{ff}/dense2", f"{t}.{ff}.dense2")
        table |= _norm(f"{j}/mhsa/ln", f"{t}.mhsa.ln")
        for proj in ("query", "key", "value", "out"):
            table |= _dense(f"{j}/mhsa/{proj}", f"{t}.mhsa.{proj}")
        table[(j, "mhsa", "query_scale")] = (f"{t}.mhsa.query_scale", _S)
        table |= _norm(f"{j}/conv/ln", f"{t}.conv.ln")
        for dense in ("dense_a", "dense_b", "dense_out"):
            table |= _dense(f"{j}/conv/{dense}", f"{t}.conv.{dense}")
        table[(j, "conv", "depthwise", "kernel")] = (f"{t}.conv.depthwise.weight", _C1)
        table |= _norm(f"{j}/conv/bn", f"{t}.conv.bn")
        if cfg.use_post_layer_norm:
            table |= _norm(f"{j}/ln", f"{t}.ln")
    table |= _norm("ln", "ln") | _dense("head", "head")
    return MappingProxyType(table)


def conformer_state_map(cfg: ConformerConfig) -> ParamMap:
    """The Conformer's batch statistics: 'batch_stats' paths to buffers."""
    table: _Table = {}
    for i in range(cfg.num_encoder_layers):
        table |= _stats(f"block_{i}/conv/bn", f"blocks.{i}.conv.bn")
    return MappingProxyType(table)


def _lstm(jax_name: str, torch_name: str) -> _Table:
    table: _Table = {}
    for direction, suffix in (("forward", ""), ("backward", "_reverse")):
        for kind in ("ih", "hh"):
            table[(jax_name, direction, f"{kind}_kernel")] = (
                f"{torch_name}.weight_{kind}_l0{suffix}",
                _D,
            )
            table[(jax_name, direction, f"{kind}_bias")] = (
                f"{torch_name}.bias_{kind}_l0{suffix}",
                _S,
            )
    return table


def _deepspeech_layers(cfg: DeepSpeechConfig) -> list[tuple[str, str]]:
    lstms = [(f"lstm_{i}", f"lstms.{i}") for i in range(cfg.num_lstm_layers)]
    return lstms + [(f"ffn_{i}", f"ffns.{i}") for i in range(cfg.num_ffn_layers)]


def deepspeech_map(cfg: DeepSpeechConfig) -> ParamMap:
    """The parameter table of the DeepSpeech of `cfg`."""
    table = _subsample()
    for j, t in _deepspeech_layers(cfg):
        table |= _norm(f"{j}/norm", f"{t}.norm.norm")
        if j.startswith("lstm"):
            table |= _lstm(j, f"{t}.lstm")
        else:
            table |= _dense(f"{j}/dense", f"{t}.dense")
    if cfg.enable_decoder_layer_norm:
        table |= _norm("ln", "ln")
    return MappingProxyType(table | _dense("head", "head"))


def deepspeech_state_map(cfg: DeepSpeechConfig) -> ParamMap:
    """DeepSpeech's batch statistics (none with `layernorm_everywhere`)."""
    table: _Table = {}
    if not cfg.layernorm_everywhere:
        for j, t in _deepspeech_layers(cfg):
            table |= _stats(f"{j}/norm", f"{t}.norm.norm")
    return MappingProxyType(table)


def param_map(cfg: ConformerConfig | DeepSpeechConfig) -> ParamMap:
    """The parameter table of either model."""
    return conformer_map(cfg) if isinstance(cfg, ConformerConfig) else deepspeech_map(cfg)


def state_map(cfg: ConformerConfig | DeepSpeechConfig) -> ParamMap:
    """The batch-statistics table of either model."""
    if isinstance(cfg, ConformerConfig):
        return conformer_state_map(cfg)
    return deepspeech_state_map(cfg)


PARAM_MAPS = MappingProxyType({name: param_map(cfg) for name, cfg in CONFIGS.items()})
"""Workload name to its JAX→PyTorch parameter table."""
STATE_MAPS = MappingProxyType(
    {name: state_map(cfg) for name, cfg in CONFIGS.items() if state_map(cfg)}
)
"""Workload name to its JAX 'batch_stats' → PyTorch buffer table (models with batch norm)."""


def tables(cfg: ConformerConfig | DeepSpeechConfig) -> tuple[ParamMap, ParamMap | None]:
    """The parameter and state tables of either model at any size (None: no batch statistics)."""
    return param_map(cfg), (state_map(cfg) or None)
