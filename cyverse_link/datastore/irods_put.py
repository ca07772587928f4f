"""The verified upload under ``IrodsStore.put``: send, re-send on a refused or damaged transfer,
and (on 4.2.x) read the registered checksum back. ``irods_ops.checksum_options`` says which
keywords make a real server compare, with the server source."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from irods import exception as ex
from irods.session import iRODSSession

from cyverse_link.core.errors import ChecksumMismatch, DataStoreError, TransferFailed
from cyverse_link.core.retry import Backoff
from cyverse_link.datastore.irods_errors import TRANSIENT, translate
from cyverse_link.datastore.irods_ops import (
    ParallelFailed,
    _mismatch,
    _send,
    _send_parallel,
    _stat,
)

log = logging.getLogger(__name__)


def upload(
    session_for: Callable[[], iRODSSession],
    local: Path,
    remote: str,
    md5: str,
    options: dict[str, str],
    *,
    read_back: bool,
    extra_streams: int,
    retry: Backoff,
) -> iRODSSession:
    """Send ``local`` until the Data Store holds exactly its bytes, at most ``retry.retries``
    re-sends (``retry.pause(attempt)`` before each). Returns the session that succeeded. Raises
    ChecksumMismatch / TransferFailed (retryable) after the last attempt, or what
    ``translate`` makes of any other error at once."""
    error: DataStoreError | None = None
    cause: BaseException | None = None
    for attempt in range(retry.retries + 1):
        if attempt:
            retry.pause(attempt)
            log.warning("re-sending %s (attempt %d): %s", remote, attempt + 1, error)
        session = session_for()
        try:
            if extra_streams:
                _send_parallel(session, local, remote, options, streams=1 + extra_streams)
            else:
                _send(session, local, remote, options)
        except ParallelFailed as exc:
            session.cleanup()
            extra_streams = 0  # re-send single stream
            error, cause = TransferFailed(f"parallel upload of {remote} failed: {exc}"), exc
            continue
        except (ex.USER_CHKSUM_MISMATCH, *TRANSIENT) as exc:
            session.cleanup()  # PRC keeps a failed open/close's connection checked out
            failure = translate(exc, "uploading", remote)
            if not isinstance(failure, TransferFailed | ChecksumMismatch):
                raise failure from exc
            if isinstance(failure, ChecksumMismatch):
                failure = _mismatch(remote, md5)
            error, cause = failure, exc
            continue
        except Exception as exc:
            session.cleanup()
            raise translate(exc, "uploading", remote) from exc
        # 4.2.x: the close registered the hash of the bytes it stored, uncompared; one
        # GenQuery reads it back and a difference re-sends like a refused close.
        if read_back and registered_checksum(session, remote) != md5:
            error, cause = _mismatch(remote, md5), None
            continue
        return session
    assert error is not None
    raise error from cause


def registered_checksum(session: iRODSSession, remote: str) -> str | None:
    try:
        found = _stat(session, remote)
    except Exception as exc:
        raise translate(exc, "reading the checksum of", remote) from exc
    return found.checksum if found else None
