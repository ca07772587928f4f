"""Removing and renaming: unlink (615, to the trash unless forced), rmColl (679), rename (627)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from irods.message import CollectionRequest, FileOpenRequest

from cyverse_link.sandbox.irods.catalog import (
    CREATE,
    DELETE,
    OWN,
    Catalog,
    Coll,
    normalize,
    now,
    split,
)
from cyverse_link.sandbox.irods.handlers import keywords
from cyverse_link.sandbox.irods.protocol import IrodsError, Packet, parse, unpack

if TYPE_CHECKING:
    from cyverse_link.sandbox.irods.agent import Agent, Reply

RENAME_DATA_OBJ, RENAME_COLL = 11, 12


def _reply() -> Reply:
    from cyverse_link.sandbox.irods.agent import Reply

    return Reply(0)


def trash_path(cat: Catalog, user: str, path: str) -> str:
    """Where a real server moves a removed path: ``/zone/trash/home/<user>/…`` (rsDataObjUnlink
    → rsMvDataObjToTrash), with a timestamp suffix when the name is taken."""
    home = f"/{cat.zone}/home/"
    rest = path[len(home) :] if path.startswith(home) else path.lstrip("/")
    if not rest.startswith(f"{user}/"):
        rest = f"{user}/{rest}"
    target = f"/{cat.zone}/trash/home/{rest}"
    if target in cat.objs or target in cat.colls:
        target = f"{target}.{int(time.time() * 1000) % 10**10}"
    return target


def _removal_level(purge: bool) -> int:
    """What removing needs (irods/irods 4.3.1 and 4.2.8, plugins/database/src/db_plugin.cpp):
    purging unregisters (``chlUnregDataObj``: ACCESS_DELETE_OBJECT, i.e. ``delete_object``
    or ``own``); a move to the trash is a rename (``db_rename_object_op``: ``own``). ``write``
    (modify_object) allows neither."""
    return DELETE if purge else OWN


def unlink(agent: Agent, packet: Packet) -> Reply:
    req = unpack(FileOpenRequest, packet.body)
    path = normalize(req.objPath or "")
    force = "forceFlag" in keywords(req)
    cat, user = agent.server.catalog, agent.user or ""
    with cat.lock:
        if path in cat.colls:
            raise IrodsError(-833000, f"{path} is a collection")
        obj = cat.objs.get(path)
        if obj is None:
            raise IrodsError(-808000, f"{path} does not exist")  # CAT_NO_ROWS_FOUND
        in_trash = path.startswith(f"/{cat.zone}/trash/")
        cat.require(user, obj, _removal_level(force or in_trash), "delete")
        if force or in_trash:
            cat.remove_obj(path)
        else:
            _move(cat, path, trash_path(cat, user, path), user)
        _touch_parent(cat, path)
    return _reply()


def rm_coll(agent: Agent, packet: Packet) -> Reply:
    req = unpack(CollectionRequest, packet.body)
    path = normalize(req.collName or "")
    opts = keywords(req)
    cat, user = agent.server.catalog, agent.user or ""
    with cat.lock:
        coll = cat.colls.get(path)
        if coll is None:
            if path in cat.objs:
                raise IrodsError(-834000, f"{path} is a data object")
            raise IrodsError(-814000, f"collection {path} does not exist")
        inside = cat.children(path)
        if inside and "recursiveOpr" not in opts:
            raise IrodsError(-821000, f"{path} is not empty")  # CAT_COLLECTION_NOT_EMPTY
        if path.count("/") <= 3 and not cat.is_admin(user):
            raise IrodsError(-818000, f"{path} is a home or system collection")
        purge = "forceFlag" in opts or path.startswith(f"/{cat.zone}/trash/")
        for p in [path, *inside]:
            entry = cat.entry(p)
            if entry is not None:
                cat.require(user, entry, _removal_level(purge), "remove")
        if purge:
            for p in sorted(inside, reverse=True):
                if p in cat.objs:
                    cat.remove_obj(p)
                else:
                    cat.colls.pop(p, None)
            cat.colls.pop(path)
        else:
            _move(cat, path, trash_path(cat, user, path), user)
        _touch_parent(cat, path)
        cat.dirty = True
    return _reply()


def rename(agent: Agent, packet: Packet) -> Reply:
    # DataObjCopyInp_PI nests two DataObjInp_PI elements (PRC's ObjCopyRequest packs them so)
    inputs = parse(packet.body).findall("DataObjInp_PI")
    if len(inputs) != 2:
        raise IrodsError(-14000, "rename needs a source and a destination")
    src_inp, dest_inp = FileOpenRequest(), FileOpenRequest()
    src_inp.unpack(inputs[0])
    dest_inp.unpack(inputs[1])
    src, dest = normalize(src_inp.objPath or ""), normalize(dest_inp.objPath or "")
    opr = src_inp.oprType or RENAME_DATA_OBJ
    cat, user = agent.server.catalog, agent.user or ""
    with cat.lock:
        entry = cat.objs.get(src) if opr == RENAME_DATA_OBJ else cat.colls.get(src)
        if entry is None:
            raise IrodsError(-808000, f"{src} does not exist")
        if dest in cat.objs:
            raise IrodsError(-834000, f"{dest} exists as a data object")
        if dest in cat.colls:
            raise IrodsError(-833000, f"{dest} exists as a collection")
        if dest.startswith(src + "/"):
            raise IrodsError(-816000, f"cannot move {src} into itself")
        parent = cat.colls.get(split(dest)[0])
        if parent is None:
            raise IrodsError(-814000, f"collection {split(dest)[0]} does not exist")
        # db_plugin.cpp db_rename_object_op: the mover must own what it renames.
        cat.require(user, entry, OWN, "rename")
        cat.require(user, parent, CREATE, "move objects into")
        _move(cat, src, dest, user, make_parents=False)
        _touch_parent(cat, src)
        _touch_parent(cat, dest)
    return _reply()


def _move(cat: Catalog, src: str, dest: str, user: str, make_parents: bool = True) -> None:
    """Re-key an object, or a collection and everything under it, keeping ids, ACLs, AVUs."""
    if make_parents:
        cat.mkcoll(split(dest)[0], user, parents=True)
    if src in cat.objs:
        obj = cat.objs.pop(src)
        obj.path, obj.coll_id = dest, cat.colls[split(dest)[0]].id
        cat.objs[dest] = obj
        cat.dirty = True
        return
    moved = [src, *sorted(p for p in cat.colls if p.startswith(src + "/"))]
    for p in moved:
        coll = cat.colls.pop(p)
        coll.path = dest + p[len(src) :]
        cat.colls[coll.path] = coll
    for p in [p for p in cat.objs if p.startswith(src + "/")]:
        obj = cat.objs.pop(p)
        obj.path = dest + p[len(src) :]
        parent: Coll = cat.colls[split(obj.path)[0]]
        obj.coll_id = parent.id
        cat.objs[obj.path] = obj
    cat.dirty = True


def _touch_parent(cat: Catalog, path: str) -> None:
    parent = cat.colls.get(split(path)[0])
    if parent is not None:
        parent.mtime = now()
