"""The narrow data store interface (in the spirit of rclone's backends).

Two implementations pass one contract suite (tests/contract): ``memory.MemoryStore`` and
``irods.IrodsStore`` (python-irodsclient). The pipeline sees only these protocols.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

from cyverse_link.models import RemoteObject

AVU_PREFIX = "cyverse_link."  # ``ipc*`` attributes are reserved (protected) on CyVerse


class DataStore(Protocol):
    def server_version(self) -> str:
        """The server's version string, e.g. ``4.3.1``. Raises ServiceUnavailable."""
        ...

    def list(self, root: str) -> Iterator[RemoteObject]:
        """Every data object under ``root`` (recursive), replicas folded, in paged bulk
        queries: never one request per object. Yields nothing if ``root`` does not exist.
        Raises ServiceUnavailable, PermissionDenied."""
        ...

    def ensure_collection(self, path: str) -> None:
        """Create ``path`` and its parents if missing (like ``imkdir -p``).
        Raises PermissionDenied, DataStoreError."""
        ...

    def put(self, local: Path, remote: str, md5: str) -> RemoteObject:
        """Upload ``local`` to the full object path ``remote`` (overwriting), ask the server to
        register a checksum, and return the object only once its catalog checksum equals
        ``md5``. Re-sends on mismatch or a dropped connection, with bounded retries.
        Raises ChecksumMismatch or TransferFailed when retries run out, PermissionDenied."""
        ...

    def checksum(self, remote: str) -> str:
        """The catalog checksum (MD5 hex), computed by the server if missing.
        Raises NotFound, PermissionDenied."""
        ...

    def set_metadata(self, remote: str, avus: Mapping[str, str]) -> None:
        """Set AVUs (attribute → value; names get ``AVU_PREFIX``) atomically, replacing
        earlier values of the same attributes. Raises NotFound, PermissionDenied."""
        ...

    def get_metadata(self, remote: str) -> dict[str, str]:
        """AVUs with ``AVU_PREFIX`` on ``remote``, prefix stripped. Raises NotFound."""
        ...

    def close(self) -> None: ...


class PublicLinker(Protocol):
    def make_public(self, remote: str) -> None:
        """Grant the ``anonymous`` user read access. Raises NotFound, PermissionDenied."""
        ...

    def is_public(self, remote: str) -> bool:
        """True when ``anonymous`` may read ``remote``."""
        ...
