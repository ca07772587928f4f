"""Drawing results: summary tables, progress counters and bars, report lines. The library
counts; this module draws."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from cyverse_link.cli.app import Context
from cyverse_link.config.credentials import redactor
from cyverse_link.core.logsafe import printable
from cyverse_link.sync.plan import PlanEvent

log = logging.getLogger("cyverse_link")


def print_summary(obj: Context, rows: list[tuple[str, int]], *, title: str) -> None:
    """A rich table when stderr is a terminal, plain aligned text otherwise."""
    if obj.json_output:
        return
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        table.add_column("")
        table.add_column("count", justify="right")
        for name, n in rows:
            table.add_row(name, str(n))
        Console().print(table)
        return
    width = max((len(name) for name, _ in rows), default=0)
    for name, n in rows:
        click.echo(f"{name:<{width}}  {n}")


class PlanProgress:
    """A counter on stderr while a long step runs (only on a terminal, never with -q)."""

    def __init__(self, obj: Context, label: str) -> None:
        self.enabled = obj.progress and not obj.quiet
        self.label = label
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> PlanProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description} {task.completed} files"),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=None)
        return self

    def on_plan_event(self, event: PlanEvent) -> None:
        if self._progress is not None and event.kind in ("file", "unchanged"):
            self._progress.advance(self._task, event.count)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def print_report(obj: Context, report: Any) -> None:
    if obj.json_output:
        obj.emit(report.to_dict())
        return
    if report.dry_run and report.command == "plan":
        from cyverse_link.cli.summaries import print_plan

        print_plan(obj, report, None)
        return
    print_summary(obj, report.summary_rows(), title="plan" if report.dry_run else report.command)
    if report.path:
        click.echo(f"report: {report.path}")


_URL_LABELS = (
    ("url", "url"),
    ("thumbnail_url", "thumbnailUrl"),
    ("original_url", "originalUrl"),
    ("archive_url", "archiveUrl"),
)


def print_relink_changes(path: Path) -> None:
    """Before → after per row, from the dry run's report (the library counts, the CLI draws)."""
    from cyverse_link.run.report import load_report

    for entry in load_report(path)["entries"]:
        row = entry["rel_path"].removeprefix("relink:").replace(":", " ")
        if entry["error"]:
            click.echo(printable(f"! {row} ({entry['catalog']}): {entry['error']}"))
            continue
        click.echo(
            printable(f"* {row} ({entry['catalog']}) → {entry['irods_path']} [{entry['action']}]")
        )
        before, after = entry.get("previous_urls") or {}, entry.get("urls") or {}
        for key, label in _URL_LABELS:
            if before.get(key) or after.get(key):
                click.echo(f"    {label:<12} {before.get(key) or '-'}")
                click.echo(f"    {'':<12} → {after.get(key) or '-'}")


_STAGE_LABELS = {
    "discovered": "scanned",
    "uploaded": "uploaded",
    "published": "public",
    "registered": "URLs",
    "mapped": "linked",
    "unmapped": "not linked",
    "failed": "failed",
}


class _ConsoleHandler(logging.Handler):
    def __init__(self, console: Any) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        self.console.print(self.format(record), markup=False, highlight=False)


class ProgressView:
    """Event handler: rich progress bars on a terminal, plain log lines otherwise."""

    def __init__(self, enabled: bool, quiet: bool) -> None:
        self.quiet = quiet
        self.enabled = enabled and not quiet
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._saved_handlers: list[logging.Handler] = []
        self.counts: dict[str, int] = dict.fromkeys(_STAGE_LABELS, 0)

    def __enter__(self) -> ProgressView:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:>10}"),
                TextColumn("[bold]{task.completed}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
            for key, label in _STAGE_LABELS.items():
                self._tasks[key] = self._progress.add_task(label, total=None)
            # Log lines go through the live display (above the bars), not across them.
            root = logging.getLogger()
            self._saved_handlers = root.handlers[:]
            handler = _ConsoleHandler(self._progress.console)
            handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            handler.addFilter(redactor)
            root.handlers = [handler]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            logging.getLogger().handlers = self._saved_handlers

    def _bump(self, key: str) -> None:
        self.counts[key] += 1
        if self._progress is not None:
            self._progress.update(self._tasks[key], advance=1)

    def __call__(self, event: Any) -> None:
        from cyverse_link.core.events import EventKind
        from cyverse_link.core.models import Stage

        kind, rel = event.kind, event.rel_path
        if kind is EventKind.STARTED:  # a new run (demo runs two): counters start again
            self.counts = dict.fromkeys(_STAGE_LABELS, 0)
            if self._progress is not None:
                for task in self._tasks.values():
                    self._progress.reset(task)
            log.info("%s", event.message)
        elif kind is EventKind.DISCOVERED:
            self._bump("discovered")
        elif kind is EventKind.STAGE_DONE:
            key = {
                Stage.UPLOADED: "uploaded",
                Stage.PUBLISHED: "published",
                Stage.REGISTERED: "registered",
                Stage.MAPPED: "mapped",
            }.get(event.stage)
            if key:
                self._bump(key)
                if key == "mapped" and self._progress is None:
                    log.info("%s: %s", rel, event.message or "linked")  # unattended run's log
                else:
                    log.debug("%s: %s", rel, key)
        elif kind is EventKind.FAILED:
            self._bump("failed")
            log.warning("%s: failed at %s: %s", rel, event.stage.name.lower(), event.message)
        elif kind is EventKind.UNMAPPED:
            self._bump("unmapped")
            log.info("%s: not linked: %s", rel, event.message)
        elif kind is EventKind.RETRY:
            log.info("%s: retrying %s", rel, event.message)
        elif kind is EventKind.INFO:
            log.info("%s", event.message)
