"""``sync``: discover → identify → derive → upload → publish → URL → map, resumable.

``run_sync`` opens the run once (``run.context.open_run``: lock, adapters, ledger, identifier
parser) and hands that context to ``SyncRun``. Its main thread walks ``plan.iter_plan`` (scan +
identify + ledger merge-join, so unchanged files are never opened), decides per file what is
still to do, hands the remote work to a bounded pool of ``irods.threads`` workers
(``transfer.Transfer``; the iRODS store keeps one session per thread) and batches the results
into the portal (``mapping.Mapper``). Every ledger write goes through one ``Journal``, so the
ledger sees one writer at a time. A bad file is recorded, counted and reported; it never stops
the run.
"""

from __future__ import annotations

import copy
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Any

from cyverse_link.config.settings import Settings
from cyverse_link.core.errors import ServiceUnavailable
from cyverse_link.core.events import Event, EventHandler, EventKind, ignore
from cyverse_link.core.models import Counts, MatchStatus, Problem, Stage, Status, Written
from cyverse_link.core.naming import original_path, versioned_path
from cyverse_link.datastore.base import DataStore
from cyverse_link.ledger.journal import Journal
from cyverse_link.ledger.store import FileRecord
from cyverse_link.portal.base import Portal
from cyverse_link.portal.csvfile import CsvPortal
from cyverse_link.publish.base import UrlProvider
from cyverse_link.run import wiring
from cyverse_link.run.context import Adapters, RunContext, open_run
from cyverse_link.run.report import ReportEntry, RunReport
from cyverse_link.sync.mapping import Mapped, Mapper, sort_occurrence, source_identifier
from cyverse_link.sync.plan import (
    Decision,
    PlanEvent,
    PlanItem,
    iter_plan,
    run_plan,
    skipped_entry,
    unidentified_reason,
)
from cyverse_link.sync.transfer import (
    FileFailed,
    Job,
    RetryPolicy,
    Stopped,
    Transfer,
    TransferRules,
)

OUTAGE_LIMIT = 3  # consecutive service failures that end the run (exit 3), not every file


def last_done(rec: FileRecord) -> Stage:
    """The last stage a ledger record completed."""
    if rec.status is Status.DONE or rec.stage is Stage.DISCOVERED:
        return rec.stage
    return Stage(rec.stage - 1)


class SyncRun:
    """One execution over the drop folder, on a ``RunContext`` (concrete or test adapters).
    Every ledger write goes through one ``Journal``: the workers and the main thread share it."""

    def __init__(
        self,
        ctx: RunContext,
        *,
        on_event: EventHandler = ignore,
        retry_delay: float = 1.0,
        stop: threading.Event | None = None,
    ) -> None:
        s = ctx.settings
        assert ctx.ledger is not None and ctx.report is not None  # a recording run
        self.stop = stop or threading.Event()  # set (by a signal): finish up and return
        self.store = ctx.store
        self.report = ctx.report
        self.emit = on_event
        self.counts = ctx.counts
        self.threads = s.irods.threads
        self.source = s.source.path
        self.rules = TransferRules.from_settings(s)
        self.pattern = ctx.parser.pattern
        self._outage = 0  # consecutive files that failed because the service was away
        self.journal = Journal(ctx.ledger, on_event=on_event)
        self.transfer = Transfer(
            ctx.store,
            ctx.provider,
            journal=self.journal,
            retry=RetryPolicy(s.irods.retries + 1, retry_delay, on_event=on_event, stop=self.stop),
            rules=self.rules,
        )
        self.mapper = Mapper(
            ctx.portal,
            self.journal,
            batch_size=s.symbiota.batch_size,
            create_skeletal=s.symbiota.create_skeletal,
            on_event=on_event,
        )

    # -- the run ------------------------------------------------------------------------------

    def execute(self, items: Iterator[PlanItem], *, limit: int | None = None) -> Counts:
        threads = self.threads
        self.emit(Event(EventKind.STARTED, message=f"sync of {self.source}"))
        if not self.rules.public:
            self.emit(Event(EventKind.INFO, message="irods.public is false: nothing is made "
                            "public, so anonymous (dav-anon) URLs will not open"))  # fmt: skip
        in_flight: dict[Future[Job], Job] = {}
        started = 0
        with self.transfer, ThreadPoolExecutor(threads, thread_name_prefix="cyverse-link") as pool:
            # Asked from a worker: the main thread never opens an iRODS session of its own,
            # so the run holds at most ``irods.threads`` connections (CyVerse caps at 10).
            version = pool.submit(self.store.server_version).result()
            self.emit(Event(EventKind.INFO, message=f"iRODS server version {version}"))
            try:
                for item in items:
                    if limit is not None and started >= limit:
                        break
                    if self.stop.is_set():
                        break
                    job = self._classify(item)
                    if job is None:
                        continue
                    started += 1
                    if job.resume_at >= Stage.REGISTERED:
                        self._map(job)  # only the portal step is left
                        continue
                    in_flight[pool.submit(self.transfer.process, job)] = job
                    if len(in_flight) >= 2 * threads:  # bounded: memory stays flat
                        in_flight = self._collect(in_flight)
                while in_flight:
                    if self.stop.is_set():
                        self._cancel_queued(in_flight)
                    in_flight = self._collect(in_flight)
            except BaseException:
                self._cancel_queued(in_flight)
                raise
        if self.stop.is_set():
            # Files that finished are mapped below; the rest resume on the next run.
            self.counts.extra["interrupted"] = 1
            self.emit(Event(EventKind.INFO, message="stopping: finished the files in progress; "
                            "run sync again to continue"))  # fmt: skip
        self._map(None)
        self.announce_outputs()
        self.emit(Event(EventKind.FINISHED, counts=copy.deepcopy(self.counts)))
        return self.counts

    def _cancel_queued(self, in_flight: dict[Future[Job], Job]) -> None:
        """Drop files handed out but not started. They still get their "identified" row (the
        worker would have committed it with the target path)."""
        for fut, job in list(in_flight.items()):
            if fut.cancel():
                del in_flight[fut]
                if job.identified is not None:
                    self.journal.advance(
                        job.rel_path, Stage.IDENTIFIED, Status.DONE, **job.identified
                    )

    def _collect(self, futures: dict[Future[Job], Job]) -> dict[Future[Job], Job]:
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        for fut in done:
            del futures[fut]
            try:
                job = fut.result()
            except Stopped:
                continue  # its finished stages are recorded; the rest is for the next run
            except FileFailed as exc:
                self._failed_job(exc.job, exc.stage, exc.message)
                self._outage = self._outage + 1 if exc.service_down else 0
                if self._outage >= OUTAGE_LIMIT:
                    raise ServiceUnavailable(
                        f"the data store stopped answering: {self._outage} files in a row "
                        f"failed ({exc.message}); every file's progress is recorded, so run "
                        "again when the service is back"
                    ) from exc
                continue
            self._outage = 0
            self.counts.uploaded += job.uploaded
            self.counts.published += job.published
            self.counts.registered += 1
            self._map(job)
        return futures

    def _map(self, job: Job | None) -> None:
        """``job`` to the portal step (None: what is queued); report what came of it."""
        self.mapper.feed(job, self._mapped)

    def _classify(self, item: PlanItem) -> Job | None:
        """What is left to do for one file (main thread); None when nothing is."""
        lf, rec, ident = item.local, item.record, item.identifier
        c = self.counts
        c.discovered += 1
        self.emit(Event(EventKind.DISCOVERED, lf.rel_path))
        if item.decision is Decision.UNCHANGED:
            assert rec is not None
            c.unchanged += 1
            self.emit(Event(EventKind.UNCHANGED, lf.rel_path))
            self.report.add(
                ReportEntry(
                    lf.rel_path, Stage.MAPPED, Status.DONE, "unchanged", rec.catalog,
                    rec.suffix, rec.irods_path, rec.urls, rec.occid,
                    "matched" if rec.occid is not None else MatchStatus.NOT_CHECKED.value,
                )
            )  # fmt: skip
            return None
        if item.decision in (Decision.BAD, Decision.UNIDENTIFIED) or ident is None:
            self._bad_file(item)
            return None
        assert lf.md5 is not None  # the scan hashed it, or the ledger knew it
        local = self.source / lf.rel_path
        base = original_path(self.rules.collection, lf.rel_path)
        job = Job(lf.rel_path, local, lf.size, lf.mtime_ns, lf.md5, ident.catalog, ident.suffix,
                  base, action=item.decision.value,
                  web_copy=Problem.TOO_LARGE in lf.problems)  # fmt: skip
        if rec is not None and rec.md5 == lf.md5 and rec.irods_path:
            done = last_done(rec)
            return replace(
                job,
                remote=rec.irods_path,
                resume_at=done if done >= Stage.UPLOADED else Stage.IDENTIFIED,
                previous_remote=rec.previous_irods_path,
                overwrite_ok=done < Stage.UPLOADED,
                mime=rec.mime,
                derivatives=self.rules.derivative_paths(
                    rec.irods_path, lf.md5, rec.mime, web_copy=job.web_copy
                ),
                urls=rec.urls if done >= Stage.REGISTERED else None,
            )
        previous: str | None = None
        if rec is not None and rec.irods_path and last_done(rec) >= Stage.UPLOADED:
            previous = rec.irods_path  # earlier content, verified there: keep it, never overwrite
        elif rec is not None:
            previous = rec.previous_irods_path
        if previous:
            job = replace(job, remote=versioned_path(base, lf.md5), previous_remote=previous)
        if rec is not None and rec.urls is not None and last_done(rec) >= Stage.MAPPED:
            # what the tool wrote for the row it now moves: curator changes are told apart by it
            written = Written(rec.urls, sort_occurrence(rec.suffix), rec.occid)
            job = replace(job, written=written)
        # Committed by the worker with the file's target path (one transaction, not two): a run
        # killed before that finds no trace of this attempt, and redoes it from the start.
        identified = dict(
            md5=lf.md5,
            size=lf.size,
            mtime_ns=lf.mtime_ns,
            mime=lf.mime,
            problems=lf.problems,
            detail=lf.detail,
            catalog=ident.catalog,
            suffix=ident.suffix,
            irods_path=None,
            urls=None,
            occid=None,
            previous_irods_path=previous,
        )
        return replace(job, identified=identified)

    def _bad_file(self, item: PlanItem) -> None:
        lf, rec = item.local, item.record
        stage = Stage.DISCOVERED if item.decision is Decision.BAD else Stage.IDENTIFIED
        why = item.reason or "unusable file"
        if item.decision is Decision.UNIDENTIFIED:
            why = unidentified_reason(self.pattern)
        # Record it once (so the next scan need not re-read it); not again every night.
        same = rec is not None and rec.status is Status.FAILED and rec.md5 == lf.md5
        if not (same and rec is not None and rec.error == why):
            self.journal.fail(
                lf.rel_path, stage, why, size=lf.size, mtime_ns=lf.mtime_ns, md5=lf.md5,
                mime=lf.mime, problems=lf.problems, detail=lf.detail,
            )  # fmt: skip
        self.counts.failed += 1
        self.emit(Event(EventKind.FAILED, lf.rel_path, stage, message=why))
        self.report.add(
            ReportEntry(
                lf.rel_path, stage, Status.FAILED, item.decision.value,
                problems=lf.problems, detail=lf.detail, error=why,
            )
        )  # fmt: skip

    def _failed_job(self, job: Job, stage: Stage, why: str) -> None:
        self.journal.fail(job.rel_path, stage, why)
        self.counts.failed += 1
        self.emit(Event(EventKind.FAILED, job.rel_path, stage, message=why))
        self.report.add(
            ReportEntry(
                job.rel_path, stage, Status.FAILED, job.action, job.catalog, job.suffix,
                job.remote, job.urls, error=why,
            )
        )  # fmt: skip

    def _mapped(self, m: Mapped) -> None:
        c, job = self.counts, m.job
        detail = m.note
        if m.linked and m.status is MatchStatus.NOT_CHECKED:
            # CSV without read access: a row in the import file, but whether (and to how many
            # records) the portal links it was not checked, so it is not counted as mapped
            c.extra["not_checked"] = c.extra.get("not_checked", 0) + 1
            stage, status = Stage.MAPPED, Status.DONE
        elif m.linked:
            c.mapped += 1
            stage, status = Stage.MAPPED, Status.DONE
        elif m.status is None:
            c.failed += 1
            stage, status = Stage.MAPPED, Status.FAILED
        else:
            if m.status is MatchStatus.AMBIGUOUS:
                c.ambiguous += 1
            else:
                c.unmatched += 1
            stage, status = Stage.MAPPED, Status.SKIPPED
            portal = self.mapper.portal
            if isinstance(portal, CsvPortal):
                sid = source_identifier(job.remote)
                portal.record_unmapped(
                    job.rel_path, job.catalog, m.status, m.occids, sid, m.error or ""
                )
        if m.superseded:
            c.extra["superseded"] = c.extra.get("superseded", 0) + 1
            detail = m.superseded
            self.emit(Event(EventKind.INFO, job.rel_path, Stage.MAPPED, message=m.superseded))
        self.report.add(
            ReportEntry(
                job.rel_path, stage, status, job.action, job.catalog, job.suffix, job.remote,
                job.urls, m.occid, m.status.value if m.status else None, detail=detail,
                error=m.error,
            )
        )  # fmt: skip

    def announce_outputs(self) -> None:
        """CSV mode: name the files the manager imports or acts on."""
        portal = self.mapper.portal
        if isinstance(portal, CsvPortal):
            for line in portal.output_lines():
                self.emit(Event(EventKind.INFO, message=line))

    def skipped(self, rel_path: str, why: str) -> None:
        """What the scan left out (a folder, a link, hidden files): counted and reported."""
        self.counts.extra["skipped"] = self.counts.extra.get("skipped", 0) + 1
        self.report.add(skipped_entry(rel_path, why))
        self.emit(Event(EventKind.INFO, rel_path, message=f"skipped: {why}"))


def run_sync(
    settings: Settings,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    on_event: EventHandler | None = None,
    store: DataStore | None = None,
    portal: Portal | None = None,
    provider: UrlProvider | None = None,
    retry_delay: float = 1.0,
    stop: threading.Event | None = None,
) -> RunReport:
    """The whole pipeline over ``source.path``; returns the run report (its ``path`` is the
    JSON file). ``dry_run`` is ``plan``: reads only, writes nothing but the report. Once
    ``stop`` is set (see ``stop_on_signals``) no new file starts, files in progress finish
    their current stage, and the run ends normally with ``report.interrupted``. Adapters
    not given are built from ``settings`` (passwords resolved then). Raises ``LockHeld`` when
    another run holds the lock, ``ConfigError``, ``ServiceUnavailable``; per-file problems are
    counted and reported instead."""
    emit = on_event or ignore
    if dry_run:
        with ExitStack() as opened:  # a portal built here is closed here
            if portal is None:
                portal = wiring.closing(opened, wiring.build_portal(settings))
            return run_plan(settings, on_event=_plan_events(emit), matcher=portal.match)
    given = Adapters(store=store, portal=portal, provider=provider)
    with (
        open_run(settings, given=given, build=("store", "portal", "provider")) as ctx,
        ctx.recording("sync"),
    ):
        run = SyncRun(ctx, on_event=emit, retry_delay=retry_delay, stop=stop)
        items = iter_plan(settings.source, ctx.parser, ctx.ledger, on_skip=run.skipped)
        run.execute(items, limit=limit)
        # The catalog numbers recorded, checked against the rules: ``plan`` reuses them.
        return ctx.finish(confirm_catalogs=True)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM or SIGINT (Ctrl-C) sets the returned event: ``run_sync(stop=...)`` then winds
    down (no new files, the current stage of files in progress finishes, report and run record
    written). A second signal stops at once (KeyboardInterrupt; the report stays ``.part``).
    Outside the main thread (no signal handlers there) the event is simply never set."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, previous in old.items():
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)


def _plan_events(emit: EventHandler) -> Callable[[PlanEvent], None]:
    def forward(event: PlanEvent) -> None:
        if event.kind == "file":
            emit(Event(EventKind.DISCOVERED, event.rel_path, message=event.detail))
        elif event.kind == "unchanged":  # a batch of unchanged files, the last one named
            if emit is not ignore:
                for _ in range(event.count):
                    emit(Event(EventKind.DISCOVERED, event.rel_path))
        else:
            emit(Event(EventKind.INFO, event.rel_path, message=f"skipped: {event.detail}"))

    return forward
