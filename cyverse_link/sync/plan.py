"""``plan``: what ``sync`` would do with each file of the drop folder. Changes nothing anywhere.

Pieces the pipeline reuses:

* ``decide(local, identifier, record)`` — the pure per-file decision (``Decision``).
* ``RecordCursor`` — merge-joins the sorted scan with ``Ledger.iter_records()``; its ``known``
  method is the ``scan`` callback that lets unchanged files go unread.
* ``iter_plan(source, parser, ledger)`` — scan + identify + merge-join, streamed as
  ``PlanItem``s.
* ``run_plan(settings, matcher=...)`` — the dry run with its report. ``matcher`` is the seam for
  the Symbiota lookup (``Portal.match`` fits): None means match counts are not reported.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cyverse_link.config.settings import Settings, SourceSettings
from cyverse_link.core.identifiers import IdentifierParser
from cyverse_link.core.models import (
    Counts,
    Identifier,
    LocalFile,
    Match,
    MatchStatus,
    Problem,
    Stage,
    Status,
)
from cyverse_link.dropfolder.scan import HANDLED, scan
from cyverse_link.ledger.store import FileRecord, Ledger
from cyverse_link.run.context import LedgerUse, open_run
from cyverse_link.run.report import ReportEntry, ReportWriter, RunReport

__all__ = [
    "Decision",
    "Matcher",
    "PlanEvent",
    "PlanItem",
    "RecordCursor",
    "decide",
    "iter_plan",
    "run_plan",
    "skipped_entry",
    "unidentified_reason",
]

Matcher = Callable[[Sequence[str]], Mapping[str, Match]]
MATCH_BATCH = 500
PROGRESS_EVERY = 1000


class Decision(enum.StrEnum):
    NEW = "new"  # not in the ledger: goes through the whole pipeline
    CHANGED = "changed"  # in the ledger with other content (MD5): re-upload as a new version
    RESUME = "resume"  # same content, pipeline not finished: continue after the ledger's stage
    UNCHANGED = "unchanged"  # same content, fully mapped: nothing to do
    BAD = "bad"  # empty, corrupt, not an image, unreadable: reported, never uploaded
    UNIDENTIFIED = "unidentified"  # no catalog number in the name (or mapping CSV)


@dataclass(frozen=True)
class PlanItem:
    local: LocalFile
    identifier: Identifier | None
    record: FileRecord | None
    decision: Decision
    reason: str | None = None

    @property
    def needs_work(self) -> bool:
        return self.decision in (Decision.NEW, Decision.CHANGED, Decision.RESUME)


@dataclass(frozen=True)
class PlanEvent:
    """Progress for the CLI: ``kind`` is ``file`` (one per scanned file that is not plainly
    unchanged), ``unchanged`` (``count`` unchanged files since the last such event, the last of
    them ``rel_path``: sent every ``PROGRESS_EVERY`` files, not per file) or ``skipped``."""

    kind: str
    rel_path: str
    decision: Decision | None = None
    detail: str | None = None
    count: int = 1
    problems: tuple[Problem, ...] = ()  # a flagged file goes ahead with these noted


def unidentified_reason(pattern: str) -> str:
    """Why a file has no catalog number: the same words in ``plan`` and ``sync``."""
    return (
        f"no catalog number in the file name (identifiers.pattern '{pattern}' does not "
        "match); rename the file or add it to identifiers.mapping_csv"
    )


def decide(
    local: LocalFile, identifier: Identifier | None, record: FileRecord | None
) -> tuple[Decision, str | None]:
    """Pure: what to do with one file, and a reason for anything but plain new/unchanged.
    A file without a catalog number carries no ``NO_CATALOG_NUMBER`` problem in ``local`` (that
    is about its name, re-derived every run); the report adds it.

    "Same content" is the ledger's MD5 (reused without reading when size and mtime match, so
    a touched-but-identical file costs one read and is not re-uploaded)."""
    if local.fatal:
        return Decision.BAD, local.detail or ", ".join(p.value for p in local.problems)
    if identifier is None:
        return Decision.UNIDENTIFIED, "no catalog number found in the file name"
    if record is None:
        return Decision.NEW, None
    if record.md5 != local.md5:
        return Decision.CHANGED, f"content changed since it was recorded ({record.md5})"
    if record.complete:
        return Decision.UNCHANGED, None
    where = f"{record.stage.name.lower()} {record.status.value}"
    return Decision.RESUME, f"continues after {where}"


class RecordCursor:
    """Merge-join of ledger records (sorted by ``rel_path``) with the sorted scan.

    Look-ups must come in ascending ``rel_path`` order (which ``scan`` guarantees); each record
    is read once and dropped, so memory stays flat however large the ledger."""

    def __init__(self, records: Iterator[FileRecord]) -> None:
        self._records = records
        self._current: FileRecord | None = next(records, None)

    def lookup(self, rel_path: str) -> FileRecord | None:
        while self._current is not None and self._current.rel_path < rel_path:
            self._current = next(self._records, None)
        if self._current is not None and self._current.rel_path == rel_path:
            return self._current
        return None

    def known(self, rel_path: str, size: int, mtime_ns: int) -> LocalFile | None:
        """The ``scan`` callback: the recorded file when size and mtime still match."""
        return _known_local(self.lookup(rel_path), size, mtime_ns)


def _known_local(record: FileRecord | None, size: int, mtime_ns: int) -> LocalFile | None:
    if record is not None and record.same_file(size, mtime_ns):
        local = record.to_local_file()
        if Problem.NO_CATALOG_NUMBER in local.problems:  # about the name, not the content
            kept = tuple(p for p in local.problems if p is not Problem.NO_CATALOG_NUMBER)
            local = dataclasses.replace(local, problems=kept)
        return local
    return None


class _PlanJoin:
    """``run_plan``'s merge-join of the scan with the ledger's raw rows (flat memory, like
    ``RecordCursor``), with a fast path for the bulk of a warm plan: a file whose row is
    complete, same size and mtime, with no problem, detail or error, and whose name still
    parses to a catalog number (or whose catalog number the ledger confirmed under the same
    identifier rules: no parsing then) is decided UNCHANGED in the ``scan`` callback. Its report
    entry is written from the raw row and it is counted, with no ``LocalFile``, ``PlanItem``,
    decoded record or per-file event (progress goes out every ``PROGRESS_EVERY`` files).
    Everything else takes the normal path: the whole row is read with ``Ledger.get``."""

    def __init__(
        self,
        ledger: Ledger | None,
        parse: IdentifierParser,
        *,
        writer: ReportWriter,
        max_web_bytes: int,
        emit: Callable[[PlanEvent], None],
    ) -> None:
        self._ledger = ledger
        batches = (
            ledger.iter_join_rows(catalog_rules=parse.fingerprint)
            if ledger is not None
            else iter(())
        )
        self._rows: Iterator[Sequence[Any]] = itertools.chain.from_iterable(batches)
        self._row: Sequence[Any] | None = next(self._rows, None)
        self._parse = parse.__call__  # bound: cheaper than calling the instance
        self._add_unchanged = writer.add_unchanged
        self._max_web_bytes = max_web_bytes
        self._emit = emit
        self._full: FileRecord | None = None
        self.unchanged = 0
        self._since_event = 0
        self._last = ""

    def known(self, rel_path: str, size: int, mtime_ns: int) -> LocalFile | None:
        """The ``scan`` callback: ``HANDLED`` (fast path), the recorded file, or None."""
        row = self._row
        while row is not None and row[0] < rel_path:
            row = next(self._rows, None)
        self._row = row
        if row is None or row[0] != rel_path:
            return None
        _, rsize, rmtime, settled, irods, urls, occid, catalog, suffix = row
        if rsize != size or rmtime != mtime_ns:
            return None
        if settled and size <= self._max_web_bytes:
            # The ledger's catalog number when it was confirmed under the current rules
            # (Ledger.confirm_catalogs), else the name is parsed: a changed rule still applies.
            found = (catalog, suffix) if catalog is not None else self._parse(rel_path)
            if found is not None:
                self._add_unchanged(rel_path, found[0], found[1], irods, urls, occid)
                self.unchanged += 1
                self._since_event += 1
                self._last = rel_path
                if self._since_event >= PROGRESS_EVERY:
                    self.progress()
                return HANDLED
        return _known_local(self.record(rel_path), size, mtime_ns)

    def record(self, rel_path: str) -> FileRecord | None:
        """The whole ledger row of ``rel_path`` (the file ``scan`` just yielded), or None."""
        row = self._row
        while row is not None and row[0] < rel_path:
            row = next(self._rows, None)
        self._row = row
        if row is None or row[0] != rel_path or self._ledger is None:
            return None
        if self._full is None or self._full.rel_path != rel_path:
            self._full = self._ledger.get(rel_path)
        return self._full

    def progress(self) -> None:
        """The ``unchanged`` event for the files handled since the last one (if any)."""
        if self._since_event:
            n, self._since_event = self._since_event, 0
            self._emit(PlanEvent("unchanged", self._last, Decision.UNCHANGED, None, n))


def iter_plan(
    source: SourceSettings,
    parser: IdentifierParser,
    ledger: Ledger | None,
    *,
    on_skip: Callable[[str, str], None] | None = None,
) -> Iterator[PlanItem]:
    """Scan, identify and compare with the ledger, one file at a time, in ``rel_path`` order."""
    cursor = RecordCursor(ledger.iter_records() if ledger is not None else iter(()))
    parse = parser.parse
    why_unidentified = unidentified_reason(parser.pattern)
    for local in scan(source, known=cursor.known, on_skip=on_skip):
        record = cursor.lookup(local.rel_path)
        identifier = parse(local.rel_path)
        decision, reason = decide(local, identifier, record)
        if decision is Decision.UNIDENTIFIED:
            reason = why_unidentified
        yield PlanItem(local, identifier, record, decision, reason)


def run_plan(
    settings: Settings,
    *,
    on_event: Callable[[PlanEvent], None] | None = None,
    matcher: Matcher | None = None,
) -> RunReport:
    """The dry run of ``sync``: reads the drop folder and the ledger (never creates or writes
    it), writes the run report, returns its summary."""
    emit = on_event or (lambda event: None)
    with (
        open_run(settings, ledger=LedgerUse.EXISTING, lock=False) as ctx,
        ctx.recording("plan", dry_run=True) as writer,
    ):
        counts, parse, ledger = ctx.counts, ctx.parser, ctx.ledger
        extra = counts.extra
        for name in ("new", "changed", "resume", "bad", "unidentified", "flagged"):
            extra[name] = 0
        if matcher is not None:
            extra["matched"] = 0
        why_unidentified = unidentified_reason(parse.pattern)
        join = _PlanJoin(
            ledger, parse, writer=writer, max_web_bytes=settings.source.max_web_bytes, emit=emit
        )
        pending: list[PlanItem] = []

        def skipped(rel: str, why: str) -> None:
            extra["skipped"] = extra.get("skipped", 0) + 1
            writer.add(skipped_entry(rel, why))
            emit(PlanEvent("skipped", rel, None, why))

        for local in scan(settings.source, known=join.known, on_skip=skipped):
            rel = local.rel_path
            record = join.record(rel)
            identifier = parse.parse(rel)
            decision, reason = decide(local, identifier, record)
            if decision is Decision.UNIDENTIFIED:
                reason = why_unidentified
            item = PlanItem(local, identifier, record, decision, reason)
            counts.discovered += 1
            _count(counts, item)
            emit(PlanEvent("file", rel, decision, reason or local.detail, 1, local.problems))
            if matcher is not None and item.needs_work:
                pending.append(item)
                if len(pending) >= MATCH_BATCH:
                    _flush(pending, matcher, counts, writer)
            else:
                writer.add(_entry(item, None))
        if pending:
            _flush(pending, matcher, counts, writer)  # type: ignore[arg-type]
        join.progress()
        counts.discovered += join.unchanged
        counts.unchanged += join.unchanged
        return ctx.finish()


def skipped_entry(rel_path: str, why: str) -> ReportEntry:
    """The report line of something the scan left out (a folder, a link, hidden files)."""
    return ReportEntry(rel_path, Stage.DISCOVERED, Status.SKIPPED, action="skipped", error=why)


def _count(counts: Counts, item: PlanItem) -> None:
    extra = counts.extra
    if item.decision is Decision.UNCHANGED:
        counts.unchanged += 1
    else:
        extra[item.decision.value] += 1
    if item.decision in (Decision.BAD, Decision.UNIDENTIFIED):
        counts.failed += 1
    elif item.local.problems:
        extra["flagged"] += 1  # WRONG_EXTENSION / TOO_LARGE: goes ahead, noted


def _flush(pending: list[PlanItem], matcher: Matcher, counts: Counts, writer: ReportWriter) -> None:
    catalogs = sorted({i.identifier.catalog for i in pending if i.identifier})
    matches = matcher(catalogs)
    for item in pending:
        assert item.identifier is not None  # needs_work implies identified
        match = matches.get(item.identifier.catalog)
        if match is None or match.status is MatchStatus.UNMATCHED:
            counts.unmatched += 1
        elif match.status is MatchStatus.AMBIGUOUS:
            counts.ambiguous += 1
        elif match.status is MatchStatus.NOT_CHECKED:  # CSV without read access
            counts.extra["not_checked"] = counts.extra.get("not_checked", 0) + 1
        else:
            counts.extra["matched"] += 1
        writer.add(_entry(item, match))
    pending.clear()


def _entry(item: PlanItem, match: Match | None) -> ReportEntry:
    rec = item.record
    if item.decision in (Decision.BAD, Decision.UNIDENTIFIED):
        status = Status.SKIPPED
    elif item.decision is Decision.UNCHANGED:
        status = Status.DONE
    else:
        status = Status.PENDING
    # A file that cannot go ahead is reported at the stage sync reports it: a bad file was
    # only discovered, one without a catalog number failed to be identified.
    if item.decision is Decision.BAD:
        stage: Stage | None = Stage.DISCOVERED
    elif item.decision is Decision.UNIDENTIFIED:
        stage = Stage.IDENTIFIED
    else:
        stage = rec.stage if rec is not None and item.decision is not Decision.CHANGED else None
    if stage is None:
        stage = Stage.IDENTIFIED if item.identifier else Stage.DISCOVERED
    occid = match.occid if match is not None else (rec.occid if rec else None)
    problems, detail = item.local.problems, item.local.detail
    if item.decision is Decision.UNIDENTIFIED:
        problems = (*problems, Problem.NO_CATALOG_NUMBER)
        detail = f"{detail}; {item.reason}" if detail else item.reason
    return ReportEntry(
        rel_path=item.local.rel_path,
        stage=stage,
        status=status,
        action=item.decision.value,
        catalog=item.identifier.catalog if item.identifier else None,
        suffix=item.identifier.suffix if item.identifier else None,
        irods_path=rec.irods_path if rec else None,
        urls=rec.urls if rec else None,
        occid=occid,
        match=match.status.value if match is not None else None,
        problems=problems,
        detail=detail,
        error=item.reason if status is Status.SKIPPED else (rec.error if rec else None),
    )
