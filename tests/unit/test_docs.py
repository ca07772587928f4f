"""The README documents every command, and the documented library entry points exist."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import cyverse_link
from cyverse_link.cli import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> Iterator[str]:
    for name, command in sorted(group.commands.items()):
        yield f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")


@pytest.mark.parametrize("command", list(_commands(cli)))
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"cyverse-link {command}" in README, f"document `cyverse-link {command}` in README.md"


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("cyverse_link.sync.pipeline", "run_sync"),
        ("cyverse_link.sync.plan", "run_plan"),
        ("cyverse_link.admin.link", "run_link"),
        ("cyverse_link.admin.relink", "run_relink"),
        ("cyverse_link.admin.verify", "run_verify"),
        ("cyverse_link.admin.check", "run_check"),
        ("cyverse_link.demo.run", "run_demo"),
    ],
)
def test_library_entry_points_are_importable(module: str, name: str) -> None:
    assert callable(getattr(importlib.import_module(module), name))


def _modules() -> Iterator[str]:
    for info in pkgutil.walk_packages(cyverse_link.__path__, "cyverse_link."):
        if info.name != "cyverse_link.__main__" and ".sandbox.irods.__main__" not in info.name:
            yield info.name


@pytest.mark.parametrize("module", list(_modules()))
def test_every_name_in_all_exists(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [n for n in getattr(mod, "__all__", []) if not hasattr(mod, n)]
    assert not missing, f"{module}.__all__ names what it does not define: {missing}"
