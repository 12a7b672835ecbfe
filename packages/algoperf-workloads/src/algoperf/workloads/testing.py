"""Test helpers shared by the packages' tests: fp32 comparisons, subprocess teardown, a server.

`serve_files` is a local HTTP file server, so downloads are tested without the network.

Two runs of the same fp32 computation on different device counts, or in JAX and in PyTorch,
differ by rounding only: each sum adds its terms in another order. `assert_fp32_close` bounds
that difference by a tolerance derived from the length of the longest sum involved, instead of
an elementwise `rtol`/`atol` picked by hand (which an element near zero breaks).
"""

from __future__ import annotations

import contextlib
import http.server
import math
import os
import re
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

FP32_EPS = float(np.finfo(np.float32).eps)
"""Unit roundoff of float32 (2^-23, about 1.2e-7)."""

SAFETY = 8.0
"""Headroom over the probabilistic bound (see `fp32_tolerance`).

Two sides round independently (x2), and a result passes through a few layers that each
add their own rounding (x2-4): together about 8. A real bug (a wrong scale, a missed term,
another formula) moves a tensor by 1e-3 of its size or more, which stays above the bound for
every comparison in the suites (the largest: ogbg's JAX/PyTorch gradients, n = 1024 through
14 layers, 4.3e-4; the longest sum, n ~ 2.6e4 for a gradient norm, 1.6e-4).
"""


def fp32_tolerance(n: int, layers: int = 1) -> float:
    """Relative error allowed between two fp32 results that each sum `n` terms in some order.

    Summing n terms rounds n - 1 times, each time by up to eps of the partial sum. The
    roundings are nearly independent, so the error grows as eps * sqrt(n) times the size of
    the sum (Higham & Mary 2019, probabilistic bound), not as the worst case eps * n; blocked
    and tree sums (BLAS, XLA) do better still. The size of the sum is taken as the tensor's
    largest element (see `fp32_error`). Times `SAFETY`.

    A gradient that flows back through `layers` layers, each rounding its own sums (and in
    two frameworks its own kernels), accumulates up to `layers` such errors.
    """
    return SAFETY * FP32_EPS * math.sqrt(max(n, 1)) * max(layers, 1)


def fp32_error(actual: object, expected: object, *, ord: float = math.inf) -> float:
    """||actual - expected|| / ||expected|| over the whole tensor, in the `ord` norm.

    Rounding in a sum is proportional to the size of the sum's terms, not to the sum itself,
    so an element that cancels to nearly zero keeps an absolute error of the tensor's scale.
    The default max norm therefore measures every element against the tensor's largest one.
    `ord=2` averages over elements instead, for results in which a few elements are
    ill-conditioned (see `assert_fp32_close`). 0 for two zero tensors.
    """
    a = np.asarray(actual, np.float64).ravel()
    b = np.asarray(expected, np.float64).ravel()
    if a.shape != b.shape:
        raise AssertionError(f"shapes differ: {a.shape} vs {b.shape}")
    if b.size == 0:
        return 0.0
    diff = float(np.linalg.norm(a - b, ord))
    scale = float(np.linalg.norm(b, ord))
    if diff == 0.0:
        return 0.0
    return diff / scale if scale > 0 else math.inf


def assert_fp32_close(
    actual: object,
    expected: object,
    *,
    n: int,
    layers: int = 1,
    name: str = "",
    ord: float = math.inf,
) -> None:
    """Fail unless `actual` is `expected` up to the rounding of fp32 sums of `n` terms.

    `n` is the longest reduction whose order differs between the two computations (a batch,
    a contracted feature dimension, the pixels under a convolution), and `layers` the depth
    of the chain of such sums when it is more than a few (see `fp32_tolerance`). Non-finite
    values must
    match exactly. `ord=2` compares the tensors' 2-norms, for parameters after Adam steps:
    Adam divides each gradient element by its own magnitude, which amplifies the rounding of
    the few elements that cancel to nearly zero, so their error is not bounded by the sum's
    rounding; the tensor's 2-norm, dominated by the well-conditioned elements, still is.
    """
    a = np.asarray(actual, np.float64)
    b = np.asarray(expected, np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"{name}: shapes differ: {a.shape} vs {b.shape}")
    finite = np.isfinite(b)
    if not np.array_equal(np.isfinite(a), finite) or not np.array_equal(a[~finite], b[~finite]):
        raise AssertionError(f"{name}: non-finite values differ")
    error = fp32_error(np.where(finite, a, 0.0), np.where(finite, b, 0.0), ord=ord)
    tol = fp32_tolerance(n, layers)
    if not error <= tol:
        raise AssertionError(
            f"{name}: ||a-b||/||b|| = {error:.3g} > {tol:.3g} "
            f"(norm {ord}, fp32 sums of {n} terms, {layers} layers)"
        )


def assert_trees_fp32_close(
    actual: Mapping[str, object], expected: Mapping[str, object], *, n: int
) -> None:
    """`assert_fp32_close` on every entry of two flat dicts with the same keys."""
    assert set(actual) == set(expected), set(actual) ^ set(expected)
    for key in sorted(expected):
        assert_fp32_close(actual[key], expected[key], n=n, name=key)


@contextlib.contextmanager
def started(cmd: Sequence[str], env: Mapping[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """`cmd` running in its own process group; on leaving, the whole group is killed.

    torchrun does not kill its ranks when it is killed itself, so a test that times out or
    fails must kill the group, or ranks outlive the test and hold CPUs and ports.
    """
    process = subprocess.Popen(
        list(cmd), env=None if env is None else dict(env), start_new_session=True
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_checked(
    cmd: Sequence[str], *, timeout_s: float, env: Mapping[str, str] | None = None
) -> None:
    """Run `cmd` to completion; raise on a nonzero exit or after `timeout_s` (killing it)."""
    with started(cmd, env) as process:
        rc = process.wait(timeout=timeout_s)
    if rc != 0:
        raise subprocess.CalledProcessError(rc, list(cmd))


@dataclass
class FileServer:
    """What `serve_files` serves, how, and the requests it saw."""

    files: dict[str, bytes]
    """Body of each path (without the leading slash)."""
    ranges: bool = True
    """Answer `Range: bytes=N-` with 206 and the rest; False: ignore it (200, whole file)."""
    drop_after: int | None = None
    """The next response announces its full length but closes after this many bytes, once."""
    url: str = ""
    requests: list[tuple[str, str | None, int]] = field(default_factory=list)
    """(path, Range header, status) of each request, in order."""


def _handler(server: FileServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, header = self.path.lstrip("/"), self.headers.get("Range")
            body = server.files.get(path)
            if body is None:
                server.requests.append((path, header, 404))
                self.send_error(404)
                return
            match = re.fullmatch(r"bytes=(\d+)-", header or "") if server.ranges else None
            start = int(match[1]) if match else 0
            status = 206 if match else 200
            if start >= len(body) and match:
                status = 416
            server.requests.append((path, header, status))
            if status == 416:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(status)
            if match:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            rest = body[start:]
            if server.drop_after is not None:
                rest, server.drop_after = rest[: server.drop_after], None
                self.close_connection = True
            self.wfile.write(rest)

        def log_message(self, format: str, *args: object) -> None:
            del format, args  # quiet: the requests are recorded instead

    return Handler


@contextlib.contextmanager
def serve_files(files: dict[str, bytes], *, ranges: bool = True) -> Iterator[FileServer]:
    """A `FileServer` answering on 127.0.0.1 (its `url`) from a thread, until the block ends."""
    state = FileServer(dict(files), ranges)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
