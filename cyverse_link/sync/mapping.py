"""Batched matching and linking: one ``Portal.match`` and one ``Portal.write`` per batch.

Runs in the main thread only. Unmatched and ambiguous images stay uploaded and public but
unlinked (ledger: MAPPED/SKIPPED with the reason), so a later run links them once the
specimen record appears; with ``create_skeletal`` unmatched ones are written too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cyverse_link.core.errors import CyverseLinkError, ServiceUnavailable
from cyverse_link.core.events import Event, EventHandler, EventKind, ignore
from cyverse_link.core.models import Match, MatchStatus, MediaLink, Stage, Status
from cyverse_link.ledger.journal import Journal
from cyverse_link.portal.base import Portal, WriteResult
from cyverse_link.sync.transfer import Job


@dataclass(frozen=True)
class Mapped:
    """The outcome for one job: ``linked`` (with the ``occid`` when the portal knows it; the CSV
    import file does not), else why not."""

    job: Job
    status: MatchStatus | None  # None when the write itself failed
    occid: int | None = None
    error: str | None = None
    linked: bool = False
    occids: tuple[int, ...] = ()  # an ambiguous match: every occurrence it found
    superseded: str | None = None  # CSV: the row of the earlier content stays; what to do
    note: str | None = None  # linked, with something the manager should know (curator rows)


def sort_occurrence(suffix: str | None) -> int:
    """Symbiota's ``sortOccurrence``: the plain name first, then numbered and lettered views.

    Numbered means *decimal* digits (``str.isdecimal``, what ``int()`` accepts): ``isdigit``
    is also true for ``፩``, ``²`` or ``①``, which ``int()`` refuses. Those sort as named views.
    """
    if not suffix:
        return 1
    if suffix.isdecimal():
        return max(1, int(suffix))
    if len(suffix) == 1 and suffix.isalpha():
        return 2 + ord(suffix.lower()) - ord("a")
    return 50  # named views (dorsal, label, ...) after the numbered ones


def source_identifier(remote: str) -> str:
    return f"irods:{remote}"


class Mapper:
    """Collects jobs into batches of ``batch_size``; each batch is matched and written and its
    outcomes recorded in the ``journal``; ``feed`` hands them to the caller."""

    def __init__(
        self,
        portal: Portal,
        journal: Journal,
        *,
        batch_size: int,
        create_skeletal: bool = False,
        on_event: EventHandler = ignore,
    ) -> None:
        self.portal = portal
        self.journal = journal
        self.batch_size = batch_size
        self.create_skeletal = create_skeletal
        self.on_event = on_event
        self.pending: list[Job] = []
        self._results: list[Mapped] = []

    def add(self, job: Job) -> None:
        """Queue ``job``; a full batch is matched and written."""
        self.pending.append(job)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def feed(self, job: Job | None, handle: Callable[[Mapped], None]) -> None:
        """Queue ``job`` (None: match and write what is queued) and hand every outcome that
        came of it to ``handle``, in order: also when a service failure stops a batch half
        way (its unmatched files were already recorded), before the failure propagates."""
        try:
            if job is None:
                self.flush()
            else:
                self.add(job)
        finally:
            results, self._results = self._results, []
            for result in results:
                handle(result)

    def flush(self) -> None:
        """Match and write what is queued."""
        jobs, self.pending = self.pending, []
        if not jobs:
            return
        try:
            matches = self.portal.match(sorted({j.catalog for j in jobs}))
        except ServiceUnavailable:
            raise  # the portal is away: stop the run (exit 3); these resume at mapping
        except CyverseLinkError as exc:
            for job in jobs:
                self._failed(job, f"matching failed: {exc}")
            return
        links: list[tuple[MediaLink, Match]] = []
        by_source: dict[str, tuple[Job, Match]] = {}
        for job in jobs:
            match = matches.get(job.catalog) or Match(job.catalog, MatchStatus.UNMATCHED)
            writable = match.status in (MatchStatus.MATCHED, MatchStatus.NOT_CHECKED) or (
                match.status is MatchStatus.UNMATCHED and self.create_skeletal
            )
            if not writable:
                self._unmapped(job, match)
                continue
            try:
                link = self._link(job)
            except Exception as exc:  # one odd file name must not stop the batch or the run
                self._failed(job, f"building the media row failed: {type(exc).__name__}: {exc}")
                continue
            links.append((link, match))
            by_source[link.source_identifier] = (job, match)
        if not links:
            return
        result = self._write(links)
        linked: list[tuple[Job, Match, int | None]] = []
        for source, (job, match) in by_source.items():
            if source in result.written:
                occid = result.written[source] or None  # 0: written to a CSV, no occid yet
                linked.append((job, match, occid))
            else:
                why = result.errors.get(source, "the portal wrote no row and gave no reason")
                self._failed(job, why)
        # The batch's rows are written: record them in one transaction, not one per file.
        fields = [(j.rel_path, o) for j, _, o in linked]
        self.journal.advance_many(
            [(rel, Stage.MAPPED, Status.DONE, {"occid": o, "error": None}) for rel, o in fields]
        )
        for job, match, occid in linked:
            where = None  # a database row: "linked"; a CSV row links only once imported
            if result.path is not None:
                unknown = match.status is MatchStatus.NOT_CHECKED
                where = "in the import CSV" + (" (not checked)" if unknown else f", occid {occid}")
            self.on_event(Event(EventKind.STAGE_DONE, job.rel_path, Stage.MAPPED, message=where))
            sid = source_identifier(job.remote)
            note = result.notes.get(sid)
            if note:
                self.on_event(Event(EventKind.INFO, job.rel_path, Stage.MAPPED, message=note))
            superseded = result.superseded.get(sid)
            self._results.append(
                Mapped(
                    job, match.status, occid=occid, linked=True, superseded=superseded, note=note
                )
            )

    def _write(self, links: list[tuple[MediaLink, Match]]) -> WriteResult:
        """``Portal.write`` for the batch, as a result with an error per row that failed. An
        unexpected error (not the portal's own) is narrowed down by writing the batch's rows
        one by one, so only the file behind it fails."""
        try:
            return self.portal.write(links)
        except ServiceUnavailable:
            raise
        except CyverseLinkError as exc:
            why = f"writing the media row failed: {exc}"
            return WriteResult(errors={link.source_identifier: why for link, _ in links})
        except Exception as exc:
            if len(links) == 1:
                why = f"writing the media row failed: {type(exc).__name__}: {exc}"
                return WriteResult(errors={links[0][0].source_identifier: why})
        merged = WriteResult()
        for one in links:
            result = self._write([one])
            merged.written.update(result.written)
            merged.errors.update(result.errors)
            merged.path = result.path or merged.path
        return merged

    def _link(self, job: Job) -> MediaLink:
        assert job.urls is not None  # registered before mapping
        previous = job.previous_remote if job.previous_remote != job.remote else None
        urls = job.urls
        # hashValue/mediaMD5 describe the file at originalUrl; a ledger from before
        # original_md5 existed knows it only when originalUrl is the master itself
        md5 = urls.original_md5 or (job.md5 if urls.archive_url is None else None)
        return MediaLink(
            catalog=job.catalog,
            source_identifier=source_identifier(job.remote),
            urls=urls,
            md5=md5 or None,
            suffix=job.suffix,
            sort_occurrence=sort_occurrence(job.suffix),
            file_name=job.rel_path.rsplit("/", 1)[-1],
            previous_source_identifier=source_identifier(previous) if previous else None,
            written=job.written,
        )

    def _unmapped(self, job: Job, match: Match) -> None:
        if match.status is MatchStatus.AMBIGUOUS:
            ids = ", ".join(str(o) for o in match.occids)
            why = f"ambiguous: catalog number {job.catalog} matches occurrences {ids}"
        else:
            why = f"unmatched: no occurrence with catalog number {job.catalog} in this collection"
            note = getattr(self.portal, "unmatched_note", None)  # api mode: what it cannot see
            if note:
                why = f"{why} ({note})"
        self.journal.advance(job.rel_path, Stage.MAPPED, Status.SKIPPED, error=why)
        self.on_event(Event(EventKind.UNMAPPED, job.rel_path, Stage.MAPPED, message=why))
        self._results.append(Mapped(job, match.status, error=why, occids=match.occids))

    def _failed(self, job: Job, why: str) -> None:
        why = re.sub(r"\s+", " ", why)
        self.journal.fail(job.rel_path, Stage.MAPPED, why)
        self.on_event(Event(EventKind.FAILED, job.rel_path, Stage.MAPPED, message=why))
        self._results.append(Mapped(job, None, error=why))
