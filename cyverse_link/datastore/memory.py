"""An in-memory data store with the semantics of the iRODS one, for the pipeline's logic tests.

It passes the same contract suite as ``IrodsStore`` (tests/contract): bare MD5 hex checksums
registered at upload, re-sends on a dropped write or a wrong checksum with bounded retries,
``anonymous`` read ACLs, ``inherit`` on collections, ``cyverse_link.`` AVUs with ``ipc*``
refused. ``faults`` mirrors the sandbox server's switches so failures can be staged without a
socket.
"""

from __future__ import annotations

import hashlib
import posixpath
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cyverse_link.core.errors import (
    ChecksumMismatch,
    DataStoreError,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    TransferFailed,
)
from cyverse_link.core.models import RemoteObject
from cyverse_link.core.retry import Backoff
from cyverse_link.datastore.base import AVU_PREFIX, avu_attribute, check_avu_value

ANONYMOUS = "anonymous"
MEMORY_RETRY = Backoff(retries=3, base_delay=0.0)


@dataclass
class MemoryFaults:
    """Switches that make the next operations fail the way a real server or network does."""

    drops_left: int = 0  # put attempts still to cut off mid-write
    corrupt: Counter[str] = field(default_factory=Counter)  # path -> bad checksums to register
    damage: Counter[str] = field(default_factory=Counter)  # path -> uploads to damage in transit
    unavailable: bool = False  # every call raises ServiceUnavailable
    denied: list[str] = field(default_factory=list)  # path prefixes the user may not write

    def drop_during_write(self, count: int = 1) -> None:
        """Cut off the next ``count`` put attempts mid-write (a partial object is left)."""
        self.drops_left += count

    def corrupt_checksum(self, path: str, times: int = 1) -> None:
        """Register a wrong checksum for the next ``times`` uploads of ``path``."""
        self.corrupt[path] += times

    def damage_in_transit(self, path: str, times: int = 1) -> None:
        """Flip one byte of the next ``times`` uploads of ``path`` on the way in: the stored
        bytes and the checksum computed over them are the damaged ones."""
        self.damage[path] += times

    def deny(self, prefix: str) -> None:
        """Refuse writes at or below ``prefix`` (PermissionDenied)."""
        self.denied.append(prefix.rstrip("/"))


@dataclass
class _Object:
    data: bytes
    checksum: str | None
    modified: datetime
    readers: set[str] = field(default_factory=set)
    avus: dict[str, str] = field(default_factory=dict)


@dataclass
class _Collection:
    readers: set[str] = field(default_factory=set)
    inherit: bool = False


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _norm(path: str) -> str:
    if not path.startswith("/"):
        raise DataStoreError(f"{path!r} is not an absolute iRODS path (it must start with /zone)")
    return posixpath.normpath(path) if path != "/" else "/"


class MemoryStore:
    """``DataStore`` + ``PublicLinker`` kept in a dict. Thread-safe.

    ``retry.retries`` re-sends after the first attempt (like ``irods.retries``), pausing as
    ``retry`` says (``MEMORY_RETRY``: 3 re-sends, no pause).
    """

    def __init__(
        self,
        *,
        zone: str = "iplant",
        user: str = "rods",
        retry: Backoff = MEMORY_RETRY,
        version: str = "4.3.1",
    ) -> None:
        self.zone, self.user, self.retries = zone, user, retry.retries
        self._retry, self._version = retry, version
        self.faults = MemoryFaults()
        self.calls: Counter[str] = Counter()  # operation name -> calls (incl. re-sends)
        self._lock = threading.RLock()
        self._objects: dict[str, _Object] = {}
        self._collections: dict[str, _Collection] = {}
        for coll in ("/", f"/{zone}", f"/{zone}/home", f"/{zone}/home/shared"):
            self._collections[coll] = _Collection()
        self._collections[f"/{zone}/home/{user}"] = _Collection()

    # -- DataStore --------------------------------------------------------------------------

    def server_version(self) -> str:
        self._enter("server_version")
        return self._version

    def list(self, root: str) -> Iterator[RemoteObject]:
        self._enter("list")
        root = _norm(root)
        prefix = root.rstrip("/") + "/"
        with self._lock:
            found = [
                RemoteObject(path, len(o.data), o.checksum, o.modified)
                for path, o in self._objects.items()
                if path.startswith(prefix)
            ]
        return iter(sorted(found, key=lambda r: r.path))

    def list_children(self, collection: str) -> Iterator[RemoteObject]:
        self._enter("list_children")
        coll = _norm(collection)
        with self._lock:
            found = [
                RemoteObject(path, len(o.data), o.checksum, o.modified)
                for path, o in self._objects.items()
                if posixpath.dirname(path) == coll
            ]
        return iter(sorted(found, key=lambda r: r.path))

    def ensure_collection(self, path: str) -> None:
        self._enter("ensure_collection")
        path = _norm(path)
        with self._lock:
            if path in self._collections:
                return
            if path in self._objects:
                raise DataStoreError(f"{path} is a data object, not a collection; pick another")
            self._check_writable(path)
            parent = posixpath.dirname(path)
            if parent not in self._collections:
                self.ensure_collection(parent)
            above = self._collections[parent]
            inherited = set(above.readers) if above.inherit else set()
            self._collections[path] = _Collection(inherited, above.inherit)

    def put(self, local: Path, remote: str, md5: str) -> RemoteObject:
        remote = _norm(remote)
        data = local.read_bytes()
        error: DataStoreError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self._retry.pause(attempt)
            self._enter("put")
            with self._lock:
                self._check_put_target(remote)
                if self.faults.drops_left:
                    self.faults.drops_left -= 1
                    self._store(remote, data[: len(data) // 2], None)  # the stray partial
                    error = TransferFailed(
                        f"connection dropped while uploading {remote}; retry the run later"
                    )
                    continue
                stored = data
                if self.faults.damage[remote] and data:
                    self.faults.damage[remote] -= 1
                    middle = len(data) // 2
                    stored = data[:middle] + bytes([data[middle] ^ 0x5A]) + data[middle + 1 :]
                checksum = _md5(stored)
                if self.faults.corrupt[remote]:
                    self.faults.corrupt[remote] -= 1
                    checksum = _md5(b"corrupt:" + data)
                obj = self._store(remote, stored, checksum)
                if checksum == md5:
                    return RemoteObject(remote, len(data), checksum, obj.modified)
                error = _mismatch(remote, md5, checksum)
        assert error is not None
        raise error

    def checksum(self, remote: str) -> str:
        self._enter("checksum")
        with self._lock:
            obj = self._object(_norm(remote))
            if obj.checksum is None:  # like ``ichksum``: computed on demand
                obj.checksum = _md5(obj.data)
            return obj.checksum

    def read_head(self, remote: str, size: int) -> bytes:
        self._enter("read_head")
        with self._lock:
            return bytes(self._object(_norm(remote)).data[:size])

    def set_metadata(self, remote: str, avus: Mapping[str, str], *, new: bool = False) -> None:
        names = {avu_attribute(k): v for k, v in avus.items()}
        for key, value in avus.items():
            check_avu_value(key, value)
        self._enter("set_metadata")
        with self._lock:
            self._object(_norm(remote)).avus.update(names)

    def get_metadata(self, remote: str) -> dict[str, str]:
        self._enter("get_metadata")
        with self._lock:
            avus = self._object(_norm(remote)).avus
            return {k.removeprefix(AVU_PREFIX): v for k, v in avus.items()}

    def close(self) -> None:
        """Nothing to release; kept for the protocol."""

    # -- PublicLinker -----------------------------------------------------------------------

    def make_public(self, remote: str) -> None:
        self._enter("make_public")
        path = _norm(remote)
        with self._lock:
            self._check_writable(path)
            target = self._objects.get(path) or self._collections.get(path)
            if target is None:
                raise NotFound(f"{path} does not exist in the data store; upload it first")
            target.readers.add(ANONYMOUS)

    def make_tree_public(self, collection: str) -> None:
        self._enter("make_tree_public")
        root = _norm(collection)
        with self._lock:
            if root not in self._collections:
                raise NotFound(f"collection {root} does not exist; create it first")
            self._check_writable(root)
            prefix = root.rstrip("/") + "/"
            for path, coll in self._collections.items():
                if path == root or path.startswith(prefix):
                    coll.readers.add(ANONYMOUS)
                    coll.inherit = True
            for path, obj in self._objects.items():
                if path.startswith(prefix):
                    obj.readers.add(ANONYMOUS)

    def is_public(self, remote: str) -> bool:
        self._enter("is_public")
        path = _norm(remote)
        with self._lock:
            target = self._objects.get(path) or self._collections.get(path)
            return target is not None and ANONYMOUS in target.readers

    # -- helpers for tests ------------------------------------------------------------------

    def read(self, remote: str) -> bytes:
        """The stored bytes (what an iRODS ``get`` would return)."""
        with self._lock:
            return self._object(_norm(remote)).data

    def collection_exists(self, path: str) -> bool:
        with self._lock:
            return _norm(path) in self._collections

    # -- internals --------------------------------------------------------------------------

    def _enter(self, op: str) -> None:
        self.calls[op] += 1
        if self.faults.unavailable:
            raise ServiceUnavailable(
                "the data store cannot be reached; check irods.host/port and your network"
            )

    def _check_writable(self, path: str) -> None:
        for prefix in self.faults.denied:
            if path == prefix or path.startswith(prefix + "/"):
                raise PermissionDenied(
                    f"{self.user} may not write {path}; ask the collection's owner for write access"
                )

    def _check_put_target(self, remote: str) -> None:
        self._check_writable(remote)
        if remote in self._collections:
            raise DataStoreError(f"{remote} is a collection; give the full data object path")
        if posixpath.dirname(remote) not in self._collections:
            raise NotFound(
                f"collection {posixpath.dirname(remote)} does not exist; "
                "create it first (ensure_collection)"
            )

    def _store(self, remote: str, data: bytes, checksum: str | None) -> _Object:
        now = datetime.now(UTC).replace(microsecond=0)
        obj = self._objects.get(remote)
        if obj is None:  # a new object takes its collection's ACLs when it inherits
            coll = self._collections[posixpath.dirname(remote)]
            readers = set(coll.readers) if coll.inherit else set()
            obj = self._objects[remote] = _Object(data, checksum, now, readers)
        else:  # an overwrite keeps ACLs and AVUs, like an open with O_TRUNC
            obj.data, obj.checksum, obj.modified = data, checksum, now
        return obj

    def _object(self, path: str) -> _Object:
        try:
            return self._objects[path]
        except KeyError:
            raise NotFound(f"data object {path} does not exist in the data store") from None


def _mismatch(remote: str, expected: str, got: str | None) -> ChecksumMismatch:
    return ChecksumMismatch(
        f"{remote}: the data store registered checksum {got or 'none'} but the local file's MD5 "
        f"is {expected}; the upload was re-sent and still differs. Check that the local file "
        "is not changing while the run is in progress, then run again"
    )
