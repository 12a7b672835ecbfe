"""`algoperf-datasets`: prepare, verify and status with fake TFDS builders (no network)."""

import hashlib
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from algoperf import api
from algoperf.workloads import _tfds, datasets_cli
from algoperf.workloads._prepare import ManualStepRequired
from algoperf.workloads.datasets_cli import TFDS_DATASETS, cli
from algoperf.workloads.librispeech import prepare as speech_prepare
from algoperf.workloads.testing import serve_files
from algoperf.workloads.wmt import prepare as wmt_prepare


class FakeBuilder:
    """A TFDS builder whose 'disk' is a dict shared between runs, so a rerun sees the data."""

    def __init__(self, disk: dict, name: str, data_dir: Path, sizes: dict | None, error=None):
        self.disk, self.key, self.sizes, self.error = disk, (name, data_dir), sizes, error
        self.data_dir = str(data_dir / name.replace(":", "/"))
        self.calls: list[dict] = []

    @property
    def info(self):
        splits, fmt = self.disk.get(self.key, ({}, None))
        splits = {k: SimpleNamespace(num_examples=v) for k, v in splits.items()}
        return SimpleNamespace(splits=splits, file_format=fmt)

    def is_prepared(self):
        return self.key in self.disk

    def download_and_prepare(self, **kwargs):
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        self.disk[self.key] = (self.sizes, kwargs["file_format"])


class Factory:
    """Builds `FakeBuilder`s; `sizes` overrides a dataset's split sizes once prepared."""

    def __init__(self, sizes=None, error=None):
        self.disk: dict = {}
        self.sizes, self.error = sizes or {}, error
        self.builders: list[FakeBuilder] = []

    def __call__(self, tfds_name, data_dir):
        name = next(n for n, d in TFDS_DATASETS.items() if d.tfds_name == tfds_name)
        sizes = self.sizes.get(name, dict(TFDS_DATASETS[name].split_sizes))
        self.builders.append(FakeBuilder(self.disk, tfds_name, data_dir, sizes, self.error))
        return self.builders[-1]

    @property
    def prepare_calls(self):
        return [call for b in self.builders for call in b.calls]


@pytest.fixture
def installed(monkeypatch):
    """Pretend the `prepare` extra (TensorFlow, pandas) is installed."""
    monkeypatch.setattr(datasets_cli, "_installed", lambda module: True)


def run(args, factory, capsys):
    code = cli(args, builder_factory=factory)
    out, err = capsys.readouterr()
    return code, out, err


def test_prepare_once_then_only_verify(tmp_path, capsys, installed):
    factory = Factory()
    args = ["prepare", "ogbg_molpcba", "--data-dir", str(tmp_path), "--temp-dir", "/scratch"]
    code, out, err = run(args, factory, capsys)
    assert (code, err) == (0, "")
    [call] = factory.prepare_calls
    assert call["file_format"] == "array_record"
    assert call["download_dir"] == "/scratch"
    assert call["download_config"].try_download_gcs is False  # never TFDS's TFRecord copy
    assert "train: 350,343 examples ok" in out
    assert "ogbg_molpcba: ok" in out
    code, out, _ = run([*args[:2], "--data-dir", str(tmp_path)], factory, capsys)
    assert code == 0
    assert len(factory.prepare_calls) == 1  # the second run only verifies
    assert "already prepared; verifying" in out
    assert "test: 43,793 examples ok" in out


def test_a_count_mismatch_names_the_split_and_both_numbers(tmp_path, capsys, installed):
    factory = Factory(sizes={"mnist": {"train": 59_999, "test": 10_000}})
    code, out, _ = run(["prepare", "mnist", "--data-dir", str(tmp_path)], factory, capsys)
    assert code == 1
    assert "MISMATCH: train: expected 60,000 examples, found 59,999" in out
    assert "test: 10,000 examples ok" in out
    assert "mnist: MISMATCH" in out
    assert "move it away and prepare again" in out


def test_data_prepared_as_tfrecord_is_a_mismatch(tmp_path, capsys):
    factory = Factory()
    factory.disk[("cifar10:3.0.2", tmp_path)] = ({"train": 50_000, "test": 10_000}, "tfrecord")
    code, out, _ = run(["prepare", "cifar10", "--data-dir", str(tmp_path)], factory, capsys)
    assert code == 1
    assert "prepared as tfrecord, not ArrayRecord: move" in out
    assert factory.prepare_calls == []


@pytest.mark.parametrize(
    "where",
    ["before", ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow"),
     ModuleNotFoundError('In <Image> with name "image":\nNo module named \'tensorflow.io\'')],
)  # fmt: skip
def test_missing_tensorflow_is_one_clear_line(tmp_path, capsys, monkeypatch, where):
    if where == "before":
        monkeypatch.setattr(datasets_cli, "_installed", lambda module: module != "tensorflow")
        factory = Factory()
    else:  # TFDS found TensorFlow missing while preparing
        monkeypatch.setattr(datasets_cli, "_installed", lambda module: True)
        factory = Factory(error=where)
    code, _, err = run(["prepare", "mnist", "--data-dir", str(tmp_path)], factory, capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert "mnist: preparing it needs tensorflow" in err
    assert "pip install 'algoperf-workloads[prepare]'" in err
    assert len(factory.prepare_calls) == (0 if where == "before" else 1)


def test_missing_tensorflow_datasets_names_the_prepare_extra(tmp_path, capsys):
    def factory(name, data_dir):
        raise _tfds.TfdsNotInstalledError("no tensorflow_datasets")

    code, _, err = run(["prepare", "cifar", "--data-dir", str(tmp_path)], factory, capsys)
    assert code == 2
    assert "cifar10: preparing it needs tensorflow-datasets" in err
    assert "pip install 'algoperf-workloads[prepare]'" in err


def test_an_unknown_name_suggests_the_closest(tmp_path, capsys):
    code, out, err = run(["prepare", "mnsit", "--data-dir", str(tmp_path)], Factory(), capsys)
    assert code == 2
    assert out == ""
    assert "unknown dataset 'mnsit' (did you mean 'mnist'?)" in err


def fake_criteo(monkeypatch, prepare):
    module = types.ModuleType(datasets_cli.CRITEO_MODULE)
    module.prepare = prepare
    monkeypatch.setitem(sys.modules, datasets_cli.CRITEO_MODULE, module)


def test_criteo_manual_step_is_printed_without_traceback(tmp_path, capsys, monkeypatch, installed):
    seen = []

    def prepare(data_dir, echo):
        seen.append(data_dir)
        echo("criteo1tb: looking for day_0.gz ... day_23.gz")
        raise ManualStepRequired("download day_0.gz to day_23.gz by hand into /raw, then rerun")

    fake_criteo(monkeypatch, prepare)
    lm_calls = []
    monkeypatch.setattr(
        datasets_cli, "prepare_finewebedu", lambda *args: lm_calls.append(args) or 0
    )
    code, out, err = run(["prepare", "criteo", "--data-dir", str(tmp_path)], Factory(), capsys)
    assert code == 2
    assert seen == [tmp_path]
    assert "looking for day_0.gz" in out
    assert err == "download day_0.gz to day_23.gz by hand into /raw, then rerun\n"
    # 'all' prepares every TFDS dataset without manual files, wmt, FineWeb-Edu and LibriSpeech
    # (from openslr), and still reports the manual steps (Criteo's, ImageNet's).
    wmt_calls = []
    monkeypatch.setattr(
        wmt_prepare, "prepare", lambda data_dir, echo, factory, temp: wmt_calls.append(1) or True
    )
    speech_calls = []
    monkeypatch.setattr(
        speech_prepare,
        "prepare",
        lambda raw, data_dir, *, download, echo: speech_calls.append((raw, download)) or {},
    )
    factory = Factory()
    code, out, err = run(["prepare", "all", "--data-dir", str(tmp_path)], factory, capsys)
    assert code == 2
    automatic = [d for d in TFDS_DATASETS.values() if not d.manual_files]
    assert len(factory.prepare_calls) == len(automatic) == len(TFDS_DATASETS) - 1
    assert len(lm_calls) == 1  # FineWeb-Edu too (its own tests prepare a tiny corpus)
    assert wmt_calls == [1]
    assert speech_calls == [(tmp_path / "downloads" / "librispeech", speech_prepare.Download())]
    assert speech_calls[0][1].url("dev-clean") == f"{speech_prepare.OPENSLR}dev-clean.tar.gz"
    assert "by hand" in err
    assert "missing ILSVRC2012_img_train.tar" in err


def test_criteo_without_its_extra_names_it(tmp_path, capsys, monkeypatch):
    def prepare(data_dir, echo):
        raise ModuleNotFoundError("No module named 'pyarrow'", name="pyarrow")

    fake_criteo(monkeypatch, prepare)
    code, _, err = run(["prepare", "criteo1tb", "--data-dir", str(tmp_path)], Factory(), capsys)
    assert code == 2
    assert "needs pyarrow" in err
    assert "pip install 'algoperf-workloads[criteo]'" in err


def test_status_shows_every_dataset_without_changing_anything(tmp_path, capsys, monkeypatch):
    fake_criteo(monkeypatch, lambda data_dir, echo: pytest.fail("status must not prepare"))
    factory = Factory()
    factory.disk[("mnist:3.0.1", tmp_path)] = ({"train": 60_000, "test": 10_000}, "array_record")
    factory.disk[("cifar10:3.0.2", tmp_path)] = ({"train": 50_000}, "array_record")
    (tmp_path / "day_0_00").write_text("0\t1\n")
    code, out, _ = run(["status", "--data-dir", str(tmp_path)], factory, capsys)
    assert code == 0
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert list(lines) == [
        "mnist", "cifar10", "ogbg_molpcba", "imagenet", "imagenet_v2", "criteo1tb", "wmt",
        "finewebedu", "fastmri", "librispeech",
    ]  # fmt: skip
    assert lines["mnist"].startswith("ok (")
    assert lines["cifar10"].endswith("test: expected 10,000 examples, found 0")
    assert lines["ogbg_molpcba"].startswith("not prepared (algoperf-datasets prepare ogbg_molpcba")
    assert lines["criteo1tb"].startswith("incomplete: 1 day files of 1 of 24 days")
    assert lines["finewebedu"].startswith("not prepared (algoperf-datasets prepare finewebedu")
    assert lines["wmt"].startswith("not prepared (algoperf-datasets prepare wmt")
    assert lines["fastmri"].startswith("not prepared (algoperf-datasets prepare fastmri")
    assert lines["librispeech"].startswith("not prepared (algoperf-datasets prepare librispeech")
    assert factory.prepare_calls == []


def test_status_with_real_tfds_builders(tmp_path, capsys):
    """The real builder factory: a tiny ogbg_molpcba prepared without TensorFlow, mnist absent."""
    tfds = pytest.importorskip("tensorflow_datasets")
    features = tfds.builder("ogbg_molpcba", data_dir=str(tmp_path)).info.features

    class TinyMolpcba(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        name = "ogbg_molpcba"
        VERSION = tfds.core.Version("0.1.3")
        code_path = None  # no checksums file beside a test module

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=features)

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(3)}

        def _generate_examples(self, num):
            for i in range(num):
                yield i, {
                    "num_nodes": [2], "node_feat": np.zeros((2, 9), np.float32),
                    "num_edges": [1], "edge_feat": np.zeros((1, 3), np.float32),
                    "edge_index": [[0, 1]], "labels": np.full(128, np.nan, np.float32),
                }  # fmt: skip

    TinyMolpcba(data_dir=str(tmp_path), file_format="array_record").download_and_prepare()
    capsys.readouterr()
    assert cli(["list", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mnist: not prepared (algoperf-datasets prepare mnist --data-dir" in out
    assert "ogbg_molpcba: MISMATCH" in out
    assert "train: expected 350,343 examples, found 3" in out


def test_main_exits_with_the_code(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(
        sys, "argv", ["algoperf-datasets", "prepare", "no_such_dataset", "--data-dir", "."]
    )
    with pytest.raises(SystemExit) as exit_info:
        datasets_cli.main()
    assert exit_info.value.code == 2
    choices = (
        "mnist, cifar10, ogbg_molpcba, imagenet, imagenet_v2, criteo1tb, wmt, finewebedu, "
        "fastmri, librispeech, all"
    )
    assert f"choose one of: {choices}" in capsys.readouterr().err


def test_expected_split_sizes_agree_with_the_workload_specs():
    mnist, cifar, ogbg = (api.get_workload_spec(n) for n in ("mnist", "cifar", "ogbg"))
    # mnist and cifar cut their validation split out of TFDS's train split.
    assert TFDS_DATASETS["mnist"].split_sizes == {
        "train": mnist.num_train_examples + mnist.num_validation_examples,
        "test": mnist.num_test_examples,
    }
    assert TFDS_DATASETS["cifar10"].split_sizes == {
        "train": cifar.num_train_examples + cifar.num_validation_examples,
        "test": cifar.num_test_examples,
    }
    assert TFDS_DATASETS["ogbg_molpcba"].split_sizes == {
        "train": ogbg.num_train_examples,
        "validation": ogbg.num_validation_examples,
        "test": ogbg.num_test_examples,
    }


def test_imagenet_without_its_tars_lists_the_manual_steps(tmp_path, capsys, installed):
    factory = Factory()
    manual = tmp_path / "tars"
    manual.mkdir()
    (manual / "ILSVRC2012_img_val.tar").write_bytes(b"")
    args = ["prepare", "imagenet", "--data-dir", str(tmp_path), "--manual-dir", str(manual)]
    code, _, err = run(args, factory, capsys)
    assert code == datasets_cli.NEEDS_USER
    assert "missing ILSVRC2012_img_train.tar in" in err
    assert "image-net.org" in err
    assert "Traceback" not in err
    assert factory.prepare_calls == []


def test_imagenet_prepares_from_the_manual_dir_and_verifies_the_counts(tmp_path, capsys, installed):
    factory = Factory()
    manual = tmp_path / "downloads" / "manual"  # TFDS's default place
    manual.mkdir(parents=True)
    for name in TFDS_DATASETS["imagenet"].manual_files:
        (manual / name).write_bytes(b"")
    code, out, err = run(["prepare", "imagenet2012", "--data-dir", str(tmp_path)], factory, capsys)
    assert (code, err) == (0, "")
    [call] = factory.prepare_calls
    assert call["download_config"].manual_dir == str(manual)
    assert "train: 1,281,167 examples ok" in out
    assert "validation: 50,000 examples ok" in out
    # Prepared: the tars are no longer needed, a rerun only verifies.
    for name in TFDS_DATASETS["imagenet"].manual_files:
        (manual / name).unlink()
    code, out, _ = run(["prepare", "imagenet", "--data-dir", str(tmp_path)], factory, capsys)
    assert code == 0
    assert "already prepared" in out
    assert len(factory.prepare_calls) == 1


def test_imagenet_v2_downloads_and_counts_its_test_split(tmp_path, capsys, installed):
    factory = Factory(sizes={"imagenet_v2": {"test": 9_999}})
    code, out, _ = run(["prepare", "imagenet_v2", "--data-dir", str(tmp_path)], factory, capsys)
    assert code == datasets_cli.FAILED
    assert "test: expected 10,000 examples, found 9,999" in out
    [call] = factory.prepare_calls
    assert call["download_config"].manual_dir is None


def test_imagenet_split_sizes_agree_with_the_workload_specs():
    spec = api.get_workload_spec("imagenet_resnet")
    assert TFDS_DATASETS["imagenet"].split_sizes == {
        "train": spec.num_train_examples,
        "validation": spec.num_validation_examples,
    }
    assert TFDS_DATASETS["imagenet_v2"].split_sizes == {"test": spec.num_test_examples}


def test_librispeech_downloads_from_the_mirror_and_checks_the_published_sha256(tmp_path, capsys):
    pytest.importorskip("sentencepiece")
    body = b"not openslr's train-clean-100.tar.gz"
    with serve_files({"res/train-clean-100.tar.gz": body}) as server:
        args = [
            "prepare",
            "librispeech",
            "--data-dir",
            str(tmp_path),
            "--mirror",
            server.url + "res",
        ]
        code, _, err = run(args, Factory(), capsys)
    assert code == 1
    # The tokenizer is trained on train-clean-100 first: nothing else is fetched.
    assert server.requests == [("res/train-clean-100.tar.gz", None, 200)]
    part = tmp_path / "downloads" / "librispeech" / "train-clean-100.tar.gz.part"
    assert part.read_bytes() == body
    assert (
        f"train-clean-100.tar.gz: SHA-256 {hashlib.sha256(body).hexdigest()} is not the "
        "published d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2"
    ) in err
    assert f"delete {part} and run the command again" in err
