"""The click group, its context object, and the options and error handling every command
shares.

Every command accepts the common options (``-c/--config``, ``--json``, ``-v``, ``-q``,
``--no-progress``) before or after its name: ``common_options`` puts the same options on the
group and on each command, and each one only updates the shared ``Context``.

Every error, click's usage errors included, is one line ``error: ...`` on stderr with the SPEC
exit code; with ``--json`` the same error is also a JSON object on stdout
(``{"error": ..., "exit_code": N}``), so a script reading stdout never gets an empty answer.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from cyverse_link import __version__
from cyverse_link.config.credentials import redactor
from cyverse_link.config.settings import Settings, default_config_path, load_settings
from cyverse_link.core.errors import CyverseLinkError

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("cyverse_link")


@dataclass
class Context:
    config_path: Path = field(default_factory=default_config_path)
    json_output: bool = False
    verbose: int = 0
    quiet: bool = False
    no_progress: bool = False

    @property
    def progress(self) -> bool:
        """Progress bars: on a terminal, unless ``--no-progress``."""
        return not self.no_progress and sys.stderr.isatty()

    def settings(self) -> Settings:
        return load_settings(self.config_path)

    def emit(self, result: Any) -> None:
        """Machine-readable result on stdout for ``--json``."""
        if self.json_output:
            click.echo(json.dumps(result, indent=2, default=str))

    def configure_logging(self) -> None:
        level = (
            logging.WARNING if self.quiet else (logging.DEBUG if self.verbose > 1 else logging.INFO)
        )
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
        for handler in logging.getLogger().handlers:
            handler.addFilter(redactor)  # a password that slipped into a log line shows as ***


def fail(message: str, exit_code: int, *, json_output: bool) -> NoReturn:
    """The one way an error leaves the program: ``error: ...`` on stderr (one line), and with
    ``--json`` a JSON object on stdout too."""
    text = " ".join(str(message).split())  # one line
    if json_output:
        click.echo(json.dumps({"error": text, "exit_code": exit_code}))
    click.echo(f"error: {text}", err=True)
    sys.exit(exit_code)


def _wants_json(obj: Context, args: Sequence[str]) -> bool:
    """Was ``--json`` given? Read from ``args`` too: a usage error stops click before it has
    handled every option."""
    words = list(args)
    if "--" in words:
        words = words[: words.index("--")]
    return obj.json_output or "--json" in words


def _current_obj() -> Context | None:
    ctx = click.get_current_context(silent=True)
    return ctx.find_object(Context) if ctx is not None else None


def handle_errors(func: F) -> F:
    """Map cyverse_link errors to SPEC exit codes with a one-line message, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CyverseLinkError as exc:
            obj = _current_obj()
            fail(str(exc), exc.exit_code, json_output=bool(obj and obj.json_output))

    return wrapper  # type: ignore[return-value]


class CliGroup(click.Group):
    """Routes click's own errors (usage, bad option values) and anything unforeseen through
    ``fail``, so there is one error style and ``--json`` always answers on stdout."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        obj = extra.pop("obj", None) or Context()  # kept here: still readable after an error
        try:
            rv = super().main(
                argv, prog_name, complete_var, standalone_mode=False, obj=obj, **extra
            )
        except click.exceptions.NoArgsIsHelpError as exc:
            if _wants_json(obj, argv):
                fail("no command given", exc.exit_code, json_output=True)
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            hint = ""
            if exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
            fail(exc.format_message() + hint, exc.exit_code, json_output=_wants_json(obj, argv))
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code, json_output=_wants_json(obj, argv))
        except click.Abort:
            fail("aborted", 1, json_output=_wants_json(obj, argv))
        except CyverseLinkError as exc:  # raised outside a command body
            fail(str(exc), exc.exit_code, json_output=_wants_json(obj, argv))
        except Exception as exc:  # a bug: still one line, the traceback only with -vv
            log.debug("unexpected error", exc_info=True)
            more = "" if obj.verbose > 1 else "; run with -vv for the details"
            fail(  # our own messages never hold a secret; a library's might
                redactor.redact(f"unexpected {type(exc).__name__}: {exc}{more} (please report)"),
                1,
                json_output=_wants_json(obj, argv),
            )
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


# -- the common options ------------------------------------------------------------------------


def _obj(ctx: click.Context) -> Context:
    return ctx.ensure_object(Context)


def _set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        _obj(ctx).config_path = value


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _obj(ctx).json_output = True


def _add_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    if value:
        obj = _obj(ctx)
        obj.verbose += value
        obj.configure_logging()


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        obj = _obj(ctx)
        obj.quiet = True
        obj.configure_logging()


def _set_no_progress(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _obj(ctx).no_progress = True


def common_options(func: F) -> F:
    """``-c/--config``, ``--json``, ``-v``, ``-q`` and ``--no-progress``, accepted before and
    after the command name (``cyverse-link -v plan`` = ``cyverse-link plan -v``). Eager, so that
    an error in another option of the command already knows ``--json``."""
    options = [
        click.option(
            "-c", "--config", type=click.Path(path_type=Path), expose_value=False,
            callback=_set_config, is_eager=True,
            help="Config file (default ./cyverse-link.yaml, or $CYVERSE_LINK_CONFIG).",
        ),
        click.option(
            "--json", is_flag=True, expose_value=False, callback=_set_json, is_eager=True,
            help="Machine-readable result (or error) on stdout.",
        ),
        click.option(
            "-v", "--verbose", count=True, expose_value=False, callback=_add_verbose,
            is_eager=True, help="More log output (-vv for debug).",
        ),
        click.option(
            "-q", "--quiet", is_flag=True, expose_value=False, callback=_set_quiet,
            is_eager=True, help="Only errors and the final summary.",
        ),
        click.option(
            "--no-progress", is_flag=True, expose_value=False, callback=_set_no_progress,
            is_eager=True, help="No progress bars, even on a terminal.",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


command_options = common_options  # the name the command modules use


@click.group(cls=CliGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cyverse-link")
@common_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Upload specimen images to CyVerse and link them to a Symbiota portal."""
    obj = ctx.ensure_object(Context)
    obj.configure_logging()
