"""Parameter types by module class, in both frameworks, on small real layers."""

import re
from types import MappingProxyType

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest
import torch
from flax import traverse_util

from algoperf.api import ParameterType
from algoperf.workloads.jax_params import flax_param_types
from algoperf.workloads.torch_params import torch_param_types

P = ParameterType
W, B = P.WEIGHT, P.BIAS
KEY = jax.random.PRNGKey(0)


def _flax_types(layer: nn.Module, *inputs, rules=MappingProxyType({})) -> dict[str, P]:
    types = flax_param_types(lambda: layer.init(KEY, *inputs), rules)
    return traverse_util.flatten_dict(types, sep="/")


def _attention(q: P, k: P, v: P) -> dict[str, P]:
    """Flax attention's projections: typed kernels and attention biases."""
    kernels = {"query": q, "key": k, "value": v, "out": P.ATTENTION_OUT}
    biases = {f"{m}/bias": P.ATTENTION_BIAS for m in kernels}
    return {f"{m}/kernel": t for m, t in kernels.items()} | biases


_QKV = (P.ATTENTION_Q, P.ATTENTION_K, P.ATTENTION_V)
_X1 = jnp.zeros((2, 5, 3))  # (B, L, C)
_X2 = jnp.zeros((2, 4, 4, 3))  # (B, H, W, C)
# Input (i) and hidden (h) projections of the input, forget, cell (g) and output gates.
_LSTM_CELL = (
    {f"cell/i{g}/kernel": W for g in "ifgo"}
    | {f"cell/h{g}/kernel": W for g in "ifgo"}
    | {f"cell/h{g}/bias": B for g in "ifgo"}
)

FLAX_CASES = {
    "dense": (nn.Dense(4), _X1, {"kernel": W, "bias": B}),
    "conv_1d": (nn.Conv(4, (3,)), _X1, {"kernel": P.CONV_WEIGHT, "bias": B}),
    "conv_2d": (nn.Conv(4, (3, 3), use_bias=False), _X2, {"kernel": P.CONV_WEIGHT}),
    "conv_transpose": (nn.ConvTranspose(4, (3, 3)), _X2, {"kernel": P.CONV_WEIGHT, "bias": B}),
    "batch_norm": (
        nn.BatchNorm(use_running_average=True),
        _X2,
        {"scale": P.BATCH_NORM_SCALE, "bias": P.BATCH_NORM_BIAS},
    ),
    "layer_norm": (nn.LayerNorm(), _X1, {"scale": P.LAYER_NORM_SCALE, "bias": P.LAYER_NORM_BIAS}),
    "group_norm": (
        nn.GroupNorm(num_groups=3),
        _X2,
        {"scale": P.LAYER_NORM_SCALE, "bias": P.LAYER_NORM_BIAS},
    ),
    "instance_norm": (
        nn.InstanceNorm(),
        _X2,
        {"scale": P.LAYER_NORM_SCALE, "bias": P.LAYER_NORM_BIAS},
    ),
    "rms_norm": (nn.RMSNorm(), _X1, {"scale": P.LAYER_NORM_SCALE}),
    "embed": (nn.Embed(7, 4), jnp.zeros((2,), jnp.int32), {"embedding": P.EMBEDDING}),
    "attention": (nn.MultiHeadDotProductAttention(2, qkv_features=4), _X1, _attention(*_QKV)),
    "attention_with_qk_norm": (  # the projections' norms keep their own rule
        nn.MultiHeadDotProductAttention(2, qkv_features=4, normalize_qk=True),
        _X1,
        _attention(*_QKV)
        | {"query_ln/scale": P.LAYER_NORM_SCALE, "key_ln/scale": P.LAYER_NORM_SCALE},
    ),
    "lstm": (nn.RNN(nn.LSTMCell(4)), _X1, _LSTM_CELL),  # gates are Dense submodules
    "optimized_lstm": (nn.RNN(nn.OptimizedLSTMCell(4)), _X1, _LSTM_CELL),
}


@pytest.mark.parametrize("case", FLAX_CASES)
def test_flax_layer_rules(case):
    layer, inputs, expected = FLAX_CASES[case]
    assert _flax_types(layer, inputs) == expected


def _torch_types(module: torch.nn.Module, rules=MappingProxyType({})) -> dict[str, P]:
    return torch_param_types(module, rules)


_NORM = {"weight": P.LAYER_NORM_SCALE, "bias": P.LAYER_NORM_BIAS}
_BN = {"weight": P.BATCH_NORM_SCALE, "bias": P.BATCH_NORM_BIAS}
_CONV = {"weight": P.CONV_WEIGHT, "bias": B}
_OUT = {"out_proj.weight": P.ATTENTION_OUT, "out_proj.bias": P.ATTENTION_BIAS}

TORCH_CASES = {
    "linear": (torch.nn.Linear(3, 4), {"weight": W, "bias": B}),
    "conv_1d": (torch.nn.Conv1d(3, 4, 3), _CONV),
    "conv_2d": (torch.nn.Conv2d(3, 4, 3, bias=False), {"weight": P.CONV_WEIGHT}),
    "conv_transpose_2d": (torch.nn.ConvTranspose2d(3, 4, 3), _CONV),
    "batch_norm_1d": (torch.nn.BatchNorm1d(4), _BN),
    "batch_norm_2d": (torch.nn.BatchNorm2d(4), _BN),
    "layer_norm": (torch.nn.LayerNorm(4), _NORM),
    "instance_norm_2d": (torch.nn.InstanceNorm2d(4, affine=True), _NORM),
    "group_norm": (torch.nn.GroupNorm(2, 4), _NORM),
    "rms_norm": (torch.nn.RMSNorm(4), {"weight": P.LAYER_NORM_SCALE}),
    "embedding": (torch.nn.Embedding(7, 4), {"weight": P.EMBEDDING}),
    "attention_fused": (
        torch.nn.MultiheadAttention(4, 2),
        {"in_proj_weight": P.ATTENTION_QKV, "in_proj_bias": P.ATTENTION_BIAS} | _OUT,
    ),
    "attention_separate": (  # keys and values of another width: one projection each
        torch.nn.MultiheadAttention(4, 2, kdim=3, vdim=5),
        dict(zip(("q_proj_weight", "k_proj_weight", "v_proj_weight"), _QKV, strict=True))
        | {"in_proj_bias": P.ATTENTION_BIAS}
        | _OUT,
    ),
    "lstm": (
        torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True),
        {
            f"{kind}_{m}_l{layer}{d}": W if kind == "weight" else B
            for kind in ("weight", "bias")
            for m in ("ih", "hh")
            for layer in (0, 1)
            for d in ("", "_reverse")
        },
    ),
}


@pytest.mark.parametrize("case", TORCH_CASES)
def test_torch_layer_rules(case):
    module, expected = TORCH_CASES[case]
    assert _torch_types(module) == expected


class FlaxMapHead(nn.Module):
    """ViT's attention-pooling head: a learned probe attends over the tokens."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        probe = self.param("probe", nn.initializers.xavier_uniform(), (1, 1, x.shape[-1]))
        probe = jnp.tile(probe, (x.shape[0], 1, 1))
        x = nn.MultiHeadDotProductAttention(2)(probe, x)
        return nn.LayerNorm()(x)[:, 0]


class TorchMapHead(torch.nn.Module):
    """ViT's attention-pooling head: a learned probe attends over the tokens."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.probe = torch.nn.Parameter(torch.zeros(1, 1, width))
        self.attention = torch.nn.MultiheadAttention(width, 2, batch_first=True)
        self.norm = torch.nn.LayerNorm(width)


def test_attention_pooling_probe_is_typed_by_the_model_rule_in_both_frameworks():
    flax_types = _flax_types(FlaxMapHead(), jnp.zeros((2, 5, 4)), rules={FlaxMapHead: {"probe": W}})
    torch_types = _torch_types(TorchMapHead(4), rules={TorchMapHead: {"probe": W}})
    assert flax_types["probe"] is torch_types["probe"] is W
    attention = "MultiHeadDotProductAttention_0"
    assert flax_types[f"{attention}/query/kernel"] is P.ATTENTION_Q
    assert flax_types["LayerNorm_0/scale"] is torch_types["norm.weight"] is P.LAYER_NORM_SCALE
    assert torch_types["attention.in_proj_weight"] is P.ATTENTION_QKV


def test_an_enclosing_models_rule_wins_over_its_layers_rules():
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Linear(3, 4)
            self.head = torch.nn.Linear(4, 2)

    types = _torch_types(Net(), rules={Net: {r"embed\.weight": P.EMBEDDING}})
    assert types == {"embed.weight": P.EMBEDDING, "embed.bias": B, "head.weight": W, "head.bias": B}


def test_flax_classes_survive_lifted_transforms_and_repeated_tracing():
    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            return nn.LayerNorm()(nn.remat(nn.Dense)(3)(x)), None

    class Stack(nn.Module):
        @nn.compact
        def __call__(self, x):
            scan = nn.scan(
                Block, variable_axes={"params": 0}, split_rngs={"params": True}, length=2
            )
            return scan(name="layers")(x, None)[0]

    expected = {
        "layers/CheckpointDense_0/kernel": W,  # stacked over the scan: rank 3
        "layers/CheckpointDense_0/bias": B,
        "layers/LayerNorm_0/scale": P.LAYER_NORM_SCALE,
        "layers/LayerNorm_0/bias": P.LAYER_NORM_BIAS,
    }
    for _ in range(2):
        assert _flax_types(Stack(), jnp.zeros((2, 3))) == expected


class FlaxScale(nn.Module):
    """A layer no rule knows."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return x * self.param("gain", nn.initializers.ones, (x.shape[-1],))


class FlaxNet(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return FlaxScale(name="block")(nn.Dense(3)(x))


class TorchScale(torch.nn.Module):
    """A layer no rule knows."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.ones(3))


def test_an_unknown_layer_is_an_error_naming_the_module_and_parameter():
    message = "no parameter-type rule for parameter 'gain' of module 'block' ({})"
    with pytest.raises(ValueError, match=re.escape(message.format("FlaxScale"))):
        _flax_types(FlaxNet(), jnp.zeros((2, 3)))
    net = torch.nn.ModuleDict({"dense": torch.nn.Linear(3, 3), "block": TorchScale()})
    with pytest.raises(ValueError, match=re.escape(message.format("TorchScale"))):
        _torch_types(net)


def test_a_model_rule_that_matches_no_parameter_is_an_error():
    """A renamed layer must not silently lose its type."""
    rules = {TorchMapHead: {"probe": W, r"embedding\.weight": W}}
    message = r"rules that match no parameter: TorchMapHead 'embedding\.weight'"
    with pytest.raises(ValueError, match=re.escape(message)):
        _torch_types(TorchMapHead(4), rules=rules)
    flax_rules = {FlaxMapHead: {"probe": W, "renamed": W}}
    with pytest.raises(ValueError, match="rules that match no parameter: FlaxMapHead 'renamed'"):
        _flax_types(FlaxMapHead(), jnp.zeros((2, 5, 4)), rules=flax_rules)
