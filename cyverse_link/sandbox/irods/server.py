"""``SandboxIrods``: a loopback iRODS server that python-irodsclient 3.3 talks to unmodified."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from cyverse_link.sandbox.irods import persist
from cyverse_link.sandbox.irods.agent import Agent
from cyverse_link.sandbox.irods.catalog import ANONYMOUS, OWN, PUBLIC_GROUP, READ, Catalog
from cyverse_link.sandbox.irods.faults import Faults, Stats
from cyverse_link.sandbox.irods.storage import BlobStore

log = logging.getLogger(__name__)

PERSONAS = ("4.3.1", "4.2.8")
ADMIN_USER, ADMIN_PASSWORD = "rods", "rods"
SAVE_INTERVAL = 1.0


class ObjectInfo(NamedTuple):
    """Replica 0 of a data object: ``size, checksum, data = srv.object(path)``."""

    size: int
    checksum: str | None  # None while no checksum is registered
    data: bytes


class ReplicaInfo(NamedTuple):
    number: int
    size: int
    checksum: str | None
    status: str  # "1" good, "0" stale, "2" intermediate (an interrupted write)


class SandboxIrods:
    """A threaded iRODS server on 127.0.0.1 (a thread per connection).

    Users: ``rods`` (rodsadmin, password ``rods``), ``anonymous`` (any password, reads only
    what was granted to it) and ``users`` (name → password), each with ``/zone/home/<user>``.
    """

    def __init__(
        self,
        persona: str = "4.3.1",
        *,
        zone: str = "iplant",
        users: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        cyverse_rules: bool = True,
    ) -> None:
        if persona not in PERSONAS:
            raise ValueError(f"persona must be one of {PERSONAS}, not {persona!r}")
        self.persona = persona
        self.persona_tuple = tuple(int(p) for p in persona.split("."))
        self.zone = zone
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.faults = Faults()
        self.stats = Stats()
        self.catalog = Catalog(zone, BlobStore(self.data_dir), cyverse_rules=cyverse_rules)
        self.replica_tokens: dict[str, str] = {}  # token → object path (parallel.py)
        if self.data_dir is None or not persist.load(self.catalog, self.data_dir):
            self._seed()
        self.catalog.users[ADMIN_USER].password = ADMIN_PASSWORD  # never persisted
        for name, password in (users or {}).items():
            self.add_user(name, password)
        self._bind_host, self._bind_port = host, port
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._saver: threading.Thread | None = None
        self._agents: dict[int, tuple[Agent, threading.Thread]] = {}
        self._agents_lock = threading.Lock()
        self._stopping = threading.Event()
        self.host, self.port = host, port

    def _seed(self) -> None:
        cat = self.catalog
        zone_root = f"/{self.zone}"
        for path in ("/", zone_root, f"{zone_root}/home", f"{zone_root}/home/shared"):
            coll = cat.mkcoll(path, ADMIN_USER, parents=True)
            if path != "/":
                # CyVerse: anonymous may read /iplant, /iplant/home, /iplant/home/shared.
                coll.acl[ANONYMOUS] = READ
                coll.acl[PUBLIC_GROUP] = READ
        cat.mkcoll(f"{zone_root}/trash/home", ADMIN_USER, parents=True)
        # The group first, so that the users created after it join it (core.re.template).
        cat.add_user(PUBLIC_GROUP, "", "rodsgroup")
        cat.add_user(ADMIN_USER, ADMIN_PASSWORD, "rodsadmin")
        if cat.cyverse_rules:
            # CyVerse's account for public reads (davrods); a stock server has none.
            cat.add_user(ANONYMOUS, "", "rodsuser")

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> SandboxIrods:
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self._bind_host, self._bind_port))
        listener.listen(64)
        self._listener = listener
        self.host, self.port = listener.getsockname()[:2]
        self._stopping.clear()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"sandbox-irods-{self.port}", daemon=True
        )
        self._accept_thread.start()
        if self.data_dir is not None:
            self._saver = threading.Thread(
                target=self._save_loop, name="sandbox-irods-save", daemon=True
            )
            self._saver.start()
        return self

    def _save_loop(self) -> None:
        """Write the catalog shortly after changes, so a killed demo loses at most a second."""
        while not self._stopping.wait(SAVE_INTERVAL):
            if self.catalog.dirty:
                try:
                    self.save()
                except OSError:
                    log.exception("sandbox iRODS: saving the catalog failed")

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        with self._agents_lock:
            live = list(self._agents.values())
        for agent, _ in live:
            with contextlib.suppress(OSError):
                agent.sock.shutdown(socket.SHUT_RDWR)
        for _, thread in live:
            thread.join(timeout=5)
        if self._saver is not None:
            self._saver.join(timeout=5)
        self._listener, self._accept_thread, self._saver = None, None, None
        self.save()

    def __enter__(self) -> SandboxIrods:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def save(self) -> None:
        """Write the catalog to ``data_dir`` (also done by ``stop()``); no-op in memory."""
        if self.data_dir is not None:
            persist.save(self.catalog, self.data_dir)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if not self.stats.try_open(self.faults.max_connections):
                conn.close()  # like HAProxy rejecting the 11th concurrent connection
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            agent = Agent(self, conn)
            thread = threading.Thread(target=self._serve, args=(agent,), daemon=True)
            with self._agents_lock:
                self._agents[id(agent)] = (agent, thread)
            thread.start()

    def _serve(self, agent: Agent) -> None:
        try:
            agent.run()
        except Exception:  # a bug must not kill the server, only this connection
            log.exception("sandbox iRODS agent failed")
        finally:
            # Count the connection closed before closing it: a client that sees the close and
            # reconnects at once must not find the old connection still counted.
            with self._agents_lock:
                self._agents.pop(id(agent), None)
            self.stats.closed()
            with contextlib.suppress(OSError):
                agent.sock.close()

    # ---- users and folders --------------------------------------------------------------------
    def add_user(self, name: str, password: str, admin: bool = False) -> None:
        """Create (or re-password) a user with a home collection."""
        self.catalog.add_user(name, password, "rodsadmin" if admin else "rodsuser")

    def make_shared_folder(self, name: str, owner: str) -> str:
        """``/zone/home/shared/<name>`` owned by ``owner`` (a Community Released folder)."""
        cat = self.catalog
        if owner not in cat.users:
            raise KeyError(f"unknown user {owner!r}; add it first")
        path = f"/{self.zone}/home/shared/{name}"
        with cat.lock:
            coll = cat.mkcoll(path, ADMIN_USER, parents=True)
            coll.acl[owner] = OWN
            cat.dirty = True
        return path

    def seed_object(
        self, path: str, data: bytes, owner: str = ADMIN_USER, checksum: bool = True
    ) -> None:
        """Create or replace a data object directly in the catalog (fast test set-up; no
        permission checks, parents created as ``owner``)."""
        cat = self.catalog
        with cat.lock:
            parent_path = path.rsplit("/", 1)[0] or "/"
            parent = cat.mkcoll(parent_path, owner, parents=True)
            obj = cat.objs.get(path) or cat.create_obj(path, owner, parent)
            rep = obj.replicas[0]
            cat.store.truncate(rep.blob, 0)
            cat.store.write(rep.blob, 0, data)
            rep.size, rep.status = len(data), "1"
            rep.checksum = cat.store.md5(rep.blob) if checksum else ""
            cat.dirty = True

    # ---- inspection helpers (tests) -----------------------------------------------------------
    def object(self, path: str) -> ObjectInfo:
        """Size, checksum (None when not registered) and bytes of replica 0; KeyError if absent."""
        cat = self.catalog
        with cat.lock:
            obj = cat.objs.get(path)
            if obj is None:
                raise KeyError(path)
            rep = obj.replicas[0]
            data = cat.store.read(rep.blob, 0, cat.store.size(rep.blob))
            return ObjectInfo(rep.size, rep.checksum or None, data)

    def replicas(self, path: str) -> list[ReplicaInfo]:
        with self.catalog.lock:
            obj = self.catalog.objs.get(path)
            if obj is None:
                raise KeyError(path)
            return [
                ReplicaInfo(r.number, r.size, r.checksum or None, r.status) for r in obj.replicas
            ]

    def exists(self, path: str) -> bool:
        return self.catalog.entry(path) is not None

    def acl(self, path: str) -> dict[str, str]:
        """User → access name as the persona reports it (``read object`` / ``read_object``)."""
        from cyverse_link.sandbox.irods.catalog import access_name

        with self.catalog.lock:
            entry = self.catalog.entry(path)
            if entry is None:
                raise KeyError(path)
            return {u: access_name(lvl, self.persona_tuple) for u, lvl in entry.acl.items()}

    def inherits(self, path: str) -> bool:
        coll = self.catalog.colls.get(path)
        if coll is None:
            raise KeyError(path)
        return coll.inherit

    def avus(self, path: str) -> list[tuple[str, str, str]]:
        with self.catalog.lock:
            entry = self.catalog.entry(path)
            if entry is None:
                raise KeyError(path)
            return [(a.name, a.value, a.units) for a in entry.avus]

    def collections(self) -> list[str]:
        with self.catalog.lock:
            return sorted(self.catalog.colls)

    def data_objects(self, under: str = "/") -> list[str]:
        prefix = under.rstrip("/") + "/"
        with self.catalog.lock:
            return sorted(p for p in self.catalog.objs if p.startswith(prefix))

    def add_replica(self, path: str) -> None:
        """Give ``path`` a second replica (GenQuery then returns a row per replica)."""
        self.catalog.add_replica(path)

    def compute_pending_checksums(self) -> int:
        """Run CyVerse's delayed checksum rule now: checksum every replica that lacks one."""
        cat, done = self.catalog, 0
        with cat.lock:
            for obj in cat.objs.values():
                for rep in obj.replicas:
                    if not rep.checksum and rep.status == "1":
                        rep.checksum = cat.store.md5(rep.blob)
                        done += 1
            cat.dirty = cat.dirty or done > 0
        return done
