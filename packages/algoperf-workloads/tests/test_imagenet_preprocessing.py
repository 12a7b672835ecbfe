import importlib
import math

import numpy as np
import pytest

simplejpeg = pytest.importorskip("simplejpeg")
pytest.importorskip("cv2")

from algoperf.workloads.imagenet import preprocessing as pp  # noqa: E402


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A uint8 RGB image of gradients and a little noise (compresses like a photo)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [128 + 100 * np.sin(x / (30 + 20 * c) + y / (40 + 10 * c) + c) for c in range(3)]
    image = np.stack(channels, -1) + rng.normal(0, 3, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    return simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=quality, colorspace="RGB")


@pytest.mark.parametrize("shape", [(375, 500), (500, 333), (120, 90), (1200, 900)])
def test_outputs_are_224_uint8_rgb(shape):
    data = jpeg(smooth_image(*shape))
    assert pp.jpeg_shape(data) == shape
    rng = np.random.default_rng(0)
    for image in (pp.preprocess_train(data, rng), pp.preprocess_eval(data)):
        assert image.shape == (224, 224, 3)
        assert image.dtype == np.uint8
        assert image.flags.c_contiguous


def test_grayscale_jpegs_decode_to_rgb():
    gray = np.ascontiguousarray(smooth_image(300, 400)[..., :1])
    data = simplejpeg.encode_jpeg(gray, quality=95, colorspace="GRAY")
    image = pp.preprocess_eval(data)
    assert image.shape == (224, 224, 3)
    np.testing.assert_array_equal(image[..., 0], image[..., 2])


@pytest.mark.parametrize("shape", [(375, 500), (500, 375), (64, 64), (40, 900), (900, 40)])
def test_random_crops_stay_inside_and_respect_the_limits(shape):
    height, width = shape
    rng = np.random.default_rng(1)
    fallback = pp.center_crop_box(height, width)
    sampled = 0
    for _ in range(2000):
        box = pp.random_crop_box(height, width, rng)
        assert box.top >= 0
        assert box.left >= 0
        assert box.top + box.height <= height
        assert box.left + box.width <= width
        assert min(box.height, box.width) > 0
        if box == fallback:
            continue
        sampled += 1
        # The drawn (unrounded) width and height were within half a pixel of the box's.
        low, high = pp.AREA_RANGE
        assert (box.height - 0.5) * (box.width - 0.5) <= high * height * width
        assert (box.height + 0.5) * (box.width + 0.5) >= low * height * width
        assert (box.width + 0.5) / (box.height - 0.5) >= pp.ASPECT_RATIO_RANGE[0]
        assert (box.width - 0.5) / (box.height + 0.5) <= pp.ASPECT_RATIO_RANGE[1]
    if max(shape) / min(shape) < 4:
        assert sampled > 1900  # the fallback is rare on ImageNet-like shapes
    else:
        assert sampled < 2000  # no 3/4-4/3 crop fits a 40x900 strip except small ones


def test_crops_cover_the_whole_area_range():
    rng = np.random.default_rng(2)
    boxes = [pp.random_crop_box(500, 500, rng) for _ in range(4000)]
    fractions = np.array([b.height * b.width / 500**2 for b in boxes])
    ratios = np.array([b.width / b.height for b in boxes])
    assert fractions.min() < 0.1
    assert fractions.max() > 0.9
    # Log-uniform aspect ratios: as many portrait as landscape crops of a square image.
    assert abs(np.mean(np.log(ratios))) < 0.02
    # Below half the area every drawn crop fits, so those fractions are uniform on [0.08, 0.5].
    assert math.isclose(np.mean(fractions[fractions < 0.5]), 0.29, abs_tol=0.015)


def test_training_examples_are_determined_by_the_generator():
    data = jpeg(smooth_image(375, 500))
    first = [pp.preprocess_train(data, np.random.default_rng(s)) for s in range(6)]
    again = [pp.preprocess_train(data, np.random.default_rng(s)) for s in range(6)]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len({a.tobytes() for a in first}) == 6


def test_flip_mirrors_the_crop_left_right():
    data = jpeg(smooth_image(375, 500))
    shape = pp.jpeg_shape(data)
    flips = set()
    for seed in range(20):
        rng = np.random.default_rng(seed)
        box = pp.random_crop_box(*shape, rng)
        flip = bool(rng.random() < 0.5)
        unflipped = pp.decode_crop_resize(data, shape, box)
        expected = unflipped[:, ::-1] if flip else unflipped
        actual = pp.preprocess_train(data, np.random.default_rng(seed))
        np.testing.assert_array_equal(actual, expected)
        flips.add(flip)
    assert flips == {True, False}


def test_center_crop_box_matches_the_reference_arithmetic():
    # side = int(224 / 256 * min(h, w)); offsets ((h - side) + 1) // 2.
    assert pp.center_crop_box(375, 500) == pp.Box(24, 86, 328, 328)
    assert pp.center_crop_box(500, 333) == pp.Box(105, 21, 291, 291)
    assert pp.center_crop_box(320, 256) == pp.Box(48, 16, 224, 224)


def test_eval_crop_of_a_known_image():
    # A 320x256 image: the eval crop is its central 224x224 square, so no resizing happens.
    image = smooth_image(320, 256)
    data = jpeg(image, quality=100)
    out = pp.preprocess_eval(data)
    np.testing.assert_array_equal(out, pp.decode(data)[48:272, 16:240])
    assert np.abs(out.astype(int) - image[48:272, 16:240]).mean() < 2


def test_large_crops_decode_downscaled_close_to_full_size():
    cv2 = pytest.importorskip("cv2")
    image = smooth_image(1200, 1000)
    data = jpeg(image)
    box = pp.center_crop_box(1200, 1000)
    assert pp.decode(data, (300, 250)).shape == (300, 250, 3)  # the 1/4 scale it will use
    full = pp.decode(data)[box.top : box.top + box.height, box.left : box.left + box.width]
    reference = cv2.resize(full, (224, 224), interpolation=cv2.INTER_AREA)
    assert np.abs(pp.preprocess_eval(data).astype(int) - reference).mean() < 3


def test_normalize_uses_the_reference_mean_and_std():
    images = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    out = pp.normalize(images)
    assert out.dtype == np.float32
    expected = (images - np.array(pp.MEAN_RGB)) / np.array(pp.STDDEV_RGB)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_missing_extra_names_it(monkeypatch):
    real = importlib.import_module

    def no_cv2(name, *args):
        if name == "cv2":
            raise ImportError("No module named 'cv2'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_cv2)
    pp.import_codecs.cache_clear()  # a failed import is not cached: later calls import again
    with pytest.raises(pp.ImagenetExtraNotInstalledError, match=r"workloads\[imagenet\]'$"):
        pp.preprocess_eval(b"")
