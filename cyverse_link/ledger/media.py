"""``MediaRecords``: the ledger's ``api_media`` table (api mode), on the state ledger's database.

One row per (API root, sourceIdentifier): the portal's ``mediaID``/``recordID`` and the
fields this tool last wrote, as JSON. api mode reads it to send nothing for an unchanged link,
to PATCH (never re-POST) a changed one, and to tell a curator's edit from its own earlier value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cyverse_link.ledger.records import _now
from cyverse_link.ledger.schema import api_media
from cyverse_link.ledger.store import Ledger

_CHUNK = 500


@dataclass(frozen=True)
class MediaRecord:
    source_identifier: str
    media_id: int
    record_id: str | None
    occid: int | None
    written: dict[str, Any]  # field → value this tool last wrote


class MediaRecords(Ledger):
    """The ledger, opened (and migrated) for its ``api_media`` table."""

    def get_media(self, portal: str, sids: Sequence[str]) -> dict[str, MediaRecord]:
        out: dict[str, MediaRecord] = {}
        wanted = list(dict.fromkeys(sids))
        with self._errors("reading api media"), self._engine.connect() as conn:
            for i in range(0, len(wanted), _CHUNK):
                q = sa.select(api_media).where(
                    api_media.c.portal == portal,
                    api_media.c.source_identifier.in_(wanted[i : i + _CHUNK]),
                )
                for r in conn.execute(q):
                    sid = r.source_identifier
                    if sid in out or sid not in wanted:  # exact (MariaDB compares case-blind)
                        continue
                    out[sid] = MediaRecord(
                        sid, int(r.media_id), r.record_id, r.occid, json.loads(r.written)
                    )
        return out

    def put_media(
        self, portal: str, records: Iterable[MediaRecord], *, drop: Iterable[str] = ()
    ) -> None:
        """Insert or replace ``records`` and forget the ``drop`` sourceIdentifiers (a row
        re-keyed from an older iRODS path), in one transaction."""
        rows = [
            {
                "portal": portal,
                "source_identifier": r.source_identifier,
                "media_id": r.media_id,
                "record_id": r.record_id,
                "occid": r.occid,
                "written": json.dumps(r.written, sort_keys=True),
                "updated_at": _now(),
            }
            for r in records
        ]
        gone = sorted(set(drop) - {r["source_identifier"] for r in rows})
        keys = [r["source_identifier"] for r in rows] + gone
        if not keys:
            return
        with self._errors("recording api media"), self._engine.begin() as conn:
            for i in range(0, len(keys), _CHUNK):
                conn.execute(
                    api_media.delete().where(
                        api_media.c.portal == portal,
                        api_media.c.source_identifier.in_(keys[i : i + _CHUNK]),
                    )
                )
            if rows:
                conn.execute(api_media.insert(), rows)

    def media_count(self, portal: str) -> int:
        with self._errors("reading api media"), self._engine.connect() as conn:
            q = sa.select(sa.func.count()).where(api_media.c.portal == portal)
            return int(conn.execute(q).scalar() or 0)


def written_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return json.dumps(dict(a), sort_keys=True) == json.dumps(dict(b), sort_keys=True)
