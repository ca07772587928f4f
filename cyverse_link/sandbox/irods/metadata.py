"""ACLs (707), AVUs (706) and atomic metadata operations (20002)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from irods.message import MetadataRequest, ModAclRequest

from cyverse_link.sandbox.irods.catalog import (
    LEVELS_428,
    LEVELS_431,
    NULL,
    OWN,
    WRITE,
    Avu,
    Catalog,
    Coll,
    Entry,
    normalize,
    now,
)
from cyverse_link.sandbox.irods.protocol import IrodsError, Packet, json_body, read_json, unpack

if TYPE_CHECKING:
    from cyverse_link.sandbox.irods.agent import Agent, Reply

CREATE_METADATA, MODIFY_METADATA, DELETE_METADATA = 1070, 1080, 1090


def _reply(int_info: int = 0, body: object = None) -> Reply:
    from cyverse_link.sandbox.irods.agent import Reply

    return Reply(int_info, body)


# ---- ACLs ---------------------------------------------------------------------------------------
def mod_access(agent: Agent, packet: Packet) -> Reply:
    req = unpack(ModAclRequest, packet.body)
    cat, user = agent.server.catalog, agent.user or ""
    level = (req.accessLevel or "").strip()
    admin = level.startswith("admin:")
    if admin:
        level = level[len("admin:") :]
        if not cat.is_admin(user):
            raise IrodsError(-830000, "admin mode needs a rodsadmin")
    path = normalize(req.path or "")
    with cat.lock:
        entry = cat.entry(path)
        if entry is None:
            raise IrodsError(-817000, f"{path} does not exist")  # CAT_UNKNOWN_FILE
        if not admin:
            cat.require(user, entry, OWN, "change the ACLs of")
        targets = _targets(cat, entry, bool(req.recursiveFlag))
        if level in ("inherit", "noinherit"):
            if not isinstance(entry, Coll):
                raise IrodsError(-816000, "inheritance applies to collections only")
            for t in targets:
                if isinstance(t, Coll) and (admin or cat.level(user, t) >= OWN):
                    t.inherit = level == "inherit"
            cat.dirty = True
            return _reply()
        table = LEVELS_431 if agent.persona >= (4, 3, 0) else LEVELS_428
        if level not in table:
            raise IrodsError(
                -816000, f"access level {level!r} is not valid"
            )  # CAT_INVALID_ARGUMENT
        who = (req.userName or "").split("#", 1)[0]
        zone = req.zone or ([*(req.userName or "").split("#", 1), ""])[1] or cat.zone
        if who not in cat.users or zone != cat.zone:
            raise IrodsError(-827000, f"user {who!r} does not exist")  # CAT_INVALID_USER
        value = table[level]
        for t in targets:
            if not admin and cat.level(user, t) < OWN:
                continue
            if value == NULL:
                t.acl.pop(who, None)
            else:
                t.acl[who] = value
        cat.dirty = True
    return _reply()


def _targets(cat: Catalog, entry: Entry, recursive: bool) -> list[Entry]:
    if not recursive or not isinstance(entry, Coll):
        return [entry]
    found: list[Entry] = [entry]
    for p in cat.children(entry.path):
        child = cat.entry(p)
        if child is not None:
            found.append(child)
    return found


# ---- AVUs ---------------------------------------------------------------------------------------
def _avu_target(cat: Catalog, kind: str, path: str) -> Entry:
    path = normalize(path)
    if kind == "-d":
        obj = cat.objs.get(path)
        if obj is None:
            raise IrodsError(-817000, f"data object {path} does not exist")  # CAT_UNKNOWN_FILE
        return obj
    if kind == "-C":
        coll = cat.colls.get(path)
        if coll is None:
            raise IrodsError(-814000, f"collection {path} does not exist")
        return coll
    raise IrodsError(-816000, f"the sandbox keeps AVUs on -d and -C only, not {kind}")


def _guard(cat: Catalog, user: str, admin: bool, entry: Entry, attr: str, needed: int) -> None:
    if admin and not cat.is_admin(user):
        raise IrodsError(-830000, "admin mode needs a rodsadmin")
    if attr.startswith("ipc") and not cat.is_admin(user):
        # CyVerse rule "PROTECTED AVUS" (cyverse_logic.re)
        raise IrodsError(-830000, "CYVERSE ERROR: attempt to alter protected AVU")
    if not admin:
        cat.require(user, entry, needed, "change the metadata of")


def _find(entry: Entry, attr: str, value: str, units: str) -> Avu | None:
    for avu in entry.avus:
        if (avu.name, avu.value, avu.units) == (attr, value, units):
            return avu
    return None


def mod_avu(agent: Agent, packet: Packet) -> Reply:
    req = unpack(MetadataRequest, packet.body)
    op, kind, path = req.arg0 or "", req.arg1 or "", req.arg2 or ""
    attr, value, units = req.arg3 or "", req.arg4 or "", req.arg5 or ""
    admin = "irodsAdmin" in {k for k in (req.KeyValPair_PI.keyWord or [])}
    cat, user = agent.server.catalog, agent.user or ""
    if op not in ("add", "set", "rm"):
        raise IrodsError(-816000, f"the sandbox does not implement imeta {op!r}")
    if not attr or (op != "rm" and not value):
        raise IrodsError(-816000, "attribute and value must not be empty")
    with cat.lock:
        entry = _avu_target(cat, kind, path)
        needed = {"add": CREATE_METADATA, "set": MODIFY_METADATA, "rm": DELETE_METADATA}[op]
        _guard(cat, user, admin, entry, attr, needed)
        existing = _find(entry, attr, value, units)
        if op == "add":
            if existing is not None:
                raise IrodsError(-809000, f"AVU {attr}={value} exists")
            entry.avus.append(Avu(cat.new_id(), attr, value, units))
        elif op == "set":
            same = [a for a in entry.avus if a.name == attr]
            entry.avus = [a for a in entry.avus if a.name != attr]
            avu = same[0] if same else Avu(cat.new_id(), attr, value, units)
            avu.value, avu.units, avu.mtime = value, units, now()
            entry.avus.append(avu)
        else:
            if existing is None:
                raise IrodsError(-819000, "no such AVU")  # CAT_SUCCESS_BUT_WITH_NO_INFO
            entry.avus.remove(existing)
        entry.mtime = now()
        cat.dirty = True
    return _reply()


SYS_INVALID_INPUT_PARAM, SYS_NOT_SUPPORTED, INVALID_OPERATION = -130000, -66000, -1811000
JSON_VALIDATION_ERROR, CAT_NO_ACCESS_PERMISSION = -172000, -818000
ENTITY_TYPES = ("collection", "data_object", "resource", "user")


def _failure(op: Any, index: int, message: str, binary: bool) -> Any:
    """``make_error_object``: the failed operation (or {}), its index and a message."""
    body = {"operation": op, "operation_index": index, "error_message": message}
    return json_body(body, binary)


def atomic(agent: Agent, packet: Packet) -> Reply:
    """All operations or none; removing a missing AVU and re-adding a present one are no-ops.

    Errors follow irods/irods 4.3.1 plugins/api/src/atomic_apply_metadata_operations.cpp
    (4.2.8 is the same but for the empty attribute/value check and ``admin_mode``): a missing
    entity or an unknown entity type is SYS_INVALID_INPUT_PARAM, no modify_object on the entity
    CAT_NO_ACCESS_PERMISSION, admin_mode for a non-admin CAT_INSUFFICIENT_PRIVILEGE_LEVEL; a
    bad operation answers with ``operation``, ``operation_index`` and ``error_message``.
    """
    request = read_json(packet.body)
    cat, user = agent.server.catalog, agent.user or ""
    binary = agent.json_binary
    name, etype = request.get("entity_name"), request.get("entity_type")
    if not isinstance(name, str) or etype not in ENTITY_TYPES:
        message = f"Invalid entity [entity_name={name}, entity_type={etype}]"
        raise IrodsError(SYS_INVALID_INPUT_PARAM, message, _failure({}, 0, message, binary))
    if etype not in ("collection", "data_object"):
        message = f"the sandbox keeps no AVUs on a {etype}"
        raise IrodsError(SYS_NOT_SUPPORTED, message, _failure({}, 0, message, binary))
    admin = bool(request.get("admin_mode")) and agent.persona >= (4, 3, 0)
    with cat.lock:
        entry = cat.objs.get(name) if etype == "data_object" else cat.colls.get(name)
        if entry is None:
            message = f"Entity does not exist [entity_name={name}]"
            raise IrodsError(SYS_INVALID_INPUT_PARAM, message, _failure({}, 0, message, binary))
        if admin and not cat.is_admin(user):
            message = "User is not an administrator"
            raise IrodsError(-830000, message, _failure({}, 0, message, binary))
        if not admin and cat.level(user, entry) < WRITE:
            message = "User not allowed to modify metadata"
            raise IrodsError(CAT_NO_ACCESS_PERMISSION, message, _failure({}, 0, message, binary))
        ops = request.get("operations")
        staged = list(entry.avus)
        for i, op in enumerate(ops if isinstance(ops, list) else []):
            try:
                staged = _apply_op(cat, user, agent.persona, staged, op)
            except IrodsError as err:
                err.body = _failure(op, i, err.message, binary)
                raise
        entry.avus = staged
        entry.mtime = now()
        cat.dirty = True
    return _reply(0, json_body({}, binary))


def _apply_op(
    cat: Catalog, user: str, persona: tuple[int, ...], staged: list[Avu], op: Any
) -> list[Avu]:
    """One operation (``execute_metadata_operation``)."""
    if not isinstance(op, dict) or not {"operation", "attribute", "value"} <= op.keys():
        raise IrodsError(JSON_VALIDATION_ERROR, "key not found in operation")
    name, attr = op["operation"], str(op["attribute"])
    value, units = str(op["value"]), str(op.get("units") or "")
    if persona >= (4, 3, 0) and (not attr or not value):
        raise IrodsError(
            SYS_INVALID_INPUT_PARAM,
            f"Empty metadata attribute name or value [attribute={attr}, value={value}]",
        )
    if name not in ("add", "remove"):
        raise IrodsError(INVALID_OPERATION, "Invalid metadata operation.")
    if attr.startswith("ipc") and not cat.is_admin(user):
        # CyVerse rule "PROTECTED AVUS" (cyverse_logic.re)
        raise IrodsError(-830000, "CYVERSE ERROR: attempt to alter protected AVU")
    key = (attr, value, units)
    present = [a for a in staged if (a.name, a.value, a.units) == key]
    if name == "add":
        return staged if present else [*staged, Avu(cat.new_id(), attr, value, units)]
    return [a for a in staged if (a.name, a.value, a.units) != key]
