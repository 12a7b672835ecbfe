"""Resumable, checksummed HTTP downloads for the datasets' `prepare` steps (standard library).

`fetch(url, dest, sha256)` writes `dest` only once its SHA-256 matches the published one: the
bytes go to `dest.part`, which a later call (or a retry after a dropped connection) resumes
with an HTTP Range request; a server that ignores Range gets the file again from byte 0. On a
match the part file is renamed to `dest` and the digest noted in `dest.sha256`, so a verified
file is not read again; a mismatch raises `ChecksumMismatchError` and renames nothing.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from algoperf.api import AlgoPerfError

CHUNK = 1 << 20
RETRIES = 3
"""Resumed requests after a dropped connection, within one call."""
TIMEOUT_S = 60.0
"""Seconds without data before a request counts as dropped."""
USER_AGENT = "algoperf-datasets"


class DownloadError(AlgoPerfError):
    """A file could not be downloaded; the message names the URL and what to do."""


class ChecksumMismatchError(DownloadError):
    """A downloaded file's SHA-256 differs from the published one."""


def sha256_of(path: Path, digest: hashlib._Hash | None = None) -> hashlib._Hash:
    """`digest` (default: a new SHA-256) updated with the bytes of `path`."""
    digest = digest or hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest


def _mismatch(name: str, url: str, expected: str, actual: str, path: Path) -> str:
    return (
        f"{name}: SHA-256 {actual} is not the published {expected} (downloaded from {url}); "
        f"the file is corrupt or incomplete: delete {path} and run the command again"
    )


def fetch(
    url: str,
    dest: Path,
    sha256: str,
    echo: Callable[[str], None] = print,
    *,
    retries: int = RETRIES,
) -> Path:
    """`dest` downloaded from `url` and verified against `sha256`; skipped when verified.

    Raises:
        DownloadError: if the server fails (HTTP error, no connection) `retries` + 1 times.
        ChecksumMismatchError: naming the file, both digests and the fix; `dest` is not made.
    """
    marker = dest.with_name(dest.name + ".sha256")
    if dest.exists():
        if marker.exists() and marker.read_text().strip() == sha256:
            return dest
        actual = sha256_of(dest).hexdigest()
        if actual != sha256:
            raise ChecksumMismatchError(_mismatch(dest.name, url, sha256, actual, dest))
        marker.write_text(sha256 + "\n")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = _download_retrying(url, part, echo, retries)
    actual = digest.hexdigest()
    if actual != sha256:
        raise ChecksumMismatchError(_mismatch(dest.name, url, sha256, actual, part))
    part.replace(dest)
    marker.write_text(sha256 + "\n")
    echo(f"{dest.name}: downloaded and verified (SHA-256 {sha256[:12]}...)")
    return dest


def _download_retrying(
    url: str, part: Path, echo: Callable[[str], None], retries: int
) -> hashlib._Hash:
    """`_download`, resumed after a dropped connection or a server error up to `retries` times."""
    attempt = 0
    while True:
        try:
            return _download(url, part, echo)
        except (OSError, http.client.HTTPException) as error:
            client_error = isinstance(error, urllib.error.HTTPError) and error.code < 500
            if client_error or attempt == retries:
                raise DownloadError(
                    f"{part.name.removesuffix('.part')}: could not download {url} ({error}); "
                    f"check the connection or the URL (a mirror), or put the file in "
                    f"{part.parent} by hand"
                ) from error
            attempt += 1
            echo(f"{part.name}: {error}; resuming ({attempt} of {retries})")
            time.sleep(2.0 * (attempt - 1))  # the first retry at once, then back off


def _download(url: str, part: Path, echo: Callable[[str], None]) -> hashlib._Hash:
    """Complete `part` from `url` (resuming from its size); the SHA-256 of its bytes."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            # Nothing left to send: the part holds the whole file (or more; the digest says).
            error.close()
            return sha256_of(part)
        raise
    with response:
        start = 0
        if response.status == 206:
            start = _range_start(response.headers.get("Content-Range"))
            if start != offset:
                raise DownloadError(
                    f"{url}: asked for bytes from {offset}, the server sent them from {start}; "
                    f"delete {part} and run the command again"
                )
        elif offset:
            echo(f"{part.name}: the server ignores Range requests; downloading from byte 0")
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        digest = sha256_of(part) if start else hashlib.sha256()
        size = f" of {total / 1e9:.2f} GB" if total else ""
        echo(f"{part.name}: {f'resuming at byte {start}' if start else 'downloading'}{size}")
        with part.open("ab" if start else "wb") as f:
            done, reported = start, start
            while block := response.read(CHUNK):
                f.write(block)
                digest.update(block)
                done += len(block)
                if total and done - reported >= total / 10:
                    echo(f"{part.name}: {done / total:.0%}")
                    reported = done
        if total is not None and done < total:
            # HTTPResponse.read(n) returns b"" when the connection closes early; resume.
            raise http.client.IncompleteRead(b"", total - done)
    return digest


def _range_start(content_range: str | None) -> int:
    """The first byte of a 206 response ("bytes START-END/TOTAL")."""
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", (content_range or "").strip())
    if match is None:
        raise DownloadError(f"a partial response without a valid Content-Range: {content_range!r}")
    return int(match[1])
