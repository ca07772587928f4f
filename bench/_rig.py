"""Shared set-up for the sync benchmarks: a sandbox iRODS server, a drop folder of small JPEGs,
a config for ``sync`` (derivatives off, CSV mode, dav-anon URLs) and the bare
python-irodsclient loop that does the same iRODS work with nothing around it.

The sandbox server runs in a child process, so the client under test does not share its
interpreter with the server (as with a real, remote Data Store); its request counters give the
round trips per file. Each side gets a fresh server so neither pays for a catalog the other
one filled.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from cyverse_link.config.settings import Settings, parse_settings

USER = "bench"
FOLDER = "bench-herbarium"
PATTERN = r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?"
PER_TRAY = 500


def make_images(folder: Path, n: int) -> list[Path]:
    """n distinct small JPEGs (a few hundred bytes each) in trays of 500."""
    folder.mkdir(parents=True, exist_ok=True)
    base = Image.new("RGB", (32, 24), (200, 190, 170))
    paths = []
    for i in range(n):
        base.putpixel((i % 32, (i // 32) % 24), (i % 251, (i * 7) % 253, (i * 13) % 255))
        buf = io.BytesIO()
        base.save(buf, "JPEG", quality=80)
        path = folder / f"tray{i // PER_TRAY:02d}" / f"ASU{i:07d}.jpg"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(buf.getvalue())
        paths.append(path)
    return paths


class Server:
    """The sandbox iRODS server in a child process (see ``_server_proc.py``)."""

    def __init__(self, reply_delay: float = 0.0) -> None:
        self.password = secrets.token_urlsafe(12)
        self.shared = f"/iplant/home/shared/{FOLDER}"
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_server_proc.py")), USER,
             self.password, FOLDER],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        host, port = self.proc.stdout.readline().split()
        self.host, self.port = host, int(port)
        if reply_delay:
            self.ask(f"delay {reply_delay}")

    def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def requests(self) -> int:
        return int(self.ask("stats")["requests"])

    def count(self, collection: str) -> int:
        return int(self.ask(f"count {collection}"))

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.ask("quit")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def sandbox(reply_delay: float = 0.0) -> Iterator[Server]:
    server = Server(reply_delay)
    try:
        yield server
    finally:
        server.stop()


def sync_settings(work: Path, server: Server, collection: str, threads: int) -> Settings:
    return parse_settings(
        {
            "collection": {"collid": 7, "code": "ASU-PLANTS"},
            "source": {"path": str(work / "incoming")},
            "identifiers": {"pattern": PATTERN},
            "irods": {
                "host": server.host,
                "port": server.port,
                "zone": "iplant",
                "user": USER,
                "password": "env:BENCH_IRODS_PASSWORD",
                "collection": collection,
                "public": True,
                "threads": threads,
                "connection_timeout": 60,
            },
            "derivatives": {"enabled": False},
            "symbiota": {"mode": "csv", "csv_dir": str(work / "out")},
            "state": {
                "db_url": f"sqlite:///{work / 'state.sqlite'}",
                "report_dir": str(work / "reports"),
            },
        },
        base_dir=work,
    )


def timed_sync(settings: Settings, server: Server) -> tuple[float, float, dict[str, int]]:
    """Wall and CPU seconds for one ``run_sync``, and its counts; the password reaches it
    through the environment."""
    from cyverse_link.sync.pipeline import run_sync

    os.environ["BENCH_IRODS_PASSWORD"] = server.password
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        report = run_sync(settings, retry_delay=0.1)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        del os.environ["BENCH_IRODS_PASSWORD"]
    c = report.counts
    return seconds, cpu, {"discovered": c.discovered, "uploaded": c.uploaded, "mapped": c.mapped,
                     "failed": c.failed}  # fmt: skip


def bare_loop(
    server: Server, source: Path, files: list[Path], collection: str, *, checked: bool = False
) -> tuple[float, float]:
    """The baseline: one python-irodsclient session doing only the iRODS calls ``sync`` makes
    for the same files -- the tree made public once (anonymous read + inherit), then per file
    a put with ``FORCE_FLAG_KW`` and checksum registration, and the same three AVUs in one
    atomic metadata call. Nothing else: no scan, no ledger, no verification, no CSV.

    ``checked`` adds the three look-ups ``sync`` made for safety (before it listed each folder
    once and let the server verify checksums), as GenQueries: does the
    object exist already (before the put), its registered checksum (after it), its AVUs
    (before setting them) -- to split the overhead into round trips and everything else."""
    from irods import keywords as kw
    from irods.access import iRODSAccess
    from irods.meta import AVUOperation, iRODSMeta
    from irods.models import Collection, DataObject, DataObjectMeta
    from irods.session import iRODSSession

    t0, c0 = time.perf_counter(), time.process_time()
    s = iRODSSession(
        host=server.host, port=server.port, user=USER, password=server.password,
        zone="iplant", connection_timeout=60, application_name="bench-bare",
    )  # fmt: skip
    try:
        _ = s.server_version
        s.collections.create(collection, recurse=True)
        s.acls.set(iRODSAccess("read", collection, "anonymous", "iplant"), recursive=True)
        s.acls.set(iRODSAccess("inherit", collection), recursive=True)
        made: set[str] = set()
        for path in files:
            rel = path.relative_to(source).as_posix()
            remote = f"{collection}/{rel}"
            parent = posixpath.dirname(remote)
            if parent not in made:
                s.collections.create(parent, recurse=True)
                made.add(parent)
            md5 = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
            if checked:
                _checksum_of(s, remote)
            s.data_objects.put(
                str(path), remote, num_threads=1, **{kw.FORCE_FLAG_KW: "", kw.REG_CHKSUM_KW: ""}
            )
            avus = {
                "cyverse_link.catalog_number": path.stem,
                "cyverse_link.collid": "7",
                "cyverse_link.source_md5": md5,
            }
            if checked:
                assert _checksum_of(s, remote) == md5
                name = posixpath.basename(remote)
                q = s.query(DataObjectMeta.name)
                list(q.filter(Collection.name == parent, DataObject.name == name))
            ops = [AVUOperation("add", iRODSMeta(k, v)) for k, v in avus.items()]
            s.metadata.apply_atomic_operations(DataObject, remote, *ops)
    finally:
        s.cleanup()
    return time.perf_counter() - t0, time.process_time() - c0


def _checksum_of(s: Any, remote: str) -> str | None:
    from irods.models import Collection, DataObject

    parent, name = posixpath.split(remote)
    q = s.query(DataObject.checksum).filter(Collection.name == parent, DataObject.name == name)
    rows = list(q)
    return rows[0][DataObject.checksum] if rows else None
