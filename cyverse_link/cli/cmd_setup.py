"""Setting up: ``init``, ``credentials set|delete``, ``check`` (pre-flight)."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import click

from cyverse_link.cli.app import Context, cli, command_options, handle_errors
from cyverse_link.config.credentials import (
    SERVICES,
    Service,
    delete_password,
    keyring_username,
    store_password,
)
from cyverse_link.config.settings import load_settings
from cyverse_link.core.errors import ConfigError


@cli.command()
@command_options
@click.argument("path", type=click.Path(path_type=Path), default=None, required=False)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.pass_obj
@handle_errors
def init(obj: Context, path: Path | None, force: bool) -> None:
    """Write a commented config file (default ./cyverse-link.yaml)."""
    target = path or obj.config_path
    if target.is_dir():
        raise ConfigError(
            f"{target} is a folder; name the file, e.g. {target / 'cyverse-link.yaml'}"
        )
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists; pass --force to overwrite it")
    text = resources.files("cyverse_link").joinpath("config.example.yaml").read_text("utf-8")
    try:  # missing folders are made: `init sites/asu/cyverse-link.yaml` is what was asked for
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None
    drop = load_settings(target).source.path
    try:
        drop.mkdir(parents=True, exist_ok=True)  # so `plan` works right away on an empty folder
    except OSError as exc:
        raise ConfigError(
            f"source.path: cannot create the drop folder {drop}: {exc.strerror}"
        ) from None
    click.echo(f"wrote {target} and created the drop folder {drop}")
    click.echo(f"next: put images in {drop}, then run `cyverse-link plan -c {target}`")


@cli.group()
@command_options
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


@cli.command()
@command_options
@click.pass_obj
@handle_errors
def check(obj: Context) -> None:
    """Validate the config and log in to every configured service (pre-flight).

    One line per service: `=` fine, `!` a problem. Exit code 3 when a service is unreachable
    or refuses the login, 2 for a config problem (a missing password included)."""
    from cyverse_link.admin.check import exit_code, run_check

    lines = run_check(obj.settings())
    if obj.json_output:
        obj.emit([{"service": ln.service, "ok": ln.ok, "message": ln.message} for ln in lines])
    else:
        for line in lines:
            click.echo(f"{line.sigil} {line.service:<9} {line.message}")
    sys.exit(exit_code(lines))
