"""The run report: a JSON file per run, written as the run goes (SPEC §4).

Entries are appended to ``<report_dir>/<command>-<UTC timestamp>.json.part`` one by one, so a
run over 100k files keeps none of them in memory; ``finish`` writes the counts and renames the
file to ``….json``. A run that was killed leaves its ``.part`` file: incomplete, but readable up
to the last entry. Layout::

    {"format": "cyverse-link-report/1", "command": "plan", "started": "...", "dry_run": true,
     "entries": [{"rel_path": ..., "action": ..., "stage": ..., "status": ..., ...}, ...],
     "finished": "...", "counts": {"discovered": 3, ..., "extra": {...}}}
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from cyverse_link.core.errors import CyverseLinkError
from cyverse_link.core.models import Counts, MediaUrls, Problem, Stage, Status

__all__ = [
    "COUNT_NAMES",
    "FORMAT",
    "ReportEntry",
    "ReportWriter",
    "RunReport",
    "finish_failed",
    "load_report",
]

FORMAT = "cyverse-link-report/1"
BLOCK = 512  # entries buffered before a write (bounded: memory stays flat)
_enc = encode_basestring  # json's own string encoder (C), as json.dumps(ensure_ascii=False)
COUNT_NAMES = (
    "discovered", "unchanged", "uploaded", "published", "registered", "mapped", "unmatched",
    "ambiguous", "failed",
)  # fmt: skip


@dataclass(frozen=True)
class ReportEntry:
    """One file's line in the report."""

    rel_path: str
    stage: Stage  # the stage the status refers to
    status: Status
    action: str | None = None  # plan decision: new, changed, unchanged, resume, bad, ...
    catalog: str | None = None
    suffix: str | None = None
    irods_path: str | None = None
    urls: MediaUrls | None = None
    occid: int | None = None
    match: str | None = None  # matched / unmatched / ambiguous, when looked up
    problems: tuple[Problem, ...] = ()
    detail: str | None = None  # why a file is bad or flagged
    error: str | None = None  # why a step failed
    previous_urls: MediaUrls | None = None  # relink: the row's URLs before the rewrite

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.previous_urls is not None:
            extra["previous_urls"] = dataclasses.asdict(self.previous_urls)
        return {
            "rel_path": self.rel_path,
            "action": self.action,
            "stage": self.stage.name.lower(),
            "status": self.status.value,
            "catalog": self.catalog,
            "suffix": self.suffix,
            "irods_path": self.irods_path,
            # vars(), not dataclasses.asdict: asdict deep-copies every field and was the
            # largest single cost of a 100k-file plan (bench/bench_plan.py).
            "urls": dict(vars(self.urls)) if self.urls else None,
            "occid": self.occid,
            "match": self.match,
            "problems": [p.value for p in self.problems],
            "detail": self.detail,
            "error": self.error,
            **extra,
        }


@dataclass(frozen=True)
class RunReport:
    """What a run did: a value the CLI renders (table, JSON) and the report file records."""

    command: str
    started: datetime
    finished: datetime | None
    dry_run: bool
    counts: Counts
    path: Path | None = None
    error: str | None = None  # why the run stopped early (exit 3...); None when it ran through

    def summary_rows(self) -> list[tuple[str, int]]:
        """(name, count) in SPEC order, then the extra counters by name."""
        rows = [(name, int(getattr(self.counts, name))) for name in COUNT_NAMES]
        rows += sorted(self.counts.extra.items())
        return rows

    @property
    def interrupted(self) -> bool:
        """The run was asked to stop (SIGTERM, Ctrl-C) and left files for the next one."""
        return bool(self.counts.extra.get("interrupted"))

    @property
    def exit_code(self) -> int:
        """SPEC §2: 1 when some items failed (they are listed in the report) or the run was
        interrupted (the rest resumes next time), else 0."""
        return 1 if self.counts.failed or self.interrupted else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "dry_run": self.dry_run,
            "counts": dataclasses.asdict(self.counts),
            "report": str(self.path) if self.path else None,
            "error": self.error,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ReportWriter:
    """Streams one run's report to disk. Use as a context manager, or call ``close``.

    Raises ``CyverseLinkError`` when the report folder cannot be written (say where and why).
    """

    def __init__(
        self, report_dir: Path, command: str, *, dry_run: bool, started: datetime | None = None
    ) -> None:
        self.command = command
        self.dry_run = dry_run
        self.started = started or _utcnow()
        stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        try:
            report_dir.mkdir(parents=True, exist_ok=True)
            self.path, self._fh = _open_unique(report_dir, f"{command}-{stamp}")
        except OSError as exc:
            raise CyverseLinkError(
                f"cannot write the run report in {report_dir} ({exc.strerror}); fix "
                "state.report_dir or its permissions"
            ) from None
        self._part = self.path.with_name(self.path.name + ".part")
        self._first = True
        self._pending: list[str] = []
        self._closed = False
        head = {"format": FORMAT, "command": command, "started": _iso(self.started)}
        head["dry_run"] = dry_run  # type: ignore[assignment]
        self._write(json.dumps(head)[:-1] + ', "entries": [')

    def _write(self, text: str) -> None:
        try:
            self._fh.write(text)
        except OSError as exc:
            raise CyverseLinkError(
                f"cannot write the run report {self._part} ({exc.strerror})"
            ) from None

    def add(self, entry: ReportEntry) -> None:
        self._flush()
        self._pending.append(json.dumps(entry.to_dict(), ensure_ascii=False))
        self._flush()  # straight to the file: an interrupted run keeps it

    def add_unchanged(
        self,
        rel_path: str,
        catalog: str,
        suffix: str | None,
        irods_path: str | None,
        urls_json: str | None,
        occid: int | None,
    ) -> None:
        """The entry ``add`` writes for a plan's unchanged file (action ``unchanged``, stage
        ``mapped``, status ``done``, no match/problems/detail/error), built as text: the fast
        path of a warm plan. ``urls_json`` is the ledger's stored JSON object of the URLs,
        embedded as is (same keys and values as ``ReportEntry.urls``)."""
        pending = self._pending
        pending.append(
            f'{{"rel_path": {_enc(rel_path)}, "action": "unchanged", "stage": "mapped", '
            f'"status": "done", "catalog": {_enc(catalog)}, '
            f'"suffix": {"null" if suffix is None else _enc(suffix)}, '
            f'"irods_path": {"null" if irods_path is None else _enc(irods_path)}, '
            f'"urls": {urls_json or "null"}, "occid": {"null" if occid is None else occid}, '
            '"match": null, "problems": [], "detail": null, "error": null}'
        )
        if len(pending) >= BLOCK:  # out in blocks: one write per BLOCK entries, not per file
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            sep = "\n" if self._first else ",\n"
            self._first = False
            self._write(sep + ",\n".join(self._pending))
            self._pending.clear()

    def finish(
        self, counts: Counts, finished: datetime | None = None, *, error: str | None = None
    ) -> RunReport:
        """Write the counts, close the file and give it its final name. ``error``: the run
        stopped early for this reason (recorded as ``"error"``)."""
        end = finished or _utcnow()
        self._flush()
        tail: dict[str, Any] = {"finished": _iso(end), "counts": dataclasses.asdict(counts)}
        if error is not None:
            tail["error"] = error
        self._write("\n], " + json.dumps(tail)[1:] + "\n")
        self._fh.close()
        self._closed = True
        os.replace(self._part, self.path)
        return RunReport(
            self.command, self.started, end, self.dry_run, counts, self.path, error=error
        )

    def close(self) -> None:
        """Close without finishing (the ``.part`` file stays, marking an interrupted run)."""
        if not self._closed:
            # Keep what was added (the .part file is readable up to it), but never let a
            # failing write here hide the error that interrupted the run.
            with contextlib.suppress(CyverseLinkError), contextlib.closing(self._fh):
                self._flush()
            self._closed = True

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def finish_failed(
    writer: ReportWriter,
    counts: Counts,
    exc: CyverseLinkError,
    record: Callable[[Path | None, str], None] | None = None,
) -> None:
    """A run stopped by ``exc`` (a service away: exit 3): finish its report with the reason,
    record it through ``record(report_path, reason)`` (the ledger's run row), and add where the
    report is to ``exc``'s message. Never hides ``exc``: a failure here is swallowed."""
    reason = str(exc)
    try:
        report = writer.finish(counts, error=reason)
    except (CyverseLinkError, OSError):
        return  # the report folder failed too: the error that stopped the run matters more
    if record is not None:
        with contextlib.suppress(CyverseLinkError):
            record(report.path, reason)
    exc.args = (f"{reason} (run recorded as failed; report: {report.path})", *exc.args[1:])


def _open_unique(folder: Path, base: str) -> tuple[Path, TextIO]:
    """``base.json`` (``base-2.json`` ... if a run in the same second took it), opened
    exclusively as ``….json.part``."""
    for n in range(1, 1000):
        name = f"{base}.json" if n == 1 else f"{base}-{n}.json"
        final = folder / name
        if final.exists():
            continue
        try:
            fh = open(folder / (name + ".part"), "x", encoding="utf-8")  # noqa: SIM115
        except FileExistsError:
            continue
        return final, fh
    raise FileExistsError(17, "too many reports with the same timestamp", str(folder))


def load_report(path: Path | str) -> dict[str, Any]:
    """Read a finished report back (tests, tools)."""
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data
