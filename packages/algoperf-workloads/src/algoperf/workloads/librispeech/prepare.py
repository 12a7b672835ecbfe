"""Prepare LibriSpeech from the openslr subsets: download, tokenizer, filter, ArrayRecord files.

`python -m algoperf.workloads.librispeech.prepare RAW_DIR DATA_DIR` reads
`RAW_DIR/LibriSpeech/<subset>/<speaker>/<chapter>/` (the openslr tarballs, extracted; any
`<subset>.tar.gz` found in RAW_DIR is extracted first); with `download` (as
`algoperf-datasets prepare librispeech` calls it) a subset found in neither form is first
downloaded from openslr or a mirror, resumably and checked against its published SHA-256
(`SHA256`). A tarball is extracted into a staging folder that is renamed into place when
complete, so an interrupted extraction is redone, never half used. It trains the SentencePiece
unigram tokenizer on train-clean-100's transcripts (vocabulary 1,024, character coverage 1.0,
at most 10^7 characters, as the reference), drops transcripts over 256 characters and audio over
320,000 samples, and writes int16 audio and token ids (with EOS, as the reference's tokenizer)
to `DATA_DIR/librispeech/` (see `files`). FLAC is decoded with soundfile (libsndfile): no
ffmpeg, no TensorFlow. A subset whose record file exists is kept (prepare resumes).
"""

from __future__ import annotations

import json
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from algoperf.api import AlgoPerfError
from algoperf.workloads._download import fetch
from algoperf.workloads.librispeech import files

MAX_TOKENIZER_CHARS = 10_000_000
OPENSLR = "https://www.openslr.org/resources/12/"
SHA256: Mapping[str, str] = MappingProxyType(
    {
        "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
        "train-clean-360": "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf",
        "train-other-500": "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2",
        "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
        "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
        "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    }
)
"""SHA-256 of each openslr `<subset>.tar.gz`. Source: torchaudio's `_CHECKSUMS`
(pytorch/audio, torchaudio/datasets/librispeech.py @0103a7a); mlx-data's `SPLITS`
(ml-explore/mlx-data, python/mlx/data/datasets/librispeech.py @5751b48) lists the same values."""

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Download:
    """Where `prepare` downloads a missing subset's tarball from, and its expected SHA-256."""

    base_url: str = OPENSLR
    """openslr's resource 12, or a mirror of it: `<base_url>/<subset>.tar.gz`."""
    sha256: Mapping[str, str] = field(default_factory=lambda: SHA256)

    def url(self, subset: str) -> str:
        """The tarball of `subset`."""
        return f"{self.base_url.rstrip('/')}/{subset}.tar.gz"


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


def extract(tarball: Path, raw_dir: Path, subset: str, echo: Echo = print) -> Path:
    """`raw_dir/LibriSpeech/<subset>/` from `tarball`, renamed into place once complete.

    `tarfile`'s "data" filter refuses members outside the staging folder (absolute paths,
    `..`, links out), devices and special permissions.

    Raises:
        LibriSpeechPrepareError: naming the tarball, if it is damaged, unsafe or holds no
            `LibriSpeech/<subset>/`.
    """
    staging = raw_dir / f".{subset}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    echo(f"{tarball.name}: extracting")
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            archive.extractall(staging, filter="data")
        source = staging / "LibriSpeech" / subset
        if not source.is_dir():
            raise LibriSpeechPrepareError(
                f"{tarball} holds no LibriSpeech/{subset}/: it is not openslr's "
                f"{subset}.tar.gz; delete it and run the command again"
            )
        target = raw_dir / "LibriSpeech" / subset
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise LibriSpeechPrepareError(
            f"{tarball}: cannot extract it ({error}); if the file is damaged, delete it and "
            "run the command again"
        ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _subset_dir(raw_dir: Path, subset: str, download: Download | None, echo: Echo) -> Path:
    path = raw_dir / "LibriSpeech" / subset
    if path.is_dir():
        return path
    tarball = raw_dir / f"{subset}.tar.gz"
    if download is not None:
        fetch(download.url(subset), tarball, download.sha256[subset], echo)
    if tarball.exists():
        return extract(tarball, raw_dir, subset, echo)
    raise LibriSpeechPrepareError(
        f"{path} not found: download {subset}.tar.gz from {OPENSLR} into {raw_dir} (or "
        "extract it there), or run `algoperf-datasets prepare librispeech`, which downloads it"
    )


def train_tokenizer(
    raw_dir: Path,
    out: Path,
    vocab_size: int = 1024,
    download: Download | None = None,
    echo: Echo = print,
) -> None:
    """SentencePiece unigram model on train-clean-100's transcripts, written to `out`."""
    import sentencepiece as spm

    lines, chars = [], 0
    for _, text, _ in _utterances(_subset_dir(raw_dir, "train-clean-100", download, echo)):
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
    raw_dir: Path,
    data_dir: Path,
    subset: str,
    tokenizer: object,
    download: Download | None = None,
    echo: Echo = print,
) -> tuple[int, int]:
    """Write one subset's kept utterances; (raw, kept) counts."""
    import soundfile
    from array_record.python.array_record_module import ArrayRecordWriter

    out = files.record_path(data_dir, subset)
    partial = out.with_suffix(".partial")
    writer = ArrayRecordWriter(str(partial), "group_size:1,uncompressed")
    raw = kept = 0
    try:
        for _, text, flac in _utterances(_subset_dir(raw_dir, subset, download, echo)):
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
    download: Download | None = None,
    echo: Echo = print,
) -> dict[str, dict[str, int]]:
    """Prepare every subset (see the module doc); returns and saves the counts.

    A subset found in `raw_dir` neither extracted nor as a tarball is downloaded as `download`
    says; without `download` that is an error.

    Raises:
        LibriSpeechPrepareError: for missing files, or raw counts other than `expected_raw`.
        DownloadError: if a download fails (`ChecksumMismatchError` on a wrong SHA-256).
    """
    import sentencepiece as spm

    raw_dir, data_dir = Path(raw_dir), Path(data_dir)
    model = data_dir / files.DIRNAME / files.TOKENIZER
    if not model.exists():
        train_tokenizer(raw_dir, model, vocab_size, download, echo)
    tokenizer = spm.SentencePieceProcessor(model_file=str(model))
    counts_file = data_dir / files.DIRNAME / files.COUNTS
    counts = json.loads(counts_file.read_text()) if counts_file.exists() else {}
    for subsets in files.SPLITS.values():
        for subset in subsets:
            if subset in counts and files.record_path(data_dir, subset).exists():
                continue
            raw, kept = prepare_subset(raw_dir, data_dir, subset, tokenizer, download, echo)
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
