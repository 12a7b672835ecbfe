"""Prepare LibriSpeech from its extracted openslr subsets: tokenizer, filter, ArrayRecord files.

`python -m algoperf.workloads.librispeech.prepare RAW_DIR DATA_DIR` reads
`RAW_DIR/LibriSpeech/<subset>/<speaker>/<chapter>/` (the openslr tarballs, extracted; any
`<subset>.tar.gz` found in RAW_DIR is extracted first), trains the SentencePiece unigram
tokenizer on train-clean-100's transcripts (vocabulary 1,024, character coverage 1.0, at most
10^7 characters, as the reference), drops transcripts over 256 characters and audio over
320,000 samples, and writes int16 audio and token ids (with EOS, as the reference's tokenizer)
to `DATA_DIR/librispeech/` (see `files`). FLAC is decoded with soundfile (libsndfile): no
ffmpeg, no TensorFlow. A subset whose record file exists is kept (prepare resumes).
"""

from __future__ import annotations

import json
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from algoperf.api import AlgoPerfError
from algoperf.workloads.librispeech import files

MAX_TOKENIZER_CHARS = 10_000_000


class LibriSpeechPrepareError(AlgoPerfError):
    """The raw LibriSpeech files are missing or do not have the expected utterances."""


def _utterances(subset_dir: Path) -> Iterator[tuple[str, str, Path]]:
    """(utterance id, transcript, FLAC path) in sorted speaker, chapter, transcript order."""
    for speaker in sorted(p for p in subset_dir.iterdir() if p.is_dir()):
        for chapter in sorted(p for p in speaker.iterdir() if p.is_dir()):
            transcripts = chapter / f"{speaker.name}-{chapter.name}.trans.txt"
            if not transcripts.exists():
                raise LibriSpeechPrepareError(
                    f"{transcripts} is missing; extract the openslr tarball of "
                    f"{subset_dir.name} again"
                )
            for line in transcripts.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    utt, text = line.strip().split(" ", maxsplit=1)
                    yield utt, text, chapter / f"{utt}.flac"


def _subset_dir(raw_dir: Path, subset: str) -> Path:
    path = raw_dir / "LibriSpeech" / subset
    tarball = raw_dir / f"{subset}.tar.gz"
    if not path.is_dir() and tarball.exists():
        with tarfile.open(tarball) as archive:
            archive.extractall(raw_dir, filter="data")
    if not path.is_dir():
        raise LibriSpeechPrepareError(
            f"{path} not found: download {subset}.tar.gz from https://www.openslr.org/12 "
            f"into {raw_dir} (or extract it there)"
        )
    return path


def train_tokenizer(raw_dir: Path, out: Path, vocab_size: int = 1024) -> None:
    """SentencePiece unigram model on train-clean-100's transcripts, written to `out`."""
    import sentencepiece as spm

    lines, chars = [], 0
    for _, text, _ in _utterances(_subset_dir(raw_dir, "train-clean-100")):
        chars += len(text) + 1
        if chars > MAX_TOKENIZER_CHARS:
            break
        lines.append(text)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "transcripts.txt"
        corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
        spm.SentencePieceTrainer.Train(
            input=str(corpus),
            model_prefix=str(Path(tmp) / "spm"),
            vocab_size=vocab_size,
            character_coverage=1.0,
            model_type="unigram",
            minloglevel=2,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes((Path(tmp) / "spm.model").read_bytes())


def prepare_subset(
    raw_dir: Path, data_dir: Path, subset: str, tokenizer: object
) -> tuple[int, int]:
    """Write one subset's kept utterances; (raw, kept) counts."""
    import soundfile
    from array_record.python.array_record_module import ArrayRecordWriter

    out = files.record_path(data_dir, subset)
    partial = out.with_suffix(".partial")
    writer = ArrayRecordWriter(str(partial), "group_size:1,uncompressed")
    raw = kept = 0
    try:
        for _, text, flac in _utterances(_subset_dir(raw_dir, subset)):
            raw += 1
            if len(text) > files.MAX_TRANSCRIPT_CHARS:
                continue
            audio, rate = soundfile.read(flac, dtype="int16")
            if rate != 16_000 or audio.ndim != 1:
                raise LibriSpeechPrepareError(f"{flac}: expected 16 kHz mono, got {rate} Hz")
            if len(audio) > files.MAX_AUDIO_SAMPLES:
                continue
            ids = np.array([*tokenizer.encode(text), tokenizer.eos_id()], np.int32)  # type: ignore[attr-defined]
            writer.write(files.encode(audio, ids))
            kept += 1
    finally:
        writer.close()
    partial.rename(out)
    return raw, kept


def prepare(
    raw_dir: str | Path,
    data_dir: str | Path,
    *,
    vocab_size: int = 1024,
    expected_raw: Mapping[str, int] = files.RAW_COUNTS,
) -> dict[str, dict[str, int]]:
    """Prepare every subset (see the module doc); returns and saves the counts.

    Raises:
        LibriSpeechPrepareError: for missing files, or raw counts other than `expected_raw`.
    """
    import sentencepiece as spm

    raw_dir, data_dir = Path(raw_dir), Path(data_dir)
    model = data_dir / files.DIRNAME / files.TOKENIZER
    if not model.exists():
        train_tokenizer(raw_dir, model, vocab_size)
    tokenizer = spm.SentencePieceProcessor(model_file=str(model))
    counts_file = data_dir / files.DIRNAME / files.COUNTS
    counts = json.loads(counts_file.read_text()) if counts_file.exists() else {}
    for subsets in files.SPLITS.values():
        for subset in subsets:
            if subset in counts and files.record_path(data_dir, subset).exists():
                continue
            raw, kept = prepare_subset(raw_dir, data_dir, subset, tokenizer)
            if raw != expected_raw[subset]:
                files.record_path(data_dir, subset).unlink()
                raise LibriSpeechPrepareError(
                    f"{subset}: {raw} utterances in {raw_dir}, expected {expected_raw[subset]}; "
                    "its download is incomplete, download and extract it again"
                )
            counts[subset] = {"raw": raw, "kept": kept}
            counts_file.write_text(json.dumps(counts, indent=1))
    return counts


def main(argv: list[str] | None = None) -> int:
    """`python -m algoperf.workloads.librispeech.prepare RAW_DIR DATA_DIR`."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__)
        return 2
    counts = prepare(*args)
    for subset, c in counts.items():
        print(f"{subset}: {c['kept']:,} of {c['raw']:,} utterances kept")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
