"""Replica bytes: in memory (bytearray per blob) or on disk (one file per blob).

Writes go to an offset in place, so a 40 MiB put in 8 MiB chunks costs linear time.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from pathlib import Path

_HASH_CHUNK = 8 << 20


class BlobStore:
    """Named byte blobs; ``data_dir`` None keeps them in memory."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.dir = data_dir / "vault" if data_dir is not None else None
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
        self._mem: dict[str, bytearray] = {}
        self._lock = threading.Lock()

    def _path(self, blob: str) -> Path:
        assert self.dir is not None
        return self.dir / blob

    def new_blob(self) -> str:
        blob = uuid.uuid4().hex
        if self.dir is None:
            with self._lock:
                self._mem[blob] = bytearray()
        else:
            self._path(blob).touch()
        return blob

    def write(self, blob: str, offset: int, data: bytes) -> None:
        if self.dir is None:
            with self._lock:
                buf = self._mem[blob]
            if offset > len(buf):
                buf.extend(b"\0" * (offset - len(buf)))
            buf[offset : offset + len(data)] = data
            return
        with open(self._path(blob), "r+b") as fh:
            fh.seek(offset)
            fh.write(data)

    def read(self, blob: str, offset: int, length: int) -> bytes:
        if self.dir is None:
            with self._lock:
                buf = self._mem[blob]
            return bytes(buf[offset : offset + length])
        with open(self._path(blob), "rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def truncate(self, blob: str, size: int = 0) -> None:
        if self.dir is None:
            with self._lock:
                del self._mem[blob][size:]
            return
        os.truncate(self._path(blob), size)

    def size(self, blob: str) -> int:
        if self.dir is None:
            with self._lock:
                return len(self._mem[blob])
        return self._path(blob).stat().st_size

    def md5(self, blob: str) -> str:
        digest = hashlib.md5()
        if self.dir is None:
            with self._lock:
                digest.update(self._mem[blob])
            return digest.hexdigest()
        with open(self._path(blob), "rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def delete(self, blob: str) -> None:
        if self.dir is None:
            with self._lock:
                self._mem.pop(blob, None)
            return
        self._path(blob).unlink(missing_ok=True)

    def exists(self, blob: str) -> bool:
        if self.dir is None:
            return blob in self._mem
        return self._path(blob).exists()
