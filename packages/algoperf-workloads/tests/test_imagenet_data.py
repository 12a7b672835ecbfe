"""ImageNet data: RandAugment, mixup, process-count independence, the TFDS JPEG reader."""

from typing import ClassVar

import numpy as np
import pytest

simplejpeg = pytest.importorskip("simplejpeg")
pytest.importorskip("cv2")
tfds = pytest.importorskip("tensorflow_datasets")

from algoperf.workloads import _tfds  # noqa: E402
from algoperf.workloads._pipeline import BatchRequest, ProcessShare, example_keys  # noqa: E402
from algoperf.workloads.imagenet import data, randaugment  # noqa: E402
from algoperf.workloads.imagenet import preprocessing as pp  # noqa: E402

REFERENCE_OPS = [
    "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "Color", "Contrast",
    "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY", "Cutout",
    "SolarizeAdd",
]  # fmt: skip


def _image(seed=0, size=48):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    base = np.stack([x * 4, y * 4, (x + y) * 2], -1) + rng.integers(0, 30, (size, size, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def test_randaugment_has_the_reference_ops_and_is_seeded():
    assert [name for name, _ in randaugment.OPS] == REFERENCE_OPS
    image = _image()
    for name, op in randaugment.OPS:
        a = op(image, np.random.default_rng(1), randaugment.MAGNITUDE)
        b = op(image, np.random.default_rng(1), randaugment.MAGNITUDE)
        assert a.shape == image.shape, name
        assert a.dtype == np.uint8, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    image = _image(size=128)
    outs = [randaugment.randaugment(image, np.random.default_rng(s)) for s in range(8)]
    assert len({o.tobytes() for o in outs}) > 4  # different ops for different generators


def test_randaugment_ops_at_magnitude_10():
    image, rng, m = _image(), np.random.default_rng(0), randaugment.MAGNITUDE
    np.testing.assert_array_equal(randaugment.posterize(image, rng, m), image & 0xF0)
    np.testing.assert_array_equal(randaugment.solarize(image, rng, m), image)  # threshold 256
    added = randaugment.solarize_add(image, rng, m).astype(int)
    low = image < 128
    np.testing.assert_array_equal(added[low], np.minimum(image[low].astype(int) + 110, 255))
    np.testing.assert_array_equal(added[~low], image[~low])
    np.testing.assert_array_equal(randaugment.invert(image, rng, m), 255 - image)
    bright = randaugment.brightness(image, rng, m)
    np.testing.assert_array_equal(bright, np.clip(image * 1.9, 0, 255).astype(np.uint8))
    gray = np.full((100, 100, 3), 7, np.uint8)
    cut = randaugment.cutout(gray, np.random.default_rng(3), m)
    assert 0 < (cut == randaugment.GRAY).all(-1).sum() <= 80 * 80
    shifted = randaugment.translate_x(image, np.random.default_rng(0), m)
    assert (shifted == randaugment.GRAY).all()  # a 100 px shift of a 48 px image leaves none
    contrast = randaugment.autocontrast(image // 2 + 10, rng, m)
    assert contrast.min() == 0
    assert contrast.max() == 255


def test_mixup_mixes_neighbouring_pairs_with_their_own_weights():
    rngs = [np.random.default_rng(i) for i in range(4)]
    images = np.arange(4, dtype=np.float32)[:, None, None, None] * np.ones((4, 2, 2, 3), np.float32)
    mixed, soft = data.mixup(images, np.array([5, 6, 7, 8]), rngs, 0.2, 10)
    np.testing.assert_allclose(soft.sum(1), 1.0, rtol=1e-6)
    for i, partner in ((0, 1), (1, 0), (2, 3), (3, 2)):
        lam = soft[i, i + 5]
        assert lam >= 0.5
        np.testing.assert_allclose(soft[i, partner + 5], 1 - lam, rtol=1e-5)
        np.testing.assert_allclose(mixed[i], lam * i + (1 - lam) * partner, rtol=1e-5)
    with pytest.raises(ValueError, match="even number of rows"):
        data.mixup(images[:3], np.zeros(3, int), rngs[:3], 0.2, 10)


def test_mixing_before_normalising_equals_normalising_first():
    images = np.stack([_image(i, 16) for i in range(4)])
    labels = np.array([1, 2, 3, 4])
    plain = data.Augmentation(mixup_alpha=0.2)
    inputs, soft = data.finish_train(
        images, labels, [np.random.default_rng(i) for i in range(4)], plain
    )
    rngs = [np.random.default_rng(i) for i in range(4)]
    want, want_soft = data.mixup(pp.normalize(images), labels, rngs, 0.2, 1000)
    np.testing.assert_allclose(inputs, want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(soft, want_soft)


def test_vit_training_batches_do_not_depend_on_the_process_count():
    dataset = data.synthetic(16, data.VIT)
    whole = next(dataset.train_batches(7, 8))
    halves = [next(dataset.train_batches(7, 8, ProcessShare(i, 2))) for i in range(2)]
    for key in ("inputs", "targets"):
        np.testing.assert_array_equal(np.concatenate([h[key] for h in halves]), whole[key])
    assert whole["targets"].shape == (8, 1000)
    assert whole["inputs"].dtype == np.float32
    np.testing.assert_allclose(whole["targets"].sum(1), 1.0, rtol=1e-6)
    again = next(dataset.train_batches(7, 8))
    np.testing.assert_array_equal(again["inputs"], whole["inputs"])
    resnet = next(data.synthetic(16, data.RESNET).train_batches(7, 8))
    assert resnet["targets"].dtype == np.int32
    assert resnet["targets"].shape == (8,)


def _jpeg(label):
    """A flat image whose colour encodes `label` (flat colours survive JPEG nearly exactly)."""
    image = np.zeros((40 + label, 60, 3), np.uint8)
    image[...] = (label * 20, 255 - label * 20, 100)
    return simplejpeg.encode_jpeg(image, quality=95)


class FakeImagenet(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """imagenet2012's features (JPEG image, label, file name), written without TensorFlow."""

    VERSION = tfds.core.Version("1.0.0")
    code_path = None
    SPLITS: ClassVar[dict[str, int]] = {"train": 10, "validation": 6}

    def _info(self):
        features = {
            "image": tfds.features.Image(encoding_format="jpeg"),
            "label": tfds.features.ClassLabel(num_classes=1000),
            "file_name": tfds.features.Text(),
        }
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

    def _split_generators(self, dl_manager):
        del dl_manager
        return {split: self._generate_examples(n) for split, n in self.SPLITS.items()}

    def _generate_examples(self, num):
        for i in range(num):
            yield i, {"image": _jpeg(i), "label": i, "file_name": f"{i}.JPEG"}


class FakeImagenetV2(FakeImagenet, skip_registration=True):
    SPLITS: ClassVar[dict[str, int]] = {"test": 4}


@pytest.fixture(scope="module")
def jpeg_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("imagenet"))
    for cls in (FakeImagenet, FakeImagenetV2):
        cls(data_dir=root, file_format="array_record").download_and_prepare()
    return root


def _load(root, augmentation=data.RESNET):
    names = {"train_name": "fake_imagenet:1.0.0", "test_name": "fake_imagenet_v2:1.0.0"}
    return data.load(root, 32, augmentation, **names)


def _label_of(pixel):
    """The label whose colour the normalised pixel shows."""
    rgb = pixel * np.array(pp.STDDEV_RGB) + np.array(pp.MEAN_RGB)
    return round(rgb[0] / 20)


def test_reader_decodes_the_tfds_jpegs_of_every_split(jpeg_dir):
    dataset = _load(jpeg_dir)
    sizes = {s: dataset.num_examples(s) for s in ("train", "validation", "test")}
    assert sizes == {"train": 10, "validation": 6, "test": 4}
    for split in ("validation", "test"):
        batch = next(iter(dataset.eval_batches(split, 8)))
        assert batch["inputs"].shape == (8, 32, 32, 3)
        assert batch["inputs"].dtype == np.float32
        np.testing.assert_array_equal(batch["weights"], np.arange(8) < sizes[split])
        real = batch["weights"] > 0
        centre = batch["inputs"][real, 16, 16]
        assert [_label_of(p) for p in centre] == list(batch["targets"][real])
    train = next(dataset.train_batches(0, 4))
    assert train["inputs"].shape == (4, 32, 32, 3)
    assert [_label_of(p) for p in train["inputs"][:, 16, 16]] == list(train["targets"])
    subset = next(iter(dataset.eval_batches("eval_train", 8, 5)))
    chosen = data.eval_train_subset(10, 5)
    labels = [int(r["label"]) for r in dataset.splits["train"].read(chosen)]
    assert list(subset["targets"][:5]) == labels
    assert subset["weights"].sum() == 5


def test_vit_reader_mixes_and_shares_batches_across_processes(jpeg_dir):
    dataset = _load(jpeg_dir, data.VIT)
    whole = next(dataset.train_batches(3, 4))
    halves = [next(dataset.train_batches(3, 4, ProcessShare(i, 2))) for i in range(2)]
    np.testing.assert_array_equal(np.concatenate([h["inputs"] for h in halves]), whole["inputs"])
    assert whole["targets"].shape == (4, 1000)


def test_a_missing_imagenet_names_the_prepare_command(tmp_path):
    dataset = data.load(str(tmp_path), 32)
    with pytest.raises(_tfds.DatasetNotPreparedError, match="algoperf-datasets prepare imagenet"):
        dataset.num_examples("train")


def test_request_keys_seed_per_example_generators():
    keys = example_keys(0, np.arange(4))
    request = BatchRequest(np.arange(4), keys, np.ones(4, np.float32))
    a = [g.random() for g in request.generators()]
    assert len(set(a)) == 4
