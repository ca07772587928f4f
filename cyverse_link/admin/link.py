"""``link IRODS_COLLECTION``: link images already in CyVerse to specimens (SPEC §2).

One paged listing of the collection (``DataStore.list``), then everything from memory:
originals are identified from their names, derivatives (``_derivatives/…``) attach to their
original, URLs come from the configured provider and the links go through the same
``mapping.Mapper`` (batched match + idempotent writer on ``sourceIdentifier``) and ledger as
``sync``. Ledger rows are keyed ``irods:<path>`` so they never collide with drop-folder files.

Per object only two things can cost a round trip: an object without a catalog checksum (the
server computes one, ``DataStore.checksum``) and, with the BisQue provider, its registration.
``--publish`` makes the whole tree public with one recursive ACL (plus ``inherit``), not one
call per object. ``dry_run`` writes nothing anywhere (not even the ledger or a checksum): it
lists, identifies and matches, and reports what would be linked, unmatched or ambiguous.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from cyverse_link.admin.collection_index import CollectionIndex
from cyverse_link.config.settings import Settings
from cyverse_link.core.errors import ConfigError, CyverseLinkError
from cyverse_link.core.events import Event, EventHandler, EventKind, ignore
from cyverse_link.core.models import (
    Match,
    MatchStatus,
    MediaUrls,
    RemoteObject,
    Stage,
    Status,
)
from cyverse_link.datastore.base import DataStore, avu_attribute
from cyverse_link.dropfolder.sniff import HEAD_BYTES, remote_problem
from cyverse_link.ledger.journal import Journal
from cyverse_link.ledger.store import FileRecord
from cyverse_link.portal.base import Portal
from cyverse_link.portal.csvfile import CsvPortal
from cyverse_link.publish.base import UrlProvider
from cyverse_link.publish.davanon import DavAnonProvider
from cyverse_link.run.context import Adapters, LedgerUse, RunContext, open_run
from cyverse_link.run.report import ReportEntry, ReportWriter, RunReport
from cyverse_link.sync.mapping import Mapped, Mapper, source_identifier
from cyverse_link.sync.transfer import Job

__all__ = ["LEDGER_PREFIX", "LinkStore", "ledger_key", "run_link"]

LEDGER_PREFIX = "irods:"


class LinkStore(DataStore, Protocol):
    """A data store that can also make things public (``IrodsStore``, ``MemoryStore``)."""

    def make_tree_public(self, collection: str) -> None: ...

    def collection_exists(self, path: str) -> bool: ...

    def is_public(self, remote: str) -> bool: ...


def ledger_key(irods_path: str) -> str:
    """The ledger row of an iRODS object linked in place (drop-folder rows are relative)."""
    return LEDGER_PREFIX + irods_path


def check_collection(settings: Settings, collection: str) -> str:
    """The normalised absolute path; ``ConfigError`` (exit 2) for a relative or foreign one."""
    zone = settings.irods.zone
    path = posixpath.normpath(collection.strip()) if collection.strip() else ""
    if not path.startswith(f"/{zone}/"):
        raise ConfigError(
            f"IRODS_COLLECTION must be an absolute path in zone {zone!r}, like "
            f"/{zone}/home/shared/<folder>/…; got {collection!r}"
        )
    return path


def run_link(
    settings: Settings,
    collection: str,
    *,
    publish: bool = False,
    dry_run: bool = False,
    on_event: EventHandler | None = None,
    store: LinkStore | None = None,
    portal: Portal | None = None,
    provider: UrlProvider | None = None,
) -> RunReport:
    """Link every image under ``collection`` to its specimen; returns the run's report.

    Adapters not given are built from ``settings`` (and closed again). Raises
    ``ConfigError`` (bad collection), ``ServiceUnavailable`` (iRODS or the portal away),
    ``LedgerError``; a problem with one object is recorded, counted and reported instead.
    """
    path = check_collection(settings, collection)
    given = Adapters(store=store, portal=portal, provider=provider)
    with open_run(
        settings,
        given=given,
        build=("store", "portal", "provider"),
        ledger=LedgerUse.EXISTING if dry_run else LedgerUse.CREATE,
        lock=not dry_run,  # one run per config, whatever the command
    ) as ctx:
        run = _LinkRun(ctx, on_event=on_event or ignore, dry_run=dry_run)
        return run.execute(path, publish=publish)


class _LinkRun:
    def __init__(self, ctx: RunContext, *, on_event: EventHandler, dry_run: bool) -> None:
        s = ctx.settings
        self.ctx = ctx
        self.store: LinkStore = ctx.store
        self.portal = ctx.portal
        self.provider = ctx.provider
        self.ledger = ctx.ledger
        self.emit = on_event
        self.dry_run = dry_run
        self.zone = s.irods.zone
        self.include = s.source.include
        self.batch_size = s.symbiota.batch_size
        self.create_skeletal = s.symbiota.create_skeletal
        self.parse = ctx.parser.parse
        self.counts = ctx.counts
        for name in ("derivatives", "ignored", "unidentified", "checksummed", "superseded", "bad"):
            self.counts.extra[name] = 0
        if dry_run:
            self.counts.extra["would_link"] = 0
        self.writer: ReportWriter | None = None
        self.ours: dict[str, str] = {}  # object → source MD5, for what sync uploaded
        self.pending: list[tuple[Job, ReportEntry]] = []  # dry run: waiting for a match batch
        # Buffered, committed per batch (see Journal): a dry run writes nothing.
        self.journal: Journal | None = None
        self.mapper: Mapper | None = None
        if not dry_run:
            assert self.ledger is not None
            self.journal = Journal(self.ledger, on_event=on_event, buffered=True)
            self.mapper = Mapper(
                self.portal,
                self.journal,
                batch_size=self.batch_size,
                create_skeletal=self.create_skeletal,
                on_event=on_event,
            )

    # -- the run ------------------------------------------------------------------------------

    def execute(self, collection: str, *, publish: bool) -> RunReport:
        if not self.store.collection_exists(collection):  # an empty listing would say "0 images"
            zone = self.zone
            raise ConfigError(
                f"IRODS_COLLECTION {collection} does not exist in zone {zone!r} (or you may not "
                f"see it); check the path, e.g. with `ils {posixpath.dirname(collection)}`"
            )
        with self.ctx.recording("link", dry_run=self.dry_run) as writer:
            self.writer = writer
            self._run(collection, publish=publish)
            # The catalog numbers recorded, checked against the rules (for ``plan``).
            return self.ctx.finish(confirm_catalogs=True)

    def _run(self, collection: str, *, publish: bool) -> None:
        version = self.store.server_version()
        self.emit(Event(EventKind.INFO, message=f"iRODS server {version}"))
        index = CollectionIndex(self.include).add(self.store.list(collection))
        self.counts.extra["derivatives"] = index.derivative_count
        self.counts.extra["ignored"] = len(index.ignored)
        self.emit(Event(EventKind.INFO, message=(
            f"{collection}: {len(index.originals)} images, {index.derivative_count} "
            f"derivatives, {len(index.ignored)} other objects"
        )))  # fmt: skip
        self._publish(collection, publish, bool(index.originals))
        self._read_ours(collection)
        batch = self.batch_size
        for i in range(0, len(index.originals), batch):
            chunk = index.originals[i : i + batch]
            known = self._records([ledger_key(o.path) for o in chunk])
            for obj in chunk:
                self._one(obj, index, known.get(ledger_key(obj.path)), publish)
            if self.dry_run:
                self._match_pending()
            self._commit()
        if self.mapper is not None:
            self._map(None)
            if isinstance(self.portal, CsvPortal):
                for line in self.portal.output_lines():
                    self.emit(Event(EventKind.INFO, message=line))
        self._match_pending()
        self._commit()
        self.emit(Event(EventKind.FINISHED, counts=copy.deepcopy(self.counts)))

    def _map(self, job: Job | None) -> None:
        """``job`` to the portal step (None: what is queued); report what came of it."""
        assert self.mapper is not None
        self.mapper.feed(job, self._mapped)

    def _records(self, keys: list[str]) -> dict[str, FileRecord]:
        return self.ledger.get_many(keys) if self.ledger is not None else {}

    def _publish(self, collection: str, publish: bool, any_images: bool) -> None:
        if not any_images:
            return
        if publish and not self.dry_run:
            self.store.make_tree_public(collection)
            self.emit(Event(EventKind.INFO, message=f"{collection}: anonymous read, inherited"))
        elif not publish and not self.store.is_public(collection):
            self.emit(Event(EventKind.INFO, message=(
                f"{collection} is not public: its dav-anon URLs will not load until anonymous "
                "may read it; run `cyverse-link link --publish` (or set the ACL yourself)"
            )))  # fmt: skip

    def _one(
        self, obj: RemoteObject, index: CollectionIndex, rec: FileRecord | None, publish: bool
    ) -> None:
        c = self.counts
        key = ledger_key(obj.path)
        c.discovered += 1
        self.emit(Event(EventKind.DISCOVERED, key))
        newer = index.superseded_by(obj.path)
        if newer is not None:  # sync moved this file's row to newer content: never back
            c.extra["superseded"] += 1
            why = (f"superseded: sync replaced this content by {newer} and moved its Symbiota "
                   "row there; the older object is kept but not linked")  # fmt: skip
            self._add(ReportEntry(key, Stage.IDENTIFIED, Status.SKIPPED, action="superseded",
                                  irods_path=obj.path, error=why))  # fmt: skip
            return
        ident = self.parse(posixpath.basename(obj.path))
        if ident is None:
            c.extra["unidentified"] += 1
            why = (f"no catalog number in the name (identifiers.pattern "
                   f"{self.ctx.parser.pattern!r} does not match)")  # fmt: skip
            self._add(ReportEntry(key, Stage.IDENTIFIED, Status.SKIPPED, action="unidentified",
                                  irods_path=obj.path, error=why))  # fmt: skip
            return
        if (
            rec is not None
            and rec.complete
            and rec.size == obj.size
            and (rec.md5 == obj.checksum or (obj.checksum is None and rec.md5 is not None))
        ):
            c.unchanged += 1
            self.emit(Event(EventKind.UNCHANGED, key))
            self._add(ReportEntry(key, Stage.MAPPED, Status.DONE, action="unchanged",
                                  catalog=rec.catalog, suffix=rec.suffix, irods_path=obj.path,
                                  urls=rec.urls, occid=rec.occid))  # fmt: skip
            return
        md5 = obj.checksum
        try:
            bad = self._content_problem(obj)
            if bad is not None:
                c.failed += 1
                c.extra["bad"] += 1
                self.emit(Event(EventKind.FAILED, key, Stage.IDENTIFIED, message=bad))
                self._add(ReportEntry(key, Stage.IDENTIFIED, Status.SKIPPED, action="bad",
                                      catalog=ident.catalog, irods_path=obj.path, detail=bad,
                                      error=bad))  # fmt: skip
                return
            if md5 is None and not self.dry_run:
                md5 = self.store.checksum(obj.path)  # the server computes and registers it
                c.extra["checksummed"] += 1
            derivatives = index.derivatives_for(obj.path, md5)
            md5s = {p: o.checksum for p in derivatives.values()
                    if (o := index.get(p)) is not None and o.checksum}  # fmt: skip
            if md5:
                md5s[obj.path] = md5
            urls = self._urls(obj.path, derivatives, md5s)
        except CyverseLinkError as exc:
            self._failed(key, obj.path, ident.catalog, Stage.REGISTERED, str(exc))
            return
        job = Job(key, Path(obj.path), obj.size, 0, md5 or "", ident.catalog, ident.suffix,
                  obj.path, resume_at=Stage.REGISTERED, derivatives=derivatives,
                  urls=urls)  # fmt: skip
        if self.dry_run:
            entry = ReportEntry(key, Stage.IDENTIFIED, Status.PENDING, action="link",
                                catalog=ident.catalog, suffix=ident.suffix, irods_path=obj.path,
                                urls=urls)  # fmt: skip
            self.pending.append((job, entry))
            return
        assert self.journal is not None and urls is not None
        self.journal.advance(key, Stage.REGISTERED, Status.DONE, size=obj.size, md5=md5,
                             catalog=ident.catalog, suffix=ident.suffix, irods_path=obj.path,
                             urls=urls, occid=None)  # fmt: skip
        c.registered += 1
        c.published += int(publish)
        self._map(job)

    def _read_ours(self, collection: str) -> None:
        """What ``sync`` uploaded (AVU ``cyverse_link.source_md5`` = the object's MD5): its
        content was sniffed before the upload, so it is not read again (one paged GenQuery
        instead of three requests per object)."""
        list_avu = getattr(self.store, "list_avu", None)
        if list_avu is not None:
            self.ours = dict(list_avu(collection, avu_attribute("source_md5")))

    def _content_problem(self, obj: RemoteObject) -> str | None:
        """Why ``obj`` must not become a media row (its first bytes read and sniffed like a
        drop-folder file's), or None. ``sync`` refuses the same content before uploading."""
        if obj.size and obj.checksum and self.ours.get(obj.path) == obj.checksum:
            return None
        head = self.store.read_head(obj.path, HEAD_BYTES) if obj.size else b""
        return remote_problem(obj.size, head)

    def _urls(
        self, path: str, derivatives: Mapping[Any, str], md5s: Mapping[str, str]
    ) -> MediaUrls | None:
        # A dry run never registers anything: only dav-anon URLs (pure strings) are shown.
        if self.dry_run and not isinstance(self.provider, DavAnonProvider):
            return None
        return self.provider.urls_for(path, derivatives, md5s=md5s)

    # -- results ------------------------------------------------------------------------------

    def _commit(self) -> None:
        if self.journal is not None:
            self.journal.commit()

    def _failed(self, key: str, path: str, catalog: str | None, stage: Stage, why: str) -> None:
        self.counts.failed += 1
        if self.journal is not None:
            self.journal.fail(key, stage, why, irods_path=path, catalog=catalog)
        self.emit(Event(EventKind.FAILED, key, stage, message=why))
        self._add(ReportEntry(key, stage, Status.FAILED, action="link", catalog=catalog,
                              irods_path=path, error=why))  # fmt: skip

    def _mapped(self, m: Mapped) -> None:
        c, job = self.counts, m.job
        if m.linked and m.status is MatchStatus.NOT_CHECKED:  # CSV without read access
            c.extra["not_checked"] = c.extra.get("not_checked", 0) + 1
            status, stage = Status.DONE, Stage.MAPPED
        elif m.linked:
            c.mapped += 1
            status, stage = Status.DONE, Stage.MAPPED
        elif m.status is MatchStatus.AMBIGUOUS:
            c.ambiguous += 1
            status, stage = Status.SKIPPED, Stage.MAPPED
        elif m.status is MatchStatus.UNMATCHED:
            c.unmatched += 1
            status, stage = Status.SKIPPED, Stage.MAPPED
        else:
            c.failed += 1
            status, stage = Status.FAILED, Stage.MAPPED
        if status is Status.SKIPPED and m.status and isinstance(self.portal, CsvPortal):
            sid = source_identifier(job.remote)  # csv mode: the unmatched CSV lists it
            self.portal.record_unmapped(
                job.rel_path, job.catalog, m.status, m.occids, sid, m.error or ""
            )
        self._add(ReportEntry(job.rel_path, stage, status, action="link", catalog=job.catalog,
                              suffix=job.suffix, irods_path=job.remote, urls=job.urls,
                              occid=m.occid or None,
                              match=m.status.value if m.status else None,
                              error=m.error))  # fmt: skip

    def _match_pending(self) -> None:
        """Dry run: one batched match for the waiting entries, then report them."""
        pending, self.pending = self.pending, []
        if not pending:
            return
        matches = self.portal.match(sorted({job.catalog for job, _ in pending}))
        for job, entry in pending:
            match = matches.get(job.catalog) or Match(job.catalog, MatchStatus.UNMATCHED)
            self._count_match(match)
            self._add(_with_match(entry, match))

    def _count_match(self, match: Match) -> None:
        if match.status is MatchStatus.MATCHED:
            self.counts.extra["would_link"] += 1
        elif match.status is MatchStatus.NOT_CHECKED:  # CSV without read access
            self.counts.extra["not_checked"] = self.counts.extra.get("not_checked", 0) + 1
        elif match.status is MatchStatus.AMBIGUOUS:
            self.counts.ambiguous += 1
        elif self.create_skeletal:
            self.counts.extra["would_link"] += 1
        else:
            self.counts.unmatched += 1

    def _add(self, entry: ReportEntry) -> None:
        assert self.writer is not None
        self.writer.add(entry)


def _with_match(entry: ReportEntry, match: Match) -> ReportEntry:
    from dataclasses import replace

    error = None
    if match.status is MatchStatus.AMBIGUOUS:
        error = f"ambiguous: matches occurrences {', '.join(map(str, match.occids))}"
    elif match.status is MatchStatus.UNMATCHED:
        error = f"unmatched: no occurrence with catalog number {entry.catalog}"
    return replace(entry, occid=match.occid, match=match.status.value, error=error)
