"""The one exception tree of cyverse_link.

    CyverseLinkError                 base; ``retryable`` says whether trying again may help
    ├── ConfigError                  bad or missing configuration (exit 2)
    ├── ServiceUnavailable           a service cannot be reached or refused the login (exit 3)
    │   └── AuthenticationFailed     wrong user or password
    ├── LockHeld                     another run holds the lock (exit 4)
    ├── DataStoreError               iRODS / in-memory data store
    │   ├── NotFound
    │   ├── PermissionDenied
    │   ├── TransferFailed           dropped connection, timeout (retryable)
    │   └── ChecksumMismatch         catalog checksum differs from the local MD5 (retryable)
    ├── ImageError                   an image cannot be read or its derivatives made (per file)
    ├── PublishError                 web URL providers (dav-anon, BisQue)
    ├── PortalError                  Symbiota database or CSV
    │   ├── NoMatchingRecord
    │   ├── AmbiguousMatch
    │   └── ValueTooLong             a value does not fit its Symbiota column
    └── LedgerError                  local state ledger

Adapters translate library errors into these with ``raise ... from exc``; messages say what to
do next and never contain a secret.
"""

from __future__ import annotations


class CyverseLinkError(Exception):
    """Base of every error cyverse_link raises on purpose."""

    retryable: bool = False
    exit_code: int = 1

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class ConfigError(CyverseLinkError):
    exit_code = 2


class ServiceUnavailable(CyverseLinkError):
    exit_code = 3
    retryable = True


class AuthenticationFailed(ServiceUnavailable):
    retryable = False


class LockHeld(CyverseLinkError):
    exit_code = 4


class DataStoreError(CyverseLinkError):
    pass


class NotFound(DataStoreError):
    pass


class PermissionDenied(DataStoreError):
    pass


class TransferFailed(DataStoreError):
    retryable = True


class ChecksumMismatch(DataStoreError):
    retryable = True


class ImageError(CyverseLinkError):
    pass


class PublishError(CyverseLinkError):
    pass


class PortalError(CyverseLinkError):
    pass


class NoMatchingRecord(PortalError):
    pass


class AmbiguousMatch(PortalError):
    pass


class ValueTooLong(PortalError):
    pass


class LedgerError(CyverseLinkError):
    pass
