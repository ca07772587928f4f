"""Command line: thin wrappers over library calls. The only package that imports click/rich.

``app`` holds the group, its context and error handling; ``output`` draws tables and progress;
the ``cmd_*`` modules register the commands on the group when imported here.
"""

from __future__ import annotations

from cyverse_link.cli import cmd_admin, cmd_run, cmd_setup
from cyverse_link.cli.app import Context, cli, command_options, handle_errors

__all__ = ["Context", "cli", "command_options", "handle_errors", "main"]
_COMMAND_MODULES = (cmd_admin, cmd_run, cmd_setup)  # imported for their registrations


def main() -> None:
    cli(prog_name="cyverse-link")
