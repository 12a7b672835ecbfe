"""Prepare FineWeb-Edu for `finewebedu_lm`: download, tokenise, split, and write token shards.

As the reference's `dataset_setup.py` (`download_finewebedu`): the `sample-10BT` subset of
`HuggingFaceFW/fineweb-edu` (train split) through the Hugging Face `datasets` library,
documents shuffled with seed 1996, each non-empty document tokenised with the GPT-2 BPE and
followed by <|endoftext|> (50,256), all concatenated; the first 4,881 x 2,049 = 10,001,169
tokens (the reference's `VAL_TOKENS // 2049 + 1` chunks of 2,049) are the validation split and
the rest the training split. Unlike the reference, no tokens are dropped at the ends of its
1,024-document chunking batches, so the training split holds a few more windows.

Output, under `<data_dir>/finewebedu/`: uint16 shards `{split}_{NNNNN}.bin` (little-endian),
each ending at a document boundary (or at the split boundary), and `index.json` with every
shard's token count and SHA-256. The index is rewritten after each shard with the number of
documents consumed, so an interrupted run resumes after its last finished shard.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from algoperf.workloads.finewebedu_lm import data
from algoperf.workloads.finewebedu_lm.config import EOS_ID, SEQUENCE_LENGTH, VOCAB_SIZE

HF_DATASET = "HuggingFaceFW/fineweb-edu"
HF_SUBSET = "sample-10BT"
SHUFFLE_SEED = 1996
VALIDATION_TOKENS = (10_000_000 // 2_049 + 1) * 2_049
"""10,001,169: the reference's validation split (4,881 chunks of 2,049 tokens)."""
SHARD_TOKENS = 1 << 27
"""Tokens per shard at least (256 MB), except each split's last."""
BATCH_DOCUMENTS = 1_024
"""Documents tokenised together (in threads)."""

Echo = Callable[[str], None]


class Encoder(Protocol):
    """What preparation needs of a tokeniser (tiktoken's `Encoding` has it)."""

    @property
    def n_vocab(self) -> int:
        """Vocabulary size."""
        ...

    @property
    def eot_token(self) -> int:
        """The id of <|endoftext|>, appended to every document (50,256 in GPT-2)."""
        ...

    def encode_ordinary_batch(self, text: list[str], *, num_threads: int = ...) -> list[list[int]]:
        """Token ids of each text, with special-token strings treated as plain text."""
        ...


def gpt2_encoder() -> Encoder:
    """Tiktoken's `gpt2` encoding (50,257 tokens; downloads its ranks on first use).

    Its ids are those of the reference's Hugging Face `AutoTokenizer('gpt2')`: the same
    byte-level BPE ranks and pre-tokenisation regex, with <|endoftext|> = 50,256.
    """
    import tiktoken

    encoder = tiktoken.get_encoding("gpt2")
    if encoder.n_vocab != VOCAB_SIZE or encoder.eot_token != EOS_ID:
        raise ValueError(f"tiktoken's gpt2 has {encoder.n_vocab} tokens, expected {VOCAB_SIZE}")
    return encoder


def hf_documents(cache_dir: Path | None = None, source: Path | None = None) -> Any:
    """The documents, shuffled as the reference shuffles them.

    FineWeb-Edu `sample-10BT` from the Hub, or a dataset saved with `save_to_disk` at
    `source` (a local copy, or the tests' tiny corpus).
    """
    import datasets

    if source is not None:
        ds = datasets.load_from_disk(str(source))
    else:
        ds = datasets.load_dataset(
            HF_DATASET,
            name=HF_SUBSET,
            split="train",
            cache_dir=str(cache_dir) if cache_dir else None,
        )
    if "text" not in ds.column_names:
        raise ValueError(f"{source or HF_DATASET}: no 'text' column (columns: {ds.column_names})")
    return ds.shuffle(seed=SHUFFLE_SEED)


def _texts(documents: Any, start: int) -> Iterator[list[str]]:
    """Batches of `BATCH_DOCUMENTS` texts from document `start` on."""
    if hasattr(documents, "select_columns"):  # a datasets.Dataset: random access, fast skip
        for lo in range(start, len(documents), BATCH_DOCUMENTS):
            yield documents[lo : lo + BATCH_DOCUMENTS]["text"]
        return
    rest = itertools.islice(iter(documents), start, None)
    while batch := list(itertools.islice(rest, BATCH_DOCUMENTS)):
        yield [d["text"] if isinstance(d, dict) else d for d in batch]


class _Writer:
    """Shards and the resumable index of one preparation."""

    def __init__(self, folder: Path, window: int) -> None:
        self.folder = folder
        self.path = folder / data.INDEX_FILE
        self.window = window
        if self.path.is_file():
            self.index = json.loads(self.path.read_text())
        else:
            self.index = {
                "format": data.INDEX_FORMAT,
                "complete": False,
                "source": f"{HF_DATASET} {HF_SUBSET}, shuffled with seed {SHUFFLE_SEED}",
                "tokenizer": "gpt2",
                "window": window,
                "documents_done": 0,
                "splits": {s: {"shards": [], "tokens": 0} for s in data.SPLITS},
            }
        self.buffers: dict[str, list[np.ndarray]] = {s: [] for s in data.SPLITS}

    def tokens(self, split: str) -> int:
        """Tokens of `split` written or buffered."""
        buffered = sum(len(b) for b in self.buffers[split])
        return self.index["splits"][split]["tokens"] + buffered

    def buffered(self, split: str) -> int:
        return sum(len(b) for b in self.buffers[split])

    def flush(self, split: str) -> None:
        """Write `split`'s buffer as its next shard (atomically)."""
        if not self.buffers[split]:
            return
        tokens = np.concatenate(self.buffers[split]).astype("<u2")
        self.buffers[split] = []
        entry = self.index["splits"][split]
        name = f"{split}_{len(entry['shards']):05d}.bin"
        tmp = self.folder / f"{name}.tmp"
        tmp.write_bytes(tokens.tobytes())
        os.replace(tmp, self.folder / name)
        digest = hashlib.sha256(tokens.tobytes()).hexdigest()
        entry["shards"].append({"file": name, "tokens": len(tokens), "sha256": digest})
        entry["tokens"] += len(tokens)

    def save(self, documents_done: int | None = None, complete: bool = False) -> None:
        """Rewrite the index (atomically); progress only when no tokens are buffered."""
        if documents_done is not None and not any(self.buffers.values()):
            self.index["documents_done"] = documents_done
        if complete:
            for entry in self.index["splits"].values():
                entry["windows"] = entry["tokens"] // self.window
        self.index["complete"] = complete
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.index, indent=1))
        os.replace(tmp, self.path)


def write_shards(
    folder: Path,
    documents: Any,
    encoder: Encoder,
    *,
    validation_tokens: int = VALIDATION_TOKENS,
    shard_tokens: int = SHARD_TOKENS,
    window: int = SEQUENCE_LENGTH + 1,
    echo: Echo = print,
    stop_after_shards: int | None = None,
) -> dict[str, Any]:
    """Tokenise `documents` into the splits' shards under `folder`, resuming a partial run.

    Args:
        folder: the output folder (created).
        documents: a `datasets.Dataset` with a 'text' column, or an iterable of texts or of
            dicts with 'text', in the order to concatenate.
        encoder: the BPE (`gpt2_encoder()`; tests build a tiny one).
        validation_tokens: leading tokens that form the validation split.
        shard_tokens: tokens per shard, at least (shards end at document boundaries).
        window: tokens per example window, recorded in the index.
        echo: progress messages.
        stop_after_shards: stop (index left incomplete) after writing this many shards; for
            testing resumption.

    Returns:
        The finished index.
    """
    if encoder.n_vocab > np.iinfo(np.uint16).max + 1:
        raise ValueError(f"a vocabulary of {encoder.n_vocab} tokens does not fit uint16")
    folder.mkdir(parents=True, exist_ok=True)
    writer = _Writer(folder, window)
    if writer.index["complete"]:
        echo(f"finewebedu: already prepared in {folder}")
        return writer.index
    done = writer.index["documents_done"]
    written = sum(len(e["shards"]) for e in writer.index["splits"].values())
    if done:
        echo(f"finewebedu: resuming after {done:,} documents ({written} shards written)")
    eos = np.array([encoder.eot_token], np.uint16)
    for texts in _texts(documents, done):
        ids = encoder.encode_ordinary_batch(texts, num_threads=os.cpu_count() or 1)
        for text, doc in zip(texts, ids, strict=True):
            done += 1
            if not text:  # the reference appends <|endoftext|> to non-empty documents only
                continue
            tokens = np.concatenate([np.asarray(doc, np.uint16), eos])
            need = validation_tokens - writer.tokens("validation")
            if need > 0:
                writer.buffers["validation"].append(tokens[:need])
                tokens = tokens[need:]
                if writer.tokens("validation") == validation_tokens:
                    writer.flush("validation")  # recorded with the next saved progress
                    written += 1
            if len(tokens):
                writer.buffers["train"].append(tokens)
            for split in data.SPLITS:
                if writer.buffered(split) >= shard_tokens:
                    writer.flush(split)
                    written += 1
                    writer.save(done)
                    echo(f"finewebedu: {split} shard {written} written ({done:,} documents)")
                    if stop_after_shards is not None and written >= stop_after_shards:
                        return writer.index
    for split in data.SPLITS:
        writer.flush(split)
    writer.save(done, complete=True)
    return writer.index


def verify(folder: Path, echo: Echo = print, checksums: bool = True) -> bool:
    """Whether every shard has the index's size (and SHA-256); echoes the split counts."""
    index = data.read_index(folder)
    ok = True
    for split, entry in index["splits"].items():
        for shard in entry["shards"]:
            path = folder / shard["file"]
            if not path.is_file() or path.stat().st_size != 2 * shard["tokens"]:
                echo(f"  MISMATCH: {path}: expected {shard['tokens']:,} tokens")
                ok = False
            elif checksums and _sha256(path) != shard["sha256"]:
                echo(f"  MISMATCH: {path}: SHA-256 differs from the index")
                ok = False
        echo(f"  {split}: {entry['tokens']:,} tokens, {entry['windows']:,} windows")
    return ok


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def prepare(
    data_dir: Path,
    echo: Echo = print,
    *,
    source: Path | None = None,
    temp_dir: Path | None = None,
    encoder: Encoder | None = None,
    **options: Any,
) -> bool:
    """Download (or read `source`), tokenise, write and verify FineWeb-Edu under `data_dir`.

    Returns whether it verified. `options` go to `write_shards`.
    """
    folder = Path(data_dir) / data.DATASET_DIR
    index_path = folder / data.INDEX_FILE
    if not (index_path.is_file() and json.loads(index_path.read_text()).get("complete")):
        documents = hf_documents(temp_dir, source)
        write_shards(folder, documents, encoder or gpt2_encoder(), echo=echo, **options)
    ok = verify(folder, echo)
    echo(f"finewebedu: {'ok' if ok else 'MISMATCH'} ({folder})")
    return ok
