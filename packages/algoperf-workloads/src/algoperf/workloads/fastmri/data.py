"""fastmri's data: the reference's preprocessing of k-space slices, HDF5 reading, synthetic data.

The NYU fastMRI knee single-coil files hold one volume each: `kspace` (slices, 640, W)
complex64 with W near 368, `reconstruction_esc` (slices, 320, 320) float32 and the
attribute `max` (the volume's maximum). An example is one slice, read by (file, slice) with
h5py in the loader's workers, then masked, transformed to an image and normalised
(`process_slice`) there too.

Randomness: the reference draws a training slice's column mask from TF's stateless uniform
with a key folded from the data seed and the example's position; eval uses one fixed key
(seed 0) for every slice. Here each column's uniform comes from the example's per-example key
(`BatchRequest.uniform`): the same distribution (every column independently below the
acceleration probability), a deterministic function of (seed, stream position), but not TF's
bits. Validation and test slices share one fixed key, as in the reference; eval_train
slices, which the reference masks like training ones, get their stream position's key.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from algoperf.workloads._data import ArrayDataset, StreamedDataset
from algoperf.workloads._pipeline import (
    BatchRequest,
    NumpyBatch,
    example_keys,
)
from algoperf.workloads.fastmri.config import IMAGE_SIZE

CENTER_FRACTION = 0.08
ACCELERATION = 4.0
CLIP = 6.0
TRAIN_DIR = "knee_singlecoil_train"
VAL_DIR = "knee_singlecoil_val"
NUM_VALIDATION_FILES = 100
"""Validation = the first 100 sorted files of the val folder; test = the rest."""
EVAL_KEY = example_keys(0, np.zeros(1, np.int64))[0]
"""The one key of every eval slice's column mask (the reference's fixed eval seed)."""
MASK_STREAM = 0


class FastMRIDataError(ValueError):
    """The fastMRI files are missing or do not have the expected layout."""


def column_mask(uniform: np.ndarray) -> np.ndarray:
    """(W,) float32 k-space column mask from W uniforms in [0, 1): the reference's mask.

    The centre int(0.08 W) columns are kept; every other column is kept when its uniform is
    below (W / 4 - centre) / (W - centre), so a quarter of the columns are kept on average.
    """
    num_cols = len(uniform)
    num_low = int(np.float32(num_cols) * np.float32(CENTER_FRACTION))
    mask = np.zeros(num_cols, np.float32)
    pad = (num_cols - num_low + 1) // 2
    mask[pad : pad + num_low] = 1.0
    prob = (np.float32(num_cols) / np.float32(ACCELERATION) - np.float32(num_low)) / (
        np.float32(num_cols) - np.float32(num_low)
    )
    return np.maximum(mask, (uniform < prob).astype(np.float32))


def process_slice(
    kspace: np.ndarray, target: np.ndarray, volume_max: float, uniform: np.ndarray
) -> dict[str, Any]:
    """One example from a slice, as the reference makes it.

    Args:
        kspace: (H, W) complex k-space.
        target: (h, w) reconstruction (h <= H, w <= W).
        volume_max: the volume's maximum (the SSIM's data range).
        uniform: (W,) uniforms in [0, 1) for the column mask.

    Returns:
        'inputs' and 'targets' (h, w) float32, normalised by the masked image's mean and
        (population) std and clipped to [-6, 6]; 'mean', 'std', 'volume_max' float32 scalars.
    """
    masked = kspace.astype(np.complex64) * column_mask(uniform)[None, :].astype(np.complex64)
    # Centred 2-D inverse FFT with orthonormal scaling (TF's ifft2d times sqrt(H W)).
    image = np.fft.fftshift(
        np.fft.ifft2(np.fft.ifftshift(masked, axes=(0, 1)), norm="ortho"), axes=(0, 1)
    )
    h, w = target.shape
    top, left = (kspace.shape[0] - h) // 2, (kspace.shape[1] - w) // 2
    magnitude = np.abs(image[top : top + h, left : left + w]).astype(np.float32)
    mean, std = magnitude.mean(dtype=np.float32), magnitude.std(dtype=np.float32)
    return {
        "inputs": np.clip((magnitude - mean) / std, -CLIP, CLIP),
        "targets": np.clip((target.astype(np.float32) - mean) / std, -CLIP, CLIP),
        "mean": np.float32(mean),
        "std": np.float32(std),
        "volume_max": np.float32(volume_max),
    }


def synthetic(image_size: int = IMAGE_SIZE, sizes: Sequence[int] = (64, 48, 40)) -> ArrayDataset:
    """Random examples of the real shapes and dtypes: train, validation, test of `sizes`.

    Inputs and targets are normalised images (a smooth target plus noise for the input,
    clipped like real ones); mean, std and volume_max are positive, as in real batches.
    """
    rng = np.random.default_rng(0)
    splits = {}
    for split, n in zip(("train", "validation", "test"), sizes, strict=True):
        grid = np.arange(image_size, dtype=np.float32) / image_size
        phase = rng.random((n, 1, 1), np.float32) * np.float32(2 * np.pi)
        targets = np.sin(6 * grid[None, None, :] + phase) * np.cos(4 * grid[None, :, None] + phase)
        inputs = targets + 0.5 * rng.standard_normal(targets.shape, np.float32)
        splits[split] = {
            "inputs": np.clip(inputs, -CLIP, CLIP).astype(np.float32),
            "targets": np.clip(targets, -CLIP, CLIP).astype(np.float32),
            "mean": rng.uniform(1e-5, 3e-5, n).astype(np.float32),
            "std": rng.uniform(1e-5, 2e-5, n).astype(np.float32),
            "volume_max": rng.uniform(2e-4, 5e-4, n).astype(np.float32),
        }
    return ArrayDataset(splits)


@dataclass(frozen=True)
class SliceIndex:
    """Every slice of a split as (file, slice), in file order."""

    files: tuple[str, ...]
    counts: tuple[int, ...]
    """Slices per file."""

    @property
    def num_examples(self) -> int:
        """Slices in the split."""
        return sum(self.counts)

    def locate(self, ids: np.ndarray) -> list[tuple[str, int]]:
        """(file, slice) of each example id."""
        ends = np.cumsum(self.counts)
        file_of = np.searchsorted(ends, ids, side="right")
        starts = ends - np.asarray(self.counts)
        return [(self.files[f], int(i - starts[f])) for f, i in zip(file_of, ids, strict=True)]


def _h5py() -> Any:
    try:
        import h5py
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "fastmri's real data needs h5py; install it: pip install 'algoperf-workloads[fastmri]'",
            name="h5py",
        ) from error
    return h5py


def count_slices(path: str) -> int:
    """Slices in one volume file (its `kspace` length), read from the HDF5 header.

    Raises:
        FastMRIDataError: naming the file, if it cannot be read or lacks a dataset.
    """
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            for key in ("kspace", "reconstruction_esc"):
                if key not in f:
                    raise FastMRIDataError(
                        f"{path}: no '{key}' dataset; is this a fastMRI knee single-coil file? "
                        "Prepare the data again: algoperf-datasets prepare fastmri"
                    )
            return int(f["kspace"].shape[0])
    except OSError as error:
        raise FastMRIDataError(
            f"{path}: not a readable HDF5 file ({error}); delete it and prepare the data again"
        ) from error


def split_files(data_dir: str, split: str) -> list[str]:
    """The sorted volume files of `split` ('train', 'validation' or 'test') under `data_dir`.

    Raises:
        FastMRIDataError: if the split's folder is missing or holds no .h5 file.
    """
    folder = os.path.join(data_dir, TRAIN_DIR if split == "train" else VAL_DIR)
    paths = sorted(glob.glob(os.path.join(folder, "*.h5")))
    if not paths:
        raise FastMRIDataError(
            f"no .h5 files in {folder}; prepare the dataset: algoperf-datasets prepare fastmri "
            f"--data-dir {data_dir} --manual-dir DIR_OF_THE_KNEE_SINGLECOIL_TARBALLS"
        )
    if split == "validation":
        return paths[:NUM_VALIDATION_FILES]
    if split == "test":
        return paths[NUM_VALIDATION_FILES:]
    return paths


def slice_index(data_dir: str, split: str) -> SliceIndex:
    """The (file, slice) index of `split`, from the files' HDF5 headers."""
    files = split_files(data_dir, split)
    return SliceIndex(tuple(files), tuple(count_slices(p) for p in files))


@dataclass
class _SliceLoader:
    """Reads and preprocesses a request's slices; picklable, opening files in each worker."""

    index: SliceIndex
    random_masks: bool
    """Each slice's mask from its own key (training, and eval_train as in the reference);
    otherwise the fixed eval key."""
    _open: dict[str, Any] = field(default_factory=dict, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {"index": self.index, "random_masks": self.random_masks, "_open": {}}

    def _file(self, path: str) -> Any:
        if path not in self._open:
            self._open[path] = _h5py().File(path, "r")
        return self._open[path]

    def __call__(self, request: BatchRequest) -> NumpyBatch:
        slices = []
        for path, i in self.index.locate(request.ids):
            f = self._file(path)
            slices.append((f["kspace"][i], f["reconstruction_esc"][i], f.attrs.get("max", 0.0)))
        width = max(k.shape[1] for k, _, _ in slices)
        keys = request.keys if self.random_masks else np.full_like(request.keys, EVAL_KEY)
        # Column j's uniform depends on (key, j) only, so one draw of the widest slice serves all.
        uniforms = BatchRequest(request.ids, keys, request.weights).uniform(MASK_STREAM, (width,))
        examples = [
            process_slice(k, t, m, u[: k.shape[1]])
            for (k, t, m), u in zip(slices, uniforms, strict=True)
        ]
        batch = {key: np.stack([e[key] for e in examples]) for key in examples[0]}
        batch["weights"] = request.weights
        return batch


class FastMRIDataset(StreamedDataset):
    """The knee single-coil splits under `data_dir`, read slice by slice with h5py."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self._indices: dict[str, SliceIndex] = {}

    def index(self, split: str) -> SliceIndex:
        """The slice index of `split` ('eval_train' reads 'train'), built once."""
        split = "train" if split == "eval_train" else split
        if split not in self._indices:
            self._indices[split] = slice_index(self.data_dir, split)
        return self._indices[split]

    def num_examples(self, split: str) -> int:
        """Slices in `split`."""
        return self.index(split).num_examples

    def loader(self, split: str, training: bool) -> _SliceLoader:
        """Slices with random masks for training and 'eval_train', the fixed mask otherwise."""
        return _SliceLoader(self.index(split), random_masks=training or split == "eval_train")
