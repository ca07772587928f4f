"""One run per config: an exclusive ``flock`` on ``<config>.lock`` (re-exported by ``ledger``)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from cyverse_link.errors import LedgerError, LockHeld

__all__ = ["RunLock", "lock_path_for"]


def lock_path_for(config_path: Path) -> Path:
    """``<config>.lock`` beside the config file."""
    return config_path.with_name(config_path.name + ".lock")


class RunLock:
    """An exclusive, non-blocking ``flock`` on ``path`` for the length of a run.

    The kernel drops the lock when the process dies, so a killed run never leaves a stale lock.
    The file is left in place (deleting lock files races with the next holder).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LedgerError(f"cannot create the lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise LockHeld(
                f"another cyverse-link run (pid {holder}) holds {self.path}; wait for it to "
                "finish (the lock is released automatically when that process ends)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
