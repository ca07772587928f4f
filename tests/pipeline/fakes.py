"""Stand-ins for the pipeline's logic tests: an in-memory portal and a store that can die."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cyverse_link.core.models import Match, MatchStatus, MediaLink, RemoteObject
from cyverse_link.datastore.memory import MemoryStore
from cyverse_link.portal.base import SchemaInfo, WriteResult


class Killed(BaseException):
    """Stands for SIGKILL / Ctrl-C in the middle of a run (not an ordinary error)."""


class KillingStore(MemoryStore):
    """A MemoryStore that dies after ``kill_after_puts`` successful uploads."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.kill_after_puts: int | None = None

    def put(self, local: Path, remote: str, md5: str) -> RemoteObject:
        with self._lock:
            if self.kill_after_puts is not None:
                if self.kill_after_puts == 0:
                    raise Killed(remote)
                self.kill_after_puts -= 1
        return super().put(local, remote, md5)


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
