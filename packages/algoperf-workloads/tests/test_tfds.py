"""TF-free TFDS reading: real ArrayRecord files written without TensorFlow, and mocked sources."""

import shutil
import sys

import numpy as np
import pytest

from algoperf.workloads import _tfds

tfds = pytest.importorskip("tensorflow_datasets")


class AlgoperfFake(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A tiny dataset of Tensor features, which TFDS prepares as ArrayRecord without TensorFlow."""

    VERSION = tfds.core.Version("1.0.0")
    code_path = None  # TFDS looks for checksums beside the code, which fails for a test module

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "points": tfds.features.Tensor(shape=(None, 2), dtype=np.float32),
                    "label": tfds.features.Tensor(shape=(), dtype=np.int64),
                    "meta": {"code": tfds.features.Tensor(shape=(3,), dtype=np.int32)},
                }
            ),
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        # Points vary in number per example in train, not in test.
        return {"train": self._generate_examples(30, 4), "test": self._generate_examples(5, 0)}

    def _generate_examples(self, num, ragged):
        for i in range(num):
            points = np.full((i % ragged if ragged else 2, 2), i, np.float32)
            yield i, {"points": points, "label": i, "meta": {"code": [i] * 3}}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfds")
    AlgoperfFake(data_dir=str(root), file_format="array_record").download_and_prepare()
    return str(root)


def test_read_split_stacks_every_example_of_a_prepared_split(data_dir, monkeypatch):
    monkeypatch.setattr(_tfds, "CHUNK", 2)  # several batched reads, the last one short
    reads = []
    get_many = _tfds._get_many
    monkeypatch.setattr(_tfds, "_get_many", lambda s, keys: reads.append(keys) or get_many(s, keys))
    arrays = _tfds.read_split("algoperf_fake", "test", data_dir)
    assert reads == [range(0, 2), range(2, 4), range(4, 5)]
    assert set(arrays) == {"points", "label", "meta/code"}  # nested features flattened
    assert arrays["label"].dtype == np.int64
    assert sorted(arrays["label"]) == list(range(5))
    assert arrays["points"].shape == (5, 2, 2)
    np.testing.assert_array_equal(arrays["points"][:, 0, 0], arrays["label"])
    np.testing.assert_array_equal(arrays["meta/code"], np.stack([arrays["label"]] * 3, axis=1))


def test_split_slicing_and_read_ragged_split(data_dir):
    whole = _tfds.read_ragged_split("algoperf_fake", "train", data_dir, ragged=["points"])
    head = _tfds.read_ragged_split("algoperf_fake:1.0.0", "train[:7]", data_dir, ["points"])
    tail = _tfds.read_ragged_split("algoperf_fake", "train[7:]", data_dir, ["points"])
    assert (len(whole), len(head), len(tail)) == (30, 7, 23)
    np.testing.assert_array_equal(
        np.concatenate([head.arrays["label"], tail.arrays["label"]]), whole.arrays["label"]
    )
    labels, counts = whole.arrays["label"], whole.row_counts["points"]
    np.testing.assert_array_equal(counts, labels % 4)
    assert whole.arrays["points"].shape == (counts.sum(), 2)
    expected = np.repeat(labels, counts).astype(np.float32)
    np.testing.assert_array_equal(whole.arrays["points"][:, 0], expected)


def test_a_ragged_feature_read_with_read_split_names_the_fix(data_dir):
    with pytest.raises(ValueError, match=r"'points' has different shapes.*read_ragged_split"):
        _tfds.read_split("algoperf_fake", "train", data_dir)
    with pytest.raises(ValueError, match="no features \\['nodes'\\]"):
        _tfds.read_ragged_split("algoperf_fake", "train", data_dir, ["nodes"])


@pytest.mark.parametrize("name", ["mnist", "algoperf_fake"])
def test_a_dataset_not_prepared_names_the_dir_and_the_command(tmp_path, name):
    with pytest.raises(_tfds.DatasetNotPreparedError) as error:
        _tfds.read_split(name, "train", str(tmp_path))
    message = str(error.value)
    assert f"{name!r} is not prepared" in message
    assert str(tmp_path) in message
    assert message.endswith(f"algoperf-datasets prepare {name} --data-dir {tmp_path}")


def test_data_prepared_as_tfrecord_says_so(data_dir, tmp_path):
    shutil.copytree(data_dir, tmp_path, dirs_exist_ok=True)
    info = tmp_path / "algoperf_fake" / "1.0.0" / "dataset_info.json"
    info.write_text(info.read_text().replace('"array_record"', '"tfrecord"'))
    with pytest.raises(_tfds.DatasetNotPreparedError, match="is prepared as tfrecord, not as Arr"):
        _tfds.read_split("algoperf_fake", "test", str(tmp_path))


def test_missing_tensorflow_datasets_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import raises ImportError
    with pytest.raises(
        _tfds.TfdsNotInstalledError, match=r"pip install 'algoperf-workloads\[tfds\]'"
    ):
        _tfds.read_split("mnist", "train", None)


def test_mocked_mnist_and_cifar10_read_without_tensorflow(tmp_path):
    with tfds.testing.mock_data(num_examples=50, policy=tfds.testing.MockPolicy.USE_CODE):
        mnist = _tfds.read_split("mnist", "train[:50]", str(tmp_path))
        cifar = _tfds.read_split("cifar10:3.0.2", "test", str(tmp_path))
    assert mnist["image"].shape == (50, 28, 28, 1)
    assert mnist["image"].dtype == np.uint8
    assert mnist["label"].shape == (50,)
    assert cifar["image"].shape == (50, 32, 32, 3)
    assert "tensorflow" not in sys.modules
