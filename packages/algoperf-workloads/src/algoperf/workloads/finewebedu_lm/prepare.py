"""Prepare FineWeb-Edu for `finewebedu_lm`: download, tokenise, split, and write token shards.

The same token windows as the reference, step by step (its `dataset/dataset_setup.py`,
`download_finewebedu`, and `algoperf/workloads/finewebedu_lm/input_pipeline.py`):

1. the `sample-10BT` subset of `HuggingFaceFW/fineweb-edu` (train split) through the Hugging
   Face `datasets` library, documents shuffled with `Dataset.shuffle(seed=1996)`;
2. each non-empty document + "<|endoftext|>" tokenised with the GPT-2 BPE (the string is the
   special token 50,256 wherever it occurs, as in Hugging Face's tokenizer);
3. `Dataset.map(batched=True, batch_size=1024, num_proc=8)` of its `concat_chunck`: the
   documents fall into 8 contiguous parts (`Dataset.shard(8, rank, contiguous=True)`), each
   cut into batches of 1,024 documents from its start; each batch's tokens are concatenated
   and cut into rows of 2,049 (its `seq_len + 1`), dropping the batch's last
   `tokens mod 2,049` (a batch of under 2,049 tokens is kept whole, as one short row);
4. the first `10,000,000 // 2,049 + 1 = 4,881` rows are the validation split, the rest the
   training split;
5. its input pipeline concatenates a split's rows and reads non-overlapping 1,025-token
   windows, dropping the remainder (`data.TokenWindows`).

We write each split's kept tokens (the concatenation of its rows), so the windows, their
count and their order equal the reference's given the same documents: with full rows, the
validation split is 4,881 x 2,049 = 10,001,169 tokens = 9,757 windows, and the training
split's R rows give floor(R x 2,049 / 1,025) windows.

Output, under `<data_dir>/finewebedu/`: uint16 shards `{split}_{NNNNN}.bin` (little-endian),
each ending at a batch's end, and `index.json` with every shard's token count and SHA-256 and
each split's row count. The index is rewritten after each shard with the number of documents
consumed, so an interrupted run resumes after its last finished shard.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from algoperf.workloads._download import sha256_of
from algoperf.workloads.finewebedu_lm import data
from algoperf.workloads.finewebedu_lm.config import EOS_ID, SEQUENCE_LENGTH, VOCAB_SIZE

HF_DATASET = "HuggingFaceFW/fineweb-edu"
HF_SUBSET = "sample-10BT"
SHUFFLE_SEED = 1996
ROW_TOKENS = 2_049
"""The reference's chunk (`max_seq_length = seq_len + 1`, seq_len 2,048)."""
VALIDATION_ROWS = 10_000_000 // ROW_TOKENS + 1
"""4,881: the reference's `VAL_TOKENS // max_seq_length + 1` leading rows."""
MAP_BATCH = 1_024
"""Documents per `concat_chunck` call (the reference's `batch_size`)."""
MAP_PROCESSES = 8
"""The reference's `num_proc`: the number of contiguous parts the batches are cut within."""
SHARD_TOKENS = 1 << 27
"""Tokens per shard at least (256 MB), except each split's last."""
EOT_TEXT = "<|endoftext|>"

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

    def encode_batch(
        self, text: list[str], *, num_threads: int = ..., allowed_special: Any = ...
    ) -> list[list[int]]:
        """Token ids of each text; special-token strings in `allowed_special` become ids."""
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


def map_batches(num_documents: int, batch: int, processes: int) -> Iterator[tuple[int, int]]:
    """The document ranges [lo, hi) that a batched, multi-process `Dataset.map` passes.

    Those of `map(batched=True, batch_size=batch, num_proc=processes)`, in output order.

    As `datasets`: `num_proc` is capped at the dataset's length, part `r` of the contiguous
    split starts at `div · r + min(r, mod)` (div, mod = divmod(n, processes)), and each part
    is batched from its own start, so every part but a multiple of `batch` ends short.
    """
    processes = min(processes, num_documents)
    if processes == 0:
        return
    div, mod = divmod(num_documents, processes)
    for rank in range(processes):
        start = div * rank + min(rank, mod)
        stop = start + div + (rank < mod)
        for lo in range(start, stop, batch):
            yield lo, min(lo + batch, stop)


def chunk_rows(num_tokens: int, row_tokens: int) -> list[int]:
    """The row lengths `concat_chunck` cuts a batch of `num_tokens` tokens into."""
    if num_tokens < row_tokens:
        return [num_tokens] if num_tokens else []
    return [row_tokens] * (num_tokens // row_tokens)


def _texts(documents: Any, lo: int, hi: int) -> list[str]:
    """Texts of documents [lo, hi) of a `datasets.Dataset` or a list of texts."""
    if hasattr(documents, "select_columns"):
        return documents[lo:hi]["text"]
    return list(documents[lo:hi])


class _Writer:
    """Shards and the resumable index of one preparation."""

    def __init__(self, folder: Path, window: int, row_tokens: int) -> None:
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
                "row_tokens": row_tokens,
                "documents_done": 0,
                "splits": {s: {"shards": [], "tokens": 0, "rows": 0} for s in data.SPLITS},
            }
        self.buffers: dict[str, list[np.ndarray]] = {s: [] for s in data.SPLITS}
        self.buffered_rows: dict[str, int] = dict.fromkeys(data.SPLITS, 0)

    def rows(self, split: str) -> int:
        """Rows of `split` written or buffered."""
        return self.index["splits"][split]["rows"] + self.buffered_rows[split]

    def add(self, split: str, tokens: np.ndarray, rows: int) -> None:
        if rows:
            self.buffers[split].append(tokens)
            self.buffered_rows[split] += rows

    def buffered(self, split: str) -> int:
        return sum(len(b) for b in self.buffers[split])

    def flush(self, split: str) -> bool:
        """Write `split`'s buffer as its next shard (atomically); whether there was one."""
        if not self.buffers[split]:
            return False
        tokens = np.concatenate(self.buffers[split]).astype("<u2")
        entry = self.index["splits"][split]
        name = f"{split}_{len(entry['shards']):05d}.bin"
        tmp = self.folder / f"{name}.tmp"
        tmp.write_bytes(tokens.tobytes())
        os.replace(tmp, self.folder / name)
        digest = hashlib.sha256(tokens.tobytes()).hexdigest()
        entry["shards"].append({"file": name, "tokens": len(tokens), "sha256": digest})
        entry["tokens"] += len(tokens)
        entry["rows"] += self.buffered_rows[split]
        self.buffers[split], self.buffered_rows[split] = [], 0
        return True

    def save(self, documents_done: int, complete: bool = False) -> None:
        """Rewrite the index (atomically), with no tokens buffered."""
        if any(self.buffers.values()):
            raise RuntimeError("saving progress with tokens still buffered")
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
    validation_rows: int = VALIDATION_ROWS,
    row_tokens: int = ROW_TOKENS,
    map_batch: int = MAP_BATCH,
    map_processes: int = MAP_PROCESSES,
    shard_tokens: int = SHARD_TOKENS,
    window: int = SEQUENCE_LENGTH + 1,
    echo: Echo = print,
    stop_after_shards: int | None = None,
) -> dict[str, Any]:
    """Tokenise `documents` into the splits' shards under `folder`, resuming a partial run.

    Args:
        folder: the output folder (created).
        documents: a `datasets.Dataset` with a 'text' column, or a list of texts, in the
            reference's (shuffled) order.
        encoder: the BPE (`gpt2_encoder()`; tests build a tiny one).
        validation_rows: leading rows that form the validation split.
        row_tokens: tokens per row of the reference's chunking.
        map_batch: documents per chunking batch.
        map_processes: contiguous parts of the documents that batches do not straddle.
        shard_tokens: tokens per shard, at least (shards end at batch ends).
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
    writer = _Writer(folder, window, row_tokens)
    if writer.index["complete"]:
        echo(f"finewebedu: already prepared in {folder}")
        return writer.index
    done = writer.index["documents_done"]
    written = sum(len(e["shards"]) for e in writer.index["splits"].values())
    if done:
        echo(f"finewebedu: resuming after {done:,} documents ({written} shards written)")
    eos = np.array([encoder.eot_token], np.uint16)
    special = {EOT_TEXT}
    threads = os.cpu_count() or 1
    for lo, hi in map_batches(len(documents), map_batch, map_processes):
        if hi <= done:
            continue
        texts = _texts(documents, lo, hi)
        ids = encoder.encode_batch(texts, num_threads=threads, allowed_special=special)
        # The reference appends <|endoftext|> to non-empty documents only.
        pieces = [
            np.concatenate([np.asarray(d, np.uint16), eos])
            for t, d in zip(texts, ids, strict=True)
            if t
        ]
        tokens = np.concatenate(pieces) if pieces else eos[:0]
        rows = chunk_rows(len(tokens), row_tokens)
        to_validation = min(len(rows), max(validation_rows - writer.rows("validation"), 0))
        cut = sum(rows[:to_validation])
        writer.add("validation", tokens[:cut], to_validation)
        writer.add("train", tokens[cut : sum(rows)], len(rows) - to_validation)
        validation_done = writer.buffered_rows["validation"] and (
            writer.rows("validation") == validation_rows
        )
        if validation_done or max(map(writer.buffered, data.SPLITS)) >= shard_tokens:
            # Both splits at once, so that the recorded progress never counts buffered tokens.
            written += sum(writer.flush(split) for split in data.SPLITS)
            writer.save(hi)
            echo(f"finewebedu: {written} shards written ({hi:,} documents)")
            if stop_after_shards is not None and written >= stop_after_shards:
                return writer.index
    for split in data.SPLITS:
        writer.flush(split)
    writer.save(len(documents), complete=True)
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
            elif checksums and sha256_of(path).hexdigest() != shard["sha256"]:
                echo(f"  MISMATCH: {path}: SHA-256 differs from the index")
                ok = False
        echo(f"  {split}: {entry['tokens']:,} tokens, {entry['windows']:,} windows")
    return ok


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
