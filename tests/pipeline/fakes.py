"""Small stand-ins for the pipeline's logic tests (ledger, store, portal, URL provider)."""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cyverse_link.errors import NotFound, TransferFailed
from cyverse_link.models import (
    LocalFile,
    Match,
    MatchStatus,
    MediaLink,
    MediaUrls,
    Problem,
    RemoteObject,
    Stage,
    Status,
)
from cyverse_link.naming import Rendition
from cyverse_link.portal.base import SchemaInfo, WriteResult


class FakeLedger:
    def __init__(self) -> None:
        self.rows: dict[str, SimpleNamespace] = {}
        self.writes = 0

    def get(self, rel_path: str) -> Any:
        row = self.rows.get(rel_path)
        return SimpleNamespace(**vars(row)) if row else None

    def advance(self, rel_path: str, stage: Stage, status: Status, **fields: Any) -> None:
        self.writes += 1
        row = self.rows.setdefault(
            rel_path,
            SimpleNamespace(
                stage=Stage.DISCOVERED, status=Status.PENDING, size=None, mtime_ns=None,
                md5=None, catalog=None, suffix=None, irods_path=None, previous_irods_path=None,
                mime=None, urls=None, occid=None, error=None,
            ),
        )  # fmt: skip
        row.stage, row.status = stage, status
        row.error = None
        for k, v in fields.items():
            assert hasattr(row, k), k
            setattr(row, k, v)

    def fail(self, rel_path: str, stage: Stage, error: str) -> None:
        self.advance(rel_path, stage, Status.FAILED, error=error)


class FakeStore:
    """Objects in a dict; thread-safe; counts puts; can fail or kill on demand."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.avus: dict[str, dict[str, str]] = {}
        self.public: set[str] = set()
        self.puts: Counter[str] = Counter()
        self.fail_puts: Counter[str] = Counter()  # path suffix -> transient failures left
        self.kill_after_puts: int | None = None
        self._lock = threading.Lock()

    def server_version(self) -> str:
        return "4.3.1"

    def list(self, root: str) -> Iterator[RemoteObject]:
        for p, data in sorted(self.objects.items()):
            if p.startswith(root.rstrip("/") + "/"):
                yield RemoteObject(p, len(data), hashlib.md5(data).hexdigest())

    def ensure_collection(self, path: str) -> None:
        pass

    def put(self, local: Path, remote: str, md5: str) -> RemoteObject:
        with self._lock:
            for key, left in self.fail_puts.items():
                if left and remote.endswith(key):
                    self.fail_puts[key] -= 1
                    raise TransferFailed(f"connection dropped writing {remote}")
            if self.kill_after_puts is not None:
                if self.kill_after_puts == 0:
                    raise KeyboardInterrupt("killed")
                self.kill_after_puts -= 1
            data = local.read_bytes()
            assert hashlib.md5(data).hexdigest() == md5
            self.objects[remote] = data
            self.puts[remote] += 1
            return RemoteObject(remote, len(data), md5)

    def checksum(self, remote: str) -> str:
        with self._lock:
            if remote not in self.objects:
                raise NotFound(remote)
            return hashlib.md5(self.objects[remote]).hexdigest()

    def set_metadata(self, remote: str, avus: Mapping[str, str]) -> None:
        with self._lock:
            if remote not in self.objects:
                raise NotFound(remote)
            self.avus.setdefault(remote, {}).update(avus)

    def get_metadata(self, remote: str) -> dict[str, str]:
        return dict(self.avus.get(remote, {}))

    def make_tree_public(self, collection: str) -> None:
        self.public.add(collection)

    def make_public(self, remote: str) -> None:
        self.public.add(remote)

    def is_public(self, remote: str) -> bool:
        return any(remote == p or remote.startswith(p + "/") for p in self.public)

    def close(self) -> None:
        pass


class FakeProvider:
    def __init__(self, base: str = "https://data.example.org/dav-anon") -> None:
        self.base = base
        self.calls = 0

    def urls_for(
        self, original: str, derivatives: Mapping[Rendition, str], *,
        tags: Mapping[str, str] | None = None,
    ) -> MediaUrls:  # fmt: skip
        self.calls += 1
        u = lambda p: self.base + p  # noqa: E731
        non_jpeg = Rendition.LARGE in derivatives
        return MediaUrls(
            url=u(derivatives.get(Rendition.WEB, original)),
            thumbnail_url=u(derivatives[Rendition.THUMB])
            if Rendition.THUMB in derivatives
            else None,
            original_url=u(derivatives[Rendition.LARGE]) if non_jpeg else u(original),
            archive_url=u(original) if non_jpeg else None,
        )


@dataclass
class FakePortal:
    """Specimens by catalog number; rows keyed by sourceIdentifier (updated in place)."""

    specimens: dict[str, list[int]] = field(default_factory=dict)
    rows: dict[str, tuple[int, MediaLink]] = field(default_factory=dict)
    match_calls: list[list[str]] = field(default_factory=list)
    write_calls: int = 0
    skeletal: bool = False
    _ids: Any = field(default_factory=lambda: itertools.count(9000))

    def schema(self) -> SchemaInfo:
        return SchemaInfo("3.2", "media")

    def match(self, catalogs: Sequence[str]) -> dict[str, Match]:
        self.match_calls.append(list(catalogs))
        out = {}
        for c in catalogs:
            occ = self.specimens.get(c, [])
            status = (
                MatchStatus.MATCHED if len(occ) == 1
                else MatchStatus.AMBIGUOUS if occ else MatchStatus.UNMATCHED
            )  # fmt: skip
            out[c] = Match(c, status, tuple(occ))
        return out

    def write(
        self, links: Sequence[tuple[MediaLink, Match]], *, dry_run: bool = False
    ) -> WriteResult:
        self.write_calls += 1
        res = WriteResult()
        for link, match in links:
            occid = match.occid
            if occid is None:
                assert self.skeletal
                occid = next(self._ids)
                self.specimens[link.catalog] = [occid]
                res.skeletal_created += 1
            prev = link.previous_source_identifier
            if prev and prev in self.rows:
                del self.rows[prev]
                res.updated += 1
            elif link.source_identifier in self.rows:
                res.updated += 1
            else:
                res.inserted += 1
            self.rows[link.source_identifier] = (occid, link)
            res.written[link.source_identifier] = occid
        return res

    def close(self) -> None:
        pass


def local_files(root: Path, ledger: FakeLedger | None = None) -> Iterator[LocalFile]:
    """A tiny scanner: sorted, hashes only files the ledger does not know unchanged."""
    for p in sorted(x for x in root.rglob("*") if x.is_file()):
        rel = p.relative_to(root).as_posix()
        st = p.stat()
        rec = ledger.get(rel) if ledger else None
        if rec and (rec.size, rec.mtime_ns) == (st.st_size, st.st_mtime_ns):
            yield LocalFile(rel, st.st_size, st.st_mtime_ns)
            continue
        data = p.read_bytes()
        problems = (Problem.EMPTY,) if not data else ()
        yield LocalFile(
            rel, st.st_size, st.st_mtime_ns, hashlib.md5(data).hexdigest(),
            problems=problems, detail="empty file (0 bytes)" if not data else None,
        )  # fmt: skip


def touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
