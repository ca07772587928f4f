"""The narrow data store interface (in the spirit of rclone's backends).

Two implementations pass one contract suite (tests/contract): ``memory.MemoryStore`` and
``irods.IrodsStore`` (python-irodsclient). The pipeline sees only these protocols.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

from cyverse_link.core.errors import DataStoreError, PermissionDenied
from cyverse_link.core.models import RemoteObject

AVU_PREFIX = "cyverse_link."  # ``ipc*`` attributes are reserved (protected) on CyVerse
RESERVED_AVU_PREFIX = "ipc"


class DataStore(Protocol):
    def server_version(self) -> str:
        """The server's version string, e.g. ``4.3.1``. Raises ServiceUnavailable."""
        ...

    def list(self, root: str) -> Iterator[RemoteObject]:
        """Every data object under ``root`` (recursive), replicas folded, in paged bulk
        queries: never one request per object. Yields nothing if ``root`` does not exist.
        Raises ServiceUnavailable, PermissionDenied."""
        ...

    def list_children(self, collection: str) -> Iterator[RemoteObject]:
        """The data objects directly in ``collection`` (not in sub-collections), as ``list``
        gives them. Yields nothing if it does not exist. Raises ServiceUnavailable,
        PermissionDenied."""
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

    def read_head(self, remote: str, size: int) -> bytes:
        """The first ``size`` bytes of ``remote`` (fewer when it is shorter): what ``link``
        sniffs before linking an object it did not upload. Raises NotFound, PermissionDenied."""
        ...

    def set_metadata(self, remote: str, avus: Mapping[str, str], *, new: bool = False) -> None:
        """Set AVUs (attribute → value; names get ``AVU_PREFIX``) atomically, replacing
        earlier values of the same attributes. ``new``: the caller just created ``remote``, so
        it likely has no AVUs (a store may skip reading them; the result is the same either
        way). Raises NotFound, PermissionDenied."""
        ...

    def get_metadata(self, remote: str) -> dict[str, str]:
        """AVUs with ``AVU_PREFIX`` on ``remote``, prefix stripped. Raises NotFound."""
        ...

    def close(self) -> None: ...


class PublicLinker(Protocol):
    def make_public(self, remote: str) -> None:
        """Grant the ``anonymous`` user read access. Raises NotFound, PermissionDenied."""
        ...

    def make_tree_public(self, collection: str) -> None:
        """Grant ``anonymous`` read on ``collection`` and everything in it, and set ``inherit``
        so objects created there later are public without a call each.
        Raises NotFound, PermissionDenied."""
        ...

    def is_public(self, remote: str) -> bool:
        """True when ``anonymous`` may read ``remote`` (a data object or a collection)."""
        ...


def avu_attribute(key: str) -> str:
    """The stored attribute name for ``key``: ``AVU_PREFIX`` + key (not doubled).

    Raises PermissionDenied for ``ipc*`` names (CyVerse protects them; the server would answer
    CAT_INSUFFICIENT_PRIVILEGE_LEVEL) and DataStoreError for an empty name.
    """
    name = key.removeprefix(AVU_PREFIX)
    if not name:
        raise DataStoreError("an AVU attribute name is empty; give every metadata key a name")
    if key.lower().startswith(RESERVED_AVU_PREFIX) or name.lower().startswith(RESERVED_AVU_PREFIX):
        raise PermissionDenied(
            f"AVU attribute {key!r} starts with 'ipc', which CyVerse reserves for its own "
            "metadata; choose another name"
        )
    return AVU_PREFIX + name


def check_avu_value(key: str, value: str) -> None:
    """iRODS stores no empty AVU values: refuse them before a round trip."""
    if not value:
        raise DataStoreError(
            f"AVU {key!r} has an empty value; iRODS cannot store it (leave the key out instead)"
        )
