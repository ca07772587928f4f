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
from cyverse_link.errors import ConfigError, CyverseLinkError

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
    ctx.obj = Context(
        config_path=config_path or default_config_path(),
        json_output=json_output,
        verbose=verbose,
        quiet=quiet,
        progress=not no_progress and sys.stderr.isatty(),
    )


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
    click.echo(f"wrote {target}; edit it, then run `cyverse-link check -c {target}`")


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


def main() -> None:
    cli(prog_name="cyverse-link")
