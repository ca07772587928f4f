"""Collection and data-object APIs: 681, 602/674/675/676/673, 629 (irods-protocol.md §5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from irods.message import STR_PI as StrPI
from irods.message import (
    CollectionRequest,
    FileOpenRequest,
    FileSeekResponse,
    OpenedDataObjRequest,
)

from cyverse_link.sandbox.irods import finalize, parallel
from cyverse_link.sandbox.irods.catalog import (
    CREATE,
    READ,
    WRITE,
    DataObj,
    Replica,
    normalize,
    now,
    split,
)
from cyverse_link.sandbox.irods.protocol import IrodsError, Packet, unpack

if TYPE_CHECKING:
    from cyverse_link.sandbox.irods.agent import Agent, Reply

O_ACCMODE, O_RDONLY, O_CREAT, O_EXCL, O_TRUNC, O_APPEND = 3, 0, 64, 128, 512, 1024
FIRST_DESC, NUM_L1_DESC = 3, 1026


@dataclass
class Descriptor:
    index: int
    obj: DataObj
    replica: Replica
    writable: bool
    pos: int = 0
    options: dict[str, str] = field(default_factory=dict)
    chksum_flag: int = 0  # finalize.REG_CHKSUM / VERIFY_CHKSUM, fixed at open
    chksum: str = ""  # that keyword's value
    old_checksum: str = ""  # the catalog checksum before this write (4.2.8 close uses it)
    token: str = ""  # replica token (parallel.py)
    joined: bool = False  # opened with another descriptor's token: closes with API 20004


def _reply(int_info: int = 0, body: object = None, bs: bytes = b"") -> Reply:
    from cyverse_link.sandbox.irods.agent import Reply

    return Reply(int_info, body, bs)


def keywords(msg: object) -> dict[str, str]:
    kvp = getattr(msg, "KeyValPair_PI", None)
    if kvp is None:
        return {}
    return {k: (v or "") for k, v in zip(kvp.keyWord or [], kvp.svalue or [], strict=False)}


# ---- collections --------------------------------------------------------------------------------
def coll_create(agent: Agent, packet: Packet) -> Reply:
    req = unpack(CollectionRequest, packet.body)
    path = normalize(req.collName or "")
    recursive = "recursiveOpr" in keywords(req)
    cat, user = agent.server.catalog, agent.user or ""
    with cat.lock:
        if path in cat.objs:
            raise IrodsError(-834000, f"{path} is a data object")  # CAT_NAME_EXISTS_AS_DATAOBJ
        if path in cat.colls:
            if recursive:
                return _reply()  # imkdir -p
            raise IrodsError(-809000, f"collection {path} exists")
        ancestor = split(path)[0]
        while ancestor not in cat.colls:
            if not recursive:
                raise IrodsError(-814000, f"parent collection {ancestor} does not exist")
            ancestor = split(ancestor)[0]
        if ancestor in cat.objs:
            raise IrodsError(-834000, f"{ancestor} is a data object")
        cat.require(user, cat.colls[ancestor], CREATE, "create collections in")
        cat.mkcoll(path, user, parents=recursive)
    return _reply()


# ---- open / seek / read / write / close -------------------------------------------------------
def open_obj(agent: Agent, packet: Packet) -> Reply:
    req = unpack(FileOpenRequest, packet.body)
    path = normalize(req.objPath or "")
    flags = req.openFlags or 0
    opts = keywords(req)
    writable = (flags & O_ACCMODE) != O_RDONLY
    cat, user = agent.server.catalog, agent.user or ""
    with cat.lock:
        if path in cat.colls:
            raise IrodsError(-833000, f"{path} is a collection")  # CAT_NAME_EXISTS_AS_COLLECTION
        parent = cat.colls.get(split(path)[0])
        obj = cat.objs.get(path)
        joined = parallel.check_token(agent, path, opts)
        if obj is None:
            if not flags & O_CREAT:
                raise IrodsError(-358000, f"{path} does not exist")  # OBJ_PATH_DOES_NOT_EXIST
            if parent is None:
                raise IrodsError(-814000, f"collection {split(path)[0]} does not exist")
            cat.require(user, parent, CREATE, "create objects in")
            obj = cat.create_obj(path, user, parent)
            replica = obj.replicas[0]
            old_checksum = ""
        else:
            if flags & O_CREAT and flags & O_EXCL:
                raise IrodsError(-312000, f"{path} exists")  # OVERWRITE_WITHOUT_FORCE_FLAG
            cat.require(user, obj, WRITE if writable else READ, "write" if writable else "read")
            replica = _pick_replica(obj, opts, writable)
            old_checksum = replica.checksum or ""
            if writable:
                if flags & O_TRUNC:
                    cat.store.truncate(replica.blob, 0)
                replica.checksum, replica.status = "", "2"
                for other in obj.replicas:
                    if other is not replica:
                        other.status = "0"  # the write makes the other replicas stale
                cat.dirty = True
        index = _free_index(agent)
        flag, value = finalize.open_flag(opts)
        desc = Descriptor(index, obj, replica, writable, options=opts, chksum_flag=flag,
                          chksum=value, old_checksum=old_checksum)  # fmt: skip
        parallel.attach_token(agent, desc, joined)
        if flags & O_APPEND:
            desc.pos = cat.store.size(replica.blob)
        agent.descriptors[index] = desc
    return _reply(index)


def _pick_replica(obj: DataObj, opts: dict[str, str], writable: bool) -> Replica:
    if "replNum" in opts:
        for rep in obj.replicas:
            if str(rep.number) == opts["replNum"]:
                return rep
        raise IrodsError(-358000, f"{obj.path} has no replica {opts['replNum']}")
    if not writable:
        good = [r for r in obj.replicas if r.status == "1"]
        if good:
            return good[0]
    return obj.replicas[0]


def _free_index(agent: Agent) -> int:
    for index in range(FIRST_DESC, NUM_L1_DESC):
        if index not in agent.descriptors:
            return index
    raise IrodsError(-19000, "too many open data objects")  # SYS_FILE_DESC_OUT_OF_RANGE


def _descriptor(agent: Agent, req: OpenedDataObjRequest) -> Descriptor:
    index = req.l1descInx if req.l1descInx is not None else -1
    if index < FIRST_DESC or index >= NUM_L1_DESC:
        raise IrodsError(-19000, f"descriptor {index} out of range")
    desc = agent.descriptors.get(index)
    if desc is None:
        raise IrodsError(-345000, f"descriptor {index} is not open")  # BAD_INPUT_DESC_INDEX
    if not agent.server.catalog.store.exists(desc.replica.blob):
        # another client unlinked the object meanwhile
        del agent.descriptors[index]
        raise IrodsError(-358000, f"{desc.obj.path} was removed while open")
    return desc


def lseek(agent: Agent, packet: Packet) -> Reply:
    req = unpack(OpenedDataObjRequest, packet.body)
    desc = _descriptor(agent, req)
    base = {0: 0, 1: desc.pos}.get(req.whence or 0)
    if base is None:
        base = agent.server.catalog.store.size(desc.replica.blob)
    target = base + (req.offset or 0)
    if target < 0:
        raise IrodsError(-14000, f"seek to negative offset {target}")
    desc.pos = target
    return _reply(0, FileSeekResponse(offset=target))


def read(agent: Agent, packet: Packet) -> Reply:
    req = unpack(OpenedDataObjRequest, packet.body)
    desc = _descriptor(agent, req)
    length = max(0, req.len or 0)
    data = agent.server.catalog.store.read(desc.replica.blob, desc.pos, length)
    desc.pos += len(data)
    return _reply(len(data), None, data)


def write(agent: Agent, packet: Packet) -> Reply:
    if agent.server.faults.take_write_drop():
        from cyverse_link.sandbox.irods.agent import DropConnection

        raise DropConnection()
    req = unpack(OpenedDataObjRequest, packet.body)
    desc = _descriptor(agent, req)
    if not desc.writable:
        raise IrodsError(-818000, f"{desc.obj.path} was opened for reading")
    agent.server.catalog.store.write(desc.replica.blob, desc.pos, packet.bs)
    desc.pos += len(packet.bs)
    return _reply(len(packet.bs))


def close(agent: Agent, packet: Packet) -> Reply:
    req = unpack(OpenedDataObjRequest, packet.body)
    desc = _descriptor(agent, req)
    del agent.descriptors[desc.index]
    parallel.release_token(agent, desc)
    if not desc.writable:
        return _reply()
    cat = agent.server.catalog
    with cat.lock:
        finalize.damage_in_transit(agent, desc)
        rep = desc.replica
        rep.size = cat.store.size(rep.blob)
        rep.mtime = desc.obj.mtime = now()
        cat.dirty = True
        # The checksum flag was fixed at open; the close's keywords do not change it.
        finalize.finalize_checksum(agent, desc, lambda: _stored_checksum(agent, desc.obj.path, rep))
    return _reply()


def _stored_checksum(agent: Agent, path: str, rep: Replica) -> str:
    """The MD5 a server would store; the corrupt_checksum fault makes the next one wrong."""
    value = agent.server.catalog.store.md5(rep.blob)
    if agent.server.faults.take_corrupt(path):
        value = value[::-1] if value[::-1] != value else "0" * 32
    return value


def abandon(agent: Agent, desc: Descriptor) -> None:
    """The connection died with the object open: bytes so far stay, no checksum, not good."""
    parallel.release_token(agent, desc)
    if not desc.writable:
        return
    cat = agent.server.catalog
    with cat.lock:
        if not cat.store.exists(desc.replica.blob):
            return
        desc.replica.size = cat.store.size(desc.replica.blob)
        desc.replica.checksum = ""
        desc.replica.status = "2" if agent.persona >= (4, 2, 9) else "0"
        cat.dirty = True


# ---- checksum ---------------------------------------------------------------------------
def chksum(agent: Agent, packet: Packet) -> Reply:
    req = unpack(FileOpenRequest, packet.body)
    path = normalize(req.objPath or "")
    opts = keywords(req)
    cat, user = agent.server.catalog, agent.user or ""
    with cat.lock:
        obj = cat.objs.get(path)
        if obj is None:
            raise IrodsError(-808000, f"{path} does not exist")
        cat.require(user, obj, READ, "read")
        rep = _pick_replica(obj, opts, writable=False)
        if "verifyChksum" in opts:
            actual = cat.store.md5(rep.blob)
            if rep.checksum and rep.checksum != actual:
                raise IrodsError(-314000, f"stored {rep.checksum} but data hashes to {actual}")
        if rep.checksum and "forceChksum" not in opts:
            return _reply(0, StrPI(myStr=rep.checksum))
        cat.require(user, obj, WRITE, "compute the checksum of")
        rep.checksum = _stored_checksum(agent, path, rep)
        cat.dirty = True
        return _reply(0, StrPI(myStr=rep.checksum))
