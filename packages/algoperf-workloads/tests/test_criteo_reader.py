"""The Criteo 1TB reader: FarmHash, parsing against TF and a slow parser, order, padding."""

import importlib
import itertools
import json
import math
import random

import farmhash
import numpy as np
import pytest

from algoperf.api import ForwardPassMode
from algoperf.workloads import get_workload
from algoperf.workloads._pipeline import ProcessShare
from algoperf.workloads.criteo1tb import files, hashing, reader
from algoperf.workloads.criteo1tb.files import CriteoDataNotFoundError, CriteoLayoutError
from algoperf.workloads.criteo1tb.reader import RAW_VOCAB_SIZES, CriteoDataset

# `tf.strings.to_hash_bucket_fast([s], n)` values, computed with tensorflow-cpu 2.21.0 (and
# pyfarmhash 0.5.1, which agreed on all of them) in a scratch venv outside this repository:
#   tf.strings.to_hash_bucket_fast(tf.constant([s]), n).numpy()[0]
# TF's bucket count is an int64, so 2**63 - 1 is its largest; the fingerprints of 'e5ba7672',
# 'a', 'ab', 'abc7' and the 33- and 100-byte strings are >= 2**63, and TF reduces them as
# unsigned numbers (a signed modulo would differ).
TF_HASH_BUCKETS = [
    ("000000000", 39884406, 16124033),
    ("0000000025", 36, 8),
    ("0000000010", 2953546, 1866611),
    ("68fd1e640", 39884406, 6734129),
    ("80e26c9b1", 39043, 16854),
    ("fb936136", 2**63 - 1, 8874981813069878764),
    ("f0cf0024", 7, 0),
    ("6f67f7e52", 17289, 5318),
    ("1f89b56219", 39979771, 5644717),
    ("3c1b7a0e21", 39664984, 13525577),
    ("a8cd5504", 20263, 570),
    ("b2cb9c989", 38532951, 37585987),
    ("e5ba7672", 2**63 - 1, 5997698095771353168),
    ("ffffffff13", 2208, 1363),
    ("", 1000, 263),
    ("a", 2**63 - 1, 3694432073954588132),
    ("ab", 2**62 + 1, 3066228220894225692),
    ("abc7", 2**63 - 1, 6652951973968809033),
    ("1234567", 2**63 - 1, 7403371938570208423),
    ("12345678", 2**63 - 1, 3430003927990384362),
    ("0123456789abcdef", 2**63 - 1, 6105018409752412263),
    ("0123456789abcdef0", 2**63 - 1, 7920484519069722889),
    ("x" * 33, 2**63 - 1, 3046993373088323128),
    ("y" * 100, 2**63 - 1, 7898120570302252548),
    ("-1", 2**31 - 1, 1833158626),
    ("07b5194c22", 585935, 565529),
]

# Three lines through the reference's parsing, rebuilt in TF 2.21.0 from its
# `_parse_example_fn`: decode_csv(field_delim='\t', na_value='-1', defaults 0.0 and
# '00000000'), log(relu(x) + 1), to_hash_bucket_fast(value + str(i), RAW_VOCAB_SIZES[i]),
# cast to float32. Empty fields, '-1', a negative count, a 9-digit count and a 3-character
# categorical value.
_CATS_1 = [
    "62770d79", "e21f5d58", "afea442f", "945c7fcf", "38b02748", "6fcd6dcb", "3580aa21",
    "28808903", "46dedfa6", "2e027dc1", "0c7c4231", "95981d1f", "00c5ffb7", "be4ee537",
    "8a0b74cc", "4cdc3efa", "d20856aa", "b8170bba", "9512c20b", "c38e2f28", "14f65a5d",
    "25b1b089", "d7c1fc0b", "7caf609c", "30436bfc", "ed10571d",
]  # fmt: skip
TF_LINES = [
    "\t".join(["1", "5", "110", "", "16", "", "1", "0", "14", "7", "1", "", "306", "", *_CATS_1]),
    "\t".join(["0", "-1", "0", "1", "-1", "1540", "44", "4", "8", "268", "0", "4", "", "3"])
    + "\t" * 26
    + "-1",
    "\t".join(["0", "123456789", "-5", "3", *[""] * 8, "2", "99999", "62770d79"])
    + "\t" * 25
    + "abc",
]
TF_TARGETS = [1.0, 0.0, 0.0]
TF_DENSE_BITS = [
    [0x3FE55860, 0x4096B479, 0, 0x4035535E, 0, 0x3F317218, 0, 0x402D50B2, 0x40051592,
     0x3F317218, 0, 0x40B74256, 0],
    [0, 0, 0x3F317218, 0, 0x40EAE2D0, 0x4073A05C, 0x3FCE0210, 0x400C9F54, 0x40B307E0, 0,
     0x3FCE0210, 0, 0x3FB17218],
    [0x41950D1C, 0, 0x3FB17218, 0, 0, 0, 0, 0, 0, 0, 0, 0x3F8C9F54, 0x413834F1],
]  # fmt: skip
TF_IDS = [  # before the float32 cast
    [8327193, 17147, 8748, 1094, 15178, 1, 4293, 219, 33, 35110668, 2373193, 122441, 5, 448,
     3604, 56, 0, 331, 2, 36634962, 2896151, 29612659, 453181, 7834, 102, 34],
    [16124033, 10351, 4188, 7307, 19695, 0, 6670, 378, 5, 27691836, 1866611, 184436, 4, 202,
     10577, 64, 3, 387, 9, 13392961, 5775802, 11306799, 361450, 6860, 42, 8],
    [8327193, 10351, 4188, 7307, 19695, 0, 6670, 378, 5, 27691836, 1866611, 184436, 4, 202,
     10577, 64, 3, 387, 9, 13392961, 5775802, 11306799, 361450, 6860, 42, 30],
]  # fmt: skip

LINES_PER_FILE = 10


# ---------------------------------------------------------------- fake data


def slow_parse(line: str) -> tuple[np.ndarray, np.float32]:
    """The reference's parsing, one line, in plain Python with farmhash (the test oracle)."""
    fields = line.rstrip("\n").split("\t")
    assert len(fields) == 40

    def number(field):
        return np.float32(0.0 if field in ("", "-1") else float(field))

    dense = [np.log(np.maximum(number(f), np.float32(0)) + np.float32(1)) for f in fields[1:14]]
    ids = [
        farmhash.fingerprint64(("00000000" if f in ("", "-1") else f) + str(i)) % vocab
        for i, (f, vocab) in enumerate(zip(fields[14:], RAW_VOCAB_SIZES, strict=True))
    ]
    return np.array(dense + ids, dtype=np.float32), number(fields[0])


def random_line(rng: random.Random, tag: tuple[int, int] = (0, 0)) -> str:
    """A Criteo-like line; `tag` goes into the first two counts to identify it."""
    label = rng.choice(["0", "1", "", "-1"])
    counts = [str(tag[0]), str(tag[1])]
    for _ in range(11):
        kind = rng.random()
        counts.append(
            ""
            if kind < 0.15
            else "-1"
            if kind < 0.25
            else str(rng.randrange(-3, 100))
            if kind < 0.8
            else str(rng.randrange(10**9))
        )
    cats = []
    for _ in range(26):
        kind = rng.random()
        cats.append(
            ""
            if kind < 0.15
            else "-1"
            if kind < 0.2
            else rng.choice(["00000000", "ffffffff", "0a1b2c3d"])
            if kind < 0.3
            else f"{rng.getrandbits(32):08x}"
        )
    return "\t".join([label, *counts, *cats])


def write_layout(root, lines_per_day=25, day23_last=4, seed=0):
    """A full reference layout of tiny files: 23 train days and day 23's 36 files.

    Train day d has `lines_per_day + d` lines; the first two counts of each line are its
    day and its line number within the day. Returns {file name: its lines}.
    """
    rng = random.Random(seed)
    written = {}
    for day in range(24):
        total = lines_per_day + day if day < 23 else 35 * LINES_PER_FILE + day23_last
        lines = [random_line(rng, (day, i)) for i in range(total)]
        for part, start in enumerate(range(0, total, LINES_PER_FILE)):
            name = f"day_{day}_{part:02d}"
            written[name] = lines[start : start + LINES_PER_FILE]
            (root / name).write_text("".join(line + "\n" for line in written[name]))
    return written


def tags(inputs: np.ndarray) -> list[tuple[int, int]]:
    """(day, line) of each example, from its first two dense features."""
    raw = np.rint(np.expm1(inputs[:, :2].astype(np.float64))).astype(int)
    return [tuple(row) for row in raw.tolist()]


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    root = tmp_path_factory.mktemp("criteo")
    return root, write_layout(root)


def dataset(root, **options):
    options = {"lines_per_file": LINES_PER_FILE, "block_bytes": 1024, "num_threads": 2} | options
    return CriteoDataset(root, **options)


# ---------------------------------------------------------------- hashing


def test_scalar_fingerprint64_matches_farmhash_at_every_length():
    rng = random.Random(0)
    for length in [*range(0, 130), 200, 255, 256, 1000]:
        for _ in range(3):
            data = bytes(rng.randrange(256) for _ in range(length))
            assert hashing.fingerprint64(data) == farmhash.fingerprint64(data), length


def test_vectorised_fingerprint64_matches_farmhash():
    rng = random.Random(1)
    strings = [bytes(rng.randrange(256) for _ in range(n)) for n in list(range(40)) * 20]
    strings += [b"00000000" + str(i).encode() for i in range(26)]
    expected = np.array([farmhash.fingerprint64(s) for s in strings], dtype=np.uint64)
    np.testing.assert_array_equal(hashing.fingerprint64_many(strings), expected)


@pytest.mark.parametrize("suffix", [b"0", b"7", b"10", b"25", b"1234567", b"12345678"])
def test_suffixed_fingerprint64_matches_farmhash(suffix):
    rng = random.Random(2)
    values = [b"00000000", b"ffffffff", b"\0" * 8, b"\xff" * 8]
    values += [f"{rng.getrandbits(32):08x}".encode() for _ in range(500)]
    values += [bytes(rng.randrange(256) for _ in range(8)) for _ in range(500)]
    words = np.frombuffer(b"".join(values), dtype="<u8").reshape(2, -1)  # any shape
    expected = [farmhash.fingerprint64(v + suffix) for v in values]
    got = hashing.fingerprint64_suffixed(words, suffix)
    assert got.shape == (2, len(values) // 2)
    np.testing.assert_array_equal(got.ravel(), np.array(expected, dtype=np.uint64))
    with pytest.raises(ValueError, match="1 to 8 bytes"):
        hashing.fingerprint64_suffixed(words, b"")


@pytest.mark.parametrize(("string", "buckets", "expected"), TF_HASH_BUCKETS)
def test_fingerprints_equal_tensorflow_to_hash_bucket_fast(string, buckets, expected):
    data = string.encode()
    assert farmhash.fingerprint64(data) % buckets == expected
    assert hashing.fingerprint64(data) % buckets == expected
    assert int(hashing.fingerprint64_many([data])[0]) % buckets == expected
    if len(data) in (9, 10):
        word = np.frombuffer(data[:8], dtype="<u8")
        assert int(hashing.fingerprint64_suffixed(word, data[8:])[0]) % buckets == expected


# ---------------------------------------------------------------- parsing


def test_parsing_matches_tensorflow_golden_values():
    block = "".join(line + "\n" for line in TF_LINES).encode()
    features, targets = reader.parse_block(block)
    inputs = features.T
    np.testing.assert_array_equal(targets, TF_TARGETS)
    np.testing.assert_array_equal(inputs[:, :13].view(np.uint32), TF_DENSE_BITS)
    np.testing.assert_array_equal(inputs[:, 13:], np.array(TF_IDS, dtype=np.float32))
    assert inputs[0, 13 + 19] == 36634960.0  # float32 rounding of id 36634962, as in TF


def test_parsing_matches_the_slow_parser():
    rng = random.Random(3)
    lines = [random_line(rng, (rng.randrange(50), rng.randrange(10**6))) for _ in range(400)]
    lines[5] = lines[5].rsplit("\t", 3)[0] + "\tabc\t0123456789abcdef0123\t-7"  # odd lengths
    features, targets = reader.parse_block("".join(f"{line}\n" for line in lines).encode())
    expected = [slow_parse(line) for line in lines]
    np.testing.assert_array_equal(features.T, np.stack([x for x, _ in expected]))
    np.testing.assert_array_equal(targets, [y for _, y in expected])


def test_read_blocks_cut_at_line_ends(tmp_path):
    path = tmp_path / "day_0_00"
    text = b"".join(b"%d\t" % i + b"x" * (i % 50) + b"\n" for i in range(300)) + b"last"
    path.write_bytes(text)
    blocks = [bytes(b) for b in reader.read_blocks(path, block_bytes=64)]
    assert b"".join(blocks) == text
    assert all(b.endswith(b"\n") for b in blocks[:-1])
    assert len(blocks) > 10
    start = len(blocks[0]) + len(blocks[1])
    assert b"".join(reader.read_blocks(path, 64, start)) == text[start:]
    ends = [int(e) for block in blocks for e in reader.line_ends(memoryview(block))]
    assert len(ends) == 301
    assert ends[-1] == len(blocks[-1]) == 4


def parse_all(path, batch=4, share=reader.SINGLE_PROCESS):
    """Every batch of `path`'s lines, through the reader's scanning and parsing."""
    plan = reader.scan_lines([path], batch, share.rows(batch))
    return list(reader.parse_batches(plan, len(share.rows(batch))))


def test_malformed_lines_name_the_file(tmp_path):
    rng = random.Random(4)
    path = tmp_path / "day_0_00"
    path.write_text(random_line(rng) + "\n" + "1\t2\t3\n")
    with pytest.raises(ValueError, match="day_0_00: not Criteo 1TB lines"):
        parse_all(path)
    path.write_text(random_line(rng) + "\n\n" + random_line(rng) + "\n")
    with pytest.raises(ValueError, match=r"day_0_00: 3 lines parsed as 2 rows \(an empty line"):
        parse_all(path)


# ---------------------------------------------------------------- order and batching


def test_train_reads_a_seeded_file_shuffle_rows_in_order_drops_remainders(layout):
    root, written = layout
    ds = dataset(root)
    train_names = [n for n in written if not n.startswith("day_23_")]
    pass_size = sum(len(written[n]) for n in train_names)
    batch = 16
    per_pass = pass_size // batch
    stream = ds.train_batches(seed=5, global_batch_size=batch)
    batches = [next(stream) for _ in range(2 * per_pass)]
    stream.close()
    assert all(
        b["inputs"].shape == (batch, 39) and b["inputs"].dtype == np.float32 for b in batches
    )
    assert all(b["weights"].tolist() == [1.0] * batch for b in batches)
    first, second = (
        flat(tags(b["inputs"]) for b in batches[i * per_pass : (i + 1) * per_pass])
        for i in range(2)
    )
    for seen in (first, second):
        # Whole files one after another, each in line order; the pass's remainder dropped.
        file_order = []
        for day, line in seen:
            name = f"day_{day}_{line // LINES_PER_FILE:02d}"
            if not file_order or file_order[-1] != name:
                file_order.append(name)
        expected = [file_tags(name, written) for name in file_order]
        assert seen == flat(expected)[: len(seen)]
        assert len(seen) == per_pass * batch > pass_size - batch
        assert sorted(file_order) != file_order  # shuffled
        assert set(file_order) <= set(train_names)
    assert first[:batch] != second[:batch]  # a new file order each pass
    again = next(ds.train_batches(seed=5, global_batch_size=batch))
    np.testing.assert_array_equal(again["inputs"], batches[0]["inputs"])
    other = next(ds.train_batches(seed=6, global_batch_size=batch))
    assert not np.array_equal(other["inputs"], batches[0]["inputs"])


def file_tags(name, written):
    """(day, line) of each line of file `name`."""
    day, part = map(int, name.removeprefix("day_").split("_"))
    return [(day, part * LINES_PER_FILE + i) for i in range(len(written[name]))]


def flat(lists):
    return list(itertools.chain.from_iterable(lists))


def slow_inputs(lines):
    return np.stack([slow_parse(line)[0] for line in lines])


def test_eval_splits_in_order_padded_with_zero_weights(layout):
    root, written = layout
    ds = dataset(root)
    val_lines = flat(written[f"day_23_{i:02d}"] for i in range(19, 36))
    assert len(val_lines) == 16 * LINES_PER_FILE + 4
    batches = list(ds.eval_batches("validation", 64))
    assert [len(b["targets"]) for b in batches] == [64, 64, 64]
    weights = np.concatenate([b["weights"] for b in batches])
    np.testing.assert_array_equal(weights, [1.0] * 164 + [0.0] * 28)
    inputs = np.concatenate([b["inputs"] for b in batches])
    expected = [slow_parse(line) for line in val_lines]
    np.testing.assert_array_equal(inputs[:164], np.stack([x for x, _ in expected]))
    np.testing.assert_array_equal(inputs[164:], 0.0)
    targets = np.concatenate([b["targets"] for b in batches])
    np.testing.assert_array_equal(targets[:164], [y for _, y in expected])
    test = list(ds.eval_batches("test", 100, num_examples=150))
    np.testing.assert_array_equal(
        np.concatenate([b["weights"] for b in test]), [1] * 150 + [0] * 50
    )
    test_lines = flat(written[f"day_23_{i:02d}"] for i in range(19))[:150]
    np.testing.assert_array_equal(
        np.concatenate([b["inputs"] for b in test])[:150], slow_inputs(test_lines)
    )


def test_eval_train_reads_a_fixed_shuffle_of_the_train_files(layout):
    root, _ = layout
    ds = dataset(root, prefetch=0)
    first = list(ds.eval_batches("eval_train", 32, num_examples=100))
    again = list(ds.eval_batches("eval_train", 32, num_examples=100))
    assert len(first) == 4
    np.testing.assert_array_equal(first[-1]["weights"], [1] * 4 + [0] * 28)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a["inputs"], b["inputs"])
    assert tags(first[0]["inputs"])[0][0] != 0  # not simply day 0 first (seed 0 shuffle)


def test_num_examples_counts_only_the_last_file_of_each_day(layout, monkeypatch):
    root, written = layout
    ds = dataset(root)
    assert ds.num_examples("validation") == 164
    assert ds.num_examples("test") == 190
    train = sum(len(v) for k, v in written.items() if not k.startswith("day_23_"))
    counted = []
    real = files.count_lines
    monkeypatch.setattr(files, "count_lines", lambda p: counted.append(p.name) or real(p))
    assert ds.num_examples("train") == ds.num_examples("eval_train") == train
    assert len(counted) == 23  # one file per day, once
    assert dataset(root, lines_per_file=None).num_examples("train") == train
    with pytest.raises(CriteoLayoutError, match="too few for the 10000 lines"):
        dataset(root, lines_per_file=10_000).num_examples("test")


# ---------------------------------------------------------------- processes and resuming


def shares(count):
    return [ProcessShare(i, count) for i in range(count)]


def take(stream, n):
    return [next(stream) for _ in range(n)]


def union(per_process):
    """Each batch's arrays concatenated over the processes, in rank order."""
    return [
        {key: np.concatenate([b[key] for b in parts]) for key in parts[0]}
        for parts in zip(*per_process, strict=True)
    ]


def assert_batches_equal(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def train_lines(written):
    return sum(len(v) for k, v in written.items() if not k.startswith("day_23_"))


@pytest.mark.parametrize("count", [1, 2, 4])
def test_processes_train_rows_union_to_the_global_batches(layout, count):
    root, written = layout
    ds = dataset(root)
    n = train_lines(written) // 16 + 3  # into the second pass
    whole = take(ds.train_batches(5, 16), n)
    streams = [ds.train_batches(5, 16, share) for share in shares(count)]
    parts = [take(stream, n) for stream in streams]
    assert all(len(b["targets"]) == 16 // count for part in parts for b in part)
    assert_batches_equal(union(parts), whole)
    assert all(s.get_state() == streams[0].get_state() for s in streams)  # a global position


@pytest.mark.parametrize("count", [1, 2, 4])
@pytest.mark.parametrize(
    ("split", "batch", "num"),
    [("validation", 64, None), ("test", 100, 150), ("eval_train", 32, 100)],
)
def test_processes_eval_rows_union_to_the_padded_global_batches(layout, count, split, batch, num):
    root, _ = layout
    ds = dataset(root)
    whole = list(ds.eval_batches(split, batch, num))
    parts = [list(ds.eval_batches(split, batch, num, share)) for share in shares(count)]
    assert all(len(b["weights"]) == batch // count for part in parts for b in part)
    assert_batches_equal(union(parts), whole)


def recording_parser(monkeypatch):
    """Patch the parser to record (bytes, (day, line) of each row) of every call."""
    parsed = []
    real = reader.parse_block

    def parse_block(data, path="<block>"):
        chunk = real(data, path)
        parsed.append((len(data), tags(chunk[0].T)))
        return chunk

    monkeypatch.setattr(reader, "parse_block", parse_block)
    return parsed


def test_each_process_parses_only_its_rows(layout, monkeypatch):
    root, _ = layout
    ds = dataset(root, prefetch=0)
    share = ProcessShare(2, 4)
    reference = ds.train_batches(3, 16, share)
    expected = flat(tags(b["inputs"]) for b in take(reference, 40))
    reference.close()
    parsed = recording_parser(monkeypatch)
    parsed_bytes = 0
    for rank in shares(4):
        parsed.clear()
        batches = list(ds.eval_batches("validation", 64, share=rank))
        mine = flat(tags(b["inputs"][b["weights"] > 0]) for b in batches)
        assert sorted(flat(t for _, t in parsed)) == sorted(mine)
        parsed_bytes += sum(n for n, _ in parsed)
    assert parsed_bytes == sum((root / f"day_23_{i}").stat().st_size for i in range(19, 36))
    parsed.clear()
    stream = ds.train_batches(3, 16, share)
    got = flat(tags(b["inputs"]) for b in take(stream, 10))
    rows = flat(t for _, t in parsed)
    assert got == expected[:40]
    assert set(got) <= set(rows) <= set(expected)  # its rows, some of them read ahead
    assert len(rows) == len(set(rows)) < 4 * 40
    stream.close()


@pytest.mark.parametrize("batch", [16, 4])  # 4 divides a pass: a state at its very end
def test_train_resumes_from_its_state_without_rereading(layout, monkeypatch, batch):
    root, written = layout
    ds = dataset(root)
    per_pass = train_lines(written) // batch
    share = ProcessShare(1, 2)
    stream = ds.train_batches(7, batch, share)
    states, batches = [], []
    for _ in range(per_pass + 4):
        states.append(stream.get_state())
        batches.append(next(stream))
    reads = []
    real = reader.read_blocks

    def read_blocks(path, block_bytes, start=0):
        reads.append((path.name, start))
        return real(path, block_bytes, start)

    monkeypatch.setattr(reader, "read_blocks", read_blocks)
    for k in (0, 1, 9, per_pass - 1, per_pass, per_pass + 1):
        resumed = ds.train_batches(7, batch, share)
        resumed.set_state(json.loads(json.dumps(states[k])))
        reads.clear()
        assert_batches_equal(take(resumed, 3), batches[k : k + 3])
        state = states[k]
        order = [p.name for p in resumed.pass_order(state["pass"])]
        following = [p.name for p in resumed.pass_order(state["pass"] + 1)]
        expected = [(order[state["file"]], state["offset"])]
        expected += [(name, 0) for name in order[state["file"] + 1 :] + following]
        assert reads == expected[: len(reads)]  # seeks to the state, reads nothing before
    if batch == 4:  # the first pass ends with a batch: its state points past its last line
        end, order = states[per_pass], stream.pass_order(0)
        assert end == {"pass": 0, "file": len(order) - 1, "offset": order[-1].stat().st_size}
    with pytest.raises(ValueError, match="not the state of a Criteo training stream"):
        stream.set_state({"next_batch": 3})


def test_the_input_queue_resumes_on_files(layout):
    torch = pytest.importorskip("torch")
    root, _ = layout
    workload = get_workload("criteo1tb_test", "pytorch")
    queue = workload.build_input_queue(0, "train", str(root), 32)
    take(queue, 3)
    state = queue.get_state()
    later = take(queue, 2)
    queue.close()
    resumed = workload.build_input_queue(0, "train", str(root), 32)
    resumed.set_state(state)
    for a, b in zip(later, take(resumed, 2), strict=True):
        torch.testing.assert_close(a["inputs"], b["inputs"], rtol=0, atol=0)
    resumed.close()


def test_missing_files_name_the_data_dir_pattern_and_command(tmp_path):
    (tmp_path / "day_23_00").write_text("")
    with pytest.raises(CriteoDataNotFoundError) as error:
        CriteoDataset(tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message
    assert "day_0_*" in message
    assert "day_23_01" in message
    assert f"algoperf-datasets prepare criteo1tb --data-dir {tmp_path}" in message


def test_missing_pyarrow_names_the_extra(monkeypatch):
    real = importlib.import_module

    def no_pyarrow(name, *args):
        if name.startswith("pyarrow"):
            raise ImportError("No module named 'pyarrow'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_pyarrow)
    with pytest.raises(ImportError, match=r"pip install 'algoperf-workloads\[criteo\]'"):
        reader.import_pyarrow()


def test_prefetch_reraises_errors_and_stops_when_closed():
    def numbers():
        yield 1
        yield 2
        raise RuntimeError("broken file")

    stream = reader.prefetch(numbers(), depth=1)
    assert next(stream) == 1
    assert next(stream) == 2
    with pytest.raises(RuntimeError, match="broken file"):
        next(stream)
    produced = []

    def endless():
        for i in range(10**9):
            produced.append(i)
            yield i

    stream = reader.prefetch(endless(), depth=2)
    assert next(stream) == 0
    stream.close()
    count = len(produced)
    assert count <= 5
    assert len(produced) == count  # the producer has stopped


def test_a_batch_from_files_through_the_model(layout):
    torch = pytest.importorskip("torch")
    root, _ = layout
    workload = get_workload("criteo1tb_test", "pytorch")
    model, state = workload.init_model_fn(0)
    batch = next(workload.build_input_queue(0, "train", str(root), 32))
    assert tuple(batch["inputs"].shape) == (32, 39)
    assert batch["inputs"].dtype == torch.float32
    with torch.no_grad():
        logits, _ = workload.model_fn(model, batch, state, ForwardPassMode.EVAL, None, False)
    assert tuple(logits.shape) == (32, 1)
    loss = workload.loss_fn(batch["targets"], logits, batch["weights"])
    assert math.isfinite(loss["summed"].item())
    assert loss["n_valid_examples"].item() == 32
    with pytest.raises(ValueError, match="needs data_dir"):
        workload.load_dataset(None)


@pytest.mark.parametrize("field", ["+5", "1.5", "12345678901234567", "1e3", "-", "--1", "1-"])
def test_unusual_counts_parse_like_the_slow_parser_or_fail(field):
    lines = [random_line(random.Random(6)) for _ in range(3)]
    lines[1] = "\t".join([*lines[1].split("\t")[:4], field, *lines[1].split("\t")[5:]])
    block = "".join(f"{line}\n" for line in lines).encode()
    try:
        expected = [slow_parse(line) for line in lines]
    except ValueError:  # not a number for Python either: the reader must refuse it too
        with pytest.raises(ValueError, match="not Criteo 1TB lines"):
            reader.parse_block(block)
        return
    features, targets = reader.parse_block(block)
    np.testing.assert_array_equal(features.T, np.stack([x for x, _ in expected]))
    np.testing.assert_array_equal(targets, [y for _, y in expected])


@pytest.mark.parametrize("label", ["-2", "1.0", "+1", "-1", "", "x"])
def test_labels_parse_like_decode_csv(label):
    lines = [random_line(random.Random(7)) for _ in range(3)]
    lines[1] = label + lines[1][lines[1].index("\t") :]
    block = "".join(f"{line}\n" for line in lines).encode()
    if label == "x":
        with pytest.raises(ValueError, match="<block>: label b'x' is not a number"):
            reader.parse_block(block)
        return
    _, targets = reader.parse_block(block)
    assert targets[1] == slow_parse(lines[1])[1] == (0.0 if label in ("", "-1") else float(label))
