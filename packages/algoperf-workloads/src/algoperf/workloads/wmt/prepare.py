"""`algoperf-datasets prepare wmt`: TFDS WMT as ArrayRecord, a SentencePiece model, token ids.

1. TFDS builds `wmt17_translate/de-en` (train) and `wmt14_translate/de-en` (validation =
   newstest2013, test = newstest2014) as ArrayRecord (this step needs the `prepare` extra).
2. A SentencePiece unigram model (vocabulary 32,000, character coverage 1.0, library default
   ids: unk 0, bos 1, eos 2) is trained on the first ~10^7 characters of wmt17's training
   pairs, German then English line of each pair in TFDS order, as the reference trains its
   tokenizer; it is stored as `DATA_DIR/wmt/sentencepiece.model`.
3. Every split is tokenised once (ids + EOS, German → inputs, English → targets) into
   `DATA_DIR/wmt/tokenized/{split}.npz`, so training reads only ids.
The split sizes are then verified (5,906,184 / 3,000 / 3,003).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from algoperf.workloads import _tfds
from algoperf.workloads.wmt import data
from algoperf.workloads.wmt.config import EOS_ID

SOURCES = {
    "train": ("wmt17_translate/de-en:1.0.0", "train"),
    "validation": ("wmt14_translate/de-en:1.0.0", "validation"),
    "test": ("wmt14_translate/de-en:1.0.0", "test"),
}
"""Our split to (TFDS dataset, TFDS split)."""
SPLIT_SIZES = {"train": 5_906_184, "validation": 3_000, "test": 3_003}
VOCAB_SIZE = 32_000
MAX_CHARACTERS = 10**7
"""Characters of training text the SentencePiece model learns from (the reference's)."""

Pairs = Iterable[tuple[str, str]]
"""(German, English) sentence pairs."""


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def tokenizer_lines(pairs: Pairs, max_characters: int = MAX_CHARACTERS) -> Iterator[str]:
    """German then English line of each pair, in order, until `max_characters` are passed."""
    count = 0
    for de, en in pairs:
        for line in (de, en):
            yield line
            count += len(line)
            if count > max_characters:
                return


def train_sentencepiece(lines: Iterable[str], vocab_size: int = VOCAB_SIZE) -> bytes:
    """A serialised SentencePiece unigram model of `lines` (character coverage 1.0)."""
    import sentencepiece as spm  # the `wmt` extra

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
    )
    return model.getvalue()


def tokenize(pairs: Pairs, model: bytes) -> data.TokenSplit:
    """Every pair's ids, each side followed by EOS."""
    import numpy as np
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=model)
    if processor.eos_id() != EOS_ID:
        raise ValueError(f"the SentencePiece model's EOS id is {processor.eos_id()}, not {EOS_ID}")
    inputs, targets = [], []
    for de, en in pairs:
        inputs.append(np.array([*processor.encode(de), EOS_ID], np.int32))
        targets.append(np.array([*processor.encode(en), EOS_ID], np.int32))
    return data.from_pairs(inputs, targets)


def write_tokenized(
    splits: Mapping[str, Callable[[], Pairs]],
    data_dir: Path,
    echo: Callable[[str], None] = print,
    vocab_size: int = VOCAB_SIZE,
    max_characters: int = MAX_CHARACTERS,
) -> None:
    """Train the tokenizer on the train split's first characters, then tokenise every split.

    `splits` maps each split to a function that reads its pairs afresh, in TFDS order.
    """
    out = data_dir / data.TOKENIZED_DIR
    out.mkdir(parents=True, exist_ok=True)
    model_path = data_dir / data.SPM_MODEL
    if not model_path.exists():
        echo(f"wmt: training the SentencePiece model ({vocab_size} pieces)")
        model = train_sentencepiece(tokenizer_lines(splits["train"](), max_characters), vocab_size)
        model_path.write_bytes(model)
    model = model_path.read_bytes()
    for split, read in splits.items():
        path = out / f"{split}.npz"
        if path.exists():
            continue
        echo(f"wmt: tokenising {split}")
        tmp = out / f"{split}.partial.npz"
        tokenize(read(), model).save(tmp)
        tmp.rename(path)


def verify(data_dir: Path, sizes: Mapping[str, int], echo: Callable[[str], None] = print) -> bool:
    """Whether every tokenised split has its expected number of pairs (one line per split)."""
    ok = True
    for split, size in sizes.items():
        path = data_dir / data.TOKENIZED_DIR / f"{split}.npz"
        count = len(data.TokenSplit.load(path)) if path.exists() else None
        good = count == size
        ok &= good
        echo(f"wmt {split}: {count} pairs, expected {size}: {'ok' if good else 'MISMATCH'}")
    return ok


def _tfds_pairs(name: str, split: str, data_dir: Path) -> Callable[[], Pairs]:
    def read() -> Pairs:
        source = _tfds.data_source(name, split, str(data_dir))
        for i in range(len(source)):
            example = source[i]
            yield _text(example["de"]), _text(example["en"])

    return read


def prepare(
    data_dir: Path,
    echo: Callable[[str], None] = print,
    builder_factory: Callable[[str, Path], Any] | None = None,
    temp_dir: Path | None = None,
) -> bool:
    """Build the TFDS datasets (if needed), the tokenizer and the token ids; verify sizes."""
    tfds = _tfds.import_tfds()
    factory = builder_factory or (lambda name, d: tfds.builder(name, data_dir=str(d)))
    for name in sorted({s[0] for s in SOURCES.values()}):
        builder = factory(name, data_dir)
        if not builder.is_prepared():
            echo(f"wmt: downloading and preparing {name} under {data_dir}")
            builder.download_and_prepare(
                download_dir=str(temp_dir) if temp_dir else None,
                download_config=tfds.download.DownloadConfig(try_download_gcs=False),
                file_format="array_record",
            )
    splits = {
        s: _tfds_pairs(name, tfds_split, data_dir) for s, (name, tfds_split) in SOURCES.items()
    }
    write_tokenized(splits, data_dir, echo)
    return verify(data_dir, SPLIT_SIZES, echo)
