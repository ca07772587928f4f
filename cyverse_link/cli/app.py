"""The click group, its context object, and the options and error handling every command
shares."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from cyverse_link import __version__
from cyverse_link.config import Settings, default_config_path, load_settings
from cyverse_link.credentials import redactor
from cyverse_link.errors import CyverseLinkError

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
