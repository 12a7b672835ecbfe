"""The reference's file layout of Criteo 1TB: `day_{d}_{NN}` TSV files of 5,000,000 lines.

The 24 days of click logs are split with `split -a 2 -d -l 5000000 day_{d} day_{d}_`, so every
file but the last of its day holds exactly 5,000,000 lines. Days 0-22 are the training split;
day 23 has 36 files, of which the first 19 (`day_23_00`-`day_23_18`) are the test split and the
last 17 (`day_23_19`-`day_23_35`) the validation split, as in the reference.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from algoperf.api import AlgoPerfError

NUM_DAYS = 24
TRAIN_DAYS = tuple(range(23))
EVAL_DAY = 23
NUM_EVAL_DAY_FILES = 36
NUM_TEST_FILES = NUM_EVAL_DAY_FILES // 2 + 1
"""day_23_00 to day_23_18 are the test split; the rest of day 23 is the validation split."""
LINES_PER_FILE = 5_000_000
MIN_LINE_BYTES = 41
"""A line holds a label, 39 tabs and a newline at least."""

_PART = re.compile(r"day_(\d+)_(\d{2,})")
SPLITS = ("train", "eval_train", "validation", "test")


class CriteoDataNotFoundError(AlgoPerfError, FileNotFoundError):
    """Criteo 1TB day files are missing from the data dir."""


class CriteoLayoutError(AlgoPerfError, ValueError):
    """Criteo 1TB day files are present but not in the reference's layout."""


def prepare_command(data_dir: str | Path) -> str:
    """The shell command that prepares Criteo 1TB under `data_dir`."""
    return f"algoperf-datasets prepare criteo1tb --data-dir {data_dir}"


def day_files(data_dir: Path) -> dict[int, list[Path]]:
    """Day to its `day_{d}_{NN}` files in `data_dir`, in file order (temp files excluded)."""
    days: dict[int, list[tuple[int, Path]]] = {}
    for path in data_dir.iterdir() if data_dir.is_dir() else ():
        match = _PART.fullmatch(path.name)
        if match and path.is_file():
            days.setdefault(int(match[1]), []).append((int(match[2]), path))
    return {day: [p for _, p in sorted(parts)] for day, parts in sorted(days.items())}


def eval_day_names(split: str) -> list[str]:
    """The day-23 file names of the 'validation' or 'test' split, in order."""
    parts = range(NUM_TEST_FILES) if split == "test" else range(NUM_TEST_FILES, NUM_EVAL_DAY_FILES)
    return [f"day_{EVAL_DAY}_{i:02d}" for i in parts]


def _lookup(data_dir: Path, split: str) -> tuple[list[Path], list[str]]:
    """The files of `split` that exist, in reading order, and the names or patterns missing."""
    if split not in SPLITS:
        raise ValueError(f"unknown Criteo split {split!r}; expected one of {SPLITS}")
    days = day_files(data_dir)
    if split in ("train", "eval_train"):
        missing = [f"day_{d}_*" for d in TRAIN_DAYS if d not in days]
        return [path for d in TRAIN_DAYS for path in days.get(d, [])], missing
    present = {path.name: path for path in days.get(EVAL_DAY, [])}
    names = eval_day_names(split)
    return [present[n] for n in names if n in present], [n for n in names if n not in present]


def _not_found(data_dir: Path, missing: dict[str, list[str]]) -> CriteoDataNotFoundError:
    """The error naming each split's missing files (or patterns) and the prepare command."""
    listed = "; ".join(f"{split}: {_shorten(names)}" for split, names in missing.items() if names)
    return CriteoDataNotFoundError(
        f"Criteo 1TB files are missing from data dir {data_dir} ({listed}); "
        f"prepare them with: {prepare_command(data_dir)}"
    )


def split_files(data_dir: str | Path, split: str) -> list[Path]:
    """The files of `split` in reading order (train files by day, before any shuffling).

    Args:
        data_dir: the folder holding the `day_{d}_{NN}` files.
        split: 'train', 'eval_train', 'validation' or 'test'.

    Returns:
        The split's files.

    Raises:
        CriteoDataNotFoundError: naming the data dir, the missing files and the prepare
            command, if any file of the split is missing.
    """
    paths, missing = _lookup(Path(data_dir), split)
    if missing:
        raise _not_found(Path(data_dir), {split: missing})
    return paths


def check_present(data_dir: str | Path) -> None:
    """Raise `CriteoDataNotFoundError` naming the missing files of every split, if any."""
    missing = {
        split: _lookup(Path(data_dir), split)[1] for split in ("train", "validation", "test")
    }
    if any(missing.values()):
        raise _not_found(Path(data_dir), missing)


def _shorten(names: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def count_lines(path: Path, chunk_bytes: int = 1 << 24) -> int:
    """Lines in a text file; a last line without a newline counts, as in TextLineDataset."""
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while chunk := f.read(chunk_bytes):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def count_examples(
    data_dir: str | Path, split: str, lines_per_file: int | None = LINES_PER_FILE
) -> int:
    """Examples in `split`, counting as few lines as the layout allows.

    Every file but the last of its day holds `lines_per_file` lines (what `split -l` makes
    and `prepare` checks), so only the last file of each day is read: nothing for 'test',
    `day_23_35` for 'validation', one file per day for 'train'. A file too small to hold
    `lines_per_file` lines is an error. With `lines_per_file=None` every file is counted.

    Raises:
        CriteoDataNotFoundError: if files of the split are missing.
        CriteoLayoutError: if a file that should be full is too small for `lines_per_file`
            lines.
    """
    files = split_files(data_dir, split)
    last_of_day = {parts[-1] for parts in day_files(Path(data_dir)).values()}
    total = 0
    for path in files:
        if lines_per_file is None or path in last_of_day:
            total += count_lines(path)
            continue
        if path.stat().st_size < lines_per_file * MIN_LINE_BYTES:
            raise CriteoLayoutError(
                f"{path} has {path.stat().st_size} bytes, too few for the {lines_per_file} "
                f"lines every file but the last of a day holds; re-run: "
                f"{prepare_command(data_dir)}"
            )
        total += lines_per_file
    return total
