"""Ledger rows as model values: ``FileRecord``/``RunRecord`` and the column encoding."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cyverse_link.core.models import LocalFile, MediaUrls, Problem, Stage, Status
from cyverse_link.ledger.schema import files

MAX_ERROR_CHARS = 2000
_FIELDS = frozenset(c.name for c in files.columns) - {
    "id",
    "rel_path",
    "stage",
    "status",
    "catalog_rules",  # the last: only confirm_catalogs
}


@dataclass(frozen=True)
class FileRecord:
    """One ledger row, decoded into model types."""

    rel_path: str
    size: int
    mtime_ns: int
    md5: str | None
    stage: Stage
    status: Status
    mime: str | None = None
    catalog: str | None = None
    suffix: str | None = None
    problems: tuple[Problem, ...] = ()
    detail: str | None = None
    irods_path: str | None = None
    urls: MediaUrls | None = None
    occid: int | None = None
    error: str | None = None
    attempts: int = 0
    updated_at: datetime | None = None
    last_run: int | None = None
    previous_irods_path: str | None = None

    def same_file(self, size: int, mtime_ns: int) -> bool:
        """The quick check (size + mtime, like rsync): True means "do not re-read it"."""
        return self.md5 is not None and (self.size, self.mtime_ns) == (size, mtime_ns)

    def to_local_file(self) -> LocalFile:
        return LocalFile(
            self.rel_path,
            self.size,
            self.mtime_ns,
            self.md5,
            self.mime,
            self.problems,
            self.detail,
        )

    @property
    def complete(self) -> bool:
        return self.stage is Stage.MAPPED and self.status is Status.DONE


@dataclass(frozen=True)
class RunRecord:
    id: int
    command: str
    started: datetime
    finished: datetime | None
    counts: dict[str, Any] | None
    report_path: str | None
    error: str | None = None  # why the run stopped early; None when it ran through


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _encode(name: str, value: Any) -> Any:
    if name == "urls":
        return None if value is None else json.dumps(dataclasses.asdict(value), sort_keys=True)
    if name == "problems":
        return ",".join(Problem(p).value for p in value)
    if name == "error" and value is not None:
        return str(value)[:MAX_ERROR_CHARS]
    return value


_STAGES = {int(s): s for s in Stage}
_STATUSES = {s.value: s for s in Status}


def _decode(row: sa.Row[Any]) -> FileRecord:
    # Plain dict look-ups instead of enum constructors: ``plan`` decodes every ledger row, and
    # this was a visible share of a 100k-file plan (bench/bench_plan.py).
    m = row._mapping
    urls = MediaUrls(**json.loads(m["urls"])) if m["urls"] else None
    problems = tuple(Problem(p) for p in m["problems"].split(",") if p)
    return FileRecord(
        rel_path=m["rel_path"], size=m["size"], mtime_ns=m["mtime_ns"], md5=m["md5"],
        stage=_STAGES[m["stage"]], status=_STATUSES[m["status"]], mime=m["mime"],
        catalog=m["catalog"], suffix=m["suffix"], problems=problems, detail=m["detail"],
        irods_path=m["irods_path"], urls=urls, occid=m["occid"], error=m["error"],
        attempts=m["attempts"], updated_at=m["updated_at"], last_run=m["last_run"],
        previous_irods_path=m["previous_irods_path"],
    )  # fmt: skip
