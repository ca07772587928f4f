"""``relink``: rewrite media rows that point at a retired BisQue host to dav-anon URLs.

For every media row of the collection whose ``url``/``thumbnailUrl``/``originalUrl``/
``archiveUrl`` names a host in ``relink.bisque_hosts``, find the iRODS object behind it:

1. a BisQue server that still answers (``bisque.url``, optional): the resource's ``value`` is
   ``irods://<host>/<zone>/…``; the first failure to connect switches this off for the run;
2. the ``ipc-bisque-id`` AVU CyVerse put on every object it registered in BisQue, read for the
   whole of each ``relink.search_collections`` entry in paged GenQueries;
3. the file name from Symbiota's harvester ``sourceIdentifier`` (``<uniq>; filename: <name>``)
   looked up in one paged listing of each ``relink.search_collections`` entry, narrowed by the
   row's catalog number when several objects share the name;
4. else the row's catalog number, when exactly one image in those listings carries it.

A resolved row gets dav-anon URLs (web derivative → ``url``, thumbnail derivative →
``thumbnailUrl``, else the original), ``sourceIdentifier = irods:<path>`` and the catalog MD5 in
``hashFunction``/``hashValue``/``mediaMD5``; its ``mediaID``/``imgid``, occurrence and every
other column stay. Rows that cannot be resolved (or that would duplicate a row already linked
to the same object) are reported and left untouched. Nothing is ever inserted or deleted.
``dry_run`` reports before/after for each row and writes nothing anywhere.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Sequence
from typing import Any

from cyverse_link.admin.collection_index import CollectionIndex
from cyverse_link.admin.relink_rules import Clues, Resolution, clues_of, relink_urls
from cyverse_link.config.settings import Settings
from cyverse_link.core.errors import ConfigError, CyverseLinkError, NotFound, ServiceUnavailable
from cyverse_link.core.events import Event, EventHandler, EventKind, ignore
from cyverse_link.core.identifiers import normalize_catalog
from cyverse_link.core.models import MediaUrls, PortalMode, RemoteObject, Stage, Status
from cyverse_link.core.urls import bisque_irods_path
from cyverse_link.datastore.base import DataStore
from cyverse_link.dropfolder.sniff import HEAD_BYTES, remote_problem
from cyverse_link.portal.rewrite import MediaRow
from cyverse_link.portal.symbiota import SymbiotaDb
from cyverse_link.publish.bisque import BisqueClient
from cyverse_link.publish.davanon import DavAnonProvider
from cyverse_link.run.context import Adapters, LedgerUse, RunContext, open_run
from cyverse_link.run.report import ReportEntry, ReportWriter, RunReport
from cyverse_link.sync.mapping import source_identifier

__all__ = ["Clues", "Resolution", "clues_of", "ledger_key", "relink_urls", "run_relink"]


BISQUE_ID_AVU = "ipc-bisque-id"  # written by CyVerse until January 2025 (bisque-api.md §8)


def ledger_key(table: str, media_id: int) -> str:
    return f"relink:{table}:{media_id}"


def run_relink(
    settings: Settings,
    *,
    dry_run: bool = False,
    search_collections: Sequence[str] = (),
    on_event: EventHandler | None = None,
    store: DataStore | None = None,
    portal: SymbiotaDb | None = None,
    bisque: BisqueClient | None = None,
) -> RunReport:
    """Rewrite the collection's BisQue rows; returns the run report. ``search_collections``
    adds to ``relink.search_collections``. Adapters not given are built from ``settings``
    (BisQue only when ``bisque.url`` is set). Raises ConfigError, ServiceUnavailable,
    LedgerError; one row's problem is reported, never fatal."""
    if settings.symbiota.mode is not PortalMode.DB:
        raise ConfigError(
            "symbiota.mode: relink rewrites rows in the portal's database; set mode: db "
            "and symbiota.db_url"
        )
    zone = settings.irods.zone
    colls = [posixpath.normpath(c) for c in (*settings.relink.search_collections,
                                             *search_collections)]  # fmt: skip
    for coll in colls:
        if not coll.startswith(f"/{zone}/"):
            raise ConfigError(f"relink.search_collections: {coll!r} is not a path in /{zone}/")
    given = Adapters(store=store, portal=portal, bisque=bisque)
    with open_run(
        settings,
        given=given,
        build=("store", "portal", "bisque"),  # BisQue only when bisque.url is set
        ledger=LedgerUse.NONE if dry_run else LedgerUse.CREATE,
        lock=not dry_run,  # one run per config, whatever the command
        mapping=False,  # a row's object is found by its iRODS name and the rules alone
    ) as ctx:
        return _Relink(ctx, on_event=on_event or ignore, dry_run=dry_run).execute(colls)


class _Relink:
    def __init__(self, ctx: RunContext, *, on_event: EventHandler, dry_run: bool) -> None:
        s = ctx.settings
        portal = ctx.portal
        assert isinstance(portal, SymbiotaDb)  # mode db, checked by run_relink
        self.ctx = ctx
        self.store: DataStore = ctx.store
        self.portal = portal
        self.bisque = ctx.adapters.bisque
        self.ledger = ctx.ledger
        self.emit = on_event
        self.dry_run = dry_run
        self.zone = s.irods.zone
        self.strip_leading_zeros = s.identifiers.strip_leading_zeros
        self.parse = ctx.parser.parse  # the rules alone, compiled once (not per object)
        self.provider = DavAnonProvider(s.urls.davanon_base, s.irods.zone)
        self.index = CollectionIndex(s.source.include)
        self.by_catalog: dict[str, list[RemoteObject]] = {}
        self.by_uniq: dict[str, str] = {}  # BisQue resource_uniq → path, from ipc-bisque-id AVUs
        self.hosts = tuple(h.lower() for h in s.relink.bisque_hosts)
        self.counts = ctx.counts
        for name in ("by_bisque", "by_avu", "by_name", "by_catalog", "duplicates", "checksummed"):
            self.counts.extra[name] = 0
        if dry_run:
            self.counts.extra["would_rewrite"] = 0
        self.claimed: dict[str, int] = {}  # sourceIdentifier → media id, within this run
        self.writer: ReportWriter | None = None
        self.collections: list[str] = []

    def execute(self, collections: list[str]) -> RunReport:
        self.collections = collections
        table, _ = self.portal.media_table()
        self.table = table
        with self.ctx.recording("relink", dry_run=self.dry_run) as writer:
            self.writer = writer
            self._run(collections)
            return self.ctx.finish()

    def _run(self, collections: list[str]) -> None:
        for coll in collections:
            self.index.add(self.store.list(coll))  # one paged listing per collection
            self.emit(Event(EventKind.INFO, message=f"listed {coll}"))
            list_avu = getattr(self.store, "list_avu", None)
            if list_avu is not None:  # CyVerse's BisQue rule tagged what it registered
                for path, uniq in list_avu(coll, BISQUE_ID_AVU):
                    self.by_uniq.setdefault(uniq, path)
            if hasattr(self.store, "is_public") and not self.store.is_public(coll):
                self.emit(Event(EventKind.INFO, message=(
                    f"{coll} is not public: dav-anon URLs of its files will not load until "
                    f"anonymous may read it (cyverse-link link --publish {coll})"
                )))  # fmt: skip
        self._index_catalogs()
        for rows in self.portal.media_rows_pointing_at(self.hosts):
            self._batch(rows)
        self.emit(Event(EventKind.FINISHED, counts=copy.deepcopy(self.counts)))

    def _index_catalogs(self) -> None:
        for obj in self.index.originals:
            ident = self.parse(posixpath.basename(obj.path))
            if ident is not None:
                self.by_catalog.setdefault(self._norm(ident.catalog), []).append(obj)

    def _norm(self, catalog: str) -> str:
        value = catalog.strip().casefold()
        return normalize_catalog(value) if self.strip_leading_zeros else value

    # -- resolving ----------------------------------------------------------------------------

    def _from_bisque(self, uniq: str | None) -> str | None:
        if self.bisque is None or not uniq:
            return None
        try:
            resource = self.bisque.lookup(uniq)
        except ServiceUnavailable as exc:  # includes a refused login: stop asking this run
            self.emit(Event(EventKind.INFO, message=(
                f"BisQue does not answer ({exc}); resolving from iRODS listings only"
            )))  # fmt: skip
            self.bisque = None
            return None
        except CyverseLinkError:
            return None
        if resource is None or not (resource.value or "").startswith("irods://"):
            return None
        path = bisque_irods_path(str(resource.value))
        return path if path.startswith(f"/{self.zone}/") else None

    def resolve(self, clues: Clues) -> Resolution:
        path = self._from_bisque(clues.uniq)
        if path is not None:
            return Resolution(path, "bisque")
        if clues.uniq and clues.uniq in self.by_uniq:
            return Resolution(self.by_uniq[clues.uniq], "avu")
        named: list[RemoteObject] = self.index.by_name(clues.name) if clues.name else []
        cat = self._norm(clues.catalog) if clues.catalog else None
        if len(named) == 1:
            other = self._other_catalog(named[0].path, cat)
            if other is None:
                return Resolution(named[0].path, "name")
            return Resolution(None, error=(
                f"not found: the only object named {clues.name!r} is {named[0].path}, whose "
                f"path names catalog number {other!r}, not this row's {clues.catalog!r}"
            ))  # fmt: skip
        with_cat = self.by_catalog.get(cat, []) if cat else []
        if len(named) > 1:
            both = [o for o in named if o in with_cat]
            if len(both) == 1:
                return Resolution(both[0].path, "name")
            paths = ", ".join(o.path for o in named[:5])
            return Resolution(None, error=f"ambiguous: {len(named)} objects named "
                              f"{clues.name!r} ({paths})", ambiguous=True)  # fmt: skip
        if len(with_cat) == 1:
            return Resolution(with_cat[0].path, "catalog")
        if len(with_cat) > 1:
            paths = ", ".join(o.path for o in with_cat[:5])
            return Resolution(None, error=f"ambiguous: {len(with_cat)} images of catalog "
                              f"number {clues.catalog!r} ({paths})", ambiguous=True)  # fmt: skip
        looked = f"named {clues.name!r}" if clues.name else ""
        if cat:
            looked += (" or " if looked else "") + f"with catalog number {clues.catalog!r}"
        where = ", ".join(self.collections) or "relink.search_collections (none configured)"
        return Resolution(None, error=f"not found: no object {looked or '(no clues)'} in "
                          f"{where}; add the collection holding it and run again")  # fmt: skip

    def _other_catalog(self, path: str, catalog: str | None) -> str | None:
        """A catalog number that ``path`` names (its file or a folder, by identifiers.pattern)
        when that is not ``catalog`` (normalised) and ``catalog`` is named nowhere in it; else
        None. A file name like ``IMG_0001.jpg`` is unique only by chance: a copy under another
        specimen's folder is that specimen's image."""
        if catalog is None:
            return None
        found: list[str] = []
        for part in path.strip("/").split("/")[3:]:  # below /zone/home/<user or shared>
            ident = self.parse(part)
            if ident is not None:
                if self._norm(ident.catalog) == catalog:
                    return None
                found.append(ident.catalog)
        return found[-1] if found else None

    # -- one batch of rows --------------------------------------------------------------------

    def _batch(self, rows: list[MediaRow]) -> None:
        plans: list[tuple[MediaRow, str, str | None, MediaUrls, dict[str, Any], str]] = []
        for row in rows:
            self.counts.discovered += 1
            key = ledger_key(self.table, row.media_id)
            self.emit(Event(EventKind.DISCOVERED, key))
            res = self.resolve(clues_of(row, self.hosts))
            if res.path is None:
                self._unresolved(key, row, res)
                continue
            try:
                bad = self._content_problem(res.path)
                if bad is not None:  # never point a row at an empty or non-image object
                    self.counts.extra["bad"] = self.counts.extra.get("bad", 0) + 1
                    self._failed(key, row, res.path, f"{res.path}: {bad}")
                    continue
                md5 = self._md5(res.path)
            except CyverseLinkError as exc:
                self._failed(key, row, res.path, f"{res.path}: {exc}")
                continue
            derivatives = self.index.derivatives_for(res.path, md5)
            md5s = {p: o.checksum for p in derivatives.values()
                    if (o := self.index.get(p)) is not None and o.checksum}  # fmt: skip
            if md5:
                md5s[res.path] = md5
            urls = relink_urls(self.provider, res.path, derivatives,
                               had_archive=row.urls.archive_url is not None,
                               md5s=md5s)  # fmt: skip
            values: dict[str, Any] = {
                "url": urls.url, "thumbnailUrl": urls.thumbnail_url,
                "originalUrl": urls.original_url, "archiveUrl": urls.archive_url,
                "format": urls.format, "mediaType": "image",
                "sourceIdentifier": source_identifier(res.path),
            }  # fmt: skip
            if urls.original_md5:  # the file at originalUrl (models.MediaUrls.original_md5)
                values.update(
                    hashFunction="MD5", hashValue=urls.original_md5, mediaMD5=urls.original_md5
                )
            plans.append((row, res.path, md5, urls, values, res.how))
        if not plans:
            return
        taken = self.portal.media_ids_by_source_identifier(
            [str(p[4]["sourceIdentifier"]) for p in plans]
        )
        changes: list[tuple[int, dict[str, Any]]] = []
        kept = []
        for plan in plans:
            row, path, _, _, values, _ = plan
            sid = str(values["sourceIdentifier"])
            other = taken.get(sid, self.claimed.get(sid))
            if other is not None and other != row.media_id:
                self.counts.extra["duplicates"] += 1
                why = (
                    f"duplicate: {path} is already linked by {self.table} row {other}; left "
                    "untouched (remove this BisQue row in the portal if it is redundant)"
                )
                self._report(ledger_key(self.table, row.media_id), row, Stage.MAPPED,
                             Status.SKIPPED, path=path, error=why)  # fmt: skip
                continue
            self.claimed[sid] = row.media_id
            changes.append((row.media_id, values))
            kept.append(plan)
        errors = self.portal.rewrite_rows(changes, dry_run=self.dry_run)
        done: list[tuple[str, Stage, Status, dict[str, Any]]] = []
        for row, path, md5, urls, _, how in kept:
            key = ledger_key(self.table, row.media_id)
            if row.media_id in errors:
                self._failed(key, row, path, errors[row.media_id])
                continue
            self.counts.extra[f"by_{how}"] += 1
            if self.dry_run:
                self.counts.extra["would_rewrite"] += 1
            else:
                self.counts.mapped += 1
                done.append((key, Stage.MAPPED, Status.DONE, {
                    "md5": md5, "catalog": row.catalog, "irods_path": path, "urls": urls,
                    "occid": row.occid,
                }))  # fmt: skip
                self.emit(Event(EventKind.STAGE_DONE, key, Stage.MAPPED))
            status = Status.PENDING if self.dry_run else Status.DONE
            self._report(key, row, Stage.MAPPED, status, path=path, urls=urls,
                         action=f"relink ({how})")  # fmt: skip
        if done and self.ledger is not None:
            self.ledger.advance_many(done)

    def _content_problem(self, path: str) -> str | None:
        obj = self.index.get(path)
        if obj is not None and obj.size == 0:
            return remote_problem(0, b"")
        try:
            head = self.store.read_head(path, HEAD_BYTES)
        except NotFound:
            raise NotFound("the object is not in the data store any more") from None
        return remote_problem(obj.size if obj is not None else None, head)

    def _md5(self, path: str) -> str | None:
        obj = self.index.get(path)
        if obj is not None and obj.checksum:
            return obj.checksum
        if self.dry_run:  # computing a checksum writes the catalog: done by the real run
            return None
        try:
            md5 = self.store.checksum(path)  # computed by the server when missing
        except NotFound:
            raise NotFound("the object is not in the data store any more") from None
        self.counts.extra["checksummed"] += 1
        return md5

    # -- outcomes -----------------------------------------------------------------------------

    def _unresolved(self, key: str, row: MediaRow, res: Resolution) -> None:
        if res.ambiguous:
            self.counts.ambiguous += 1
        else:
            self.counts.unmatched += 1
        why = res.error or "not resolved"
        if self.ledger is not None:
            self.ledger.advance(key, Stage.IDENTIFIED, Status.SKIPPED, catalog=row.catalog,
                                occid=row.occid, error=why)  # fmt: skip
        self.emit(Event(EventKind.UNMAPPED, key, Stage.IDENTIFIED, message=why))
        self._report(key, row, Stage.IDENTIFIED, Status.SKIPPED, error=why)

    def _failed(self, key: str, row: MediaRow, path: str, why: str) -> None:
        self.counts.failed += 1
        if self.ledger is not None:
            self.ledger.fail(key, Stage.MAPPED, why, irods_path=path, occid=row.occid)
        self.emit(Event(EventKind.FAILED, key, Stage.MAPPED, message=why))
        self._report(key, row, Stage.MAPPED, Status.FAILED, path=path, error=why)

    def _report(
        self,
        key: str,
        row: MediaRow,
        stage: Stage,
        status: Status,
        *,
        path: str | None = None,
        urls: MediaUrls | None = None,
        action: str = "relink",
        error: str | None = None,
    ) -> None:
        assert self.writer is not None
        self.writer.add(ReportEntry(key, stage, status, action=action, catalog=row.catalog,
                                    irods_path=path, urls=urls, occid=row.occid, error=error,
                                    previous_urls=row.urls))  # fmt: skip
