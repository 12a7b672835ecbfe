"""The implementation table, `get_workload` and its errors, and import hygiene."""

import importlib
import importlib.util
import subprocess
import sys

import pytest

from algoperf import api
from algoperf.api import Framework, Workload
from algoperf.workloads import (
    IMPLEMENTATIONS,
    FrameworkNotInstalledError,
    get_workload,
    implemented_workloads,
)


@pytest.mark.slow
def test_import_leaves_frameworks_out():
    code = (
        "import sys, algoperf.workloads, algoperf.workloads.digits.data\n"
        "import algoperf.workloads.ogbg.workload, algoperf.workloads.criteo1tb.workload\n"
        "import algoperf.workloads.mnist.workload, algoperf.workloads.cifar.workload\n"
        "import algoperf.workloads.wmt.workload, algoperf.workloads.wmt.prepare\n"
        "bad = [m for m in ('jax', 'flax', 'optax', 'torch') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_every_entry_is_registered_and_resolves_in_both_frameworks(name):
    assert api.get_workload_spec(name).name == name
    assert set(IMPLEMENTATIONS[name]) == set(Framework)
    for framework, impl in IMPLEMENTATIONS[name].items():
        assert impl.module.rsplit(".", 1)[1].startswith(
            {"jax": "jax_", "pytorch": "torch_"}[framework]
        )
        cls = getattr(importlib.import_module(impl.module), impl.cls)
        assert issubclass(cls, Workload)


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_get_workload_builds_the_registered_spec(framework):
    workload = get_workload("digits_cnn", framework, rules="v0.6")
    assert workload.spec is api.get_workload_spec("digits_cnn")
    assert workload.rules.name == "v0.6"
    assert workload.validation_target_value == 0.98


def test_unknown_and_unimplemented_names(monkeypatch):
    with pytest.raises(api.UnknownNameError, match="did you mean 'digits_mlp'"):
        get_workload("digits_mpl", "jax")
    # A workload registered in the api before this package implements it.
    from algoperf.workloads import _zoo

    unimplemented = {k: v for k, v in _zoo.IMPLEMENTATIONS.items() if k != "wmt"}
    monkeypatch.setattr(_zoo, "IMPLEMENTATIONS", unimplemented)
    with pytest.raises(
        api.UnknownNameError, match="implemented workloads: digits_mlp, digits_cnn, ogbg"
    ):
        get_workload("wmt", "jax")
    monkeypatch.undo()
    assert implemented_workloads()[:2] == ("digits_mlp", "digits_cnn")
    bases = ("ogbg", "criteo1tb", "wmt", "imagenet_resnet", "imagenet_vit", "fastmri")
    bases += ("librispeech_conformer", "librispeech_deepspeech")
    variants = {s.name for base in bases for s in api.variants_of(base)}
    implemented = {*bases, "criteo1tb_test", "mnist", "cifar", "finewebedu_lm", *variants}
    assert implemented == set(implemented_workloads()[2:])


@pytest.mark.parametrize(("framework", "missing"), [("jax", "flax"), ("pytorch", "torch")])
def test_missing_framework_names_the_extra(monkeypatch, framework, missing):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == missing else find_spec(n, *a)
    )
    with pytest.raises(FrameworkNotInstalledError, match=rf"algoperf-workloads\[{framework}\]"):
        get_workload("digits_mlp", framework)


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_eval_batch_size_defaults_to_the_spec_and_must_be_positive(framework):
    """That metrics do not depend on it is checked for every workload in test_contract.py."""
    assert get_workload("digits_mlp", framework).eval_batch_size == 256
    assert get_workload("digits_mlp", framework, eval_batch_size=96).eval_batch_size == 96
    with pytest.raises(ValueError, match="eval_batch_size must be positive"):
        get_workload("digits_mlp", framework, eval_batch_size=0)
