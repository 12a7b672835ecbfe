"""Device-count equivalence: 1 vs 8 virtual CPU devices (JAX), 1 vs 2 gloo processes (PyTorch).

The single-device side runs in this process (one CPU device, no process group); the other in
a subprocess, since JAX fixes its device count at start-up and DDP needs a process group. A
failing subprocess fails the test.
"""

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from algoperf.workloads import implemented_workloads
from algoperf.workloads.cifar.param_map import PARAM_MAPS as CIFAR_MAPS
from algoperf.workloads.criteo1tb.param_map import PARAM_MAPS as CRITEO_MAPS
from algoperf.workloads.digits.param_map import PARAM_MAPS as DIGITS_MAPS
from algoperf.workloads.fastmri import param_map as fastmri_map
from algoperf.workloads.finewebedu_lm import param_map as lm_map
from algoperf.workloads.imagenet_resnet import param_map as resnet_map
from algoperf.workloads.imagenet_vit import param_map as vit_map
from algoperf.workloads.librispeech import param_map as speech_map
from algoperf.workloads.mnist.param_map import PARAM_MAPS as MNIST_MAPS
from algoperf.workloads.ogbg.param_map import PARAM_MAPS as OGBG_MAPS
from algoperf.workloads.testing import assert_fp32_close, run_checked
from algoperf.workloads.wmt import param_map as wmt_map

WORKERS = Path(__file__).parent / "workers"
sys.path.insert(0, str(WORKERS))
from cases import CASES  # noqa: E402

pytestmark = pytest.mark.slow  # subprocesses: see the module docstring

PARAM_MAPS = (DIGITS_MAPS, OGBG_MAPS, CRITEO_MAPS, MNIST_MAPS, CIFAR_MAPS)
# Only the order of fp32 sums differs between device counts. The longest sum of each case
# (a gradient element of the first layer summing over the batch and every position it sees,
# or an eval loss summing over the eval batch) sets the tolerance, see `fp32_tolerance`.
REDUCTION = {
    "digits_mlp": 256,  # eval batch
    "digits_cnn": 64 * 8 * 8,  # batch x pixels under the first conv
    "ogbg": 64 * 64,  # batch x padded edges per graph (56 on average)
    "criteo1tb_test": 1024,  # eval batch
    "mnist": 28 * 28,  # pixels contracted by the first dense layer
    "cifar": 16 * 32 * 32,  # batch x pixels under the first conv
    "imagenet_resnet": 16 * 16 * 16,  # batch x pixels under the first conv (stride 2)
    "imagenet_vit": 16 * 2 * 2 * 4,  # batch x tokens (x 4: mixup's two examples per row)
    "fastmri": 16 * 9 * 9,  # batch x pixels under the first conv
    "librispeech_conformer": 8 * 24 * 40,  # batch x positions of the first subsampling conv
    # The shared embedding's gradient sums one term per target position through the logits,
    # and one per position of the encoder's and of the decoder's input lookups.
    "wmt": 3 * 8 * 16,  # 3 x batch x positions
    # The attention scale's gradient sums over batch x heads x query-key pairs (the eval sums
    # 16 x 16 token losses a batch, the other gradients 8 x 16 positions).
    "finewebedu_lm": 8 * 2 * 16 * 16,
}
REDUCED_TABLES = {
    "imagenet_resnet": resnet_map.tables,
    "imagenet_vit": vit_map.tables,
    "fastmri": fastmri_map.tables,
    "librispeech_conformer": speech_map.tables,
    "wmt": wmt_map.tables,
    "finewebedu_lm": lm_map.tables,
}
"""Cases at a reduced model size: the parameter table of their `model_config`."""
# Registered workloads left out, and why: each would cost a compilation per device count
# (or 2 GB per device) for no code path its base does not already run.
NOT_CASES = {
    "ogbg_gelu": "ogbg's data, batching and metrics; only the activation differs",
    "ogbg_silu": "ogbg's data, batching and metrics; only the activation differs",
    "ogbg_model_size": "ogbg's data, batching and metrics; only the GNN's sizes differ",
    "criteo1tb": "a 2 GB embedding table; criteo1tb_test runs the same code at a small vocabulary",
    "criteo1tb_layernorm": "a 2 GB embedding table; layer norm is per example",
    "criteo1tb_embed_init": "a 2 GB embedding table; differs from criteo1tb in init only",
    "criteo1tb_resnet": "a 2 GB embedding table; residual MLPs are per example",
    "wmt_post_ln": "wmt's data, batching and metrics; only the LayerNorm placement differs",
    "wmt_attention_temp": "wmt's data, batching and metrics; only the query scale differs",
    "wmt_glu_tanh": "wmt's data, batching and metrics; only the MLP differs",
    "imagenet_resnet_silu": "imagenet_resnet's data and batch norm; only the activation differs",
    "imagenet_resnet_gelu": "imagenet_resnet's data and batch norm; only the activation differs",
    "imagenet_resnet_large_bn_init": "imagenet_resnet's code; only an initial scale differs",
    "imagenet_vit_glu": "imagenet_vit's data and mixup; the GLU acts per token",
    "imagenet_vit_post_ln": "imagenet_vit's data and mixup; layer norm acts per token",
    "imagenet_vit_map": "imagenet_vit's data and mixup; the MAP head acts per example",
    "fastmri_model_size": "fastmri's data and metrics; only the U-Net's depth and width differ",
    "fastmri_tanh": "fastmri's data and metrics; only the activation differs",
    "fastmri_layernorm": "fastmri's data and metrics; LayerNorm is per example",
    "librispeech_conformer_attention_temperature": "the Conformer, attention output scaled",
    "librispeech_conformer_layernorm": "the Conformer without its per-example post-LN",
    "librispeech_conformer_gelu": "the Conformer; only the activation differs",
    "librispeech_deepspeech": (
        "the Conformer's front-end, data and masked batch norm; its LSTMs are per example "
        "(its parity with PyTorch, batch statistics included, is in test_librispeech.py)"
    ),
    "librispeech_deepspeech_tanh": "DeepSpeech; only the activation differs",
    "librispeech_deepspeech_no_resnet": "DeepSpeech without residual connections",
    "librispeech_deepspeech_norm_and_spec_aug": "DeepSpeech with per-example layer norm",
}
# Average precision ranks scores: rounding can swap two near-equal logits of an untrained
# model, moving the mean AP by ~1e-5 (a rank swap, not a rounding of a sum).
MAP_ATOL = 1e-4
# Gradients that are 0 in exact arithmetic, so both sides hold rounding noise: softmax is
# invariant to an attention key bias (it adds the same q.b to every key's logit).
ZERO_GRADIENTS = ("mhsa.key.bias",)


def test_every_workload_is_a_case_or_left_out_for_a_reason():
    assert sorted(CASES.keys() | NOT_CASES.keys()) == sorted(implemented_workloads())
    assert not CASES.keys() & NOT_CASES.keys()


def _run(cmd, env_update):
    env = os.environ | {"OMP_NUM_THREADS": "1"} | env_update
    run_checked(cmd, env=env, timeout_s=900)  # a hang guard, ~6x the case's time


def _in_process(worker):
    """`compute()` of a worker script, run in this process."""
    spec = importlib.util.spec_from_file_location(worker, WORKERS / f"{worker}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compute()


@pytest.fixture(scope="module")
def jax_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("jax")
    script = str(WORKERS / "jax_grads.py")
    flags = "--xla_force_host_platform_device_count=8"
    _run([sys.executable, script, str(out)], {"XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"})
    return _in_process("jax_grads"), dict(np.load(out / "jax_8.npz"))


@pytest.fixture(scope="module")
def torch_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("torch")
    script = str(WORKERS / "torch_grads.py")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    _run([*launcher, "--nproc-per-node=2", script, str(out)], {})
    return _in_process("torch_grads"), dict(np.load(out / "torch_2.npz"))


def _assert_same(one, many, counts):
    assert (int(one.pop("devices")), int(many.pop("devices"))) == counts
    assert set(one) == set(many)
    expected = sum(len(maps[name]) for maps in PARAM_MAPS for name in CASES if name in maps)
    expected += sum(
        len(tables(CASES[name][0]["model_config"])[0]) for name, tables in REDUCED_TABLES.items()
    )
    assert len([k for k in one if "/grad/" in k]) == expected
    for key in one:
        if key.endswith("mean_average_precision"):
            assert abs(float(many[key]) - float(one[key])) <= MAP_ATOL, key
        elif key.endswith(ZERO_GRADIENTS):
            assert max(np.abs(one[key]).max(), np.abs(many[key]).max()) < 1e-6, key
        else:
            assert_fp32_close(many[key], one[key], n=REDUCTION[key.split("/")[0]], name=key)


def test_jax_one_vs_eight_devices(jax_results):
    _assert_same(*jax_results, counts=(1, 8))


def test_pytorch_one_vs_two_processes(torch_results):
    _assert_same(*torch_results, counts=(1, 2))
