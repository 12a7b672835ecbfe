"""Preparing Criteo 1TB: splitting downloaded days (resumably), checking the layout."""

import gzip

import pytest

from algoperf.workloads._prepare import ManualStepRequired
from algoperf.workloads.criteo1tb import prepare
from algoperf.workloads.criteo1tb.files import CriteoLayoutError, count_examples

PART = 10
"""Lines per part file in these tests (5,000,000 for the real data)."""
DAY23_LINES = 35 * PART + 7
VALIDATION_LAST = 7


def line(day: int, i: int) -> bytes:
    """A 40-field line (at least 41 bytes, as every Criteo line) naming its day and number."""
    return b"\t".join([b"1", b"%d" % day, b"%d" % i, *[b""] * 11, *[b"%08x" % i] * 26]) + b"\n"


def day_lines(day: int) -> int:
    return DAY23_LINES if day == 23 else 23 + day


def write_raw(root, days=range(24), gz=True):
    """Downloaded days: day_{d}.gz (or day_{d}), `day_lines(d)` lines each."""
    for day in days:
        text = b"".join(line(day, i) for i in range(day_lines(day)))
        if gz:
            (root / f"day_{day}.gz").write_bytes(gzip.compress(text, compresslevel=1))
        else:
            (root / f"day_{day}").write_bytes(text)


def run(root, messages=None, **options):
    echo = (messages if messages is not None else []).append
    prepare._prepare(root, echo, PART, last_eval_lines=VALIDATION_LAST, **options)


def test_splits_downloads_into_parts_of_the_reference_layout(tmp_path):
    write_raw(tmp_path, range(12), gz=True)
    write_raw(tmp_path, range(12, 24), gz=False)
    messages = []
    run(tmp_path, messages)
    for day in range(24):
        parts = sorted(tmp_path.glob(f"day_{day}_[0-9][0-9]"))
        expected = (day_lines(day) + PART - 1) // PART
        assert [p.name for p in parts] == [f"day_{day}_{i:02d}" for i in range(expected)]
        text = b"".join(p.read_bytes() for p in parts)
        assert text == b"".join(line(day, i) for i in range(day_lines(day)))
        assert all(p.read_bytes().count(b"\n") == PART for p in parts[:-1])
        assert (tmp_path / f"day_{day}.split-done").exists()
    assert len(list(tmp_path.glob("day_23_*"))) == 36
    assert not list(tmp_path.glob("*.partial"))
    assert count_examples(tmp_path, "validation", PART) == 16 * PART + VALIDATION_LAST
    assert any("may be deleted" in m for m in messages)
    messages.clear()
    run(tmp_path, messages)  # done: checked, nothing split again
    assert not any("splitting" in m for m in messages)


def test_a_day_whose_last_line_has_no_newline(tmp_path):
    (tmp_path / "day_5").write_bytes(b"".join(line(5, i) for i in range(25)).rstrip(b"\n"))
    assert prepare.split_day(tmp_path / "day_5", tmp_path, 5, PART) == 25
    assert (tmp_path / "day_5_02").read_bytes() == b"".join(line(5, i) for i in range(20, 25))[:-1]


def test_resumes_after_an_interruption(tmp_path, monkeypatch):
    write_raw(tmp_path)
    real_finish = prepare._PartWriter.finish_part

    def crash_in_day_3(writer):
        if writer.day == 3 and writer.count == 1:
            raise KeyboardInterrupt
        real_finish(writer)

    monkeypatch.setattr(prepare._PartWriter, "finish_part", crash_in_day_3)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path)
    assert [p.name for p in sorted(tmp_path.glob("day_3_*"))] == ["day_3_00"]
    assert not list(tmp_path.glob("*.partial"))  # the unfinished part was removed
    assert not (tmp_path / "day_3.split-done").exists()
    monkeypatch.setattr(prepare._PartWriter, "finish_part", real_finish)
    messages = []
    run(tmp_path, messages)
    assert next(m for m in messages if "splitting" in m) == (
        "criteo1tb: splitting day_3.gz into 10-line files"
    )  # days 0-2 were done
    assert b"".join(p.read_bytes() for p in sorted(tmp_path.glob("day_3_*"))) == b"".join(
        line(3, i) for i in range(day_lines(3))
    )


def test_nothing_present_asks_for_the_download(tmp_path):
    with pytest.raises(ManualStepRequired) as error:
        run(tmp_path)
    message = str(error.value)
    assert "all 24 days missing" in message
    assert "day_0.gz ... day_23.gz" in message
    assert f"algoperf-datasets prepare criteo1tb --data-dir {tmp_path}" in message
    write_raw(tmp_path, [d for d in range(24) if d not in (4, 17)])
    with pytest.raises(ManualStepRequired, match="days 4, 17 missing"):
        run(tmp_path)


def split_by_reference(root):
    """Parts as the reference's `split` leaves them: no downloads, no markers."""
    write_raw(root, gz=False)
    for day in range(24):
        prepare.split_day(root / f"day_{day}", root, day, PART)
        (root / f"day_{day}").unlink()


def test_checks_days_split_elsewhere(tmp_path):
    split_by_reference(tmp_path)
    run(tmp_path, count_lines=True)
    (tmp_path / "day_23_35").write_bytes(line(23, 0))
    with pytest.raises(CriteoLayoutError, match="day_23_35 has 1 lines, not 7"):
        run(tmp_path)


def test_layout_errors_name_the_file(tmp_path):
    split_by_reference(tmp_path)
    part = tmp_path / "day_7_01"
    part.write_bytes(line(7, 0))
    with pytest.raises(CriteoLayoutError, match=r"day_7_01 has \d+ bytes, too few for 10 lines"):
        run(tmp_path)
    part.write_bytes(b"".join(line(7, i) for i in range(11)))
    run(tmp_path)  # the cheap check cannot tell 11 lines from 10
    with pytest.raises(CriteoLayoutError, match="day_7_01 has 11 lines, not 10"):
        run(tmp_path, count_lines=True)
    part.write_bytes(b"".join(line(7, i) for i in range(10))[:-1])
    with pytest.raises(CriteoLayoutError, match="day_7_01 does not end with a newline"):
        run(tmp_path)
    part.write_bytes(b"".join(line(7, i) for i in range(10)))
    (tmp_path / "day_23_20").unlink()
    with pytest.raises(CriteoLayoutError) as error:
        run(tmp_path)
    assert "day 23 has 35 files, not 36" in str(error.value)
    assert "missing day_23_20" in str(error.value)
    assert "algoperf-datasets prepare criteo1tb" in str(error.value)
