"""FineWeb-Edu preparation on a tiny corpus and a tiny BPE the test builds (no network)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from algoperf.workloads import datasets_cli, get_workload
from algoperf.workloads.finewebedu_lm import data
from algoperf.workloads.finewebedu_lm import prepare as lm_prepare
from algoperf.workloads.testing import run_checked

datasets = pytest.importorskip("datasets")
tiktoken = pytest.importorskip("tiktoken")

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
"""GPT-2's pre-tokenisation regex (tiktoken's `gpt2` pat_str)."""
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "far", "away", "and", "then"]
EOT = "<|endoftext|>"
SEQ_LEN, SHARD_TOKENS = 16, 64
# The reference's chunking at toy size: rows of 97 tokens from batches of 16 documents in 3
# contiguous parts of the 200 documents (67, 67, 66), the first 3 rows for validation. Full
# batches hold ~300-390 tokens (the tiny BPE's ~20 a document), so each drops its last
# tokens mod 97; each part's last batch (3 or 2 documents, 59-71 tokens) is kept whole as one
# short row.
ROW_TOKENS, MAP_BATCH, MAP_PROCESSES, VALIDATION_ROWS = 97, 16, 3, 3
CHUNKING = {
    "row_tokens": ROW_TOKENS,
    "map_batch": MAP_BATCH,
    "map_processes": MAP_PROCESSES,
    "validation_rows": VALIDATION_ROWS,
}


DATASETS_MAP = Path(__file__).parent / "workers" / "datasets_map.py"


def datasets_map(tmp_path: Path, jobs: list[dict]) -> list[list]:
    """The outputs of `Dataset.map` jobs (see workers/datasets_map.py), run in a subprocess."""
    jobs_file, out_file = tmp_path / "map_jobs.json", tmp_path / "map_out.json"
    jobs_file.write_text(json.dumps(jobs))
    run_checked([sys.executable, str(DATASETS_MAP), str(jobs_file), str(out_file)], timeout_s=300)
    return json.loads(out_file.read_text())


def tiny_bpe() -> tiktoken.Encoding:
    """A byte-level BPE: the 256 bytes, a few merges, and <|endoftext|> last (as GPT-2)."""
    ranks = {bytes([b]): b for b in range(256)}
    for merge in (b"th", b"the", b" c", b" the", b"at", b" s", b"an", b"and"):
        ranks[merge] = len(ranks)
    return tiktoken.Encoding(
        "tiny", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={EOT: 264}
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """200 documents (two empty, one holding the literal <|endoftext|>) saved with
    `datasets`, as a local copy of the Hub dataset."""
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, rng.integers(3, 12))) + "." for _ in range(200)]
    texts[5] = texts[17] = ""
    texts[9] = f"the cat{EOT} sat."
    path = tmp_path_factory.mktemp("corpus") / "fineweb"
    ids = [str(i) for i in range(len(texts))]
    datasets.Dataset.from_dict({"text": texts, "id": ids}).save_to_disk(str(path))
    return path, texts


def reference_splits(
    texts: list[str], encoder: tiktoken.Encoding, tmp_path: Path
) -> dict[str, np.ndarray]:
    """Each split's windows, (n, SEQ_LEN + 1), by the reference's steps written out plainly.

    Its `dataset_setup.py`: shuffle with seed 1996; tokenise text + "<|endoftext|>" (non-empty
    texts); `Dataset.map(concat_chunck, batched=True, batch_size, num_proc)` (here `datasets`
    itself does the batching); the leading rows are validation. Its input pipeline: flatten a
    split's rows, non-overlapping windows, remainder dropped.
    """
    order = datasets.Dataset.from_dict({"text": texts}).shuffle(seed=1996)["text"]
    ids = [encoder.encode(t + EOT, allowed_special={EOT}) if t else [] for t in order]
    job = {"column": ids, "batch_size": MAP_BATCH, "num_proc": MAP_PROCESSES}
    (rows,) = datasets_map(tmp_path, [job | {"row_tokens": ROW_TOKENS}])
    out = {}
    for split, part in (("validation", rows[:VALIDATION_ROWS]), ("train", rows[VALIDATION_ROWS:])):
        flat = np.array([token for row in part for token in row], np.uint16)
        n = len(flat) // (SEQ_LEN + 1)
        out[split] = flat[: n * (SEQ_LEN + 1)].reshape(n, SEQ_LEN + 1)
    return out


def _prepare(data_dir: Path, source: Path, **options) -> bool:
    return lm_prepare.prepare(
        data_dir,
        lambda _: None,
        source=source,
        encoder=tiny_bpe(),
        shard_tokens=SHARD_TOKENS,
        window=SEQ_LEN + 1,
        **CHUNKING,
        **options,
    )


def _split_tokens(folder: Path, split: str) -> np.ndarray:
    index = json.loads((folder / data.INDEX_FILE).read_text())
    shards = [np.fromfile(folder / s["file"], "<u2") for s in index["splits"][split]["shards"]]
    return np.concatenate(shards)


def test_map_batches_are_those_datasets_map_passes(tmp_path) -> None:
    """The batch ranges equal what `Dataset.map(batched=True, num_proc=...)` hands over."""
    cases = ((200, 16, 3), (10, 4, 8), (5, 2, 8), (1_030, 1_024, 1))
    jobs = [
        {"column": list(range(n)), "batch_size": batch, "num_proc": processes, "row_tokens": None}
        for n, batch, processes in cases
    ]
    for (n, batch, processes), seen in zip(cases, datasets_map(tmp_path, jobs), strict=True):
        want = [tuple(bounds) for bounds in seen]
        assert list(lm_prepare.map_batches(n, batch, processes)) == want, (n, batch, processes)


def test_prepare_gives_the_references_windows(corpus, tmp_path) -> None:
    source, texts = corpus
    encoder = tiny_bpe()
    assert encoder.encode_ordinary("the cat and") == [257, 258, 260, 32, 263]  # merges apply
    assert _prepare(tmp_path, source)
    folder = tmp_path / data.DATASET_DIR
    want = reference_splits(texts, encoder, tmp_path)
    index = json.loads((folder / data.INDEX_FILE).read_text())
    assert index["complete"]
    for split in data.SPLITS:
        windows = data.TokenWindows([folder / s["file"] for s in index["splits"][split]["shards"]],
                                    SEQ_LEN + 1)  # fmt: skip
        assert index["splits"][split]["windows"] == len(windows) == len(want[split]) > 0
        np.testing.assert_array_equal(windows.read(np.arange(len(windows))), want[split])
    assert index["splits"]["validation"]["rows"] == VALIDATION_ROWS
    assert len(index["splits"]["train"]["shards"]) > 1  # several shards, read as one stream
    # Dropping at batch edges happened: fewer tokens than the plain concatenation.
    kept = sum(index["splits"][s]["tokens"] for s in data.SPLITS)
    assert kept < sum(len(encoder.encode(t + EOT, allowed_special={EOT})) for t in texts if t)
    assert datasets_cli.status_line("finewebedu", tmp_path).startswith("finewebedu: ok (")

    # The workload reads the prepared windows (PyTorch: no compilation needed to read data).
    model_config = {"vocab_size": 265, "seq_len": SEQ_LEN, "model_dim": 8, "num_heads": 1}
    workload = get_workload("finewebedu_lm", "pytorch", model_config=model_config)
    batch = next(workload.numpy_batches(0, "train", str(tmp_path), 4))  # type: ignore[attr-defined]
    starts = {
        int(np.flatnonzero(np.all(want["train"][:, :SEQ_LEN] == row, axis=1))[0])
        for row in batch["inputs"]
    }
    assert len(starts) == 4  # four distinct whole windows
    np.testing.assert_array_equal(batch["targets"][:, :-1], batch["inputs"][:, 1:])
    n_val = len(want["validation"])
    (val,) = workload.numpy_batches(0, "validation", str(tmp_path), n_val + 1)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(val["inputs"][:n_val], want["validation"][:, :SEQ_LEN])
    np.testing.assert_array_equal(val["weights"][:, 0], [1] * n_val + [0])
    assert workload.eval_size("validation", 100_000, str(tmp_path)) == n_val  # type: ignore[attr-defined]


def test_an_interrupted_prepare_resumes_to_the_same_shards(corpus, tmp_path) -> None:
    source, _ = corpus
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert _prepare(straight, source)
    lm_prepare.write_shards(
        resumed / data.DATASET_DIR,
        lm_prepare.hf_documents(source=source),
        tiny_bpe(),
        shard_tokens=SHARD_TOKENS,
        **CHUNKING,
        window=SEQ_LEN + 1,
        stop_after_shards=2,
    )
    partial = json.loads((resumed / data.DATASET_DIR / data.INDEX_FILE).read_text())
    assert not partial["complete"]
    assert partial["documents_done"] > 0
    assert datasets_cli.status_line("finewebedu", resumed).startswith("finewebedu: incomplete")
    with pytest.raises(data.FineWebEduNotPreparedError, match="'complete' is not true"):
        data.load(resumed, SEQ_LEN)
    assert _prepare(resumed, source)
    for name in ("straight", "resumed"):
        index = json.loads((tmp_path / name / data.DATASET_DIR / data.INDEX_FILE).read_text())
        index.pop("documents_done")
        if name == "straight":
            want = index
        else:
            assert index == want


def test_verify_and_load_reject_damaged_shards(corpus, tmp_path) -> None:
    source, _ = corpus
    assert _prepare(tmp_path, source)
    folder = tmp_path / data.DATASET_DIR
    shard = folder / "train_00000.bin"
    tokens = np.fromfile(shard, "<u2")
    tokens[0] ^= 1
    tokens.tofile(shard)
    lines: list[str] = []
    assert not lm_prepare.verify(folder, lines.append)
    assert any("SHA-256 differs" in line for line in lines)
    tokens[:-1].tofile(shard)
    with pytest.raises(data.FineWebEduNotPreparedError, match=r"train_00000\.bin: expected"):
        data.load(tmp_path, SEQ_LEN)


def test_missing_dataset_names_the_prepare_command(tmp_path) -> None:
    with pytest.raises(
        data.FineWebEduNotPreparedError, match="algoperf-datasets prepare finewebedu"
    ):
        data.load(tmp_path, SEQ_LEN)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for every byte (its `bytes_to_unicode`)."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    chars, extra = {b: chr(b) for b in printable}, 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def test_tiktoken_gives_the_hugging_face_tokenizers_ids() -> None:
    """The reference tokenises with Hugging Face's GPT-2 tokenizer (byte-level BPE); prepare
    uses tiktoken. The same ranks in both libraries give the same ids, <|endoftext|> too."""
    tokenizers = pytest.importorskip("tokenizers")
    encoder = tiny_bpe()
    chars = _bytes_to_unicode()
    ranks = encoder._mergeable_ranks  # bytes -> id
    vocab = {"".join(chars[b] for b in token): rank for token, rank in ranks.items()}
    merges = []
    for token, _ in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) > 1:  # the split whose halves merge first (both are tokens)
            left = next(
                token[:i] for i in range(1, len(token)) if token[:i] in ranks and token[i:] in ranks
            )
            right = token[len(left) :]
            merges.append(("".join(chars[b] for b in left), "".join(chars[b] for b in right)))
    hf = tokenizers.Tokenizer(tokenizers.models.BPE(vocab, merges))
    hf.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.add_special_tokens(["<|endoftext|>"])
    rng = np.random.default_rng(1)
    sample = [
        " ".join(rng.choice([*WORDS, "The", "théâtre", "don't", "42", "  "], 12)) for _ in range(20)
    ]
    sample.append(f"the cat{EOT} sat")  # the literal string is the special token, mid-text too
    for text in sample:
        ids = hf.encode(text + EOT).ids
        assert ids == [*encoder.encode(text, allowed_special={EOT}), encoder.eot_token], text
