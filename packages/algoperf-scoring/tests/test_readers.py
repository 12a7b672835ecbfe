"""The fast readers agree with exact reading, and word their errors with file, field and fix."""

import json
import math

import numpy as np
import pytest

from algoperf.api import EvalRecord, append_eval, read_evals
from algoperf.scoring import AnomalyKind, _readers
from algoperf.scoring._anomalies import AnomalyError
from algoperf.scoring._readers import read_evals_jsonl, read_reference_csv

KEY = "validation/accuracy"


@pytest.fixture
def fast_only(monkeypatch):
    """Fail if a reader falls back to its exact (slow) path."""

    def fail(*args):
        raise AssertionError("the exact path was taken")

    monkeypatch.setattr(_readers, "_read_csv_exactly", fail)
    monkeypatch.setattr(_readers, "_read_jsonl_exactly", fail)


def _anomaly(call, *args) -> AnomalyError:
    with pytest.raises(AnomalyError) as info:
        call(*args)
    return info.value


def test_csv_keeps_the_two_columns(tmp_path, fast_only):
    path = tmp_path / "eval_measurements.csv"
    path.write_text(
        "accumulated_submission_time,global_step,validation/accuracy\n1.5,1,0.25\n3.0,2,0.5\n"
    )
    times, values, *_ = read_reference_csv(path, KEY)
    assert times.tolist() == [1.5, 3.0]
    assert values.tolist() == [0.25, 0.5]


def test_csv_quoted_cells_crlf_and_empty_cells(tmp_path):
    # A quoted cell with a comma forces the csv module; an empty cell is how pandas writes NaN.
    path = tmp_path / "eval_measurements.csv"
    path.write_bytes(b'note,score,validation/accuracy\r\n"warm, start",1.5,0.25\r\n"x",3.0,\r\n')
    times, values, *_ = read_reference_csv(path, KEY)
    assert times.tolist() == [1.5, 3.0]
    assert values[0] == 0.25
    assert math.isnan(values[1])


def test_csv_empty_cell_on_the_fast_path(tmp_path, fast_only):
    path = tmp_path / "eval_measurements.csv"
    path.write_text("score,validation/accuracy\n1.0,\n2.0,0.5\n")
    assert np.isnan(read_reference_csv(path, KEY)[1][0])


def test_csv_missing_column(tmp_path):
    path = tmp_path / "eval_measurements.csv"
    path.write_text("accumulated_submission_time,validation/loss\n1.0,2.0\n")
    error = _anomaly(read_reference_csv, path, KEY)
    assert error.anomaly.kind is AnomalyKind.MISSING_COLUMN
    assert str(path) in str(error)
    assert "no column for the target metric, 'validation/accuracy'" in str(error)
    assert "the header has accumulated_submission_time, validation/loss" in str(error)


def test_csv_bad_number_names_the_line_and_column(tmp_path):
    path = tmp_path / "eval_measurements.csv"
    path.write_text("score,validation/accuracy\n1.0,0.5\n2.0,abc\n")
    error = _anomaly(read_reference_csv, path, KEY)
    assert error.anomaly.kind is AnomalyKind.UNREADABLE
    assert "line 3, column 'validation/accuracy': 'abc' is not a number" in str(error)


def test_csv_ragged_row(tmp_path):
    path = tmp_path / "eval_measurements.csv"
    path.write_text("score,validation/accuracy\n1.0,0.5\n2.0,0.6,7\n")
    assert "line 3 has 3 cells but the header has 2" in str(_anomaly(read_reference_csv, path, KEY))


def test_missing_files_hold_no_evals(tmp_path):
    for read in (read_reference_csv, read_evals_jsonl):
        times, values, *_ = read(tmp_path / "absent", KEY)
        assert len(times) == len(values) == 0


def _record(step: int, time: float, value: float, **metrics: float) -> EvalRecord:
    return EvalRecord(
        global_step=step,
        accumulated_submission_time=time,
        accumulated_eval_time=0.0,
        accumulated_logging_time=0.0,
        total_duration=time,
        metrics={KEY: value, "train/loss": 1.0, **metrics},
    )


def test_jsonl_fast_path_matches_the_api(tmp_path, fast_only):
    rng = np.random.default_rng(0)
    values = [*rng.random(20), math.nan, math.inf, -math.inf, 1e-300, 12345678.9]
    for i, v in enumerate(values):
        append_eval(tmp_path, _record(i, float(i) * 1.5 + 0.1, float(v)))
    times, read, *_ = read_evals_jsonl(tmp_path / "evals.jsonl", KEY)
    records = read_evals(tmp_path / "evals.jsonl")
    assert times.tolist() == [r.accumulated_submission_time for r in records]
    np.testing.assert_array_equal(read, [r.metrics[KEY] for r in records])


def test_jsonl_uncommitted_last_line_is_skipped(tmp_path, fast_only):
    append_eval(tmp_path, _record(1, 1.0, 0.5))
    with (tmp_path / "evals.jsonl").open("a") as f:
        f.write('{"global_step":2,"accumulated_submission_time":2.0,')  # killed mid-write
    times, _, *_ = read_evals_jsonl(tmp_path / "evals.jsonl", KEY)
    assert times.tolist() == [1.0]


def test_jsonl_other_writers_go_the_exact_way(tmp_path):
    # Spaces after the colons, a blank line, and an eval without the target metric.
    lines = [
        json.dumps(_record(1, 1.0, 0.5).model_dump()),
        "",
        json.dumps({**_record(2, 2.0, 0.0).model_dump(), "metrics": {"train/loss": 1.0}}),
    ]
    (tmp_path / "evals.jsonl").write_text("\n".join(lines) + "\n")
    times, values, *_ = read_evals_jsonl(tmp_path / "evals.jsonl", KEY)
    assert times.tolist() == [1.0, 2.0]
    assert values[0] == 0.5
    assert math.isnan(values[1])


def test_jsonl_without_the_metric(tmp_path):
    append_eval(tmp_path, _record(1, 1.0, 0.5))
    error = _anomaly(read_evals_jsonl, tmp_path / "evals.jsonl", "validation/wer")
    assert error.anomaly.kind is AnomalyKind.MISSING_COLUMN
    assert "no eval has the metric 'validation/wer'" in str(error)


def test_jsonl_invalid_record_names_the_line_and_field(tmp_path):
    append_eval(tmp_path, _record(1, 1.0, 0.5))
    with (tmp_path / "evals.jsonl").open("a") as f:
        f.write('{"global_step":2,"accumulated_submission_time":-1.0}\n')
    error = _anomaly(read_evals_jsonl, tmp_path / "evals.jsonl", KEY)
    assert error.anomaly.kind is AnomalyKind.UNREADABLE
    assert error.anomaly.where == str(tmp_path / "evals.jsonl")
    assert error.anomaly.detail.startswith("line 2: invalid eval record")
    assert "accumulated_submission_time" in error.anomaly.detail
