"""Resumable, checksummed downloads (`_download.fetch`) against a local Range-aware server."""

import hashlib

import numpy as np
import pytest

from algoperf.workloads._download import ChecksumMismatchError, DownloadError, fetch
from algoperf.workloads.testing import serve_files

BODY = np.random.default_rng(0).bytes(300_000)
"""Several of fetch's 1 MiB reads would hide a wrong offset; 300 kB spans a few TCP sends."""
SHA = hashlib.sha256(BODY).hexdigest()


def test_a_fresh_download_is_verified_renamed_and_then_skipped(tmp_path):
    dest = tmp_path / "a.tar.gz"
    lines = []
    with serve_files({"a.tar.gz": BODY}) as server:
        assert fetch(server.url + "a.tar.gz", dest, SHA, lines.append) == dest
        assert dest.read_bytes() == BODY
        assert not (tmp_path / "a.tar.gz.part").exists()
        assert server.requests == [("a.tar.gz", None, 200)]
        fetch(server.url + "a.tar.gz", dest, SHA, lines.append)
        assert len(server.requests) == 1  # verified before: no request, no re-read
    assert lines[-1] == f"a.tar.gz: downloaded and verified (SHA-256 {SHA[:12]}...)"


def test_a_truncated_part_is_resumed_with_a_range_request(tmp_path):
    dest = tmp_path / "a.tar.gz"
    (tmp_path / "a.tar.gz.part").write_bytes(BODY[:123_457])
    with serve_files({"a.tar.gz": BODY}) as server:
        fetch(server.url + "a.tar.gz", dest, SHA, lambda _: None)
    assert server.requests == [("a.tar.gz", "bytes=123457-", 206)]
    assert dest.read_bytes() == BODY


def test_a_server_that_ignores_range_restarts_from_byte_zero(tmp_path):
    dest = tmp_path / "a.tar.gz"
    (tmp_path / "a.tar.gz.part").write_bytes(BODY[:50_000])
    lines = []
    with serve_files({"a.tar.gz": BODY}, ranges=False) as server:
        fetch(server.url + "a.tar.gz", dest, SHA, lines.append)
    assert server.requests == [("a.tar.gz", "bytes=50000-", 200)]
    assert dest.read_bytes() == BODY  # not the old 50,000 bytes followed by the whole file
    assert any("ignores Range" in line for line in lines)


def test_a_dropped_connection_is_resumed_within_the_call(tmp_path):
    dest = tmp_path / "a.tar.gz"
    with serve_files({"a.tar.gz": BODY}) as server:
        server.drop_after = 100_000
        fetch(server.url + "a.tar.gz", dest, SHA, lambda _: None)
    assert [r[2] for r in server.requests] == [200, 206]
    resumed_at = int(str(server.requests[1][1]).removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= 100_000
    assert dest.read_bytes() == BODY


def test_a_complete_part_is_verified_when_the_server_has_nothing_left(tmp_path):
    dest = tmp_path / "a.tar.gz"
    (tmp_path / "a.tar.gz.part").write_bytes(BODY)
    with serve_files({"a.tar.gz": BODY}) as server:
        fetch(server.url + "a.tar.gz", dest, SHA, lambda _: None)
    assert server.requests == [("a.tar.gz", f"bytes={len(BODY)}-", 416)]
    assert dest.read_bytes() == BODY


def test_a_checksum_mismatch_names_the_file_both_digests_and_the_fix(tmp_path):
    dest = tmp_path / "a.tar.gz"
    wrong = hashlib.sha256(b"another file").hexdigest()
    with serve_files({"a.tar.gz": BODY}) as server, pytest.raises(ChecksumMismatchError) as raised:
        fetch(server.url + "a.tar.gz", dest, wrong, lambda _: None)
    part = tmp_path / "a.tar.gz.part"
    message = str(raised.value)
    assert message.startswith(f"a.tar.gz: SHA-256 {SHA} is not the published {wrong}")
    assert f"delete {part} and run the command again" in message
    assert not dest.exists()  # nothing renamed into place
    assert part.read_bytes() == BODY  # and nothing downloaded is lost


def test_an_existing_file_is_checked_once_and_a_bad_one_is_kept(tmp_path):
    good, bad = tmp_path / "good.tar.gz", tmp_path / "bad.tar.gz"
    good.write_bytes(BODY)
    bad.write_bytes(BODY[:-1])
    with serve_files({}) as server:
        fetch(server.url + "good.tar.gz", good, SHA, lambda _: None)
        assert (tmp_path / "good.tar.gz.sha256").read_text() == SHA + "\n"
        with pytest.raises(ChecksumMismatchError, match=f"delete {bad} and run"):
            fetch(server.url + "bad.tar.gz", bad, SHA, lambda _: None)
    assert server.requests == []
    assert bad.read_bytes() == BODY[:-1]


def test_a_missing_file_names_the_url_at_once(tmp_path):
    with serve_files({}) as server:
        url = server.url + "gone.tar.gz"
        with pytest.raises(DownloadError, match=f"gone.tar.gz: could not download {url}"):
            fetch(url, tmp_path / "gone.tar.gz", SHA, lambda _: None)
    assert len(server.requests) == 1  # a 404 is not retried
