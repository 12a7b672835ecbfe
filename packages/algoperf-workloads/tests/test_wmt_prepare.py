"""wmt's prepare step, on a few sentences and over `tfds.testing.mock_data`."""

import sys

import numpy as np
import pytest

from algoperf import api
from algoperf.workloads import _tfds, datasets_cli, get_workload
from algoperf.workloads.wmt import data, prepare
from algoperf.workloads.wmt.bleu import SentencePieceDetokenizer, sentence_ids
from algoperf.workloads.wmt.config import EOS_ID

PAIRS = {
    "train": [
        ("Das Haus ist klein.", "The house is small."),
        ("Der Hund schläft im Garten.", "The dog sleeps in the garden."),
        ("Wir fahren morgen nach Berlin.", "We are driving to Berlin tomorrow."),
        ("Die Katze trinkt Milch.", "The cat drinks milk."),
        ("Ich lese ein Buch über Geschichte.", "I am reading a book about history."),
    ]
    * 4,
    "validation": [("Das Buch ist klein.", "The book is small.")],
    "test": [("Der Hund trinkt.", "The dog drinks."), ("Wir lesen.", "We read.")],
}
VOCAB = 40


class FakeBuilder:
    """A TFDS builder that is already prepared."""

    def is_prepared(self):
        return True


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    readers = {split: (lambda pairs=pairs: iter(pairs)) for split, pairs in PAIRS.items()}
    lines = []
    prepare.write_tokenized(readers, data_dir, lines.append, vocab_size=VOCAB, max_characters=300)
    return data_dir, lines


def test_the_tokenizer_learns_from_the_first_characters_of_both_sides():
    lines = list(prepare.tokenizer_lines(PAIRS["train"], max_characters=60))
    assert lines == ["Das Haus ist klein.", "The house is small.", "Der Hund schläft im Garten."]


def test_token_ids_end_with_eos_and_decode_back_to_the_sentences(prepared):
    data_dir, lines = prepared
    assert any("SentencePiece" in line for line in lines)
    splits = data.load_splits(str(data_dir))
    assert {s: len(v) for s, v in splits.items()} == {s: len(p) for s, p in PAIRS.items()}
    detokenize = SentencePieceDetokenizer(data_dir / data.SPM_MODEL)
    for split, pairs in PAIRS.items():
        for i, (de, en) in enumerate(pairs):
            x, y = splits[split].pair(i)
            assert x[-1] == y[-1] == EOS_ID
            assert detokenize(sentence_ids(x)) == de
            assert detokenize(sentence_ids(y)) == en
    assert prepare.verify(data_dir, {s: len(p) for s, p in PAIRS.items()}, print)
    assert not prepare.verify(data_dir, {"test": 3}, print)


def test_prepare_reads_tfds_records_and_skips_prepared_builders(tmp_path, monkeypatch):
    def data_source(name, split, data_dir):
        source = prepare.SOURCES
        ours = next(s for s, (n, t) in source.items() if (n, t) == (name, split))
        return [{"de": de.encode(), "en": en} for de, en in PAIRS[ours]]

    monkeypatch.setattr(_tfds, "data_source", data_source)
    monkeypatch.setattr(prepare, "VOCAB_SIZE", VOCAB)
    monkeypatch.setattr(prepare, "MAX_CHARACTERS", 300)
    monkeypatch.setattr(prepare, "SPLIT_SIZES", {s: len(p) for s, p in PAIRS.items()})
    monkeypatch.setattr(prepare, "write_tokenized", _with_small_vocab(prepare.write_tokenized))
    assert prepare.prepare(tmp_path, print, lambda name, d: FakeBuilder())
    batches = data.WmtDataset(data.load_splits(str(tmp_path)), 96).train_batches(0, 2)
    batch = next(batches)
    assert batch["inputs"].shape == (2, 96)
    assert (batch["inputs_segmentation"].max(axis=1) > 1).all()  # short pairs pack
    np.testing.assert_array_equal(batch["weights"], batch["targets"] > 0)


def _with_small_vocab(write):
    def small(splits, data_dir, echo):
        return write(splits, data_dir, echo, vocab_size=VOCAB, max_characters=300)

    return small


def test_cli_prepare_over_mocked_tfds_feeds_the_workloads_packed_batches(tmp_path, monkeypatch):
    """`algoperf-datasets prepare wmt` end to end over `tfds.testing.mock_data`.

    The mock serves TFDS's own wmt17/wmt14 builders and data sources (random sentences over
    ' abcdefghij', the same pairs in every split) without TensorFlow; it makes
    `download_and_prepare` a no-op, so no ArrayRecord file is written here.
    """
    tfds = pytest.importorskip("tensorflow_datasets", reason="the `tfds` extra is not installed")
    num_pairs = 30
    monkeypatch.setattr(prepare, "SPLIT_SIZES", dict.fromkeys(data.SPLITS, num_pairs))
    monkeypatch.setattr(prepare, "write_tokenized", _with_small_vocab(prepare.write_tokenized))
    lines = []
    with tfds.testing.mock_data(num_examples=num_pairs, policy=tfds.testing.MockPolicy.USE_CODE):
        code = datasets_cli.prepare("wmt", tmp_path, echo=lines.append)
        sources = {
            split: tfds.data_source(name, split=tfds_split, data_dir=str(tmp_path))
            for split, (name, tfds_split) in prepare.SOURCES.items()
        }
        pairs = {s: [(ex["de"], ex["en"]) for ex in source] for s, source in sources.items()}
    assert code == datasets_cli.OK, lines
    assert "tensorflow" not in sys.modules
    # Each split's ids are its TFDS pairs in order, German as inputs, English as targets (up
    # to SentencePiece's whitespace normalisation: the mock's runs of spaces become one).
    splits = data.load_splits(str(tmp_path))
    detokenize = SentencePieceDetokenizer(tmp_path / data.SPM_MODEL)
    for split, split_pairs in pairs.items():
        assert len(splits[split]) == len(split_pairs) == num_pairs
        for i, (de, en) in enumerate(split_pairs):
            x, y = splits[split].pair(i)
            assert x[-1] == y[-1] == EOS_ID
            assert min(x.min(), y.min()) > 0  # no unknown piece: the mock's 11 characters
            assert max(x.max(), y.max()) < VOCAB
            assert detokenize(sentence_ids(x)) == " ".join(de.split())
            assert detokenize(sentence_ids(y)) == " ".join(en.split())
    # The workload's own loader packs the prepared ids: several short pairs per row.
    workload = get_workload("wmt", "pytorch", model_config={"vocab_size": VOCAB, "max_len": 64})
    batch = next(workload.build_input_queue(0, "train", str(tmp_path), 4))
    assert batch["inputs"].shape == batch["targets"].shape == (4, 64)
    assert (batch["inputs_segmentation"].amax(dim=1) > 1).all()
    assert (batch["weights"] == (batch["targets"] > 0)).all()


def test_expected_split_sizes_agree_with_the_workload_spec():
    spec = api.get_workload_spec("wmt")
    assert {
        "train": spec.num_train_examples,
        "validation": spec.num_validation_examples,
        "test": spec.num_test_examples,
    } == prepare.SPLIT_SIZES
