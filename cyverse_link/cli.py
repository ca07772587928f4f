"""Command line: thin wrappers over library calls. The only module that imports click/rich."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import click

from cyverse_link import __version__
from cyverse_link.config import Settings, default_config_path, load_settings
from cyverse_link.credentials import (
    SERVICES,
    Service,
    delete_password,
    keyring_username,
    redactor,
    store_password,
)
from cyverse_link.errors import ConfigError, CyverseLinkError
from cyverse_link.ledger import Ledger, RunLock, lock_path_for
from cyverse_link.plan import PlanEvent, run_plan

log = logging.getLogger("cyverse_link")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Context:
    config_path: Path
    json_output: bool
    verbose: int
    quiet: bool
    progress: bool

    def settings(self) -> Settings:
        return load_settings(self.config_path)

    def emit(self, result: Any) -> None:
        """Machine-readable result on stdout for ``--json``."""
        if self.json_output:
            click.echo(json.dumps(result, indent=2, default=str))


def handle_errors(func: F) -> F:
    """Map cyverse_link errors to SPEC exit codes with a one-line message, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CyverseLinkError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cyverse-link")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Config file (default ./cyverse-link.yaml, or $CYVERSE_LINK_CONFIG).",
)
@click.option("--json", "json_output", is_flag=True, help="Machine-readable result on stdout.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the final summary.")
@click.option("--no-progress", is_flag=True, help="No progress bars, even on a terminal.")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: Path | None,
    json_output: bool,
    verbose: int,
    quiet: bool,
    no_progress: bool,
) -> None:
    """Upload specimen images to CyVerse and link them to a Symbiota portal."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)  # a password that slipped into a log line shows as ***
    ctx.obj = Context(
        config_path=config_path or default_config_path(),
        json_output=json_output,
        verbose=verbose,
        quiet=quiet,
        progress=not no_progress and sys.stderr.isatty(),
    )


def _set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.find_object(Context).config_path = value  # type: ignore[union-attr]


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(Context).json_output = True  # type: ignore[union-attr]


def command_options(func: F) -> F:
    """``-c/--config`` and ``--json`` also after the command name (``plan -c x.yaml``)."""
    func = click.option(
        "--json", is_flag=True, expose_value=False, callback=_set_json, is_eager=True,
        help="Machine-readable result on stdout.",
    )(func)  # fmt: skip
    return click.option(
        "-c", "--config", type=click.Path(path_type=Path), expose_value=False,
        callback=_set_config, is_eager=True, help="Config file (overrides the global -c).",
    )(func)  # fmt: skip


@cli.command()
@click.argument("path", type=click.Path(path_type=Path), default=None, required=False)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_obj
@handle_errors
def init(obj: Context, path: Path | None, force: bool) -> None:
    """Write a commented config file (default ./cyverse-link.yaml)."""
    target = path or obj.config_path
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists; pass --force to overwrite it")
    text = resources.files("cyverse_link").joinpath("config.example.yaml").read_text("utf-8")
    target.write_text(text, encoding="utf-8")
    drop = load_settings(target).source.path
    drop.mkdir(parents=True, exist_ok=True)  # so `plan` works right away on an empty folder
    click.echo(f"wrote {target} and created the drop folder {drop}")
    click.echo(f"next: put images in {drop}, then run `cyverse-link plan -c {target}`")


# --- credentials ---------------------------------------------------------------------------


@cli.group()
def credentials() -> None:
    """Store or remove a password in the OS keyring (never echoed)."""


SERVICE_CHOICE = click.Choice(list(SERVICES))


def _read_secret(service: str) -> str:
    """Prompt twice with hidden input on a terminal; otherwise read one line from stdin."""
    if _stdin_is_terminal():
        value: str = click.prompt(
            f"{service} password", hide_input=True, confirmation_prompt=True, err=True
        )
        return value
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


@credentials.command("set")
@command_options
@click.argument("service", type=SERVICE_CHOICE)
@click.pass_obj
@handle_errors
def credentials_set(obj: Context, service: Service) -> None:
    """Store the SERVICE password (prompted; or one line from stdin when piped)."""
    settings = obj.settings()
    username = keyring_username(settings, service)  # fail on a bad config before prompting
    user = store_password(settings, service, _read_secret(service))
    assert user == username
    click.echo(f"stored the {service} password for {user} in the keyring", err=True)


@credentials.command("delete")
@command_options
@click.argument("service", type=SERVICE_CHOICE)
@click.pass_obj
@handle_errors
def credentials_delete(obj: Context, service: Service) -> None:
    """Remove the SERVICE password from the keyring."""
    settings = obj.settings()
    user = keyring_username(settings, service)
    if delete_password(settings, service):
        click.echo(f"removed the {service} password for {user} from the keyring", err=True)
    else:
        click.echo(f"no {service} password was stored for {user}", err=True)


# --- plan and status -------------------------------------------------------------------------


@cli.command()
@command_options
@click.pass_obj
@handle_errors
def plan(obj: Context) -> None:
    """Dry run of sync: what would be uploaded or skipped, and why. Changes nothing."""
    settings = obj.settings()
    with RunLock(lock_path_for(obj.config_path)), _Progress(obj, "scanning") as progress:
        report = run_plan(settings, on_event=progress.on_plan_event)
    _print_summary(obj, report.summary_rows(), title="plan")
    if obj.json_output:
        obj.emit(report.to_dict())
    else:
        click.echo(f"report: {report.path}")
    sys.exit(report.exit_code)


@cli.command()
@command_options
@click.option("--failed", is_flag=True, help="List failed files with their errors.")
@click.pass_obj
@handle_errors
def status(obj: Context, failed: bool) -> None:
    """Ledger summary; --failed lists failures with reasons (exit 1 when there are any)."""
    settings = obj.settings()
    ledger = Ledger.open_existing(settings.state.db_url)
    if ledger is None:
        obj.emit({"files": 0, "by_stage": {}, "failed": [], "last_run": None})
        if not obj.json_output:
            click.echo("no ledger yet: nothing has been synced with this config")
        return
    with ledger:
        summary = ledger.summary()
        failures = ledger.failures() if failed else []
        last = ledger.last_run()
    rows = [
        (f"{stage.name.lower()} {st.value}", n)
        for (stage, st), n in sorted(summary.items(), key=lambda kv: (kv[0][0], kv[0][1].value))
    ]
    if obj.json_output:
        obj.emit(
            {
                "files": sum(summary.values()),
                "by_stage": {name: n for name, n in rows},
                "failed": [
                    {"rel_path": f.rel_path, "stage": f.stage.name.lower(),
                     "attempts": f.attempts, "error": f.error}
                    for f in failures
                ],
                "last_run": None if last is None else {
                    "id": last.id, "command": last.command, "started": last.started,
                    "finished": last.finished, "report": last.report_path,
                },
            }
        )  # fmt: skip
    else:
        _print_summary(obj, [*rows, ("total", sum(summary.values()))], title="ledger")
        if last is not None:
            state = "finished" if last.finished else "unfinished"
            click.echo(f"last run: {last.command} #{last.id} started {last.started:%Y-%m-%d %H:%M}"
                       f" ({state}); report: {last.report_path or '-'}")  # fmt: skip
        for f in failures:
            click.echo(
                f"FAILED {f.rel_path}: {f.stage.name.lower()} (attempt {f.attempts}): {f.error}"
            )
    if failed and failures:
        sys.exit(1)


def _print_summary(obj: Context, rows: list[tuple[str, int]], *, title: str) -> None:
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


class _Progress:
    """A counter on stderr while a long step runs (only on a terminal, never with -q)."""

    def __init__(self, obj: Context, label: str) -> None:
        self.enabled = obj.progress and not obj.quiet
        self.label = label
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
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
        if self._progress is not None and event.kind == "file":
            self._progress.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


@cli.command()
@click.option("--concurrency", default=8, show_default=True, help="Requests in flight at once.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per request.")
@click.pass_obj
@handle_errors
def verify(obj: Context, concurrency: int, timeout: float) -> None:
    """Fetch every mapped URL (HEAD, ranged GET if refused) and report broken ones.

    Exit code 1 when any URL is broken, gone, not an image or of the wrong size.
    """
    from cyverse_link.verify import run_verify

    report = run_verify(obj.settings(), concurrency=max(1, concurrency), timeout=timeout)
    obj.emit(report.as_dict())
    if not obj.json_output:
        for r in report.broken:
            problems = ",".join(p.value for p in r.problems)
            click.echo(f"! {r.target.key}: {problems}: {r.detail or ''} <{r.target.url}>")
        click.echo(
            f"checked {report.checked} URLs: {report.ok} ok, {len(report.broken)} broken"
            + (f", {report.redirected} redirected" if report.redirected else "")
        )
    if report.broken:
        sys.exit(1)


# --- sync, check, demo -------------------------------------------------------------------


@cli.command()
@command_options
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Work on at most N files that need work (a first taste).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Only plan (like `plan`): read the folder, ledger and portal; change nothing.",
)
@click.pass_obj
@handle_errors
def sync(obj: Context, limit: int | None, dry_run: bool) -> None:
    """Upload, publish and link the drop folder's new images (the whole pipeline).

    Incremental and resumable: files already linked are skipped without being read. Exit
    code 0 all done, 1 some files failed (see the report), 2 config, 3 a service could not be
    reached, 4 another run holds the lock."""
    from cyverse_link.pipeline import run_sync, stop_on_signals

    settings = obj.settings()
    with stop_on_signals() as stop, ProgressView(obj.progress, obj.quiet) as view:
        report = run_sync(settings, dry_run=dry_run, limit=limit, on_event=view, stop=stop)
    _print_report(obj, report)
    if report.interrupted:
        click.echo(
            "interrupted: the files in progress were finished and recorded; run "
            "`cyverse-link sync` again to continue with the rest",
            err=True,
        )
    sys.exit(report.exit_code)


# --- admin: link an existing collection, repair BisQue links --------------------------------


@cli.command()
@command_options
@click.argument("irods_collection")
@click.option(
    "--publish",
    is_flag=True,
    help="First give anonymous read on the whole collection (one recursive ACL, inherited).",
)
@click.option("--dry-run", is_flag=True, help="List, identify and match only; change nothing.")
@click.pass_obj
@handle_errors
def link(obj: Context, irods_collection: str, publish: bool, dry_run: bool) -> None:
    """Link images already in IRODS_COLLECTION to their specimen records.

    One paged listing of the collection; catalog numbers from the object names; derivatives
    in `_derivatives/` become the web and thumbnail URLs of their original. Safe to run
    again: linked objects are skipped. Exit code 0 all done, 1 some objects failed (see the
    report), 2 config, 3 a service could not be reached, 4 another run holds the lock."""
    from cyverse_link.link import run_link

    settings = obj.settings()
    with ProgressView(obj.progress, obj.quiet) as view:
        report = run_link(
            settings, irods_collection, publish=publish, dry_run=dry_run, on_event=view
        )
    _print_report(obj, report)
    sys.exit(report.exit_code)


@cli.command()
@command_options
@click.option("--dry-run", is_flag=True, help="Show each row before and after; write nothing.")
@click.option(
    "--search",
    multiple=True,
    metavar="IRODS_COLLECTION",
    help="Also look for the files here (adds to relink.search_collections; repeatable).",
)
@click.pass_obj
@handle_errors
def relink(obj: Context, dry_run: bool, search: tuple[str, ...]) -> None:
    """Rewrite media rows that point at BisQue to dav-anon URLs of the same files.

    Rows are resolved through a BisQue server that still answers (bisque.url), else by the
    file name Symbiota's harvester stored and the catalog number, in relink.search_collections.
    Unresolved rows are listed and left untouched; nothing is ever deleted. Run --dry-run
    first. Exit codes as for `link`."""
    from cyverse_link.relink import run_relink

    settings = obj.settings()
    with ProgressView(obj.progress, obj.quiet) as view:
        report = run_relink(settings, dry_run=dry_run, search_collections=search, on_event=view)
    if dry_run and not obj.json_output and not obj.quiet and report.path:
        _print_relink_changes(report.path)
    _print_report(obj, report)
    sys.exit(report.exit_code)


_URL_LABELS = (
    ("url", "url"),
    ("thumbnail_url", "thumbnailUrl"),
    ("original_url", "originalUrl"),
    ("archive_url", "archiveUrl"),
)


def _print_relink_changes(path: Path) -> None:
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


@cli.command()
@command_options
@click.pass_obj
@handle_errors
def check(obj: Context) -> None:
    """Validate the config and log in to every configured service (pre-flight).

    One line per service: `=` fine, `!` a problem. Exit code 3 when a service is unreachable
    or refuses the login, 2 for a config problem (a missing password included)."""
    from cyverse_link.check import exit_code, run_check

    lines = run_check(obj.settings())
    if obj.json_output:
        obj.emit([{"service": ln.service, "ok": ln.ok, "message": ln.message} for ln in lines])
    else:
        for line in lines:
            click.echo(f"{line.sigil} {line.service:<9} {line.message}")
    sys.exit(exit_code(lines))


@cli.command()
@click.option(
    "--provider",
    type=click.Choice(["davanon", "bisque"]),
    default="davanon",
    show_default=True,
    help="Which URLs to make (bisque also starts the BisQue sandbox).",
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep the demo's files here (default: a temporary folder, removed after).",
)
@click.pass_obj
@handle_errors
def demo(obj: Context, provider: str, workdir: Path | None) -> None:
    """Run the whole pipeline offline on the bundled sandbox servers and show what was linked.

    No network, no account, no password: a sandbox iRODS server on 127.0.0.1, a SQLite
    Symbiota database with sample specimens and a folder of sample images (some bad on
    purpose). `sync` runs twice; the second run has nothing to do."""
    from cyverse_link.demo import remove_workdir, run_demo
    from cyverse_link.models import UrlProvider

    with ProgressView(obj.progress, obj.quiet) as view:
        result = run_demo(workdir, provider=UrlProvider(provider), on_event=view)
    try:
        if obj.json_output:
            obj.emit({
                "first": result.first.to_dict(),
                "second": result.second.to_dict(),
                "linked": [vars(x) for x in result.linked],
            })  # fmt: skip
            return
        click.echo(f"sandbox iRODS {result.irods_version}, URLs: {result.provider}")
        click.echo("first run:")
        _print_report(obj, result.first)
        c = result.second.counts
        click.echo(
            f"second run: {c.uploaded} uploaded, {c.mapped} linked, {c.unchanged} unchanged "
            f"(nothing to do), {c.failed} still bad"
        )
        _print_linked(result.linked)
        if workdir:
            click.echo(f"files kept in {result.workdir} (config: {result.config_path})")
    finally:
        if workdir is None:
            remove_workdir(result)


def _print_report(obj: Context, report: Any) -> None:
    if obj.json_output:
        obj.emit(report.to_dict())
        return
    _print_summary(obj, report.summary_rows(), title="plan" if report.dry_run else report.command)
    if report.path:
        click.echo(f"report: {report.path}")


def _print_linked(linked: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="linked specimens")
    for col in ("catalog number", "occid", "image URL"):
        table.add_column(col)
    for item in linked:
        table.add_row(item.catalog, str(item.occid), item.url)
    Console(width=max(120, len(max((x.url for x in linked), default="")) + 40)).print(table)


def main() -> None:
    cli(prog_name="cyverse-link")


# --- progress and summaries (the library counts, the CLI draws) -------------------------------

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
