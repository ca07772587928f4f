"""The sandbox iCAT: users, collections, data objects with replicas, ACLs and AVUs.

Access levels are the iCAT token numbers (irods/irods ``catalog_utilities.hpp``); names are
rendered per persona (``read object`` on 4.2.8, ``read_object`` on 4.3.1).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from cyverse_link.sandbox.irods.protocol import IrodsError
from cyverse_link.sandbox.irods.storage import BlobStore

NULL, READ, CREATE, WRITE, DELETE, OWN = 1000, 1050, 1110, 1120, 1130, 1200

# Names a 707 request may carry, per persona (irods-protocol.md §5 "accessLevel").
LEVELS_428 = {"null": NULL, "read": READ, "write": WRITE, "own": OWN}
LEVELS_431 = {
    **LEVELS_428,
    "read_metadata": 1040,
    "read_object": READ,
    "create_metadata": 1070,
    "modify_metadata": 1080,
    "delete_metadata": 1090,
    "create_object": CREATE,
    "modify_object": WRITE,
    "delete_object": DELETE,
}
_NAMES = {
    1040: "read_metadata",
    READ: "read_object",
    1070: "create_metadata",
    1080: "modify_metadata",
    1090: "delete_metadata",
    CREATE: "create_object",
    WRITE: "modify_object",
    DELETE: "delete_object",
    OWN: "own",
}
PUBLIC_GROUP = "public"
ADMIN_GROUP = "rodsadmin"  # CyVerse's group of administrators (cyverse_logic.re)
ANONYMOUS = "anonymous"


def access_name(level: int, persona: tuple[int, ...]) -> str:
    name = _NAMES.get(level, str(level))
    return name.replace("_", " ") if persona < (4, 3, 0) else name


def now() -> str:
    """iCAT timestamps: epoch seconds, zero-padded to 11 digits."""
    return f"{int(time.time()):011d}"


def split(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return (parent or "/"), name


def normalize(path: str) -> str:
    if not path.startswith("/"):
        raise IrodsError(-317000, f"path {path!r} is not absolute")  # USER_INPUT_PATH_ERR
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise IrodsError(-317000, f"path {path!r} has . or .. segments")
    return "/" + "/".join(parts)


@dataclass
class User:
    id: int
    name: str
    type: str  # rodsadmin, rodsuser, rodsgroup
    password: str
    ctime: str = field(default_factory=now)
    groups: list[str] = field(default_factory=list)  # R_USER_GROUP rows, besides itself


@dataclass
class Avu:
    id: int
    name: str
    value: str
    units: str
    ctime: str = field(default_factory=now)
    mtime: str = field(default_factory=now)


@dataclass
class Replica:
    number: int
    blob: str
    size: int = 0
    checksum: str = ""
    status: str = "1"  # 1 good, 0 stale, 2 intermediate (being written)
    ctime: str = field(default_factory=now)
    mtime: str = field(default_factory=now)


@dataclass
class Entry:
    id: int
    path: str
    owner: str
    ctime: str = field(default_factory=now)
    mtime: str = field(default_factory=now)
    acl: dict[str, int] = field(default_factory=dict)
    avus: list[Avu] = field(default_factory=list)


@dataclass
class Coll(Entry):
    inherit: bool = False


@dataclass
class DataObj(Entry):
    coll_id: int = 0
    replicas: list[Replica] = field(default_factory=list)


class Catalog:
    """All state behind one re-entrant lock; handlers hold ``lock`` across multi-step changes."""

    def __init__(self, zone: str, store: BlobStore, cyverse_rules: bool = True) -> None:
        self.zone = zone
        self.store = store
        self.cyverse_rules = cyverse_rules
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.colls: dict[str, Coll] = {}
        self.objs: dict[str, DataObj] = {}
        self.next_id = 10000
        self.dirty = False

    # ---- ids, users -------------------------------------------------------------------------
    def new_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id

    def add_user(self, name: str, password: str, type_: str = "rodsuser") -> User:
        """Create a user the way ``acCreateUser`` does (irods/irods packaging/core.re.template):
        a home and a trash-home collection owned by the user, membership of ``public``; none of
        these for ``anonymous``. An existing user only gets the new password."""
        with self.lock:
            if name in self.users:
                self.users[name].password = password
                return self.users[name]
            user = User(self.new_id(), name, type_, password)
            self.users[name] = user
            if type_ != "rodsgroup" and name != ANONYMOUS:
                if PUBLIC_GROUP in self.users:
                    user.groups.append(PUBLIC_GROUP)
                if type_ == "rodsadmin" and self.cyverse_rules:
                    # CyVerse keeps its administrators in the group ``rodsadmin``, which the
                    # rules grant on every new entry (cyverse_logic.re, _cyverse_logic_setAdmPerm).
                    if ADMIN_GROUP not in self.users:
                        self.users[ADMIN_GROUP] = User(self.new_id(), ADMIN_GROUP, "rodsgroup", "")
                    user.groups.append(ADMIN_GROUP)
                for home in (f"/{self.zone}/home/{name}", f"/{self.zone}/trash/home/{name}"):
                    if split(home)[0] in self.colls:
                        # msiCreateCollByAdmin: the new user owns its collections.
                        self.mkcoll(home, owner=name, parents=False)
            self.dirty = True
            return user

    def is_admin(self, user: str) -> bool:
        """A rodsadmin: sees every row in GenQuery and may use admin mode (``admin:`` ACLs,
        ``irodsAdmin``, ``admin_mode``); its data access still goes through ACLs."""
        u = self.users.get(user)
        return u is not None and u.type == "rodsadmin"

    # ---- access -----------------------------------------------------------------------------
    def level(self, user: str, entry: Entry) -> int:
        """Effective access: the best grant to the user or one of its groups (``R_USER_GROUP``
        joined with ``R_OBJT_ACCESS``, as db_plugin.cpp checks access). No bypass for a
        rodsadmin: real servers check its ACLs too (catalog_utilities.cpp,
        ``user_has_permission_to_modify_entity``)."""
        u = self.users.get(user)
        lvl = entry.acl.get(user, 0)
        for group in u.groups if u is not None else ():
            lvl = max(lvl, entry.acl.get(group, 0))
        return lvl

    def require(self, user: str, entry: Entry, needed: int, what: str) -> None:
        if self.level(user, entry) < needed:
            raise IrodsError(-818000, f"{user} may not {what} {entry.path}")

    # ---- collections ------------------------------------------------------------------------
    def coll(self, path: str) -> Coll | None:
        return self.colls.get(path)

    def mkcoll(self, path: str, owner: str, parents: bool = False) -> Coll:
        """Create a collection; the caller checked permissions on the parent."""
        with self.lock:
            if path in self.objs:
                raise IrodsError(-834000, f"{path} is a data object")
            if path in self.colls:
                return self.colls[path]
            parent_path, _ = split(path)
            parent = self.colls.get(parent_path) if path != "/" else None
            if parent is None and path != "/":
                if not parents:
                    raise IrodsError(-814000, f"parent collection {parent_path} does not exist")
                parent = self.mkcoll(parent_path, owner, parents=True)
            coll = Coll(self.new_id(), path, owner)
            coll.acl[owner] = OWN
            if parent is not None and parent.inherit:
                # An inheriting collection passes its ACLs and the flag down (irods docs, ichmod).
                for who, lvl in parent.acl.items():
                    coll.acl.setdefault(who, lvl)
                coll.inherit = True
            self._cyverse_new_entry(coll)
            self.colls[path] = coll
            if parent is not None:
                parent.mtime = now()
            self.dirty = True
            return coll

    def _cyverse_new_entry(self, entry: Entry) -> None:
        """CyVerse rules (cyverse_logic.re, ``_cyverse_logic_setAdmPerm`` and
        ``_cyverse_logic_ensureUUID``): the group ``rodsadmin`` gets ``own`` under
        ``/zone(/trash)?/home/`` and ``write`` elsewhere, and a protected ipc_UUID AVU. A stock
        server (rules off) adds nothing."""
        if not self.cyverse_rules:
            return
        homes = (f"/{self.zone}/home/", f"/{self.zone}/trash/home/")
        entry.acl[ADMIN_GROUP] = OWN if entry.path.startswith(homes) else WRITE
        if entry.path.count("/") > 3:
            entry.avus.append(Avu(self.new_id(), "ipc_UUID", str(uuid.uuid1()), ""))

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        subs = [p for p in self.colls if p.startswith(prefix) and p != path]
        return subs + [p for p in self.objs if p.startswith(prefix)]

    # ---- data objects -----------------------------------------------------------------------
    def obj(self, path: str) -> DataObj | None:
        return self.objs.get(path)

    def create_obj(self, path: str, owner: str, parent: Coll) -> DataObj:
        with self.lock:
            obj = DataObj(self.new_id(), path, owner, coll_id=parent.id)
            obj.acl[owner] = OWN
            if parent.inherit:
                for who, lvl in parent.acl.items():
                    obj.acl.setdefault(who, lvl)
            self._cyverse_new_entry(obj)
            obj.replicas.append(Replica(0, self.store.new_blob(), status="2"))
            self.objs[path] = obj
            parent.mtime = now()
            self.dirty = True
            return obj

    def remove_obj(self, path: str) -> None:
        with self.lock:
            obj = self.objs.pop(path)
            for rep in obj.replicas:
                self.store.delete(rep.blob)
            self.dirty = True

    def add_replica(self, path: str) -> Replica:
        """Test helper: a second replica with the same bytes (CyVerse replicates some trees)."""
        with self.lock:
            obj = self.objs[path]
            src = obj.replicas[0]
            blob = self.store.new_blob()
            self.store.write(blob, 0, self.store.read(src.blob, 0, src.size))
            rep = Replica(len(obj.replicas), blob, src.size, src.checksum, src.status)
            obj.replicas.append(rep)
            self.dirty = True
            return rep

    def entry(self, path: str) -> Entry | None:
        return self.objs.get(path) or self.colls.get(path)
