"""``sync``: discover → identify → derive → upload → publish → URL → map, resumable.

The main thread scans, decides per file from the ledger what is still to do, hands remote work
to a bounded pool of ``irods.threads`` workers (``transfer.Transfer``) and batches the results
into the portal (``mapping.Mapper``). Every ledger write goes through one lock, so SQLite sees
one writer at a time; a bad file is recorded and counted, never stops the run.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from cyverse_link.config import Settings
from cyverse_link.datastore.base import DataStore
from cyverse_link.events import Event, EventHandler, EventKind, ignore
from cyverse_link.mapping import Mapped, Mapper
from cyverse_link.models import Counts, LocalFile, MatchStatus, MediaUrls, Stage, Status
from cyverse_link.naming import original_path, versioned_path
from cyverse_link.portal.base import Portal
from cyverse_link.publish.base import UrlProvider
from cyverse_link.transfer import FileFailed, Job, RetryPolicy, Transfer, derivative_paths


class StateLedger(Protocol):
    """What the pipeline needs from ``ledger.Ledger``."""

    def get(self, rel_path: str) -> Any: ...

    def advance(self, rel_path: str, stage: Stage, status: Status, **fields: Any) -> None: ...

    def fail(self, rel_path: str, stage: Stage, error: str) -> None: ...


@dataclass
class FileEntry:
    """One line of the run report."""

    rel_path: str
    stage: Stage
    status: str  # done | unchanged | unmatched | ambiguous | failed
    catalog: str | None = None
    remote: str | None = None
    urls: MediaUrls | None = None
    occid: int | None = None
    error: str | None = None


@dataclass
class SyncResult:
    counts: Counts = field(default_factory=Counts)
    entries: list[FileEntry] = field(default_factory=list)
    server_version: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.counts.failed else 0


def last_done(rec: Any) -> Stage:
    """The last stage a ledger record completed."""
    stage = Stage(rec.stage)
    if Status(rec.status) is Status.DONE or stage is Stage.DISCOVERED:
        return stage
    return Stage(stage - 1)


def file_md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class SyncRun:
    """One execution over the drop folder; built by ``run_sync`` with concrete adapters."""

    def __init__(
        self,
        settings: Settings,
        ledger: StateLedger,
        store: DataStore,
        linker: Any,
        portal: Portal,
        provider: UrlProvider,
        *,
        on_event: EventHandler = ignore,
        retry_delay: float = 1.0,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.store = store
        self.portal = portal
        self.emit = on_event
        self.result = SyncResult()
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="cyverse-link-")
        retry = RetryPolicy(settings.irods.retries + 1, retry_delay, on_event)
        self.transfer = Transfer(
            settings, store, linker, provider, self._record, retry, Path(self._tmp.name)
        )
        self.mapper = Mapper(
            portal, settings.symbiota, self._record, self._fail, on_event, self._mapped
        )

    # -- ledger, serialised -------------------------------------------------------------------

    def _record(self, rel_path: str, stage: Stage, status: Status, **fields: Any) -> None:
        with self._lock:
            self.ledger.advance(rel_path, stage, status, **fields)
        if status is Status.DONE and stage < Stage.MAPPED:
            self.emit(Event(EventKind.STAGE_DONE, rel_path, stage))

    def _fail(self, rel_path: str, stage: Stage, error: str) -> None:
        with self._lock:
            self.ledger.fail(rel_path, stage, error)

    # -- the run ------------------------------------------------------------------------------

    def execute(self, files: Iterator[LocalFile], *, limit: int | None = None) -> SyncResult:
        self.result.server_version = self.store.server_version()
        self.emit(Event(EventKind.INFO, message=f"iRODS server {self.result.server_version}"))
        threads = self.settings.irods.threads
        in_flight: set[Future[Job]] = set()
        started = 0
        try:
            with ThreadPoolExecutor(threads, thread_name_prefix="cyverse-link") as pool:
                try:
                    for lf in files:
                        if limit is not None and started >= limit:
                            break
                        job = self._classify(lf)
                        if job is None:
                            continue
                        started += 1
                        if job.resume_at >= Stage.REGISTERED:
                            self.mapper.add(job)
                            continue
                        in_flight.add(pool.submit(self.transfer.process, job))
                        if len(in_flight) >= 2 * threads:  # bounded: memory stays flat
                            in_flight = self._collect(in_flight, FIRST_COMPLETED)
                    while in_flight:
                        in_flight = self._collect(in_flight, FIRST_COMPLETED)
                except BaseException:
                    for fut in in_flight:
                        fut.cancel()
                    raise
            self.mapper.flush()
        finally:
            self._tmp.cleanup()
        self.emit(Event(EventKind.FINISHED))
        return self.result

    def _collect(self, futures: set[Future[Job]], how: str) -> set[Future[Job]]:
        done, rest = wait(futures, return_when=how)
        for fut in done:
            try:
                job = fut.result()
            except FileFailed as exc:
                self._failed_file(exc.job, exc.stage, exc.message)
                continue
            c = self.result.counts
            c.uploaded += job.uploaded
            c.published += job.published
            c.registered += 1
            self.mapper.add(job)
        return rest

    def _classify(self, lf: LocalFile) -> Job | None:
        """Decide from the ledger what is left to do for one file (main thread)."""
        c = self.result.counts
        c.discovered += 1
        self.emit(Event(EventKind.DISCOVERED, lf.rel_path))
        rec = self.ledger.get(lf.rel_path)
        same_stat = rec is not None and (rec.size, rec.mtime_ns) == (lf.size, lf.mtime_ns)
        unchanged = same_stat and (lf.md5 is None or lf.md5 == rec.md5)
        if unchanged and last_done(rec) is Stage.MAPPED:
            c.unchanged += 1
            self.emit(Event(EventKind.UNCHANGED, lf.rel_path))
            self.result.entries.append(
                FileEntry(
                    lf.rel_path, Stage.MAPPED, "unchanged", rec.catalog, rec.irods_path,
                    rec.urls, rec.occid,
                )
            )  # fmt: skip
            return None
        if lf.fatal:
            why = lf.detail or ", ".join(p.value for p in lf.problems)
            self._failed_file(None, Stage.DISCOVERED, why, rel_path=lf.rel_path)
            return None
        local = self.settings.source.path / lf.rel_path
        md5 = lf.md5 or (rec.md5 if unchanged and rec.md5 else file_md5(local))
        ident = self._identify(lf.rel_path)
        if ident is None:
            why = (
                "no catalog number in the file name (identifiers.pattern "
                f"{self.settings.identifiers.pattern!r} does not match); rename the file"
            )
            self._failed_file(None, Stage.IDENTIFIED, why, rel_path=lf.rel_path)
            return None
        catalog, suffix = ident
        base = original_path(self.settings.irods.collection, lf.rel_path)
        job = Job(lf.rel_path, local, lf.size, lf.mtime_ns, md5, catalog, suffix, base)
        if rec is not None and rec.md5 == md5 and rec.irods_path:
            done = last_done(rec)
            return replace(
                job,
                remote=rec.irods_path,
                resume_at=done if done >= Stage.UPLOADED else Stage.IDENTIFIED,
                previous_remote=rec.previous_irods_path,
                overwrite_ok=done < Stage.UPLOADED,
                mime=rec.mime,
                derivatives=derivative_paths(self.settings, rec.irods_path, md5, rec.mime),
                urls=rec.urls if done >= Stage.REGISTERED else None,
            )
        previous: str | None = None
        if rec is not None and rec.irods_path and last_done(rec) >= Stage.UPLOADED:
            previous = rec.irods_path  # earlier content, verified there: keep it, never overwrite
        elif rec is not None:
            previous = rec.previous_irods_path
        if previous:
            job = replace(job, remote=versioned_path(base, md5), previous_remote=previous)
        self._record(
            lf.rel_path,
            Stage.IDENTIFIED,
            Status.DONE,
            md5=md5,
            size=lf.size,
            mtime_ns=lf.mtime_ns,
            catalog=catalog,
            suffix=suffix,
            irods_path=None,
            previous_irods_path=previous,
        )
        return job

    def _identify(self, rel_path: str) -> tuple[str, str | None] | None:
        # Interim until identifiers.parse_identifier lands on main.
        stem = rel_path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        m = re.search(self.settings.identifiers.pattern, stem)
        if not m or not m.group("catalog"):
            return None
        return m.group("catalog"), m.groupdict().get("suffix")

    def _failed_file(
        self, job: Job | None, stage: Stage, why: str, *, rel_path: str | None = None
    ) -> None:
        rel = rel_path or (job.rel_path if job else "?")
        self._fail(rel, stage, why)
        self.result.counts.failed += 1
        self.emit(Event(EventKind.FAILED, rel, stage, message=why))
        self.result.entries.append(
            FileEntry(
                rel, stage, "failed", job.catalog if job else None,
                job.remote if job else None, error=why,
            )
        )  # fmt: skip

    def _mapped(self, m: Mapped) -> None:
        c = self.result.counts
        job = m.job
        if m.occid is not None:
            c.mapped += 1
            status = "done"
        elif m.status is MatchStatus.AMBIGUOUS:
            c.ambiguous += 1
            status = "ambiguous"
        elif m.status is MatchStatus.UNMATCHED:
            c.unmatched += 1
            status = "unmatched"
        else:
            c.failed += 1
            status = "failed"
        stage = Stage.MAPPED if m.occid is not None else Stage.REGISTERED
        self.result.entries.append(
            FileEntry(
                job.rel_path, stage, status, job.catalog, job.remote, job.urls, m.occid, m.error
            )
        )
