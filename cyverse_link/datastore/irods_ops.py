"""python-irodsclient calls under ``IrodsStore``: the direct upload and the bulk GenQuery scans.

Plain functions of a session, so the store above stays about connections, retries and errors.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from irods import keywords as kw
from irods.column import Criterion
from irods.models import Collection, DataObject, DataObjectMeta
from irods.session import iRODSSession

from cyverse_link.core.errors import ChecksumMismatch
from cyverse_link.core.models import RemoteObject

PAGE_SIZE = 500  # rows per GenQuery page (PRC's and the server's default)
# PRC 3.3.0 irods/manager/data_object_manager.py MAXIMUM_SINGLE_THREADED_TRANSFER_SIZE ~143:
# larger files may go parallel (server >= 4.2.9, num_threads != 1)
PARALLEL_THRESHOLD = 32 * 1024**2


class ParallelFailed(Exception):
    """PRC's parallel put failed for a reason other than an iRODS error (it raises a bare
    ``RuntimeError('parallel put failed')``, irods/manager/data_object_manager.py ~332)."""


@dataclass(frozen=True)
class _Replica:
    coll: str
    name: str
    size: int
    checksum: str | None
    modified: datetime | None
    good: bool


def checksum_options(server: tuple[int, ...], md5: str) -> tuple[dict[str, str], bool]:
    """The open keywords that make a server check an upload's bytes, and whether the client
    must read the registered checksum back after the close to know.

    A server keeps one checksum flag per open descriptor and ``regChksum`` wins over
    ``verifyChksum`` (irods/irods 4.3.1 server/core/src/objDesc.cpp ~826-833; 4.2.8 same file,
    ``fillL1desc`` ~202-210), so sending both never compares anything.

    * >= 4.3.0: ``verifyChksum`` alone. The close hashes the stored bytes and refuses with
      USER_CHKSUM_MISMATCH on a difference, for a new object and an overwrite alike (4.3.1
      server/api/src/rsDataObjClose.cpp ``perform_checksum_operation_for_finalize`` ~188-190
      → server/core/src/finalize_utilities.cpp ``verify_checksum`` ~106-134; the PUT_OPR
      branch ~486-493 compares too; unchanged through 5.0.2). On success it registers that
      hash. No read-back.
    * 4.2.x: ``verifyChksum`` is not enough: when the object already has a checksum the close
      turns the flag into REG_CHKSUM (4.2.8 server/api/src/rsDataObjClose.cpp ~447-453), and
      with a value equal to the old checksum it keeps the old one without registering the new
      hash (``procChksumForClose`` ~979-997), so damaged bytes could even read back as right.
      ``regChksum`` with an empty value always hashes the stored bytes and registers that hash
      (~979-1016); one GenQuery then reads it back and the client compares.
    """
    if server >= (4, 3, 0):
        return {kw.VERIFY_CHKSUM_KW: md5}, False
    return {kw.REG_CHKSUM_KW: ""}, True


def _send(session: iRODSSession, local: Path, remote: str, options: Mapping[str, str]) -> None:
    """What ``data_objects.put(..., num_threads=1, forceFlag)`` sends, minus its first two
    requests: PRC's put asks twice "is ``remote`` a collection?" (to put *into* it), but we
    always name the object itself. So: open with O_CREAT|O_TRUNC (an overwrite, as the force
    flag meant), 8 MiB writes, close -- the same open/lseek/write/close on the wire, on the
    session's one connection (a parallel put would open extra connections that count against
    CyVerse's cap of 10 per address). Saves a quarter of a small file's round trips."""
    chunk = session.data_objects.WRITE_BUFFER_SIZE
    with local.open("rb") as src, session.data_objects.open(remote, "w", **options) as dst:
        while block := src.read(chunk):
            dst.write(block)


def _send_parallel(
    session: iRODSSession, local: Path, remote: str, options: Mapping[str, str], streams: int
) -> None:
    """PRC's own ``put`` with ``streams`` streams: 2 GenQueries ("is it a collection?"), the
    open on this session's connection with our keywords, ``streams - 1`` more connections that
    join the replica by its token (APIs 20000/20004) and write their byte ranges, then the
    first connection's close, where the server checks ``verifyChksum`` as for a single stream
    (parallel transfer only on >= 4.3 here, see ``checksum_options``). The extra connections
    go back to the pool idle: close them at once so the budget holds."""
    try:
        session.data_objects.put(
            str(local), remote, num_threads=streams, **{kw.FORCE_FLAG_KW: True}, **options
        )
    except RuntimeError as exc:
        raise ParallelFailed(str(exc.__cause__ or exc)) from exc
    finally:
        _close_extra_connections(session)


def _close_extra_connections(session: iRODSSession) -> None:
    pool = session.pool
    keep = pool._conn  # this thread's connection, which later calls reuse (irods.py)
    for conn in list(pool.idle):
        if conn is not keep:
            pool.release_connection(conn, destroy=True)
            conn.disconnect()


# -- queries ----------------------------------------------------------------------------------

_COLUMNS = (
    Collection.name,
    DataObject.name,
    DataObject.size,
    DataObject.checksum,
    DataObject.modify_time,
    DataObject.replica_status,
)


def _scan(session: iRODSSession, *, cond: Criterion) -> list[_Replica]:
    """Every replica matching ``cond``, paged by key (``D_DATA_ID > last``) so no page depends
    on a server-side continuation index, which PRC may send on another pooled connection."""
    out: list[_Replica] = []
    last = -1
    while True:
        q = session.query(DataObject.id, *_COLUMNS).filter(cond, DataObject.id > last)
        rows = q.order_by(DataObject.id).limit(PAGE_SIZE).all()
        page = [(int(r[DataObject.id]), _replica(r)) for r in rows]
        if len(page) < PAGE_SIZE:
            out += [r for _, r in page]
            return out
        # A full page may cut one object's replicas: keep whole ids, re-read the last id.
        edge = page[-1][0]
        whole = [(i, r) for i, r in page if i < edge] or page
        out += [r for _, r in whole]
        last = whole[-1][0]


def _scan_avu(session: iRODSSession, *, cond: Criterion, attribute: str) -> list[tuple[str, str]]:
    """``(path, value)`` of AVU ``attribute`` on objects matching ``cond``, paged by data id."""
    out: list[tuple[str, str]] = []
    last = -1
    while True:
        q = session.query(DataObject.id, Collection.name, DataObject.name, DataObjectMeta.value)
        q = q.filter(cond, DataObjectMeta.name == attribute, DataObject.id > last)
        rows = q.order_by(DataObject.id).limit(PAGE_SIZE).all()
        page = [(int(r[DataObject.id]), posixpath.join(r[Collection.name], r[DataObject.name]),
                 str(r[DataObjectMeta.value])) for r in rows]  # fmt: skip
        if len(page) < PAGE_SIZE:
            return out + [(p, v) for _, p, v in page]
        edge = page[-1][0]  # a full page may cut one object's rows: re-read its id
        whole = [x for x in page if x[0] < edge] or page
        out += [(p, v) for _, p, v in whole]
        last = whole[-1][0]


def _replica(row: Any) -> _Replica:
    return _Replica(
        coll=row[Collection.name],
        name=row[DataObject.name],
        size=int(row[DataObject.size] or 0),
        checksum=row[DataObject.checksum] or None,
        modified=row[DataObject.modify_time],
        good=str(row[DataObject.replica_status]) == "1",
    )


def _fold(path: str, replicas: list[_Replica]) -> RemoteObject:
    """One object from its replica rows: a good replica's size and checksum win."""
    ranked = sorted(replicas, key=lambda r: (not r.good, r.checksum is None))
    best = ranked[0]
    times = [r.modified for r in replicas if isinstance(r.modified, datetime)]
    return RemoteObject(path, best.size, best.checksum, max(times) if times else None)


def _stat(session: iRODSSession, remote: str) -> RemoteObject | None:
    parent, name = posixpath.split(remote)
    rows = session.query(*_COLUMNS).filter(Collection.name == parent, DataObject.name == name)
    replicas = [_replica(r) for r in rows.all()]
    return _fold(remote, replicas) if replicas else None


def _avus(session: iRODSSession, remote: str) -> list[tuple[str, str, str]]:
    parent, name = posixpath.split(remote)
    q = session.query(DataObjectMeta.name, DataObjectMeta.value, DataObjectMeta.units)
    rows = q.filter(Collection.name == parent, DataObject.name == name).all()
    return [
        (r[DataObjectMeta.name], r[DataObjectMeta.value], r[DataObjectMeta.units] or "")
        for r in rows
    ]


def _mismatch(remote: str, expected: str) -> ChecksumMismatch:
    return ChecksumMismatch(
        f"{remote}: the data store computed a checksum different from the local file's MD5 "
        f"{expected} (it refused the upload); it was re-sent and still differs. Check that the "
        "local file is not changing while the run is in progress, then run again"
    )
