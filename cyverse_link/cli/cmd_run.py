"""Day-to-day runs: ``plan``, ``sync``, ``status``, ``verify`` and the offline ``demo``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cyverse_link.cli.app import Context, cli, command_options, handle_errors
from cyverse_link.cli.output import PlanProgress, ProgressView, print_report, print_summary
from cyverse_link.cli.summaries import PlanNotes, print_demo, print_plan
from cyverse_link.core.logsafe import printable
from cyverse_link.ledger.store import Ledger
from cyverse_link.run.lock import RunLock, lock_path_for
from cyverse_link.sync.plan import PlanEvent, run_plan


@cli.command()
@command_options
@click.pass_obj
@handle_errors
def plan(obj: Context) -> None:
    """Dry run of sync: what would be uploaded or skipped, and why. Changes nothing.

    Lists the files sync would not take (bad, no catalog number, unreadable) and those it
    flags, with the reason, the first 20 of each (all with -v); the report has every file."""
    settings = obj.settings()
    notes = PlanNotes(limit=1000 if obj.verbose else 20)

    def on_event(event: PlanEvent) -> None:
        progress.on_plan_event(event)
        notes(event)

    with RunLock(lock_path_for(obj.config_path)), PlanProgress(obj, "scanning") as progress:
        report = run_plan(settings, on_event=on_event)
    print_plan(obj, report, notes, settings.source.path)
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
                    "finished": last.finished, "report": last.report_path, "error": last.error,
                },
            }
        )  # fmt: skip
    else:
        print_summary(obj, [*rows, ("total", sum(summary.values()))], title="ledger")
        if last is not None:
            state = "finished" if last.finished else "unfinished"
            if last.error:
                state = f"failed: {last.error}"
            click.echo(printable(f"last run: {last.command} #{last.id} started "
                       f"{last.started:%Y-%m-%d %H:%M} ({state}); report: "
                       f"{last.report_path or '-'}"))  # fmt: skip
        for f in failures:
            click.echo(printable(  # a file name is data: one line, escapes shown
                f"FAILED {f.rel_path}: {f.stage.name.lower()} (attempt {f.attempts}): {f.error}"
            ))  # fmt: skip
    if failed and failures:
        sys.exit(1)


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
    from cyverse_link.sync.pipeline import run_sync, stop_on_signals

    settings = obj.settings()
    with stop_on_signals() as stop, ProgressView(obj.progress, obj.quiet) as view:
        report = run_sync(settings, dry_run=dry_run, limit=limit, on_event=view, stop=stop)
    print_report(obj, report)
    if report.interrupted:
        click.echo(
            "interrupted: the files in progress were finished and recorded; run "
            "`cyverse-link sync` again to continue with the rest",
            err=True,
        )
    sys.exit(report.exit_code)


@cli.command()
@command_options
@click.option("--concurrency", default=8, show_default=True, help="Requests in flight at once.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per request.")
@click.pass_obj
@handle_errors
def verify(obj: Context, concurrency: int, timeout: float) -> None:
    """Fetch every mapped URL (HEAD, ranged GET if refused) and report broken ones.

    Exit code 1 when any URL is broken, gone, not an image or of the wrong size.
    """
    from cyverse_link.admin.verify import run_verify

    report = run_verify(obj.settings(), concurrency=max(1, concurrency), timeout=timeout)
    obj.emit(report.as_dict())
    if not obj.json_output:
        for r in report.broken:
            problems = ",".join(p.value for p in r.problems)
            click.echo(
                printable(f"! {r.target.key}: {problems}: {r.detail or ''} <{r.target.url}>")
            )
        click.echo(
            f"checked {report.checked} URLs: {report.ok} ok, {len(report.broken)} broken"
            + (f", {report.redirected} redirected" if report.redirected else "")
        )
    if report.broken:
        sys.exit(1)


@cli.command()
@command_options
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
    from cyverse_link.core.models import UrlProvider
    from cyverse_link.demo.run import remove_workdir, run_demo

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
        print_demo(obj, result, kept=workdir is not None)
    finally:
        if workdir is None:
            remove_workdir(result)
