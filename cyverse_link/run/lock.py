"""One run per config: an exclusive ``flock`` on ``<config>.lock``."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from cyverse_link.config.settings import Settings
from cyverse_link.core.errors import LedgerError, LockHeld

__all__ = ["RunLock", "lock_path", "lock_path_for"]


def lock_path_for(config_path: Path) -> Path:
    """``<config>.lock`` beside the config file."""
    return config_path.with_name(config_path.name + ".lock")


def lock_path(settings: Settings) -> Path:
    """One run per config: ``<config>.lock`` beside it (or in the report folder)."""
    if settings.config_path is not None:
        return lock_path_for(settings.config_path.resolve())
    settings.state.report_dir.mkdir(parents=True, exist_ok=True)
    return settings.state.report_dir / "cyverse-link.lock"


class RunLock:
    """An exclusive, non-blocking ``flock`` on ``path`` for the length of a run.

    The kernel drops the lock when the process dies, so a killed run never leaves a stale lock
    (only its empty file, which the next run reuses). A run that ends removes the file while it
    still holds the lock. That is safe because every run checks, once it holds the lock, that
    the file it locked is still the one at ``path``: one that opened the old file just before
    it was removed finds it gone and starts again on the new one, so two runs never each hold
    a lock on a different file.
    """

    ATTEMPTS = 20  # each retry means another run just released the lock: never many

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        for _ in range(self.ATTEMPTS):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise LockHeld(
                    f"another cyverse-link run (pid {holder}) holds {self.path}; wait for it to "
                    "finish (the lock is released automatically when that process ends)"
                ) from None
            if _same_file(fd, self.path):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                self._fd = fd
                return
            os.close(fd)  # the holder removed it as we opened it: lock the new one
        raise LockHeld(f"{self.path} keeps being taken by other runs; try again later")

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LedgerError(
                f"cannot create the lock file {self.path}: {exc.strerror}; the folder of the "
                "config file must be writable"
            ) from None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if _same_file(fd, self.path):  # ours (nobody else can replace it while we hold it)
                os.unlink(self.path)
        except OSError:
            pass  # a lock file left behind is harmless: the next run reuses it
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
