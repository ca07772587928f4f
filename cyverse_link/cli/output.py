"""Drawing results: summary tables, progress counters and bars, report lines. The library
counts; this module draws."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from cyverse_link.cli.app import Context
from cyverse_link.credentials import redactor
from cyverse_link.plan import PlanEvent

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
        print_plan(obj, report, None)
        return
    print_summary(obj, report.summary_rows(), title="plan" if report.dry_run else report.command)
    if report.path:
        click.echo(f"report: {report.path}")


# What each of a plan's counts means (the SPEC counts of a real run are all 0 in a plan).
_PLAN_ROWS = (
    ("new", "not synced yet: sync uploads and links them"),
    ("changed", "content changed since sync recorded them: uploaded as a new version"),
    ("resume", "a run stopped part-way: sync continues them where they stopped"),
    ("unchanged", "already linked: sync skips them without reading them"),
    ("bad", "empty, corrupt, unreadable or not an image: never uploaded"),
    ("unidentified", "no catalog number in the name: never uploaded"),
    ("flagged", "go ahead, with a warning (see below)"),
    ("skipped", "not read: unlisted folder, name not UTF-8, changed while reading"),
    ("matched", "have a specimen record in the portal"),
    ("unmatched", "have no specimen record with that catalog number"),
    ("ambiguous", "match more than one specimen record: not linked"),
)
_PLAN_MATCH_ROWS = ("unmatched", "ambiguous")


class PlanNotes:
    """The files a plan cannot send through (bad, unidentified, skipped) and those it flags,
    with their reasons: the first ``limit`` of each list kept, the rest counted."""

    def __init__(self, limit: int = 20) -> None:
        self.limit = limit
        self.refused: list[tuple[str, str, str]] = []  # (rel_path, what, why)
        self.flagged: list[tuple[str, str, str]] = []
        self.refused_total = 0
        self.flagged_total = 0

    def __call__(self, event: PlanEvent) -> None:
        from cyverse_link.plan import Decision

        if event.kind == "skipped":
            self._keep(self.refused, (event.rel_path, "skipped", event.detail or ""))
            self.refused_total += 1
        elif event.kind != "file" or event.decision is None:
            return
        elif event.decision in (Decision.BAD, Decision.UNIDENTIFIED):
            self._keep(self.refused, (event.rel_path, event.decision.value, event.detail or ""))
            self.refused_total += 1
        elif event.problems and event.decision is not Decision.UNCHANGED:
            self._keep(self.flagged, (event.rel_path, "flagged", _flag_text(event)))
            self.flagged_total += 1

    def _keep(self, into: list[tuple[str, str, str]], item: tuple[str, str, str]) -> None:
        if len(into) < self.limit:
            into.append(item)


def _flag_text(event: PlanEvent) -> str:
    from cyverse_link.models import Problem

    if event.detail:
        return event.detail
    if Problem.TOO_LARGE in event.problems:
        return "larger than source.max_web_bytes: the web URL will be its derivative"
    return ", ".join(p.value for p in event.problems)


def printable(text: str) -> str:
    """A file name as one visible line: a newline or an escape sequence in a name must not
    start a line of its own or recolour the terminal (``\\n``, ``\\x1b`` instead)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def print_plan(
    obj: Context, report: Any, notes: PlanNotes | None, source: Path | None = None
) -> None:
    """The plan's counts, each with what it means, then the files that will not go through
    (and those flagged) with their reasons, bounded; the report lists them all."""
    if obj.json_output:
        obj.emit(report.to_dict())
        return
    counts, extra = report.counts, report.counts.extra
    values = {**extra, "unchanged": counts.unchanged}
    if "matched" in extra:
        values.update(unmatched=counts.unmatched, ambiguous=counts.ambiguous)
    where = f" in {source}" if source else ""
    click.echo(f"plan: {counts.discovered} files{where}")
    for name, meaning in _PLAN_ROWS:
        if name not in values or (name in ("skipped", *_PLAN_MATCH_ROWS) and not values[name]):
            continue
        click.echo(f"  {name:<13}{values[name]:>7}  {meaning}")
    if notes is not None and not obj.quiet:
        _print_notes("will not be synced", notes.refused, notes.refused_total)
        _print_notes("flagged", notes.flagged, notes.flagged_total)
    if report.path:
        click.echo(f"report: {report.path}")


def _print_notes(title: str, items: list[tuple[str, str, str]], total: int) -> None:
    if not total:
        return
    click.echo(f"{title} ({total}):")
    for rel, what, why in items:
        name = printable(rel)
        click.echo(
            f"  {name}: {what}: {printable(why)}" if what != "flagged" else f"  {name}: {why}"
        )
    if total > len(items):
        click.echo(f"  +{total - len(items)} more (all are in the report)")


def print_linked(linked: list[Any]) -> None:
    """The portal's new image links: URLs shown under their common folder, so the table fits
    the terminal (rich takes its width, or 80 columns when output is not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    urls = [x.url for x in linked]
    common = os.path.commonprefix(urls)  # noqa: RUF071 (URLs: commonpath would eat "//")
    base = common[: common.rfind("/") + 1] if len(urls) > 1 else ""
    table = Table(title="linked specimens")
    table.add_column("catalog number", no_wrap=True)
    table.add_column("occid", justify="right")
    table.add_column("image URL" if not base else "web image", overflow="fold")
    for item in linked:
        table.add_row(item.catalog, str(item.occid), item.url.removeprefix(base))
    Console(soft_wrap=False).print(table)
    if base:
        click.echo(f"web images are under\n  {base}")


def echo_wrapped(text: str, indent: str = "    ") -> None:
    """A long line folded to the terminal's width (80 columns when not a terminal)."""
    width = max(40, shutil.get_terminal_size((80, 24)).columns)
    click.echo(textwrap.fill(text, width, subsequent_indent=indent, break_long_words=False))


_DEMO_ROWS = (
    ("uploaded", "uploaded", "originals sent to iRODS, checksums verified"),
    ("published", "public", "readable without a login (anonymous read)"),
    ("registered", "URLs", "{urls}"),
    ("mapped", "linked", "media rows written in the portal"),
    ("unmatched", "unmatched", "uploaded, but no specimen record has the catalog number"),
    ("failed", "failed", "bad files, never uploaded"),
)
_DEMO_URLS = {
    "davanon": "dav-anon web addresses made (no server involved)",
    "bisque": "registered with BisQue, its image service URLs made",
}


def print_demo(obj: Context, result: Any, kept: bool) -> None:
    """What the demo did, in words a first-time user can follow."""
    from cyverse_link.report import load_report

    first, second = result.first, result.second
    click.echo(f"sandbox iRODS {result.irods_version}, URLs: {result.provider}")
    click.echo(f"first run: {first.counts.discovered} sample files")
    for key, label, meaning in _DEMO_ROWS:
        text = meaning.format(urls=_DEMO_URLS.get(result.provider, "URLs made"))
        click.echo(f"  {label:<10}{getattr(first.counts, key):>3}  {text}")
    c = second.counts
    echo_wrapped(
        f"second run: {c.uploaded} uploaded, {c.mapped} linked: nothing new to do. "
        f"{c.unchanged} already linked (not read again), {c.unmatched} still without a "
        f"specimen record, {c.failed} still bad.",
        indent="  ",
    )
    print_linked(result.linked)
    entries = load_report(first.path)["entries"] if first.path else []
    not_linked = [e for e in entries if e["status"] in ("failed", "skipped")]
    if not_linked:
        click.echo("not linked:")
        for e in not_linked:
            echo_wrapped(f"  {printable(e['rel_path'])}: {printable(e['error'] or e['status'])}")
    if kept:
        work = Path(result.workdir)
        click.echo(f"files kept in {work}")
        for label, path in (("config", result.config_path), ("report", first.path),
                            ("report", second.path)):  # fmt: skip
            shown = Path(path).relative_to(work) if Path(path).is_relative_to(work) else path
            click.echo(f"  {label}: {shown}")
    else:
        echo_wrapped("the demo ran in a temporary folder, removed now (to keep its files and "
                     "reports: cyverse-link demo --workdir DIR)", indent="  ")  # fmt: skip


_URL_LABELS = (
    ("url", "url"),
    ("thumbnail_url", "thumbnailUrl"),
    ("original_url", "originalUrl"),
    ("archive_url", "archiveUrl"),
)


def print_relink_changes(path: Path) -> None:
    """Before → after per row, from the dry run's report (the library counts, the CLI draws)."""
    from cyverse_link.report import load_report

    for entry in load_report(path)["entries"]:
        row = entry["rel_path"].removeprefix("relink:").replace(":", " ")
        if entry["error"]:
            click.echo(f"! {row} ({entry['catalog']}): {entry['error']}")
            continue
        click.echo(f"* {row} ({entry['catalog']}) → {entry['irods_path']} [{entry['action']}]")
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
        from cyverse_link.events import EventKind
        from cyverse_link.models import Stage

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
                    log.info("%s: linked", rel)  # the plain log of an unattended run
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
