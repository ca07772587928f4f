"""The two APIs python-irodsclient's parallel transfer needs (4.3.1 persona): 20000
GET_FILE_DESCRIPTOR_INFO and 20004 REPLICA_CLOSE, plus the replica token that lets extra
connections write into the replica the first connection opened.

How PRC 3.3.0 uses them (``irods/parallel.py``, ``io_main``/``_io_multipart_threaded``;
``irods/data_object.py``, ``replica_access_info``/``_close_replica``): the first connection opens
the object (``w``: create + truncate, with the put's keywords), asks 20000 for its descriptor's
``replica_token`` and ``data_object_info.resource_hierarchy``, then each further thread opens the
same path on its own connection with ``replicaToken`` (``a``, no create), writes its byte range
and closes with 20004 and every update switched off; the first connection closes last with an
ordinary 673, which finalizes the object and applies the checksum rules (finalize.py).

Sources followed (irods/irods 4.3.1):

* 20000: ``plugins/api/src/get_file_descriptor_info.cpp`` ``to_json(l1desc)`` ~198-233 (the
  fields returned, a subset here) and ``rs_get_file_descriptor_info`` ~263-300: an unknown ``fd``
  or bad JSON answers SYS_INVALID_INPUT_PARAM.
* Replica token: ``server/api/src/rsDataObjOpen.cpp`` ~145-155 (a write open creates the token,
  an open carrying ``replicaToken`` joins it) and ~317-318 (``try_lock`` with the token: a wrong
  token is refused).
* 20004: ``plugins/api/src/replica_close.cpp`` ~340-470: descriptor out of range or not open →
  BAD_INPUT_DESC_INDEX; with ``update_size``/``update_status``/``compute_checksum`` false it only
  closes the physical file and frees the descriptor (no finalizing, no checksum); with them true
  it records the size and marks the replica good, without any checksum comparison.

4.2.8 has neither API (PRC uses parallel transfer only from 4.2.9): both answer
SYS_UNMATCHED_API_NUM there, as before.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from cyverse_link.sandbox.irods.catalog import now
from cyverse_link.sandbox.irods.protocol import IrodsError, Packet, json_body, read_json

if TYPE_CHECKING:
    from cyverse_link.sandbox.irods.agent import Agent, Reply
    from cyverse_link.sandbox.irods.handlers import Descriptor

SYS_INVALID_INPUT_PARAM = -130000
BAD_INPUT_DESC_INDEX = -345000
LOCKED_DATA_OBJECT_ACCESS = -406000
FIRST_PERSONA = (4, 2, 9)


def _reply(int_info: int = 0, body: object = None) -> Reply:
    from cyverse_link.sandbox.irods.agent import Reply

    return Reply(int_info, body)


def _require_persona(agent: Agent, api: int) -> None:
    if agent.persona < FIRST_PERSONA:
        raise IrodsError(-12000, f"API {api} does not exist before iRODS 4.2.9")


def check_token(agent: Agent, path: str, options: dict[str, str]) -> str:
    """The token an open joins (``replicaToken``), "" for none; a token that no open write
    of ``path`` holds is refused (rsDataObjOpen.cpp ~317-318). Call before changing anything."""
    token = options.get("replicaToken", "")
    if token and agent.server.replica_tokens.get(token) != path:
        raise IrodsError(LOCKED_DATA_OBJECT_ACCESS, f"replica token not valid for {path}")
    return token


def attach_token(agent: Agent, desc: Descriptor, joined: str) -> None:
    """A write open joins ``joined`` or, on >= 4.2.9, starts a token of its own."""
    if joined:
        desc.token, desc.joined = joined, True
    elif desc.writable and agent.persona >= FIRST_PERSONA:
        desc.token = uuid.uuid4().hex
        agent.server.replica_tokens[desc.token] = desc.obj.path


def release_token(agent: Agent, desc: Descriptor) -> None:
    """The first opener's finalizing close (or its connection's end) ends the token."""
    if desc.token and not desc.joined:
        agent.server.replica_tokens.pop(desc.token, None)


def _descriptor(agent: Agent, fd: Any, missing: int) -> Descriptor:
    desc = agent.descriptors.get(fd) if isinstance(fd, int) else None
    if desc is None:
        raise IrodsError(missing, f"descriptor {fd!r} is not open")
    return desc


def fd_info(agent: Agent, packet: Packet) -> Reply:
    _require_persona(agent, 20000)
    request = read_json(packet.body)
    desc = _descriptor(agent, request.get("fd"), SYS_INVALID_INPUT_PARAM)
    rep = desc.replica
    info = {
        "l3descInx": desc.index,
        "in_use": True,
        "operation_type": 0,
        "open_type": 2 if desc.writable else 1,  # OPEN_FOR_WRITE_TYPE / OPEN_FOR_READ_TYPE
        "bytes_written": desc.pos,
        "data_size": rep.size,
        "checksum_flag": desc.chksum_flag,
        "checksum": desc.chksum,
        "data_object_input": {
            "object_path": desc.obj.path,
            "condition_input": [{"key": k, "value": v} for k, v in desc.options.items()],
        },
        "data_object_info": {
            "object_path": desc.obj.path,
            "resource_hierarchy": "demoResc",
            "replica_number": rep.number,
            "replica_status": int(rep.status),
            "checksum": rep.checksum,
            "data_size": rep.size,
        },
        "replica_token": desc.token,
    }
    return _reply(0, json_body(info, agent.json_binary))


def replica_close(agent: Agent, packet: Packet) -> Reply:
    _require_persona(agent, 20004)
    request = read_json(packet.body)
    desc = _descriptor(agent, request.get("fd"), BAD_INPUT_DESC_INDEX)
    del agent.descriptors[desc.index]
    release_token(agent, desc)
    if not desc.writable:
        return _reply()
    cat = agent.server.catalog
    update_size = request.get("update_size", True) is not False
    update_status = request.get("update_status", True) is not False
    with cat.lock:
        rep = desc.replica
        if update_size:
            rep.size = cat.store.size(rep.blob)
            rep.mtime = desc.obj.mtime = now()
        if update_status:
            rep.status = "1"  # good, and no checksum compared (replica_close.cpp ~412-455)
        cat.dirty = True
    return _reply()
