"""Prepare fastMRI knee single-coil: extract the downloaded tarballs, then verify the layout.

NYU hands the files out behind a licence form (https://fastmri.med.nyu.edu), so the download
is a manual step: `knee_singlecoil_train.tar.xz` and `knee_singlecoil_val.tar.xz` (or their
extracted `singlecoil_{train,val}` / `knee_singlecoil_{train,val}` folders) in a manual dir.
Each tarball is streamed and its .h5 files written into `DATA_DIR/knee_singlecoil_{split}/`,
each under a temporary name renamed when complete; a file already there at its full size
is skipped, so an interrupted run resumes (xz cannot seek: the stream is read again, but
nothing is rewritten). A finished folder gets a marker file. An extracted folder elsewhere
is linked, not copied.

The check reads every file's HDF5 header: train must hold 34,742 slices, the first 100
sorted val files (validation) 3,554 and the remaining ones (test) 3,581.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path

from algoperf.api import AlgoPerfError, get_workload_spec
from algoperf.workloads._prepare import ManualStepRequired
from algoperf.workloads.fastmri import data

MARKER = ".extracted"
_TEMP_SUFFIX = ".partial"
DOWNLOADS = {
    data.TRAIN_DIR: "knee_singlecoil_train.tar.xz",
    data.VAL_DIR: "knee_singlecoil_val.tar.xz",
}
"""Extracted folder -> the tarball NYU's download page names."""


class FastMRILayoutError(AlgoPerfError):
    """Prepared fastMRI files do not hold the expected splits."""


def expected_sizes() -> dict[str, int]:
    """Slices per split, as the fastmri workload's spec counts them."""
    spec = get_workload_spec("fastmri")
    return {
        "train": spec.num_train_examples,
        "validation": spec.num_validation_examples,
        "test": spec.num_test_examples or 0,
    }


def prepare(
    data_dir: Path,
    manual_dir: Path | None,
    echo: Callable[[str], None],
    *,
    expected: Mapping[str, int] | None = None,
) -> None:
    """Extract (or link) the downloads into `data_dir`, then verify the splits' slice counts.

    Args:
        data_dir: where `knee_singlecoil_{train,val}/` are made.
        manual_dir: where the downloads are (default: `data_dir`).
        echo: prints one line of progress.
        expected: slices per split (default: the spec's; tests pass small ones).

    Raises:
        ManualStepRequired: if a split is neither prepared nor downloaded (says what to get).
        FastMRILayoutError: naming the split and both counts, if a split has another size.
    """
    manual_dir = manual_dir or data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    missing = []
    for folder, tarball in DOWNLOADS.items():
        target = data_dir / folder
        if (target / MARKER).exists():
            echo(f"fastmri: {target} already extracted")
            continue
        source = _extracted_folder(manual_dir, folder)
        if (manual_dir / tarball).exists():
            extract(manual_dir / tarball, target, echo)
            (target / MARKER).write_text("complete\n")
        elif source is not None and source.resolve() != target.resolve():
            if target.is_symlink() or target.exists():
                raise FastMRILayoutError(
                    f"{target} exists but is not a finished extraction; move it away and rerun"
                )
            target.symlink_to(source.resolve(), target_is_directory=True)
            echo(f"fastmri: linked {target} -> {source}")
        elif source is not None:
            echo(f"fastmri: using the extracted files in {target}")
        else:
            missing.append(tarball)
    if missing:
        raise ManualStepRequired(
            "fastmri: the NYU fastMRI files are behind a licence form; request access at "
            f"https://fastmri.med.nyu.edu, download {' and '.join(missing)} into {manual_dir}, "
            f"then rerun: algoperf-datasets prepare fastmri --data-dir {data_dir} "
            f"--manual-dir {manual_dir}"
        )
    problems = [line for line, ok in check(data_dir, expected or expected_sizes()) if not ok]
    if problems:
        raise FastMRILayoutError(f"fastmri: {'; '.join(problems)} (under {data_dir})")
    echo(f"fastmri: ok ({data_dir})")


def _extracted_folder(manual_dir: Path, folder: str) -> Path | None:
    """An extracted split folder holding .h5 files in `manual_dir`, under either name."""
    for name in (folder, folder.removeprefix("knee_")):
        candidate = manual_dir / name
        if candidate.is_dir() and any(candidate.glob("*.h5")):
            return candidate
    return None


def extract(tarball: Path, target: Path, echo: Callable[[str], None]) -> int:
    """Stream the .h5 files of `tarball` into `target` (flat), skipping complete ones.

    Returns the number of files written (not skipped).
    """
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    echo(f"fastmri: extracting {tarball} into {target}")
    with tarfile.open(tarball, mode="r|*") as archive:
        for member in archive:
            if not (member.isfile() and member.name.endswith(".h5")):
                continue
            path = target / os.path.basename(member.name)
            if path.exists() and path.stat().st_size == member.size:
                continue
            stream = archive.extractfile(member)
            if stream is None:
                continue
            partial = path.with_name(path.name + _TEMP_SUFFIX)
            with partial.open("wb") as out:
                shutil.copyfileobj(stream, out, length=1 << 22)
            partial.replace(path)
            written += 1
    return written


def check(data_dir: Path, expected: Mapping[str, int]) -> list[tuple[str, bool]]:
    """One (line, ok) per split: its slice count against `expected`."""
    lines = []
    for split, want in expected.items():
        try:
            found = data.slice_index(str(data_dir), split).num_examples
        except data.FastMRIDataError as error:
            lines.append((f"{split}: {error}", False))
            continue
        if found == want:
            lines.append((f"{split}: {found:,} slices ok", True))
        else:
            lines.append((f"{split}: expected {want:,} slices, found {found:,}", False))
    return lines


def state(data_dir: Path) -> str:
    """One line on what is under `data_dir` (no file is opened)."""
    parts = []
    for folder in DOWNLOADS:
        target = data_dir / folder
        files = len(list(target.glob("*.h5"))) if target.is_dir() else 0
        done = (target / MARKER).exists() or target.is_symlink()
        parts.append(f"{folder}: {files} files{'' if done or not files else ' (incomplete)'}")
    if not any((data_dir / folder).is_dir() for folder in DOWNLOADS):
        return (
            f"not prepared (algoperf-datasets prepare fastmri --data-dir {data_dir} "
            "--manual-dir DIR_OF_THE_DOWNLOADS)"
        )
    return "; ".join(parts)
