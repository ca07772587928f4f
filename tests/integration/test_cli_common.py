"""Issue 13 items 16, 17, 20: the common options work before and after every command; every
error has one style (``error: ...``, one line) and with ``--json`` a JSON object on stdout;
``init`` makes missing folders."""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cyverse_link.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, cmd in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append(path)
        if isinstance(cmd, click.Group):
            found += all_commands(cmd, path)
    return found


@pytest.fixture
def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "collection: {collid: 7}\nsymbiota: {mode: csv}\n"
        f"state: {{db_url: 'sqlite:///{tmp_path}/state.sqlite'}}\n"
    )
    return cfg


@pytest.mark.parametrize("command", all_commands(), ids=" ".join)
def test_every_command_takes_the_common_options_after_its_name(
    command: tuple[str, ...], config: Path
) -> None:
    options = ["-c", str(config), "--json", "-v", "-q", "--no-progress"]
    result = run(*command, *options, "--help")
    assert result.exit_code == 0, result.output
    result = run(*options, *command, "--help")  # and before it, as always
    assert result.exit_code == 0, result.output


def test_verify_takes_config_and_json_after_the_command(config: Path) -> None:
    result = run("verify", "-c", str(config), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checked"] == 0


def test_options_after_the_command_take_effect(config: Path) -> None:
    result = run("status", "-c", str(config), "--json", "-vv")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"] == 0
    assert logging.getLogger().level == logging.DEBUG
    result = run("status", "-c", str(config), "-q")
    assert logging.getLogger().level == logging.WARNING


def test_a_later_config_option_wins(config: Path, tmp_path: Path) -> None:
    result = run("-c", str(tmp_path / "nope.yaml"), "status", "-c", str(config), "--json")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--bogus"],
        ["sync", "--limit", "0"],
        ["bogus-command"],
        ["credentials", "set", "ftp"],
        ["link"],
    ],
    ids=["option", "value", "command", "choice", "argument"],
)
def test_usage_errors_have_the_app_style_and_json(args: list[str], config: Path) -> None:
    result = run("-c", str(config), *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Usage:" not in result.stderr and "Error:" not in result.stderr
    assert result.stdout == ""
    result = run("-c", str(config), "--json", *args)
    assert result.exit_code == 2
    answer = json.loads(result.stdout)
    assert answer["exit_code"] == 2 and answer["error"]


def test_app_errors_answer_json_on_stdout(tmp_path: Path) -> None:
    result = run("plan", "-c", str(tmp_path / "nope.yaml"), "--json")
    assert result.exit_code == 2
    answer = json.loads(result.stdout)
    assert answer == {"error": answer["error"], "exit_code": 2}
    assert "nope.yaml" in answer["error"]
    assert result.stderr.startswith("error: ")


def test_an_unexpected_error_is_one_line_not_a_traceback(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cyverse_link.cli.cmd_run as cmd_run

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cmd_run, "Ledger", type("L", (), {"open_existing": staticmethod(boom)}))
    result = run("status", "-c", str(config), "--json")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert json.loads(result.stdout)["error"].startswith("unexpected RuntimeError: disk on fire")


WORDS = st.sampled_from(
    ["plan", "sync", "status", "verify", "link", "relink", "check", "credentials", "set",
     "delete", "irods", "--json", "-v", "-q", "--no-progress", "--limit", "0", "x", "--bogus",
     "--dry-run", "-c", "--failed", "--concurrency", "--", "-h", "--publish", "--search"]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(WORDS, max_size=7))
def test_any_command_line_ends_in_a_code_not_a_traceback(words: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        result = CliRunner().invoke(cli, words)  # no config here: nothing reaches a service
    assert result.exit_code in (0, 2), (words, result.output)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ") or "Usage:" in result.stderr, result.stderr
        if "--json" in (words[: words.index("--")] if "--" in words else words):
            assert json.loads(result.stdout.splitlines()[-1])["exit_code"] == 2


def test_init_makes_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "sub" / "x.yaml"
    result = run("init", str(target))
    assert result.exit_code == 0, result.output
    assert target.is_file() and (target.parent / "incoming").is_dir()


def test_init_where_a_folder_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = run("--json", "init", str(tmp_path / "file" / "x.yaml"))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "x.yaml" in json.loads(result.stdout)["error"]
    result = run("init", str(tmp_path))
    assert result.exit_code == 2 and "is a folder" in result.stderr


def test_an_unexpected_error_never_shows_a_secret(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cyverse_link.cli.cmd_run as cmd_run
    from cyverse_link.config.credentials import redactor

    redactor.register("Zq9-secret-Horse")

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("login failed for password Zq9-secret-Horse")

    monkeypatch.setattr(cmd_run, "Ledger", type("L", (), {"open_existing": staticmethod(boom)}))
    result = run("status", "-c", str(config), "--json")
    assert result.exit_code == 1 and "RuntimeError" in result.stderr
    assert "Zq9-secret-Horse" not in result.output
