"""What a plan and the demo say: each count with its meaning, the files that will not go
through with their reasons (bounded), and text that fits the terminal. The library counts; this
module words it."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path
from typing import Any

import click

from cyverse_link.cli.app import Context
from cyverse_link.sync.plan import PlanEvent

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
        from cyverse_link.sync.plan import Decision

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
    from cyverse_link.core.models import Problem

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
    from cyverse_link.run.report import load_report

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
