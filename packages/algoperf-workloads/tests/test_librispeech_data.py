"""LibriSpeech preparation and reading, end to end on a tiny fake openslr tree (no network).

The test writes 16 kHz FLAC files with soundfile and LibriSpeech-style transcripts for every
subset and serves each subset as a tarball from a local HTTP server; `prepare` downloads and
extracts them, trains the tokenizer, filters and writes ArrayRecord files; the reader serves
them as the workloads' splits.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("sentencepiece")
pytest.importorskip("array_record")

from algoperf.workloads import get_workload  # noqa: E402
from algoperf.workloads.librispeech import files  # noqa: E402
from algoperf.workloads.librispeech.prepare import (  # noqa: E402
    Download,
    LibriSpeechPrepareError,
    extract,
    prepare,
)
from algoperf.workloads.librispeech.reader import (  # noqa: E402
    DatasetNotPreparedError,
    LibriSpeechDataset,
)
from algoperf.workloads.testing import serve_files  # noqa: E402

WORDS = [
    "THE",
    "CAT",
    "SAT",
    "ON",
    "A",
    "MAT",
    "WITH",
    "HER",
    "HAT",
    "AND",
    "THEN",
    "RAN",
    "TO",
    "THE",
    "BARN",
    "AT",
    "NIGHT",
]


def _write_tree(raw: Path) -> dict[str, list[tuple[str, np.ndarray, str]]]:
    """Two chapters per subset; each subset has one over-long transcript and one over-long
    audio, which prepare must drop. Returns the utterances prepare must keep, in order."""
    rng = np.random.default_rng(0)
    kept: dict[str, list[tuple[str, np.ndarray, str]]] = {}
    for s, subset in enumerate(files.RAW_COUNTS):
        kept[subset] = []
        for speaker, chapter in ((100 + s, 7), (100 + s, 9)):
            folder = raw / "LibriSpeech" / subset / str(speaker) / str(chapter)
            folder.mkdir(parents=True)
            lines = []
            for u in range(3):
                utt = f"{speaker}-{chapter}-{u:04d}"
                text = " ".join(rng.choice(WORDS, 5 + u))
                length = 1_600 * (u + 1)
                if chapter == 9 and u == 1:
                    text = " ".join(["LONG"] * 60)  # 299 characters
                if chapter == 9 and u == 2:
                    length = files.MAX_AUDIO_SAMPLES + 1
                audio = rng.integers(-3000, 3000, length).astype(np.int16)
                soundfile.write(folder / f"{utt}.flac", audio, 16_000, subtype="PCM_16")
                lines.append(f"{utt} {text}")
                if len(text) <= 256 and length <= files.MAX_AUDIO_SAMPLES:
                    kept[subset].append((utt, audio, text))
            (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return kept


def _tarball(members: dict[str, bytes]) -> bytes:
    """A .tar.gz holding `members` (name -> bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _subset_tarballs(tree: Path) -> dict[str, bytes]:
    """openslr's layout: `<subset>.tar.gz` holds `LibriSpeech/<subset>/...`."""
    return {
        f"{subset}.tar.gz": _tarball(
            {
                str(p.relative_to(tree)): p.read_bytes()
                for p in sorted((tree / "LibriSpeech" / subset).rglob("*"))
                if p.is_file()
            }
        )
        for subset in files.RAW_COUNTS
    }


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("librispeech")
    kept = _write_tree(root / "src")
    tarballs = _subset_tarballs(root / "src")
    sha256 = {
        name.removesuffix(".tar.gz"): hashlib.sha256(b).hexdigest() for name, b in tarballs.items()
    }
    lines: list[str] = []
    with serve_files(tarballs) as server:
        counts = prepare(
            root / "raw",
            root / "data",
            vocab_size=28,
            expected_raw=dict.fromkeys(files.RAW_COUNTS, 6),
            download=Download(server.url, sha256),
            echo=lines.append,
        )
    return root, {"kept": kept, "counts": counts, "requests": server.requests, "lines": lines}


def test_prepare_downloads_and_extracts_each_subset_once(prepared: tuple[Path, dict]) -> None:
    root, info = prepared
    assert sorted(info["requests"]) == sorted((f"{s}.tar.gz", None, 200) for s in files.RAW_COUNTS)
    for subset in files.RAW_COUNTS:
        source = sorted(
            p.relative_to(root / "src") for p in (root / "src").rglob(f"*/{subset}/**/*")
        )
        extracted = sorted(
            p.relative_to(root / "raw") for p in (root / "raw").rglob(f"*/{subset}/**/*")
        )
        assert extracted == source
        assert len([p for p in source if p.suffix == ".flac"]) == 6
        assert f"{subset}.tar.gz: extracting" in info["lines"]
    assert not list((root / "raw").glob(".*.extracting"))  # staging folders are gone


def test_prepare_filters_and_counts_every_subset(prepared: tuple[Path, dict]) -> None:
    root, info = prepared
    assert info["counts"] == {s: {"raw": 6, "kept": 4} for s in files.RAW_COUNTS}
    saved = json.loads((root / "data" / files.DIRNAME / files.COUNTS).read_text())
    assert saved == info["counts"]
    # Run again: every subset is kept as it is (resume), nothing is rewritten.
    before = {s: files.record_path(root / "data", s).stat().st_mtime_ns for s in files.RAW_COUNTS}
    prepare(
        root / "raw", root / "data", vocab_size=28, expected_raw=dict.fromkeys(files.RAW_COUNTS, 6)
    )
    after = {s: files.record_path(root / "data", s).stat().st_mtime_ns for s in files.RAW_COUNTS}
    assert before == after


def test_the_reader_serves_the_decoded_audio_and_tokens(prepared: tuple[Path, dict]) -> None:
    root, info = prepared
    dataset = LibriSpeechDataset(root / "data", audio_length=8_000, target_length=64)
    assert [dataset.num_examples(s) for s in ("train", "validation", "test")] == [12, 8, 4]
    expected = [u for s in files.SPLITS["validation"] for u in info["kept"][s]]
    batches = list(dataset.eval_batches("validation", 6))
    assert len(batches) == 2
    detokenize = dataset.detokenizer()
    rows = [(b, i) for b in batches for i in range(6)]
    for (batch, i), (_, audio, text) in zip(rows, expected, strict=False):
        values, paddings = batch["inputs"]
        n = len(audio)
        np.testing.assert_array_equal(values[i, :n], audio.astype(np.float32))
        assert paddings[i, :n].sum() == 0
        assert paddings[i, n:].all()
        ids, id_pads = batch["targets"]
        tokens = ids[i][id_pads[i] == 0]
        assert tokens[-1] == 2  # EOS, as the reference's tokenizer adds
        assert detokenize(tokens) == text
    weights = np.concatenate([b["weights"] for b in batches])
    np.testing.assert_array_equal(weights, [1.0] * 8 + [0.0] * 4)


def test_training_batches_are_reproducible_and_cover_the_split(prepared: tuple[Path, dict]) -> None:
    root, _ = prepared
    dataset = LibriSpeechDataset(root / "data", audio_length=8_000, target_length=64)
    first = [next(dataset.train_batches(3, 4)) for _ in range(2)]
    np.testing.assert_array_equal(first[0]["inputs"].values, first[1]["inputs"].values)
    stream = dataset.train_batches(3, 4)
    lengths = sorted(
        int((1 - next(stream)["inputs"].paddings).sum(1)[i]) for _ in range(3) for i in range(4)
    )
    # The first epoch holds every training example once: per subset, chapter 7 keeps 1,600,
    # 3,200 and 4,800 samples, chapter 9 keeps 1,600.
    assert lengths == [1_600] * 6 + [3_200] * 3 + [4_800] * 3


@pytest.mark.slow
def test_a_worker_process_serves_the_same_batches(prepared: tuple[Path, dict]) -> None:
    root, _ = prepared
    dataset = LibriSpeechDataset(root / "data", audio_length=8_000, target_length=64)
    want = next(dataset.train_batches(3, 4))
    stream = dataset.train_batches(3, 4, workers=1)
    try:
        got = next(stream)
    finally:
        stream.close()
    for key in ("inputs", "targets"):
        for a, b in zip(got[key], want[key], strict=True):
            np.testing.assert_array_equal(a, b)


def test_prepare_checks_raw_counts_and_the_workload_reads_the_data(
    prepared: tuple[Path, dict],
) -> None:
    root, _ = prepared
    with pytest.raises(LibriSpeechPrepareError, match="expected 7"):
        prepare(
            root / "raw",
            root / "other",
            vocab_size=28,
            expected_raw=dict.fromkeys(files.RAW_COUNTS, 7),
        )
    with pytest.raises(DatasetNotPreparedError, match="not prepared"):
        LibriSpeechDataset(root / "missing")
    workload = get_workload(
        "librispeech_deepspeech",
        "pytorch",
        audio_length=8_000,
        target_length=64,
        model_config={"encoder_dim": 8, "num_lstm_layers": 1, "num_ffn_layers": 1},
    )
    assert workload.dataset(str(root / "data")).num_examples("test") == 4  # type: ignore[attr-defined]
    assert workload.detokenizer()([0, 2]) == ""  # type: ignore[attr-defined]


def test_an_unsafe_or_damaged_tarball_is_refused_and_nothing_is_half_extracted(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    unsafe = raw / "dev-clean.tar.gz"
    unsafe.write_bytes(_tarball({"LibriSpeech/dev-clean/1/2/a.txt": b"a", "../escape.txt": b"x"}))
    with pytest.raises(LibriSpeechPrepareError, match=f"{unsafe}: cannot extract it"):
        extract(unsafe, raw, "dev-clean", lambda _: None)
    assert not (tmp_path / "escape.txt").exists()
    truncated = raw / "dev-other.tar.gz"
    whole = _tarball({f"LibriSpeech/dev-other/1/2/{i}.txt": bytes(1000) for i in range(50)})
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(LibriSpeechPrepareError, match="if the file is damaged, delete it"):
        extract(truncated, raw, "dev-other", lambda _: None)
    other = raw / "test-clean.tar.gz"
    other.write_bytes(_tarball({"LibriSpeech/dev-clean/1/2/a.txt": b"a"}))
    with pytest.raises(LibriSpeechPrepareError, match="holds no LibriSpeech/test-clean/"):
        extract(other, raw, "test-clean", lambda _: None)
    assert sorted(p.name for p in raw.iterdir()) == [
        "dev-clean.tar.gz",
        "dev-other.tar.gz",
        "test-clean.tar.gz",
    ]
