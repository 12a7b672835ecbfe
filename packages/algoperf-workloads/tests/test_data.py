"""In-memory datasets, padding and metrics; the digits splits."""

import numpy as np
import pytest

from algoperf import api
from algoperf.workloads._data import ArrayDataset, pad_batch, seed_from_rng
from algoperf.workloads._metrics import (
    binary_cross_entropy,
    classification_sums,
    eval_all_splits,
    mean_of_sums,
)
from algoperf.workloads.digits import data


def _counting_dataset(n=10):
    """Inputs equal to the example index, so batches reveal which examples they hold."""
    arrays = {"inputs": np.arange(n, dtype=np.float32), "targets": np.arange(n, dtype=np.int32)}
    return ArrayDataset({"train": arrays, "validation": arrays})


def test_train_batches_are_full_shuffled_epochs_and_deterministic():
    ds = _counting_dataset()
    stream = ds.train_batches(seed=3, global_batch_size=4)
    seen = np.concatenate([next(stream)["targets"] for _ in range(5)])  # two epochs
    assert sorted(seen[:10]) == list(range(10))
    assert sorted(seen[10:20]) == list(range(10))
    assert not np.array_equal(seen[:10], np.arange(10))
    again = ds.train_batches(seed=3, global_batch_size=4)
    np.testing.assert_array_equal(np.concatenate([next(again)["targets"] for _ in range(5)]), seen)
    other = next(ds.train_batches(seed=4, global_batch_size=4))["targets"]
    assert not np.array_equal(other, seen[:4])


def test_eval_batches_are_padded_with_zero_weights():
    batches = list(_counting_dataset().eval_batches("validation", 4))
    assert [len(b["targets"]) for b in batches] == [4, 4, 4]
    np.testing.assert_array_equal(batches[-1]["weights"], [1, 1, 0, 0])
    np.testing.assert_array_equal(batches[-1]["targets"][:2], [8, 9])
    eval_train = list(_counting_dataset().eval_batches("eval_train", 4, num_examples=6))
    np.testing.assert_array_equal(
        np.concatenate([b["weights"] for b in eval_train]), [1] * 6 + [0] * 2
    )


def test_pad_batch_pads_with_zeros_of_weight_zero():
    batch = pad_batch({"targets": np.arange(1, 4)}, 5)
    np.testing.assert_array_equal(batch["targets"], [1, 2, 3, 0, 0])
    np.testing.assert_array_equal(batch["weights"], [1, 1, 1, 0, 0])


def test_seed_from_rng():
    assert seed_from_rng(7) == 7
    key = np.array([0, 42], dtype=np.uint32)
    assert seed_from_rng(key) == seed_from_rng(key.copy()) != seed_from_rng(np.array([0, 43]))


def test_classification_sums_ignore_padding():
    logits = np.array([[2.0, 0.0], [0.0, 2.0], [5.0, 0.0]])
    sums = classification_sums(logits, np.array([0, 0, 1]), np.array([1.0, 1.0, 0.0]))
    ce_right, ce_wrong = np.log1p(np.exp(-2.0)), 2.0 + np.log1p(np.exp(-2.0))
    assert sums == pytest.approx(
        {"loss": ce_right + ce_wrong, "accuracy": 1.0, "num_examples": 2.0}
    )


def test_mean_of_sums_divides_by_the_weight():
    sums = {"loss": 3.0, "accuracy": 1.0, "num_examples": 2.0}
    assert mean_of_sums(sums) == {"loss": 1.5, "accuracy": 0.5, "num_examples": 2.0}


def test_binary_cross_entropy_is_stable_and_exact():
    logits = np.array([0.0, 2.0, -800.0, 800.0])
    targets = np.array([1.0, 0.0, 1.0, 0.0])
    expected = [np.log(2.0), 2.0 + np.log1p(np.exp(-2.0)), 800.0, 800.0]
    np.testing.assert_allclose(binary_cross_entropy(logits, targets), expected, rtol=1e-12)


def test_eval_all_splits_prefixes_each_split():
    spec = api.get_workload_spec("digits_mlp")
    seen = []

    def eval_split(split, n):
        seen.append((split, n))
        return {"accuracy": 0.5, "num_examples": float(n)}

    result = eval_all_splits(spec, eval_split)
    assert seen == [("eval_train", 256), ("validation", 250), ("test", 250)]
    assert result["validation/accuracy"] == 0.5
    assert result["test/num_examples"] == 250.0
    assert "train/num_examples" not in result


@pytest.mark.parametrize("synthetic", [False, True])
def test_digits_splits_match_the_registry(synthetic):
    spec = api.get_workload_spec("digits_mlp")
    ds = data.load(synthetic=synthetic)
    sizes = [ds.num_examples(s) for s in ("train", "validation", "test")]
    assert sizes == [spec.num_train_examples, spec.num_validation_examples, spec.num_test_examples]
    for arrays in ds.splits.values():
        assert arrays["inputs"].shape[1:] == data.IMAGE_SHAPE
        assert arrays["inputs"].dtype == np.float32
        assert arrays["targets"].dtype == np.int32
        assert set(np.unique(arrays["targets"])) <= set(range(data.NUM_CLASSES))


def test_digits_split_is_fixed_and_normalised():
    first, second = data.load(), data.load()
    for split in first.splits:
        np.testing.assert_array_equal(first.splits[split]["inputs"], second.splits[split]["inputs"])
    train = first.splits["train"]["inputs"]
    assert abs(train.mean()) < 1e-5
    assert train.std() == pytest.approx(1.0, abs=1e-5)
    assert len(np.unique(first.splits["validation"]["targets"])) == data.NUM_CLASSES
