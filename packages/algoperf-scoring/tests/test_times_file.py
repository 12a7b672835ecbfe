"""The --times CSV: what it accepts, and one clear error listing every bad row."""

import math

import pytest

from algoperf.scoring import AnomalyKind, ScoringError, Status, read_times_csv


def test_reads_numbers_inf_and_nan(write_times):
    path = write_times([("A", "wmt", "123.5"), ("A", "ogbg", "inf"), ("A", "fastmri", "nan")])
    times = read_times_csv(path, "v0.6")
    row = dict(zip(times.workloads, times.seconds[0], strict=True))
    assert row["wmt"] == 123.5
    assert row["ogbg"] == math.inf
    assert math.isnan(row["fastmri"])
    status = dict(zip(times.workloads, times.status[0], strict=True))
    assert status["fastmri"] == Status.ERROR
    assert status["criteo1tb"] == Status.MISSING
    missing = [a.where for a in times.anomalies if a.kind is AnomalyKind.MISSING_WORKLOAD]
    assert len(missing) == 5
    assert "A: criteo1tb" in missing


def test_unscored_rows_are_anomalies(write_times):
    times = read_times_csv(write_times([("A", "wmt", 1.0), ("A", "mnist", 2.0)]), "v0.6")
    (anomaly,) = [a for a in times.anomalies if a.kind is AnomalyKind.NOT_SCORED]
    assert anomaly.where == "A: mnist"
    with pytest.raises(ScoringError, match="--strict is set"):
        read_times_csv(write_times([("A", "wmt", 1.0)]), "v0.6", strict=True)


def test_every_bad_row_in_one_error(write_times):
    path = write_times(
        [
            ("A", "wmt", "12"),
            ("A", "imagenet_rsnet", "12"),
            ("A", "ogbg", "fast"),
            ("A", "fastmri", "-3"),
            ("", "criteo1tb", "1"),
            ("A", "wmt", "13"),
        ]
    )
    with pytest.raises(ScoringError) as info:
        read_times_csv(path)
    lines = str(info.value).splitlines()
    assert lines[0] == f"{path}: 5 bad rows in the times file:"
    assert lines[1:] == [
        f"  {path}:3: field 'workload': 'imagenet_rsnet' is not a registered workload "
        "(did you mean 'imagenet_resnet'?)",
        f"  {path}:4: field 'seconds': 'fast' is not a time; write seconds (a number >= 0), "
        "inf (not reached) or nan (error)",
        f"  {path}:5: field 'seconds': '-3' is not a time; write seconds (a number >= 0), "
        "inf (not reached) or nan (error)",
        f"  {path}:6: field 'submission' is empty; name the submission",
        f"  {path}:7: a second row for A, wmt; keep one",
    ]


def test_missing_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("submission,workload,time\nA,wmt,1\n")
    with pytest.raises(ScoringError) as info:
        read_times_csv(path)
    assert str(info.value) == (
        f"{path}: no column 'seconds'; a times file has the header "
        "'submission,workload,seconds' and one row per submission and workload"
    )


def test_unreadable_and_empty_files(tmp_path, write_times):
    with pytest.raises(ScoringError, match=r"absent.csv: cannot read the times file \(No such"):
        read_times_csv(tmp_path / "absent.csv")
    with pytest.raises(ScoringError, match=r"no row names a workload that rules v0\.5 score"):
        read_times_csv(write_times([]))
