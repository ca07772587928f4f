"""Portal admins: ``link`` an existing iRODS collection, ``relink`` dead BisQue URLs."""

from __future__ import annotations

import sys

import click

from cyverse_link.cli.app import Context, cli, command_options, handle_errors
from cyverse_link.cli.output import ProgressView, print_relink_changes, print_report


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
    from cyverse_link.admin.link import run_link

    settings = obj.settings()
    with ProgressView(obj.progress, obj.quiet) as view:
        report = run_link(
            settings, irods_collection, publish=publish, dry_run=dry_run, on_event=view
        )
    print_report(obj, report)
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
    from cyverse_link.admin.relink import run_relink

    settings = obj.settings()
    with ProgressView(obj.progress, obj.quiet) as view:
        report = run_relink(settings, dry_run=dry_run, search_collections=search, on_event=view)
    if dry_run and not obj.json_output and not obj.quiet and report.path:
        print_relink_changes(report.path)
    print_report(obj, report)
    sys.exit(report.exit_code)
