"""ImageNet data for both frameworks: TFDS ArrayRecord JPEGs or synthetic images, augmented.

Splits (reference-spec 3.1, 4): train and validation are TFDS `imagenet2012:5.1.0`; test is
ImageNet-v2 `imagenet_v2/matched-frequency:3.0.0` (10,000 images); eval_train is a fixed
random subset of train (seed 0) of the spec's size: TFDS's train split is stored class by
class, so its first examples would cover a few classes only.

One pipeline serves both frameworks (the reference's JAX and PyTorch pipelines differed):

- train: `preprocessing.preprocess_train` (Inception-style random-resized crop, bicubic
  resize, random flip); for ViT then RandAugment (`randaugment`, 2 layers, magnitude 10)
  and mixup (alpha = 0.2, below);
- eval: `preprocessing.preprocess_eval` (central 224/256 crop, resized);
- pixels normalised with the reference's mean and std (`preprocessing.normalize`).

Every random choice of an example comes from its own generator (`BatchRequest.generators`,
keyed by the data seed and its stream position), so batches do not depend on the number of
worker or training processes.

Mixup pairs neighbouring stream positions (2k, 2k + 1): each example is mixed with its
partner with its own weight lam ~ Beta(alpha, alpha), lam = max(lam, 1 - lam), images and
one-hot labels alike. (The reference drew one weight per batch and mixed each example with
the batch rolled by one, which depends on how the batch is split between processes.) Pairs
never straddle two processes as long as each process loads an even number of rows.

Synthetic mode holds random uint8 images of the model's input size, augmented the same way
after the crop: flip, and for ViT RandAugment and mixup.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from algoperf.workloads import _tfds
from algoperf.workloads._data import ArrayDataset, NumpyBatch
from algoperf.workloads._image_splits import synthetic_image_splits
from algoperf.workloads._pipeline import (
    SINGLE_PROCESS,
    BatchRequest,
    BatchStream,
    ProcessShare,
    eval_stream,
    train_stream,
)
from algoperf.workloads.imagenet import preprocessing, randaugment

NUM_CLASSES = 1000
TRAIN_NAME = "imagenet2012:5.1.0"
"""TFDS name of the train and validation splits."""
TEST_NAME = "imagenet_v2/matched-frequency:3.0.0"
"""TFDS name of the test split (its only split is 'test')."""
MIXUP_ALPHA = 0.2
SYNTHETIC_SIZES = {"train": 64, "validation": 32, "test": 32}
"""Examples per synthetic split."""
EVAL_TRAIN_SEED = 0


@dataclass(frozen=True)
class Augmentation:
    """What training adds after the crop and flip (ViT: RandAugment and mixup)."""

    randaugment: bool = False
    mixup_alpha: float | None = None
    num_classes: int = NUM_CLASSES


RESNET = Augmentation()
VIT = Augmentation(randaugment=True, mixup_alpha=MIXUP_ALPHA)


def mixup(
    images: np.ndarray,
    labels: np.ndarray,
    rngs: Sequence[np.random.Generator],
    alpha: float,
    num_classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows 2k and 2k + 1 mixed, each with its own weight; float32 images, (B, C) soft labels.

    Raises:
        ValueError: for an odd number of rows (a pair would straddle two processes).
    """
    if len(images) % 2:
        raise ValueError(
            f"mixup pairs neighbouring examples, so every process must load an even number of "
            f"rows; got {len(images)}: choose a global batch size divisible by 2 x processes"
        )
    lam = np.array([g.beta(alpha, alpha) for g in rngs], np.float32)
    lam = np.maximum(lam, 1.0 - lam)
    partner = np.arange(len(images)) ^ 1
    one_hot = np.eye(num_classes, dtype=np.float32)[labels]
    weight = lam[:, None, None, None]
    mixed = images[partner].astype(np.float32)  # one float copy, then in place
    mixed *= 1.0 - weight
    mixed += weight * images
    soft = lam[:, None] * one_hot + (1.0 - lam[:, None]) * one_hot[partner]
    return mixed, soft


def finish_train(
    images: np.ndarray,
    labels: np.ndarray,
    rngs: Sequence[np.random.Generator],
    augmentation: Augmentation,
) -> tuple[np.ndarray, np.ndarray]:
    """Cropped uint8 training images → (RandAugment,) (mixed,) normalised model inputs.

    Mixup, being linear, mixes the pixels before normalisation, in one float32 pass.
    """
    if augmentation.randaugment:
        images = np.stack(
            [randaugment.randaugment(im, g) for im, g in zip(images, rngs, strict=True)]
        )
    if augmentation.mixup_alpha is None:
        return preprocessing.normalize(images), labels.astype(np.int32)
    mixed, soft = mixup(images, labels, rngs, augmentation.mixup_alpha, augmentation.num_classes)
    mixed -= np.asarray(preprocessing.MEAN_RGB, np.float32)
    mixed /= np.asarray(preprocessing.STDDEV_RGB, np.float32)
    return mixed, soft


def synthetic_train_transform(
    augmentation: Augmentation, batch: NumpyBatch, request: BatchRequest
) -> NumpyBatch:
    """Synthetic training images: flipped at random, then as `finish_train`."""
    rngs = request.generators()
    flips = np.array([g.random() < 0.5 for g in rngs])
    images = np.where(flips[:, None, None, None], batch["inputs"][:, :, ::-1], batch["inputs"])
    inputs, targets = finish_train(images, batch["targets"], rngs, augmentation)
    return batch | {"inputs": inputs, "targets": targets}


def eval_transform(batch: NumpyBatch, request: BatchRequest) -> NumpyBatch:
    """Normalised eval images."""
    del request
    return batch | {"inputs": preprocessing.normalize(batch["inputs"])}


def synthetic(image_size: int, augmentation: Augmentation, seed: int = 0) -> ArrayDataset:
    """Random uint8 images of `image_size` and uniform labels, `SYNTHETIC_SIZES` per split."""
    shape = (image_size, image_size, 3)
    splits = synthetic_image_splits(SYNTHETIC_SIZES, shape, augmentation.num_classes, seed)
    arrays = {
        name: {"inputs": images, "targets": labels.astype(np.int32)}
        for name, (images, labels) in splits.items()
    }
    train = functools.partial(synthetic_train_transform, augmentation)
    return ArrayDataset(arrays, train, eval_transform)


@functools.cache
def _open(name: str, split: str, data_dir: str | None) -> Sequence[dict[str, Any]]:
    """A split's data source with the JPEGs left encoded (opened once per process)."""
    skip = _tfds.import_tfds().decode.SkipDecoding()
    return _tfds.data_source(name, split, data_dir, decoders={"image": skip})


@dataclass(frozen=True)
class JpegSplit:
    """One TFDS split of JPEG 'image' and integer 'label' features (picklable)."""

    tfds_name: str
    split: str
    data_dir: str | None

    def source(self) -> Sequence[dict[str, Any]]:
        """The data source, opened on first use in each process."""
        return _open(self.tfds_name, self.split, self.data_dir)

    def read(self, ids: np.ndarray) -> list[dict[str, Any]]:
        """Records `ids`, read in one batched call where the source has one."""
        source = self.source()
        getitems = getattr(source, "__getitems__", None)
        if getitems is not None:
            return list(getitems([int(i) for i in ids]))
        return [source[int(i)] for i in ids]


@dataclass(frozen=True)
class _JpegLoader:
    """Reads, decodes and transforms the requested examples (picklable, for grain workers)."""

    split: JpegSplit
    image_size: int
    augmentation: Augmentation | None
    """Training transform; None for eval batches."""
    subset: np.ndarray | None = None
    """Stream position → example index (eval_train's fixed subset); None for identity."""

    def __call__(self, request: BatchRequest) -> NumpyBatch:
        ids = request.ids if self.subset is None else self.subset[request.ids]
        records = self.split.read(ids)
        labels = np.array([int(r["label"]) for r in records], np.int32)
        size = self.image_size
        if self.augmentation is None:
            images = np.stack([preprocessing.preprocess_eval(r["image"], size) for r in records])
            inputs, targets = preprocessing.normalize(images), labels
        else:
            rngs = request.generators()
            images = np.stack(
                [
                    preprocessing.preprocess_train(r["image"], g, size)
                    for r, g in zip(records, rngs, strict=True)
                ]
            )
            inputs, targets = finish_train(images, labels, rngs, self.augmentation)
        return {"inputs": inputs, "targets": targets, "weights": request.weights}


@dataclass(frozen=True)
class JpegDataset:
    """ImageNet's splits as JPEG records, decoded and augmented per batch (`Dataset`)."""

    splits: Mapping[str, JpegSplit]
    """'train', 'validation' and 'test'."""
    image_size: int = preprocessing.IMAGE_SIZE
    augmentation: Augmentation = RESNET

    def num_examples(self, split: str) -> int:
        """Number of examples in `split`."""
        return len(self.splits[split].source())

    def train_batches(
        self,
        seed: int,
        global_batch_size: int,
        share: ProcessShare = SINGLE_PROCESS,
        workers: int = 0,
    ) -> BatchStream:
        """Infinite shuffled, augmented training batches; a new permutation each epoch."""
        load = _JpegLoader(self.splits["train"], self.image_size, self.augmentation)
        n = self.num_examples("train")
        return train_stream(load, n, seed, global_batch_size, share, workers)

    def eval_batches(
        self,
        split: str,
        global_batch_size: int,
        num_examples: int | None = None,
        share: ProcessShare = SINGLE_PROCESS,
        workers: int = 0,
    ) -> Iterator[NumpyBatch]:
        """One ordered pass over `split`; 'eval_train' is a fixed random subset of train."""
        subset = None
        if split == "eval_train":
            total = self.num_examples("train")
            num_examples = total if num_examples is None else num_examples
            subset = eval_train_subset(total, num_examples)
            source = self.splits["train"]
        else:
            source = self.splits[split]
            num_examples = len(source.source()) if num_examples is None else num_examples
        load = _JpegLoader(source, self.image_size, None, subset)
        return eval_stream(load, num_examples, global_batch_size, share, workers)


def eval_train_subset(num_train: int, size: int) -> np.ndarray:
    """`size` distinct train indices drawn with seed `EVAL_TRAIN_SEED`, in increasing order."""
    rng = np.random.default_rng(EVAL_TRAIN_SEED)
    return np.sort(rng.choice(num_train, size, replace=False))


def load(
    data_dir: str | None,
    image_size: int = preprocessing.IMAGE_SIZE,
    augmentation: Augmentation = RESNET,
    *,
    train_name: str = TRAIN_NAME,
    test_name: str = TEST_NAME,
) -> JpegDataset:
    """ImageNet (train, validation) and ImageNet-v2 (test) prepared under `data_dir`.

    Nothing is read until a batch is requested; a missing dataset then raises
    `DatasetNotPreparedError` naming the `algoperf-datasets prepare` command.
    """
    splits = {
        "train": JpegSplit(train_name, "train", data_dir),
        "validation": JpegSplit(train_name, "validation", data_dir),
        "test": JpegSplit(test_name, "test", data_dir),
    }
    return JpegDataset(splits, image_size, augmentation)
