"""TF-free reading of TFDS datasets prepared as ArrayRecord (`algoperf-datasets prepare`).

Reading goes through `tfds.data_source`, which needs `tensorflow-datasets` and `array-record`
but not TensorFlow (the `tfds` extra). Records are fetched in chunks with the data source's
batched `__getitems__` (ArrayRecord reads them in parallel) and decoded to numpy. A dataset
that is not prepared under the data dir raises `DatasetNotPreparedError` naming the command
that prepares it; nothing here downloads.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from algoperf.api import AlgoPerfError

CHUNK = 1024
"""Records per `__getitems__` call."""


class TfdsNotInstalledError(AlgoPerfError, ImportError):
    """Reading a TFDS dataset needs tensorflow-datasets and array-record."""


class DatasetNotPreparedError(AlgoPerfError, FileNotFoundError):
    """A TFDS dataset is missing from the data dir, or was prepared in another file format."""


def import_tfds() -> Any:
    """The `tensorflow_datasets` module, imported on first use.

    Raises:
        TfdsNotInstalledError: naming the extra to install when it is missing.
    """
    try:
        return importlib.import_module("tensorflow_datasets")
    except ImportError as error:
        raise TfdsNotInstalledError(
            f"reading TFDS datasets needs tensorflow-datasets and array-record ({error}); "
            "install them with: pip install 'algoperf-workloads[tfds]'"
        ) from error


def dataset_name(name: str) -> str:
    """The bare dataset name of a TFDS name such as 'cifar10:3.0.2' or 'wmt14/de-en:1.0.0'."""
    return name.split(":")[0].split("/")[0]


def prepare_command(name: str, data_dir: str | None) -> str:
    """The shell command that prepares dataset `name` under `data_dir`."""
    where = f" --data-dir {data_dir}" if data_dir else " --data-dir DATA_DIR"
    return f"algoperf-datasets prepare {dataset_name(name)}{where}"


def data_source(
    name: str, split: str, data_dir: str | None, decoders: Mapping[str, Any] | None = None
) -> Sequence[dict[str, Any]]:
    """The random-access data source of one split of a prepared TFDS dataset.

    Args:
        name: TFDS name, optionally with a version ('ogbg_molpcba:0.1.3').
        split: a split, slicing allowed ('train[:50000]').
        data_dir: the TFDS data dir; None for TFDS's default (`TFDS_DATA_DIR` or
            ~/tensorflow_datasets).
        decoders: TFDS decoders per feature, e.g. `{'image': tfds.decode.SkipDecoding()}`
            for the encoded bytes.

    Returns:
        A sequence of examples, each a dict of numpy arrays (or nested dicts).

    Raises:
        TfdsNotInstalledError: if tensorflow-datasets is not installed.
        DatasetNotPreparedError: if the dataset is not prepared as ArrayRecord in `data_dir`.
    """
    tfds = import_tfds()
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        # Neither in TFDS's registry nor prepared under data_dir.
        raise _not_prepared_error(name, "is not prepared", data_dir) from error
    try:
        return builder.as_data_source(split=split, decoders=decoders)
    except Exception as error:
        problem = _problem(builder)
        if problem is None:
            raise
        raise _not_prepared_error(name, problem, data_dir) from error


def _not_prepared_error(name: str, problem: str, data_dir: str | None) -> DatasetNotPreparedError:
    where = data_dir or "TFDS's default data dir (TFDS_DATA_DIR or ~/tensorflow_datasets)"
    return DatasetNotPreparedError(
        f"TFDS dataset {name!r} {problem} in data dir {where}; "
        f"prepare it with: {prepare_command(name, data_dir)}"
    )


def _problem(builder: Any) -> str | None:
    """Why `builder`'s data cannot be read as a data source, or None if it looks readable."""
    if not builder.is_prepared():
        return "is not prepared"
    file_format = getattr(builder.info.file_format, "value", builder.info.file_format)
    if file_format != "array_record":
        return (
            f"is prepared as {file_format}, not as ArrayRecord, which reads without TensorFlow "
            f"(move {builder.data_dir} away first)"
        )
    return None


def _get_many(source: Sequence[Any], keys: range) -> Sequence[Any]:
    """Records `keys` of `source`, in one batched `__getitems__` call where it has one."""
    getitems = getattr(source, "__getitems__", None)
    if getitems is not None:
        try:
            return getitems(list(keys))
        except TypeError:
            # tfds.testing.mock_data's sources break `__getitems__` (tfds 4.9.x); a genuine
            # decoding error raises again below, one record at a time.
            pass
    return [source[k] for k in keys]


def _flatten(example: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested feature dicts flattened to 'outer/inner' keys."""
    flat = {}
    for key, value in example.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@dataclass(frozen=True)
class RaggedSplit:
    """A split's features as columns: ragged ones concatenated along axis 0, with row counts."""

    arrays: dict[str, np.ndarray]
    """Feature name to array: fixed-shape features stacked (N, ...), ragged ones
    concatenated (sum of row counts, ...)."""
    row_counts: dict[str, np.ndarray]
    """Ragged feature name to (N,) int64 rows per example; example i owns the next
    row_counts[key][i] rows of arrays[key]."""

    def __len__(self) -> int:
        """Number of examples."""
        for counts in self.row_counts.values():
            return len(counts)
        return len(next(iter(self.arrays.values()), ()))


def read_columns(
    source: Sequence[Any], ragged: Collection[str] = (), chunk: int | None = None
) -> RaggedSplit:
    """Every example of `source`, read `chunk` records at a time, as columns.

    Args:
        source: a data source (or any sequence) of feature dicts.
        ragged: features whose first axis varies between examples; they are concatenated.
        chunk: records per batched read (default `CHUNK`).

    Returns:
        Fixed-shape features stacked, `ragged` ones concatenated, with their row counts.

    Raises:
        ValueError: if a feature's shape varies but it is not in `ragged`, or a `ragged`
            feature is missing.
    """
    chunk = chunk or CHUNK
    parts: dict[str, list[np.ndarray]] = {}
    counts: dict[str, list[np.ndarray]] = {key: [] for key in ragged}
    for start in range(0, len(source), chunk):
        examples = [
            _flatten(e) for e in _get_many(source, range(start, min(start + chunk, len(source))))
        ]
        if missing := set(ragged) - set(examples[0]):
            raise ValueError(f"no features {sorted(missing)}; the data has {sorted(examples[0])}")
        for key in examples[0]:
            values = [e[key] for e in examples]
            if key in counts:
                counts[key].append(np.array([len(v) for v in values], np.int64))
                parts.setdefault(key, []).append(np.concatenate(values))
            else:
                parts.setdefault(key, []).append(_stack(key, values))
    arrays = {key: np.concatenate(values) for key, values in parts.items()}
    row_counts = {
        key: np.concatenate(c) if c else np.zeros(0, np.int64) for key, c in counts.items()
    }
    return RaggedSplit(arrays, row_counts)


def _stack(key: str, values: list[Any]) -> np.ndarray:
    try:
        return np.stack(values)
    except ValueError as error:
        shapes = sorted({np.shape(v) for v in values})[:3]
        raise ValueError(
            f"feature {key!r} has different shapes in different examples ({shapes}...); "
            "read it with read_ragged_split"
        ) from error


def read_split(name: str, split: str, data_dir: str | None) -> dict[str, np.ndarray]:
    """All examples of a TFDS split, stacked into numpy arrays keyed by feature name.

    Every feature must have the same shape in every example (see `read_ragged_split`
    otherwise); nested features get 'outer/inner' keys. An empty split gives an empty dict.

    Args:
        name: TFDS name, optionally with a version ('cifar10:3.0.2').
        split: a split, slicing allowed ('train[:50000]', 'train[50000:]').
        data_dir: the TFDS data dir; None for TFDS's default.

    Returns:
        Feature name to an array whose axis 0 is the example ('image': (N, 28, 28, 1) uint8).

    Raises:
        TfdsNotInstalledError: if tensorflow-datasets is not installed.
        DatasetNotPreparedError: if the dataset is not prepared as ArrayRecord in `data_dir`.
    """
    return read_columns(data_source(name, split, data_dir)).arrays


def read_ragged_split(
    name: str, split: str, data_dir: str | None, ragged: Collection[str]
) -> RaggedSplit:
    """All examples of a TFDS split; the `ragged` features (variable axis 0) concatenated.

    Args:
        name: TFDS name, optionally with a version ('ogbg_molpcba:0.1.3').
        split: a split, slicing allowed.
        data_dir: the TFDS data dir; None for TFDS's default.
        ragged: the features whose first axis varies between examples ('node_feat', ...).

    Returns:
        The stacked and concatenated arrays and the ragged features' row counts.

    Raises:
        TfdsNotInstalledError: if tensorflow-datasets is not installed.
        DatasetNotPreparedError: if the dataset is not prepared as ArrayRecord in `data_dir`.
        ValueError: if a `ragged` feature is not in the dataset.
    """
    return read_columns(data_source(name, split, data_dir), ragged)
