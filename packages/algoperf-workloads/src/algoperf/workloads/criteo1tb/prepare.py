"""Prepare Criteo 1TB: split the 24 downloaded day files into the reference's layout, or check it.

Criteo's click logs cannot be downloaded by a script (the reference scraped a WeTransfer
page), so the download is a manual step. Given `day_{d}.gz` (or decompressed `day_{d}`)
files in the data dir, each day is streamed through gzip and written as `day_{d}_{NN}`
files of 5,000,000 lines, what the reference's `split -a 2 -d -l 5000000` makes. Parts are
written under temporary names and renamed when complete, and a finished day gets a marker
file (`day_{d}.split-done`, holding its line count), so an interrupted run resumes with the
first unfinished day (a day with a download but no marker is split again). Days split by
the reference's script (parts, no download) are checked, not redone.

The check is cheap by default (no pass over the terabyte): file numbering, 36 files for
day 23, every file but the last of a day large enough for 5,000,000 lines and ending with a
newline, and the line count of `day_23_35`, which fixes the validation split's size.
`count_lines=True` also counts every line (an hour or more of reading).
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from algoperf.api import get_workload_spec
from algoperf.workloads._prepare import ManualStepRequired
from algoperf.workloads.criteo1tb import files
from algoperf.workloads.criteo1tb.files import (
    EVAL_DAY,
    LINES_PER_FILE,
    MIN_LINE_BYTES,
    NUM_DAYS,
    NUM_EVAL_DAY_FILES,
    NUM_TEST_FILES,
    CriteoLayoutError,
    day_files,
    prepare_command,
)

MARKER_SUFFIX = ".split-done"
_TEMP_SUFFIX = ".partial"


def prepare(data_dir: Path, echo: Callable[[str], None], *, count_lines: bool = False) -> None:
    """Split the downloaded Criteo 1TB days in `data_dir` into day files, or check them.

    Args:
        data_dir: the folder of `day_{d}.gz` / `day_{d}` downloads and `day_{d}_{NN}` parts.
        echo: prints one line of progress.
        count_lines: also count every line of every part (slow: about 1 TB of reading).

    Raises:
        ManualStepRequired: if days are neither downloaded nor split (says what to download).
        CriteoLayoutError: naming the file, if split days do not have the reference's layout.
    """
    validation = get_workload_spec("criteo1tb").num_validation_examples
    last_lines = validation - (NUM_EVAL_DAY_FILES - NUM_TEST_FILES - 1) * LINES_PER_FILE
    _prepare(data_dir, echo, LINES_PER_FILE, count_lines=count_lines, last_eval_lines=last_lines)


def _prepare(
    data_dir: Path,
    echo: Callable[[str], None],
    lines_per_file: int,
    *,
    count_lines: bool = False,
    last_eval_lines: int | None = None,
) -> None:
    """`prepare` with the part size and day 23's last-file line count as parameters."""
    data_dir = Path(data_dir)
    missing = []
    for day in range(NUM_DAYS):
        if _marker(data_dir, day).exists():
            continue
        raw = _raw_file(data_dir, day)
        if raw is None:  # split elsewhere (the reference's script), checked below, or missing
            if day not in day_files(data_dir):
                missing.append(day)
            continue
        echo(f"criteo1tb: splitting {raw.name} into {lines_per_file:,}-line files")
        lines = split_day(raw, data_dir, day, lines_per_file)
        _marker(data_dir, day).write_text(json.dumps({"source": raw.name, "lines": lines}))
        echo(f"criteo1tb: day {day} done, {lines:,} lines")
    if missing:
        raise ManualStepRequired(_manual_steps(data_dir, missing))
    check_layout(data_dir, lines_per_file, count_lines=count_lines, last_eval_lines=last_eval_lines)
    raws = [p.name for d in range(NUM_DAYS) if (p := _raw_file(data_dir, d)) is not None]
    echo(f"criteo1tb: {data_dir} holds the 24 split days")
    if raws:
        echo(f"criteo1tb: the downloads ({raws[0]}, ...) are no longer needed and may be deleted")


def _marker(data_dir: Path, day: int) -> Path:
    return data_dir / f"day_{day}{MARKER_SUFFIX}"


def _raw_file(data_dir: Path, day: int) -> Path | None:
    """The downloaded `day_{d}.gz`, or its decompressed `day_{d}`, if present."""
    for name in (f"day_{day}.gz", f"day_{day}"):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


def _manual_steps(data_dir: Path, days: list[int]) -> str:
    which = "all 24 days" if len(days) == NUM_DAYS else "days " + ", ".join(map(str, days))
    return (
        f"Criteo 1TB is not in {data_dir} ({which} missing). Download it by hand:\n"
        "  1. Get the Criteo 1TB Click Logs dataset from Criteo's AI Lab site (search for "
        "'Criteo 1TB Click Logs dataset'; it needs accepting their terms) and save the 24 "
        f"files day_0.gz ... day_23.gz (about 350 GB) into {data_dir}.\n"
        "     Decompressed day_0 ... day_23 files work too.\n"
        f"  2. Run again: {prepare_command(data_dir)}\n"
        "     It splits each day into day_{d}_{NN} files of 5,000,000 lines (about 1.1 TB in "
        "all; resumable) and checks the result."
    )


# ---------------------------------------------------------------- splitting


def _open(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


class _PartWriter:
    """Writes `day_{d}_{NN}` parts one after another, each under a temporary name first."""

    def __init__(self, data_dir: Path, day: int) -> None:
        self.data_dir, self.day = data_dir, day
        self.count = 0
        self._out: IO[bytes] | None = None
        self._temp: Path | None = None

    def write(self, data: bytes | memoryview) -> None:
        if self._out is None:
            self._temp = self.data_dir / f"day_{self.day}_{self.count:02d}{_TEMP_SUFFIX}"
            self._out = self._temp.open("wb")
        self._out.write(data)

    def finish_part(self) -> None:
        """Close the current part and give it its final name (atomically)."""
        if self._out is None or self._temp is None:
            return
        self._out.close()
        self._temp.replace(self.data_dir / f"day_{self.day}_{self.count:02d}")
        self._out, self._temp = None, None
        self.count += 1

    def abandon(self) -> None:
        if self._out is not None and self._temp is not None:
            self._out.close()
            self._temp.unlink()


def _nth_newline(block: bytes, start: int, n: int) -> int:
    """Index of the `n`-th newline of `block` at or after `start` (which must exist)."""
    found = np.flatnonzero(np.frombuffer(block, np.uint8, offset=start) == ord("\n"))
    return start + int(found[n - 1])


def split_day(
    raw: Path,
    data_dir: Path,
    day: int,
    lines_per_file: int = LINES_PER_FILE,
    block_bytes: int = 1 << 24,
) -> int:
    """Write `raw` as `day_{day}_{NN}` files of `lines_per_file` lines; returns the line count.

    Streams `block_bytes` at a time (through gzip for `.gz`). Each part is written under a
    temporary name and renamed when complete, so a part file is always whole; parts of an
    interrupted earlier run are overwritten.
    """
    for stale in data_dir.glob(f"day_{day}_*{_TEMP_SUFFIX}"):
        stale.unlink()
    writer = _PartWriter(data_dir, day)
    total, remaining, last = 0, lines_per_file, b"\n"
    try:
        with _open(raw) as stream:
            while block := stream.read(block_bytes):
                pos, last, view = 0, block[-1:], memoryview(block)
                while pos < len(block):
                    newlines = block.count(b"\n", pos)
                    if newlines < remaining:
                        writer.write(view[pos:])
                        remaining -= newlines
                        total += newlines
                        break
                    end = _nth_newline(block, pos, remaining) + 1
                    writer.write(view[pos:end])
                    writer.finish_part()
                    total += remaining
                    pos, remaining = end, lines_per_file
        writer.finish_part()  # the last, short part
    except BaseException:
        writer.abandon()
        raise
    for extra in day_files(data_dir).get(day, [])[writer.count :]:
        extra.unlink()  # parts beyond the last one, left by an earlier, different split
    return total + (last != b"\n")


# ---------------------------------------------------------------- checking


def _day_problems(day: int, parts: list[Path], lines_per_file: int) -> list[str]:
    """What is wrong with one day's parts, cheaply (sizes, numbering, last bytes)."""
    problems = []
    names = [p.name for p in parts]
    expected = [f"day_{day}_{i:02d}" for i in range(len(parts))]
    if names != expected:
        gaps = sorted(set(expected) - set(names))
        problems.append(
            f"day {day} parts are not numbered 00 to {len(parts) - 1:02d} "
            f"(missing {', '.join(gaps[:3]) or 'none'}; have {', '.join(names[-2:])})"
        )
    if day == EVAL_DAY and len(parts) != NUM_EVAL_DAY_FILES:
        problems.append(f"day {day} has {len(parts)} files, not {NUM_EVAL_DAY_FILES}")
    for path in parts[:-1]:
        size = path.stat().st_size
        if size < lines_per_file * MIN_LINE_BYTES:
            problems.append(
                f"{path} has {size:,} bytes, too few for {lines_per_file:,} lines "
                "(every file but the last of a day holds that many)"
            )
        elif not _ends_with_newline(path):
            problems.append(f"{path} does not end with a newline (truncated?)")
    if parts and parts[-1].stat().st_size == 0:
        problems.append(f"{parts[-1]} is empty")
    return problems


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, 2)
        return f.read(1) == b"\n"


def check_layout(
    data_dir: Path,
    lines_per_file: int = LINES_PER_FILE,
    *,
    count_lines: bool = False,
    last_eval_lines: int | None = None,
) -> None:
    """Check that `data_dir` holds the 24 split days in the reference's layout.

    Args:
        data_dir: the folder of `day_{d}_{NN}` files.
        lines_per_file: lines of every file but the last of a day.
        count_lines: count the lines of every file (slow) instead of checking sizes.
        last_eval_lines: lines `day_23_35` must hold (it fixes the validation size); None
            skips this check.

    Raises:
        CriteoLayoutError: naming the files that are wrong and the command to fix them.
    """
    days = day_files(data_dir)
    problems = [f"day {d} has no day_{d}_NN files" for d in range(NUM_DAYS) if d not in days]
    for day, parts in days.items():
        if day < NUM_DAYS:
            problems += _day_problems(day, parts, lines_per_file)
            if count_lines:
                problems += _line_problems(parts, lines_per_file)
    eval_parts = days.get(EVAL_DAY, [])
    if last_eval_lines is not None and len(eval_parts) == NUM_EVAL_DAY_FILES:
        lines = files.count_lines(eval_parts[-1])
        if lines != last_eval_lines:
            problems.append(
                f"{eval_parts[-1]} has {lines:,} lines, not {last_eval_lines:,} "
                "(the validation split would have the wrong size)"
            )
    if problems:
        raise CriteoLayoutError(
            f"Criteo 1TB in {data_dir} is not in the expected layout:\n  "
            + "\n  ".join(problems)
            + f"\nDelete the wrong day's files (and its day_{{d}}{MARKER_SUFFIX} marker), then "
            f"run again: {prepare_command(data_dir)}"
        )


def _line_problems(parts: list[Path], lines_per_file: int) -> list[str]:
    problems = []
    for path in parts[:-1]:
        lines = files.count_lines(path)
        if lines != lines_per_file:
            problems.append(f"{path} has {lines:,} lines, not {lines_per_file:,}")
    return problems
