"""FineWeb-Edu preparation on a tiny corpus and a tiny BPE the test builds (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from algoperf.workloads import datasets_cli, get_workload
from algoperf.workloads.finewebedu_lm import data
from algoperf.workloads.finewebedu_lm import prepare as lm_prepare

datasets = pytest.importorskip("datasets")
tiktoken = pytest.importorskip("tiktoken")

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
"""GPT-2's pre-tokenisation regex (tiktoken's `gpt2` pat_str)."""
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "far", "away", "and", "then"]
VALIDATION_TOKENS, SHARD_TOKENS, SEQ_LEN = 50, 64, 16


def tiny_bpe() -> tiktoken.Encoding:
    """A byte-level BPE: the 256 bytes, a few merges, and <|endoftext|> last (as GPT-2)."""
    ranks = {bytes([b]): b for b in range(256)}
    for merge in (b"th", b"the", b" c", b" the", b"at", b" s", b"an", b"and"):
        ranks[merge] = len(ranks)
    return tiktoken.Encoding(
        "tiny", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 264}
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """40 documents (two empty) saved with `datasets`, as a local copy of the Hub dataset."""
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, rng.integers(3, 12))) + "." for _ in range(40)]
    texts[5] = texts[17] = ""
    path = tmp_path_factory.mktemp("corpus") / "fineweb"
    datasets.Dataset.from_dict({"text": texts, "id": [str(i) for i in range(40)]}).save_to_disk(
        str(path)
    )
    return path, texts


def expected_stream(texts: list[str], encoder: tiktoken.Encoding) -> np.ndarray:
    """The reference's order: documents shuffled with seed 1996, each + <|endoftext|>."""
    order = datasets.Dataset.from_dict({"text": texts}).shuffle(seed=1996)["text"]
    return np.concatenate(
        [[*encoder.encode_ordinary(t), encoder.eot_token] for t in order if t]
    ).astype(np.uint16)


def _prepare(data_dir: Path, source: Path, **options) -> bool:
    return lm_prepare.prepare(
        data_dir,
        lambda _: None,
        source=source,
        encoder=tiny_bpe(),
        validation_tokens=VALIDATION_TOKENS,
        shard_tokens=SHARD_TOKENS,
        window=SEQ_LEN + 1,
        **options,
    )


def _split_tokens(folder: Path, split: str) -> np.ndarray:
    index = json.loads((folder / data.INDEX_FILE).read_text())
    shards = [np.fromfile(folder / s["file"], "<u2") for s in index["splits"][split]["shards"]]
    return np.concatenate(shards)


def test_prepare_splits_the_shuffled_token_stream_as_the_reference(corpus, tmp_path) -> None:
    source, texts = corpus
    encoder = tiny_bpe()
    assert encoder.encode_ordinary("the cat and") == [257, 258, 260, 32, 263]  # merges apply
    assert _prepare(tmp_path, source)
    folder = tmp_path / data.DATASET_DIR
    stream = expected_stream(texts, encoder)
    np.testing.assert_array_equal(_split_tokens(folder, "validation"), stream[:VALIDATION_TOKENS])
    np.testing.assert_array_equal(_split_tokens(folder, "train"), stream[VALIDATION_TOKENS:])
    index = json.loads((folder / data.INDEX_FILE).read_text())
    assert index["complete"]
    assert index["splits"]["train"]["windows"] == (len(stream) - VALIDATION_TOKENS) // (SEQ_LEN + 1)
    assert len(index["splits"]["train"]["shards"]) > 1  # several shards, read as one stream
    assert datasets_cli.status_line("finewebedu", tmp_path).startswith("finewebedu: ok (")

    # The workload reads the prepared windows (PyTorch: no compilation needed to read data).
    model_config = {"vocab_size": 265, "seq_len": SEQ_LEN, "model_dim": 8, "num_heads": 1}
    workload = get_workload("finewebedu_lm", "pytorch", model_config=model_config)
    windows = stream[VALIDATION_TOKENS:].astype(np.int32)
    batch = next(workload.numpy_batches(0, "train", str(tmp_path), 4))  # type: ignore[attr-defined]
    starts = {int(np.flatnonzero(np.all(
        np.lib.stride_tricks.sliding_window_view(windows, SEQ_LEN)[:: SEQ_LEN + 1] == row, axis=1
    ))[0]) for row in batch["inputs"]}  # fmt: skip
    assert len(starts) == 4  # four distinct whole windows
    np.testing.assert_array_equal(batch["targets"][:, :-1], batch["inputs"][:, 1:])
    (val,) = workload.numpy_batches(0, "validation", str(tmp_path), 4)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(val["inputs"][0], stream[:SEQ_LEN])
    np.testing.assert_array_equal(val["weights"][:, 0], [1, 1, 0, 0])  # 50 tokens: 2 windows
    assert workload.eval_size("validation", 100_000, str(tmp_path)) == 2  # type: ignore[attr-defined]


def test_an_interrupted_prepare_resumes_to_the_same_shards(corpus, tmp_path) -> None:
    source, _ = corpus
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert _prepare(straight, source)
    lm_prepare.write_shards(
        resumed / data.DATASET_DIR,
        lm_prepare.hf_documents(source=source),
        tiny_bpe(),
        validation_tokens=VALIDATION_TOKENS,
        shard_tokens=SHARD_TOKENS,
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
    for text in sample:
        ids = hf.encode(text + "<|endoftext|>").ids
        assert ids == [*encoder.encode_ordinary(text), encoder.eot_token], text
