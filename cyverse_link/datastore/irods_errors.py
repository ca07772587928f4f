"""python-irodsclient exceptions → ``cyverse_link.core.errors``, with messages that say what to do.

Only class names, codes and paths reach a message: never the password, never the server's
free text (which could echo anything back).
"""

from __future__ import annotations

from irods import exception as ex

from cyverse_link.core.errors import (
    AuthenticationFailed,
    ChecksumMismatch,
    CyverseLinkError,
    DataStoreError,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    TransferFailed,
)

# Failures of the link, not of the request: re-sending may help.
TRANSIENT: tuple[type[BaseException], ...] = (
    ex.NetworkException,
    OSError,  # socket errors PRC does not wrap (reset, broken pipe, timeout)
    RuntimeError,  # PRC's "parallel put failed"
    ex.SYS_SOCK_READ_TIMEDOUT,
    ex.SYS_HEADER_READ_LEN_ERR,
    ex.SYS_COPY_LEN_ERR,
    ex.BAD_INPUT_DESC_INDEX,  # a close after the connection lost its descriptor
)

_CAP_HINT = (
    "CyVerse refuses more than 10 connections per address, so also check that no other "
    "upload runs from this machine and keep irods.threads at 8 or fewer"
)


def code_of(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__} {code}" if code is not None else type(exc).__name__


def connect_error(exc: BaseException, host: str, port: int, user: str) -> CyverseLinkError:
    """An error while opening or logging in a connection."""
    if isinstance(exc, ex.CAT_INVALID_AUTHENTICATION | ex.CAT_INVALID_USER):
        return AuthenticationFailed(
            f"iRODS at {host}:{port} refused the login of {user!r} ({code_of(exc)}); check "
            "irods.user and irods.zone, and store the right password with "
            "`cyverse-link credentials set irods`"
        )
    if isinstance(exc, ex.NetworkException | OSError):
        return ServiceUnavailable(
            f"cannot reach iRODS at {host}:{port} ({code_of(exc)}); check irods.host and "
            f"irods.port, your network, and try again later. {_CAP_HINT}"
        )
    return translate(exc, f"logging in to {host}:{port}")


def translate(exc: BaseException, action: str, path: str = "") -> CyverseLinkError:
    """Map an exception raised during ``action`` (e.g. "uploading") on ``path``."""
    where = f" {path}" if path else ""
    what = f"{action}{where} failed ({code_of(exc)})"
    if isinstance(exc, ex.CAT_INVALID_AUTHENTICATION | ex.CAT_INVALID_USER):
        return AuthenticationFailed(
            f"{what}: the login was refused; check irods.user and the stored password"
        )
    if isinstance(
        exc, ex.CAT_NO_ACCESS_PERMISSION | ex.CAT_INSUFFICIENT_PRIVILEGE_LEVEL | ex.SYS_NO_API_PRIV
    ):
        return PermissionDenied(
            f"{what}: permission denied; ask the collection's owner for write (own) access "
            "or choose a collection you own in irods.collection"
        )
    if isinstance(
        exc,
        ex.CAT_UNKNOWN_COLLECTION
        | ex.CAT_UNKNOWN_FILE
        | ex.OBJ_PATH_DOES_NOT_EXIST
        | ex.DoesNotExist,
    ):
        return NotFound(f"{what}: the path does not exist in the data store")
    if isinstance(exc, ex.USER_CHKSUM_MISMATCH):
        return ChecksumMismatch(f"{what}: the server saw a different checksum; run again")
    if isinstance(exc, ex.SYS_RESC_QUOTA_EXCEEDED):
        return DataStoreError(f"{what}: your data store quota is used up; ask CyVerse support")
    if isinstance(exc, ex.CAT_NAME_EXISTS_AS_COLLECTION | ex.CAT_NAME_EXISTS_AS_DATAOBJ):
        return DataStoreError(
            f"{what}: a collection and a data object would share one name; rename one of them"
        )
    if isinstance(exc, TRANSIENT):
        return TransferFailed(
            f"{what}: the connection to iRODS dropped or timed out; run again later "
            "(a slow link may need a larger irods.connection_timeout)"
        )
    return DataStoreError(f"{what}; see the log for details and run again")
