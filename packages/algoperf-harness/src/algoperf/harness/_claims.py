"""Claims on trials, so that several processes can share one experiment directory.

A process runs a trial only while it holds an exclusive `flock` on the trial directory's
`.claim` file; one that finds the trial claimed skips it and writes nothing there. The OS
releases the lock when its holder exits or is killed, so a dead process never blocks a trial.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

CLAIM_FILE = ".claim"


class TrialClaim:
    """An exclusive, non-blocking claim on one trial directory (`with TrialClaim(d) as held`)."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / CLAIM_FILE
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Claim the trial; False if another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the claim up (closing the file releases the lock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()
