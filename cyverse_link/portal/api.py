"""``SymbiotaApiPortal``: the ``Portal`` that links images through Symbiota's REST API v2
(``symbiota.mode: api``), for portals whose database the collection manager cannot reach.

* matching: ``ApiMatcher`` (read-only, db mode's rules, see ``api_matching.py``);
* writing: one ``POST /media`` per new image, one ``PATCH /media/{mediaID}`` per changed one,
  nothing for an unchanged one. The ledger's ``api_media`` table (``ledger/media.py``) keeps,
  per sourceIdentifier, the row's ``mediaID``/``recordID`` and the fields this tool last wrote;
* a field a curator changed in the portal (its value is no longer what this tool last wrote)
  is kept, and the link says so in the log;
* links without a ledger entry (a new image, or a lost ledger) are first looked for among the
  occurrence's rows (``GET /occurrence/{occid}?includeMedia=1``, or one paged listing of
  ``GET /media`` when that is fewer requests): a row with the same sourceIdentifier, or the
  same ``originalUrl``/``url``, is adopted instead of duplicated;
* never DELETE. A POST that fails without an answer is not blindly repeated: the occurrence's
  rows are read first, and a row that did arrive is adopted.

Rows made through the API have ``mediaType`` NULL (not fillable in 3.4.14): see README.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cyverse_link.core.errors import AuthenticationFailed, PortalError, ServiceUnavailable
from cyverse_link.core.models import Match, MatchStatus, MediaLink
from cyverse_link.ledger.media import MediaRecord, MediaRecords, written_equal
from cyverse_link.portal.api_client import PortalLogin, SymbiotaApi
from cyverse_link.portal.api_matching import UNMATCHED_NOTE, ApiMatcher
from cyverse_link.portal.api_rows import (
    find_ours,
    plan_patch,
    post_body,
    tracked_values,
)
from cyverse_link.portal.base import MatchRules, SchemaInfo, WriteResult

log = logging.getLogger(__name__)

MEDIA_PAGE = 1000  # GET /media has no upper limit on `limit`; 1000 rows keep answers small


@dataclass
class _Job:
    link: MediaLink
    occid: int
    values: dict[str, Any]
    record: MediaRecord | None = None
    moved: bool = False  # the record is the one of the link's earlier iRODS path
    row: dict[str, Any] | None = None  # an existing portal row found without a record

    @property
    def sid(self) -> str:
        return self.link.source_identifier


@dataclass
class _Outcome:
    record: MediaRecord
    kind: str  # inserted | updated | unchanged
    drop: str | None = None  # a record re-keyed from this sourceIdentifier
    kept: list[str] = field(default_factory=list)


class SymbiotaApiPortal:
    """Match and write media rows of one collection through the REST API."""

    # added to every "unmatched" line of the run report (mapping.py)
    unmatched_note = (
        "records with locality protection are invisible to the Symbiota API, and numbers held "
        "only in the otherCatalogNumbers field cannot be searched there"
    )

    def __init__(
        self,
        api: SymbiotaApi,
        rules: MatchRules,
        *,
        state_url: str,
        concurrency: int = 4,
        login: PortalLogin | None = None,
    ) -> None:
        self.api = api
        self.rules = rules
        self.collid = int(rules.collid)
        self.concurrency = max(1, concurrency)
        self.matcher = ApiMatcher(api, rules, concurrency=concurrency)
        self._login = login
        self._state_url = state_url
        self._records: MediaRecords | None = None
        self._owner: str | None = None
        self._owner_known = False
        self._lock = threading.Lock()

    # -- plumbing ----------------------------------------------------------------------------

    def _ensure_token(self) -> None:
        with self._lock:
            if not self.api.has_token and self._login is not None:
                self.api.login(self._login)

    def _ledger(self) -> MediaRecords:
        if self._records is None:
            self._records = MediaRecords(self._state_url)
        return self._records

    def _collection_owner(self) -> str | None:
        """``omcollections.collectionName`` (db mode writes it as ``owner``)."""
        if not self._owner_known:
            url = f"{self.api.api_url}/collection/{self.collid}"
            resp = self.api.request("GET", url)
            if resp.status_code == 200:
                try:
                    body = resp.json()
                except ValueError:
                    body = None
                if isinstance(body, dict) and isinstance(body.get("collectionName"), str):
                    self._owner = body["collectionName"][:250]
            self._owner_known = True
        return self._owner

    # -- Portal ------------------------------------------------------------------------------

    def schema(self) -> SchemaInfo:
        status = self.api.status()
        version = status.get("symbiotaVersion")
        return SchemaInfo(str(version) if version else None, "media")

    def check(self) -> str:
        """Log in (or prove the token) and describe the portal; raises AuthenticationFailed."""
        status = self.api.status()
        self._ensure_token()
        self.api.check_token()
        owner = self._collection_owner() or "unknown collection"
        return (
            f"Symbiota {status.get('symbiotaVersion', '?')} API {status.get('apiVersion', '?')} "
            f"at {self.api.api_url}: token accepted; collid {self.collid} ({owner})"
        )

    def match(self, catalogs: Sequence[str]) -> dict[str, Match]:
        return self.matcher.match(catalogs)

    def write(
        self, links: Sequence[tuple[MediaLink, Match]], *, dry_run: bool = False
    ) -> WriteResult:
        result = WriteResult()
        jobs: list[_Job] = []
        seen: set[str] = set()
        for link, match in links:
            sid = link.source_identifier
            if sid in seen:
                log.warning("%s given twice in one write; the first link is used", sid)
                continue
            seen.add(sid)
            problem = _unwritable(link, match, self.collid)
            if problem:
                result.errors[sid] = problem
                continue
            jobs.append(
                _Job(link, match.occids[0], tracked_values(link, match.occids[0], match.tid))
            )
        if not jobs:
            return result
        root = self.api.api_url
        prevs = [p for j in jobs if (p := j.link.previous_source_identifier) and p != j.sid]
        records = self._ledger().get_media(root, [j.sid for j in jobs] + prevs)
        for j in jobs:
            prev = j.link.previous_source_identifier
            j.record = records.get(j.sid)
            if j.record is None and prev and prev != j.sid and prev in records:
                j.record, j.moved = records[prev], True
        todo: list[_Job] = []
        for j in jobs:
            if j.record and not j.moved and written_equal(j.record.written, j.values):
                result.unchanged += 1  # the second run: nothing is sent
                result.written[j.sid] = j.occid
            else:
                todo.append(j)
        if not todo:
            return result
        existing = self._existing_rows({j.occid for j in todo if j.record is None})
        for j in todo:
            if j.record is None:
                found = find_ours(
                    existing.get(j.occid, []),
                    [s for s in (j.sid, j.link.previous_source_identifier) if s],
                    [j.link.urls.original_url, j.link.urls.url],
                )
                j.row = dict(found) if found is not None else None
        if dry_run:
            for j in todo:
                if j.record is None and j.row is None:
                    result.inserted += 1
                elif j.record is None:
                    result.unchanged += 1
                else:
                    result.updated += 1
                result.written[j.sid] = j.occid
            return result
        self._ensure_token()
        self._run(todo, result)
        return result

    def _run(self, todo: list[_Job], result: WriteResult) -> None:
        """Send the requests (bounded concurrency); record what was written even when a
        failure stops the batch, then raise that failure."""
        owner = self._collection_owner()
        done: list[_Outcome] = []
        stop: BaseException | None = None
        # one occurrence's rows are sent in link order (mediaID order = db mode's insert order,
        # Symbiota's tie-break after sortOccurrence); occurrences run side by side
        groups: dict[int, list[_Job]] = {}
        for j in todo:
            groups.setdefault(j.occid, []).append(j)
        with ThreadPoolExecutor(self.concurrency) as pool:
            futures = [pool.submit(self._apply_all, g, owner) for g in groups.values()]
            for fut in futures:
                for j, out in fut.result():
                    if isinstance(out, (AuthenticationFailed, ServiceUnavailable)):
                        stop = stop or out
                        continue
                    if isinstance(out, PortalError):
                        result.errors[j.sid] = f"{j.link.file_name or j.sid}: {out}"
                        continue
                    done.append(out)
                    setattr(result, out.kind, getattr(result, out.kind) + 1)
                    result.written[j.sid] = j.occid
                    if out.kept:
                        log.info(
                            "%s: kept %s as edited in the portal (media %s)",
                            j.sid,
                            ", ".join(out.kept),
                            out.record.media_id,
                        )
        self._ledger().put_media(
            self.api.api_url, [o.record for o in done], drop=[o.drop for o in done if o.drop]
        )
        if stop is not None:
            raise stop

    def _apply_all(
        self, jobs: list[_Job], owner: str | None
    ) -> list[tuple[_Job, _Outcome | PortalError | ServiceUnavailable]]:
        """One occurrence's jobs in order; after a service failure the rest are not sent."""
        out: list[tuple[_Job, _Outcome | PortalError | ServiceUnavailable]] = []
        for j in jobs:
            try:
                out.append((j, self._apply(j, owner)))
            except ServiceUnavailable as exc:
                out.extend((k, exc) for k in jobs[len(out) :])
                break
            except PortalError as exc:
                out.append((j, exc))
        return out

    def _apply(self, j: _Job, owner: str | None) -> _Outcome:
        if j.record is None and j.row is not None:  # found without a record: adopt it
            _, kept = plan_patch(j.values, None, j.row)
            return _Outcome(self._record(j, j.row, j.values), "unchanged", kept=kept)
        if j.record is None:
            return _Outcome(self._record(j, self._create(j, owner), j.values), "inserted")
        current = self.api.media(j.record.media_id)
        if current is None:  # deleted in the portal since: write it again
            log.info("%s: media %s is gone from the portal; adding it", j.sid, j.record.media_id)
            return _Outcome(self._record(j, self._create(j, owner), j.values), "inserted")
        patch, kept = plan_patch(j.values, j.record.written, current)
        if j.moved and current.get("sourceIdentifier") == j.record.source_identifier:
            patch["sourceIdentifier"] = j.sid
        drop = j.record.source_identifier if j.moved else None
        # after this, every field not kept holds the tool's value; a kept one keeps the value
        # the tool wrote before, so the curator's edit is recognised again next time
        written = {**j.record.written, **{k: v for k, v in j.values.items() if k not in kept}}
        if not patch:
            return _Outcome(self._record(j, current, written), "unchanged", drop, kept)
        row = self.api.update_media(j.record.media_id, patch)
        if row is None:
            return _Outcome(self._record(j, self._create(j, owner), j.values), "inserted", drop)
        return _Outcome(self._record(j, row, written), "updated", drop, kept)

    def _record(self, j: _Job, row: dict[str, Any], written: dict[str, Any]) -> MediaRecord:
        rid = row.get("recordID")
        return MediaRecord(j.sid, int(row["mediaID"]), str(rid) if rid else None, j.occid, written)

    def _create(self, j: _Job, owner: str | None) -> dict[str, Any]:
        """POST the row. After a failure without an answer the row may exist: the
        occurrence's rows are read before trying again, so a retry never duplicates it."""
        body = post_body(j.link, j.values, owner)
        attempts = 1 + self.api.retries
        for attempt in range(attempts):
            try:
                return self.api.create_media(body)
            except AuthenticationFailed:
                raise
            except ServiceUnavailable:
                if attempt == attempts - 1:
                    raise
                rows = self.api.occurrence_media(j.occid) or []
                found = find_ours(rows, [j.sid], [])
                if found is not None:
                    return dict(found)
                self.api.retry.pause(attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _existing_rows(self, occids: set[int]) -> dict[int, list[dict[str, Any]]]:
        """Media rows of ``occids`` already in the portal: per occurrence, or one paged listing
        of all media when that takes fewer requests."""
        if not occids:
            return {}
        count, first = self.api.media_page(limit=MEDIA_PAGE, offset=0)
        out: dict[int, list[dict[str, Any]]] = {}
        if -(-count // MEDIA_PAGE) <= len(occids):
            rows = list(first)
            for offset in range(len(first), count, MEDIA_PAGE):
                rows += self.api.media_page(limit=MEDIA_PAGE, offset=offset)[1]
            for r in rows:
                occid = r.get("occid")
                if occid is not None and int(occid) in occids:
                    out.setdefault(int(occid), []).append(r)
            return out
        ordered = sorted(occids)
        with ThreadPoolExecutor(self.concurrency) as pool:
            for occid, rows_of in zip(
                ordered, pool.map(self.api.occurrence_media, ordered), strict=True
            ):
                out[occid] = rows_of or []
        return out

    def close(self) -> None:
        self.api.close()
        if self._records is not None:
            self._records.close()


def _unwritable(link: MediaLink, match: Match, collid: int) -> str | None:
    what = link.file_name or link.source_identifier
    if match.status is MatchStatus.AMBIGUOUS:
        ids = ", ".join(map(str, match.occids))
        return (
            f"{what}: catalog number {link.catalog!r} matches occurrences {ids}; not mapped "
            "(fix the duplicates in the portal)"
        )
    if match.status is MatchStatus.UNMATCHED or not match.occids:
        return (
            f"{what}: catalog number {link.catalog!r} {UNMATCHED_NOTE} (collection {collid}); "
            "not mapped"
        )
    return None
