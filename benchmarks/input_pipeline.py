"""Training examples per second of the input pipelines, per worker core, per workload.

Each workload row builds its training data in memory or in a temp dir (--examples) and
times our pipeline, `Dataset.train_batches` / `_pipeline.train_stream` (grain over batch
numbers; whole batches loaded by the main process or by 1, 2, ... worker processes,
--workers), after warm-up batches that cover the workers' start. The ratio column is
against a baseline measured in the same run: for ImageNet a plain Python loop of the same
per-example transform (one process, no grain), for the in-memory datasets the pipeline
in the main process.

It prints examples/s (wall clock) and per worker, the scaling against one worker, examples
per CPU second of all the pipeline's processes (psutil; CPU figures are the ones to trust on
a shared machine), and how many cores one 8-GPU host needs at the rate the registry
implies: step_hint x batch size / max runtime (imagenet_resnet under v0.6: 195,999 x 1,024
/ 66,159 s = 3,034 images/s, on 8 V100s; newer GPUs consume faster). Goal of issue 12 for
ImageNet: >= 250 images/s per worker core and >= 0.8x linear scaling. Wall-clock scaling
past the machine's free cores means nothing.

ImageNet examples are JPEGs of 400-500 x 350-500 pixels (quality 90, 4:2:0 chroma) made of
smooth gradients plus noise, so they compress like photos (~100 KB each, ImageNet's mean is
~110 KB); the transform is `preprocess_train` (decode, random-resized crop, bicubic resize to
224x224, flip); the imagenet_vit row adds RandAugment (per example) and mixup (per batch),
with its loop baseline doing the per-example part (ViT consumes 167,999 x 1,024 / 69,768 s
= 2,466 images/s under v0.6). A second loop does the same with Pillow to compare decoders,
when Pillow is installed. cifar (45,000 uint8 images; crop, flip and normalise per batch),
mnist (50,000 images), ogbg (20,000 synthetic molecules, packed in the main process) and wmt
(100,000 synthetic sentence pairs packed into 256-token rows in the main process) use their
workloads' own datasets. fastmri writes up to 96 HDF5 slices of the real shapes and times
`FastMRIDataset` (h5py read, column mask, centred 2-D inverse FFT, crop, normalisation in the
workers; the 8xV100 rate it is compared with is 32 x 18,094 / 4,430 s = 131 slices/s).
librispeech writes --examples synthetic utterances in `prepare`'s ArrayRecord format (int16
audio of LibriSpeech's lengths, 12.3 s on average and at most 20 s; 20-119 token ids) across
the three train subsets and times `LibriSpeechDataset.train_batches` (random-access read,
decode, padding to 320,000 samples and 256 ids, paddings); its loop baseline is the
reference's layout, one int64 `_audio.npy` and one `_targets.npy` per utterance loaded and
padded per example. The Conformer consumes 256 x 76,000 / 58,015 s = 335 utterances/s on
8 V100s (DeepSpeech 256 x 38,400 / 44,405 s = 221/s). A LibriSpeech batch of 128 is 330 MB.

Usage: uv run python benchmarks/input_pipeline.py [--examples 512] [--batches 30]
[--batch-size 128] [--workers 1 2]
[--workloads imagenet_resnet imagenet_vit cifar mnist ogbg wmt fastmri librispeech]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from algoperf import api
from algoperf.workloads._data import ArrayDataset
from algoperf.workloads._image_splits import synthetic_image_splits
from algoperf.workloads._pipeline import BatchRequest, train_stream
from algoperf.workloads.cifar import data as cifar_data
from algoperf.workloads.imagenet import data as imagenet_data
from algoperf.workloads.imagenet import preprocessing, randaugment
from algoperf.workloads.librispeech import files as speech_files
from algoperf.workloads.mnist import data as mnist_data
from algoperf.workloads.ogbg import data as ogbg_data
from algoperf.workloads.ogbg.graphs import GraphDataset
from algoperf.workloads.wmt import data as wmt_data

RULES = "v0.6"
MIN_SECONDS = 1.0
"""Shortest timed window of a row."""
GOAL_PER_CORE = 250
"""Issue 12: one worker core should produce this many augmented 224x224 images/s."""

Transform = Callable[[Any, np.random.Generator], dict[str, Any]]
"""One example from its source element; module-level, so worker processes can unpickle it."""


Batches = Callable[[int, int], Iterator[Any]]
"""(batch size, workers) -> training batches."""


@dataclass(frozen=True)
class PipelineRow:
    """One workload's training input pipeline as this benchmark times it."""

    workload: str
    """Registry name: the consumption rate comes from its budget and batch size."""
    pipeline: Batches
    """Our pipeline's training batches."""
    loops: dict[str, Batches]
    """Plain-loop baselines to time, by label (their worker count is ignored)."""
    description: str


# ---------------------------------------------------------------- imagenet_resnet


def photo_like(rng: np.random.Generator) -> np.ndarray:
    """A uint8 RGB image of ImageNet's typical size: sinusoidal gradients plus noise."""
    height, width = int(rng.integers(350, 501)), int(rng.integers(400, 501))
    y, x = np.ogrid[0:height, 0:width]
    channels = []
    for _ in range(3):
        fy, fx = rng.uniform(0.005, 0.05, 2)
        py, px = rng.uniform(0, 2 * np.pi, 2)
        channels.append(128 + 60 * np.sin(fy * y + py) + 60 * np.cos(fx * x + px))
    noise = rng.normal(0, rng.uniform(12, 36), (height, width, 3))
    return np.clip(np.stack(channels, -1) + noise, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class JpegLoader:
    """A batch loader of JPEGs: each example transformed with its own key's generator."""

    elements: list[tuple[str, int]]
    augmentation: imagenet_data.Augmentation | None = None
    """ViT's RandAugment and mixup after the crop (then normalised floats); None: uint8."""

    def __call__(self, request: BatchRequest) -> dict[str, Any]:
        """The requested examples, decoded and augmented, as one batch."""
        rngs = request.generators()
        examples = [
            imagenet_train_example(self.elements[i], rng)
            for i, rng in zip(request.ids.tolist(), rngs, strict=True)
        ]
        batch = {key: np.stack([e[key] for e in examples]) for key in examples[0]}
        if self.augmentation is not None:
            inputs, targets = imagenet_data.finish_train(
                batch["inputs"], batch["targets"], rngs, self.augmentation
            )
            batch = {"inputs": inputs, "targets": targets}
        return batch | {"weights": request.weights}


def imagenet_train_example(element: tuple[str, int], rng: np.random.Generator) -> dict[str, Any]:
    path, label = element
    image = preprocessing.preprocess_train(Path(path).read_bytes(), rng)
    return {"inputs": image, "targets": label}


def vit_train_example(element: tuple[str, int], rng: np.random.Generator) -> dict[str, Any]:
    """ViT's per-example part: crop, flip and RandAugment (mixup acts on whole batches)."""
    example = imagenet_train_example(element, rng)
    return example | {"inputs": randaugment.randaugment(example["inputs"], rng)}


def pillow_train_example(element: tuple[str, int], rng: np.random.Generator) -> dict[str, Any]:
    """The same crop and flip with Pillow: the decoder comparison."""
    from PIL import Image

    path, label = element
    image = Image.open(io.BytesIO(Path(path).read_bytes()))
    box = preprocessing.random_crop_box(image.height, image.width, rng)
    area = (box.left, box.top, box.left + box.width, box.top + box.height)
    image = image.convert("RGB").resize((224, 224), Image.Resampling.BICUBIC, box=area)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return {"inputs": np.asarray(image), "targets": label}


def _jpegs(root: Path, examples: int) -> list[tuple[str, int]]:
    """`examples` photo-like JPEG files with random labels."""
    simplejpeg, _ = preprocessing.import_codecs()
    rng = np.random.default_rng(0)
    elements = []
    for i in range(examples):
        data = simplejpeg.encode_jpeg(photo_like(rng), quality=90, colorsubsampling="420")
        path = root / f"{i:06d}.jpeg"
        path.write_bytes(data)
        elements.append((str(path), int(rng.integers(1000))))
    return elements


def imagenet_resnet(root: Path, examples: int) -> PipelineRow:
    """`examples` photo-like JPEGs with random labels, through `preprocess_train`."""
    elements = _jpegs(root, examples)
    loops = {"loop (simplejpeg+OpenCV)": _loop(elements, imagenet_train_example)}
    try:
        import PIL  # noqa: F401

        loops["loop (Pillow)"] = _loop(elements, pillow_train_example)
    except ImportError:
        print("Pillow is not installed: no Pillow loop")
    size = sum(Path(p).stat().st_size for p, _ in elements) / examples / 1024
    load = JpegLoader(elements)
    return PipelineRow(
        "imagenet_resnet",
        lambda size, workers: train_stream(load, len(elements), 0, size, workers=workers),
        loops,
        f"{examples} JPEGs of {size:.0f} KB on average -> uint8 (224, 224, 3)",
    )


def imagenet_vit(root: Path, examples: int) -> PipelineRow:
    """The same JPEGs through `preprocess_train`, RandAugment, normalisation and mixup."""
    elements = _jpegs(root, examples)
    size = sum(Path(p).stat().st_size for p, _ in elements) / examples / 1024
    load = JpegLoader(elements, imagenet_data.VIT)
    return PipelineRow(
        "imagenet_vit",
        lambda size, workers: train_stream(load, len(elements), 0, size, workers=workers),
        {"loop (crop+RandAugment)": _loop(elements, vit_train_example)},
        f"{examples} JPEGs of {size:.0f} KB -> float32 (224, 224, 3), RandAugment, mixup",
    )


# ---------------------------------------------------------------- in-memory datasets


def _dataset_row(
    workload: str, dataset: Any, description: str, loops: dict[str, Batches] | None = None
) -> PipelineRow:
    """A row for a workload's `Dataset`; the baseline: `loops`, else its pipeline in process."""
    return PipelineRow(
        workload,
        lambda size, workers: dataset.train_batches(0, size, workers=workers),
        loops or {"in process": lambda size, _: dataset.train_batches(0, size)},
        description,
    )


def cifar(root: Path, examples: int) -> PipelineRow:
    """CIFAR-10's 45,000 training images (random pixels), augmented and normalised."""
    del root, examples
    splits = synthetic_image_splits({"train": 45_000}, cifar_data.IMAGE_SHAPE, 10, seed=0)
    images, labels = splits["train"]
    arrays = {"inputs": images, "targets": labels.astype(np.int32)}
    dataset = ArrayDataset({"train": arrays}, cifar_data.train_transform)
    return _dataset_row("cifar", dataset, "45,000 uint8 32x32 images -> float32, augmented")


def mnist(root: Path, examples: int) -> PipelineRow:
    """MNIST's 50,000 normalised training images (random pixels), gathered per batch."""
    del root, examples
    splits = synthetic_image_splits({"train": 50_000}, mnist_data.IMAGE_SHAPE, 10, seed=0)
    images, labels = splits["train"]
    arrays = {"inputs": mnist_data.normalize(images), "targets": labels.astype(np.int32)}
    return _dataset_row("mnist", ArrayDataset({"train": arrays}), "50,000 float32 28x28 images")


def ogbg(root: Path, examples: int) -> PipelineRow:
    """20,000 synthetic molecules, packed and padded (in the main process at any --workers)."""
    del root, examples
    dataset = GraphDataset({"train": ogbg_data.synthetic_split(20_000, seed=0)}, num_shards=1)
    return _dataset_row("ogbg", dataset, "20,000 synthetic molecules, packed to the budget")


def wmt(root: Path, examples: int) -> PipelineRow:
    """100,000 synthetic sentence pairs of WMT-like lengths, packed into rows of 256 tokens.

    Token counts per side are log-normal around 27 (WMT17 de-en with a 32k SentencePiece
    vocabulary averages ~27-30), cut to 1..255 plus EOS; an example here is one packed row
    (about 8 pairs), the unit of the reference's batches (128 x 120,000 steps / 43,336 s =
    354 rows/s on 8 V100s).
    """
    del root, examples
    rng = np.random.default_rng(0)

    def sentence() -> np.ndarray:
        n = int(np.clip(rng.lognormal(np.log(27), 0.6), 1, 255))
        return np.append(rng.integers(3, 32_000, n), 2).astype(np.int32)

    pairs = [(sentence(), sentence()) for _ in range(100_000)]
    split = wmt_data.from_pairs([p[0] for p in pairs], [p[1] for p in pairs])
    dataset = wmt_data.WmtDataset({"train": split}, 256)
    return _dataset_row("wmt", dataset, "100,000 synthetic pairs packed into 256-token rows")


# ---------------------------------------------------------------- fastmri

FASTMRI_SLICES_PER_VOLUME = 16
FASTMRI_MAX_SLICES = 96
"""Slices written (1.9 MB of k-space each); reads are random access, so more add nothing."""


def fastmri(root: Path, examples: int) -> PipelineRow:
    """Knee single-coil volumes of the real shapes in HDF5, read and preprocessed per slice.

    k-space 640 x 368 complex64 and 320 x 320 targets; each slice is read with h5py, masked,
    inverse-FFT'd, cropped and normalised.
    """
    import h5py

    from algoperf.workloads.fastmri import data as fastmri_data

    folder = root / fastmri_data.TRAIN_DIR
    folder.mkdir()
    rng = np.random.default_rng(0)
    slices = min(examples, FASTMRI_MAX_SLICES)
    for v in range(max(1, slices // FASTMRI_SLICES_PER_VOLUME)):
        shape = (FASTMRI_SLICES_PER_VOLUME, 640, 368)
        kspace = rng.standard_normal(shape, np.float32) + 1j * rng.standard_normal(
            shape, np.float32
        )
        with h5py.File(folder / f"file{v}.h5", "w") as f:
            f["kspace"] = kspace.astype(np.complex64)
            f["reconstruction_esc"] = rng.random((shape[0], 320, 320), np.float32)
            f.attrs["max"] = 1.0
    dataset = fastmri_data.FastMRIDataset(str(root))
    return _dataset_row("fastmri", dataset, f"{slices} k-space slices in HDF5 -> 320x320 images")


# ---------------------------------------------------------------- librispeech


def _utterance(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """int16 audio of LibriSpeech's lengths (mean 12.3 s at 16 kHz, 1 to 20 s), token ids."""
    length = int(np.clip(rng.normal(197_000, 60_000), 16_000, speech_files.MAX_AUDIO_SAMPLES))
    audio = rng.integers(-3000, 3000, length).astype(np.int16)
    return audio, rng.integers(1, 1024, int(rng.integers(20, 120))).astype(np.int32)


def reference_npy_example(stem: str, rng: np.random.Generator) -> dict[str, Any]:
    """The reference's per-example load: two .npy files, padded to 320,000 and 256, as floats."""
    del rng
    audio, ids = np.load(f"{stem}_audio.npy"), np.load(f"{stem}_targets.npy")
    audio_pad = speech_files.MAX_AUDIO_SAMPLES - len(audio)
    return {
        "inputs": np.pad(audio, (0, audio_pad)).astype(np.float32),
        "input_paddings": np.pad(
            np.zeros(len(audio), np.float32), (0, audio_pad), constant_values=1
        ),
        "targets": np.pad(ids, (0, 256 - len(ids))).astype(np.float32),
        "target_paddings": np.pad(
            np.zeros(len(ids), np.float32), (0, 256 - len(ids)), constant_values=1
        ),
    }


def librispeech(root: Path, examples: int) -> PipelineRow:
    """`examples` utterances in `prepare`'s record files (and the reference's .npy files)."""
    from array_record.python.array_record_module import ArrayRecordWriter

    from algoperf.workloads.librispeech.reader import LibriSpeechDataset

    (root / speech_files.DIRNAME).mkdir()
    (root / "npy").mkdir()
    rng = np.random.default_rng(0)
    train = speech_files.SPLITS["train"]
    # The train split spans its three subsets' files, as prepared; the others need one.
    sizes = dict.fromkeys(speech_files.RAW_COUNTS, 1)
    for i, subset in enumerate(train):
        sizes[subset] = examples // 3 + (i < examples % 3)
    counts, stems, seconds = {}, [], 0.0
    for subset, size in sizes.items():
        writer = ArrayRecordWriter(
            str(speech_files.record_path(root, subset)), "group_size:1,uncompressed"
        )
        for _ in range(size):
            audio, ids = _utterance(rng)
            writer.write(speech_files.encode(audio, ids))
            if subset in train:
                stem = str(root / "npy" / f"{len(stems)}")
                np.save(f"{stem}_audio.npy", audio.astype(np.int64))
                np.save(f"{stem}_targets.npy", ids.astype(np.int64))
                stems.append(stem)
                seconds += len(audio) / 16_000
        writer.close()
        counts[subset] = {"raw": size, "kept": size}
    (root / speech_files.DIRNAME / speech_files.COUNTS).write_text(json.dumps(counts))
    dataset = LibriSpeechDataset(root)
    return _dataset_row(
        "librispeech_conformer",
        dataset,
        f"{len(stems)} utterances of {seconds / len(stems):.1f} s on average in ArrayRecord -> "
        "float32 (320,000) audio and (256) ids, with paddings",
        {"loop (reference .npy)": _loop(stems, reference_npy_example)},
    )


ROWS: dict[str, Callable[[Path, int], PipelineRow]] = {
    "imagenet_resnet": imagenet_resnet,
    "imagenet_vit": imagenet_vit,
    "cifar": cifar,
    "mnist": mnist,
    "ogbg": ogbg,
    "wmt": wmt,
    "fastmri": fastmri,
    "librispeech": librispeech,
}
"""Each workload's row: writes its examples under a dir (or in memory), returns its pipeline."""


# ---------------------------------------------------------------- timing


def _loop(elements: list[Any], transform: Transform) -> Batches:
    """Batches from a plain loop: one example at a time, stacked with numpy."""

    def batches(batch_size: int, workers: int) -> Iterator[Any]:
        del workers
        index = 0
        while True:
            examples = []
            for _ in range(batch_size):
                element = elements[index % len(elements)]
                examples.append(transform(element, np.random.default_rng(index)))
                index += 1
            yield {key: np.stack([e[key] for e in examples]) for key in examples[0]}

    return batches


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its live children (grain workers)."""
    import psutil

    me = psutil.Process()
    return sum(sum(p.cpu_times()[:2]) for p in (me, *me.children(recursive=True)))


@dataclass(frozen=True)
class Rate:
    """Examples per wall-clock second, and per CPU second of all the pipeline's processes."""

    wall: float
    cpu: float


def measure(batches: Iterator[Any], warmup: int, timed: int, batch_size: int) -> Rate:
    """Steady-state rates over at least `timed` batches and one second, after `warmup`.

    The warm-up covers the workers' start; fast in-memory pipelines need many batches for a
    readable CPU time.
    """
    for _ in range(warmup):
        next(batches)
    start, cpu = time.perf_counter(), _cpu_seconds()
    batch, count = next(batches), 1
    while count < timed or time.perf_counter() - start < MIN_SECONDS:
        batch = next(batches)
        count += 1
    targets = batch["targets"]  # LibriSpeech's are (values, paddings)
    assert len(targets[0] if isinstance(targets, tuple) else targets) >= batch_size
    examples = count * batch_size
    return Rate(examples / (time.perf_counter() - start), examples / (_cpu_seconds() - cpu))


def consumption(workload: str) -> tuple[float, api.HardwareSpec]:
    """Examples/s the registry's budget implies: step_hint x batch size / max runtime."""
    spec = api.get_workload_spec(workload)
    budget = spec.budget(RULES)
    rate = budget.step_hint * spec.baseline_batch_size / budget.max_runtime_sec
    return rate, api.get_rules(RULES).hardware


def run_row(row: PipelineRow, args: argparse.Namespace) -> None:
    print(f"\n{row.workload}: {row.description}, batches of {args.batch_size}")
    print(
        f"{'pipeline':<26} {'ex/s':>6} {'ex/s/worker':>11} {'scaling':>7} "
        f"{'ex/CPU s':>8} {'CPU eff.':>8} {'vs loop (CPU)':>13}"
    )
    rows: dict[str, Rate] = {}
    for label, loop in row.loops.items():
        batches = loop(args.batch_size, 0)
        rows[label] = measure(batches, 1, max(1, args.batches // 4), args.batch_size)
        _print_rate(label, rows[label], 1, None, next(iter(rows.values())))
    base = next(iter(rows.values()))
    one = None
    pipeline_rows: list[str] = []
    for workers in (0, *args.workers):
        batches = row.pipeline(args.batch_size, workers)
        rate = measure(batches, 2 * workers + 2, args.batches, args.batch_size)
        close = getattr(batches, "close", None)
        if close is not None:
            close()
        one = rate if workers == 1 else one
        label = f"pipeline, {workers} workers" if workers else "pipeline, in process"
        _print_rate(label, rate, max(workers, 1), one if workers else None, base)
        rows[label] = rate
        pipeline_rows.append(label)
    need, hardware = consumption(row.workload)
    best = max(pipeline_rows, key=lambda label: rows[label].cpu)
    core_rate = rows[best].cpu
    print(
        f"one {hardware.device_count}x {hardware.device_kind} host consumes {need:,.0f} ex/s "
        f"({RULES}: step hint x batch size / max runtime): {need / core_rate:.1f} cores at "
        f"{core_rate:.0f} ex per CPU second ({best}; goal for ImageNet >= {GOAL_PER_CORE})"
    )


def _print_rate(label: str, rate: Rate, workers: int, one: Rate | None, base: Rate) -> None:
    """A table line; scaling and CPU efficiency are against one worker, when measured."""
    scaling = f"{rate.wall / (workers * one.wall):6.2f}x" if one else ""
    efficiency = f"{rate.cpu / one.cpu:7.2f}x" if one else ""
    print(
        f"{label:<26} {rate.wall:6.0f} {rate.wall / workers:11.0f} {scaling:>7} "
        f"{rate.cpu:8.0f} {efficiency:>8} {rate.cpu / base.cpu:12.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--batches", type=int, default=30, help="timed batches per grain row")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    # grain's worker processes read one of its absl flags, which fails until flags count as
    # parsed; this script parses its own arguments, so grain's keep their defaults.
    from absl import flags  # noqa: TID251

    flags.FLAGS.mark_as_parsed()
    print(
        f"{os.cpu_count()} CPUs. ex/s: wall clock; ex/CPU s: per CPU second of all the "
        "pipeline's processes (the figure to trust on a shared machine)"
    )
    for name in args.workloads:
        with tempfile.TemporaryDirectory() as tmp:
            run_row(ROWS[name](Path(tmp), args.examples), args)


if __name__ == "__main__":
    main()
