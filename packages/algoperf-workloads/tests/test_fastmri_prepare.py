"""`algoperf-datasets prepare fastmri`: extraction of fake tarballs, resume, verification, CLI."""

import io
import tarfile

import h5py
import numpy as np
import pytest

from algoperf.workloads import datasets_cli
from algoperf.workloads._prepare import ManualStepRequired
from algoperf.workloads.fastmri import data, prepare

# Slices per fake volume: train 3 + 2, val 2 + 1 (validation, the first 2 files) + 3 (test).
TRAIN, VAL = (3, 2), (2, 1, 3)
EXPECTED = {"train": 5, "validation": 3, "test": 3}


def _volume_bytes(slices, seed):
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f["kspace"] = rng.normal(size=(slices, 8, 6)).astype(np.complex64)
        f["reconstruction_esc"] = rng.random((slices, 4, 4)).astype(np.float32)
        f.attrs["max"] = 1.0
    return buffer.getvalue()


def _tarball(path, folder, counts):
    with tarfile.open(path, "w:xz") as archive:
        readme = tarfile.TarInfo(f"{folder}/README")
        archive.addfile(readme, io.BytesIO(b""))
        for i, n in enumerate(counts):
            payload = _volume_bytes(n, i)
            info = tarfile.TarInfo(f"{folder}/file{1000 + i}.h5")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))


@pytest.fixture
def downloads(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "NUM_VALIDATION_FILES", 2)
    manual = tmp_path / "downloads"
    manual.mkdir()
    _tarball(manual / "knee_singlecoil_train.tar.xz", "singlecoil_train", TRAIN)
    _tarball(manual / "knee_singlecoil_val.tar.xz", "singlecoil_val", VAL)
    return manual


def test_extracts_verifies_and_then_only_verifies(tmp_path, downloads):
    out, lines = tmp_path / "data", []
    prepare.prepare(out, downloads, lines.append, expected=EXPECTED)
    assert sorted(p.name for p in (out / data.TRAIN_DIR).iterdir()) == [
        ".extracted",
        "file1000.h5",
        "file1001.h5",
    ]
    assert lines[-1] == f"fastmri: ok ({out})"
    assert data.FastMRIDataset(str(out)).num_examples("test") == 3
    lines.clear()
    prepare.prepare(out, downloads, lines.append, expected=EXPECTED)
    assert sum("already extracted" in line for line in lines) == 2


def test_an_interrupted_extraction_resumes_without_rewriting_complete_files(tmp_path, downloads):
    target = tmp_path / "data" / data.VAL_DIR
    target.mkdir(parents=True)
    complete = target / "file1000.h5"
    complete.write_bytes(_volume_bytes(VAL[0], 0))
    (target / "file1001.h5").write_bytes(b"truncated")  # cut short: written again
    before = complete.stat().st_mtime_ns
    assert (
        prepare.extract(tmp_path / "downloads" / "knee_singlecoil_val.tar.xz", target, print) == 2
    )
    assert complete.stat().st_mtime_ns == before
    assert data.count_slices(str(target / "file1001.h5")) == VAL[1]
    assert not list(target.glob("*.partial"))


def test_extracted_folders_are_linked_not_copied(tmp_path, downloads):
    manual = tmp_path / "extracted"
    for folder in ("singlecoil_train", "singlecoil_val"):
        (manual / folder).mkdir(parents=True)
        tarball = downloads / f"knee_{folder}.tar.xz"
        prepare.extract(tarball, manual / folder, print)
    out = tmp_path / "data"
    prepare.prepare(out, manual, print, expected=EXPECTED)
    assert (out / data.TRAIN_DIR).is_symlink()
    assert data.FastMRIDataset(str(out)).num_examples("train") == 5


def test_a_wrong_slice_count_names_the_split_and_both_numbers(tmp_path, downloads):
    with pytest.raises(prepare.FastMRILayoutError, match="validation: expected 4 slices, found 3"):
        prepare.prepare(tmp_path / "d", downloads, print, expected={**EXPECTED, "validation": 4})


def test_missing_downloads_say_what_to_fetch_and_where(tmp_path):
    with pytest.raises(
        ManualStepRequired, match=r"knee_singlecoil_train\.tar\.xz and knee_singlecoil_val"
    ):
        prepare.prepare(tmp_path / "d", tmp_path, print)


def test_cli_takes_the_manual_dir_and_reports_a_mismatch_against_the_spec(
    tmp_path, downloads, capsys
):
    out = tmp_path / "data"
    args = ["prepare", "fastmri", "--data-dir", str(out), "--manual-dir", str(downloads)]
    assert datasets_cli.cli(args) == datasets_cli.FAILED
    err = capsys.readouterr().err
    assert "train: expected 34,742 slices, found 5" in err
    assert (out / data.TRAIN_DIR / prepare.MARKER).exists()
    assert datasets_cli.status_line("fastmri", out).startswith(
        "fastmri: knee_singlecoil_train: 2 files"
    )
    code = datasets_cli.cli(["prepare", "fastmri", "--data-dir", str(tmp_path / "empty")])
    assert code == datasets_cli.NEEDS_USER
    assert "licence form" in capsys.readouterr().err
