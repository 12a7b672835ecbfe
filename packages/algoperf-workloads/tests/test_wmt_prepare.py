"""wmt's prepare step on a few sentences: tokenizer training, token ids, and reading them back."""

import numpy as np
import pytest

from algoperf import api
from algoperf.workloads import _tfds
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


def test_expected_split_sizes_agree_with_the_workload_spec():
    spec = api.get_workload_spec("wmt")
    assert {
        "train": spec.num_train_examples,
        "validation": spec.num_validation_examples,
        "test": spec.num_test_examples,
    } == prepare.SPLIT_SIZES
