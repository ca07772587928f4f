"""End-to-end CLI runs in-process (click's CliRunner): init → plan → status, credentials."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from imaging import make_mixed_folder

from cyverse_link.cli import cli
from cyverse_link.cli import cmd_setup as cli_mod
from cyverse_link.config.credentials import KEYRING_SERVICE
from cyverse_link.config.settings import load_settings
from cyverse_link.core.models import Stage
from cyverse_link.ledger.store import Ledger
from cyverse_link.run.lock import RunLock, lock_path_for
from cyverse_link.run.report import load_report
from cyverse_link.sync.plan import unidentified_reason

PASSWORD = "K9#secret-Horse-Battery"


def rows(result: Result) -> dict[str, str]:
    """The plan's counts: ``plan: N files in ...``, then ``  name  count  meaning`` lines."""
    lines = result.stdout.splitlines()
    found = {"discovered": lines[0].split()[1]}
    for ln in lines[1:]:
        if not ln.startswith("  ") or ":" in ln.split()[0]:
            break
        name, count = ln.split()[:2]
        found[name] = count
    return found


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "x.yaml"
    result = run("init", str(cfg))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "incoming").is_dir()  # init makes the drop folder
    return cfg


def edit(cfg: Path, section: str, **values: object) -> None:
    data = yaml.safe_load(cfg.read_text())
    data.setdefault(section, {}).update(values)
    cfg.write_text(yaml.safe_dump(data))


def test_readme_flow_on_an_empty_drop_folder(config: Path) -> None:
    result = run("plan", "-c", str(config))
    assert result.exit_code == 0, result.output
    assert rows(result)["discovered"] == "0" and rows(result)["bad"] == "0"
    assert "report: " in result.output


def test_plan_on_mixed_folder(config: Path) -> None:
    drop = load_settings(config).source.path
    edit(config, "identifiers", pattern=r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?")
    make_mixed_folder(drop)
    result = run("plan", "-c", str(config))
    assert result.exit_code == 1, result.output  # bad files: exit 1, listed in the report
    got = rows(result)
    assert got["discovered"] == "11" and got["new"] == "7"
    assert got["bad"] == "3" and got["unidentified"] == "1" and got["unchanged"] == "0"
    report_path = Path(result.stdout.strip().splitlines()[-1].removeprefix("report: "))
    assert report_path.parent == config.parent / "reports"
    entries = {e["rel_path"]: e for e in load_report(report_path)["entries"]}
    reasons = {
        rel: e["detail"]
        for rel, e in entries.items()
        if e["status"] == "skipped" and e["action"] != "skipped"
    }
    assert reasons == {
        "ASU0000006.jpg": "file is empty (0 bytes)",
        "ASU0000007.jpg": "JPEG end-of-image marker missing: file is truncated",
        "ASU0000008.jpg": "not an image: text",
        "IMG_4711.jpg": unidentified_reason(load_settings(config).identifiers.pattern),
    }
    assert entries["ASU0000009.jpg"]["detail"] == "named .jpg but contains image/png"
    # Left out by the scan, each with a line saying why (issue 13 item 15)
    assert entries[".hidden.jpg"]["action"] == "skipped"
    assert "hidden file" in entries[".hidden.jpg"]["error"]
    assert "_derivatives folder" in entries["_derivatives"]["error"]
    assert "ASU0000010.jpg.part" not in entries
    assert "nested/deeper/ASU0000004_dorsal.jpeg" in entries
    assert not (config.parent / "cyverse-link-state.sqlite").exists()  # nothing written


def test_plan_json(config: Path) -> None:
    make_mixed_folder(load_settings(config).source.path)
    data = json.loads(run("plan", "-c", str(config), "--json").stdout)
    assert json.loads(run("-c", str(config), "--json", "plan").stdout)["counts"] == data["counts"]
    assert data["command"] == "plan" and data["dry_run"] is True
    assert data["counts"]["discovered"] == 11
    assert Path(data["report"]).is_file()


def test_plan_second_holder_gets_exit_4(config: Path) -> None:
    with RunLock(lock_path_for(config)):
        result = run("-c", str(config), "plan")
    assert result.exit_code == 4
    assert f"pid {os.getpid()}" in result.output


@pytest.mark.parametrize(
    ("section", "values", "key"),
    [
        ("irods", {"colour": "red"}, "irods.colour: unknown key"),
        ("irods", {"collection": "relative/path"}, "irods.collection: must be an absolute"),
        ("identifiers", {"pattern": r"ASU\d+"}, "identifiers.pattern: needs a named group"),
        ("source", {"include": "*.jpg"}, "source.include: expected a list"),
        ("identifiers", {"mapping_csv": "missing.csv"}, "identifiers.mapping_csv:"),
    ],
)
def test_config_errors_exit_2_naming_the_key(
    config: Path, section: str, values: dict[str, object], key: str
) -> None:
    edit(config, section, **values)
    result = run("-c", str(config), "plan")
    assert result.exit_code == 2
    assert key in result.output
    assert "Traceback" not in result.output


def test_missing_config_and_missing_drop_folder_exit_2(tmp_path: Path, config: Path) -> None:
    result = run("-c", str(tmp_path / "nope.yaml"), "plan")
    assert result.exit_code == 2 and "cyverse-link init" in result.output
    edit(config, "source", path="./not-there")
    result = run("-c", str(config), "plan")
    assert result.exit_code == 2 and "source.path:" in result.output


def test_status_before_and_after_sync(config: Path) -> None:
    result = run("-c", str(config), "status")
    assert result.exit_code == 0 and "no ledger yet" in result.output
    with Ledger(load_settings(config).state.db_url) as led:  # as sync would record
        led.advance("a.jpg", Stage.MAPPED, size=1)
        led.advance("b.jpg", Stage.MAPPED, size=1)
        led.fail("c.jpg", Stage.UPLOADED, "checksum mismatch after 3 tries")
        run_id = led.start_run("sync")
        from cyverse_link.core.models import Counts

        led.finish_run(run_id, Counts(discovered=3, failed=1), "/r/sync.json")
    result = run("-c", str(config), "status")
    assert result.exit_code == 0, result.output
    assert "mapped done      2" in result.output and "uploaded failed  1" in result.output
    assert "last run: sync #1" in result.output
    result = run("-c", str(config), "status", "--failed")
    assert result.exit_code == 1
    assert "FAILED c.jpg: uploaded (attempt 1): checksum mismatch after 3 tries" in result.output
    data = json.loads(run("-c", str(config), "--json", "status", "--failed").stdout)
    assert data["files"] == 3 and data["failed"][0]["error"].startswith("checksum mismatch")


def test_credentials_set_from_stdin_and_delete(config: Path, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    result = run("-c", str(config), "credentials", "set", "irods", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert memory_keyring.store[(KEYRING_SERVICE, "irods:me")] == PASSWORD
    assert PASSWORD not in result.output
    result = run("-c", str(config), "credentials", "delete", "irods")
    assert result.exit_code == 0 and "removed" in result.output
    assert memory_keyring.store == {}
    result = run("-c", str(config), "credentials", "delete", "irods")
    assert result.exit_code == 0 and "no irods password was stored" in result.output


def test_credentials_set_prompts_hidden_with_confirmation_on_a_terminal(
    config: Path,
    memory_keyring,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(cli_mod, "_stdin_is_terminal", lambda: True)
    result = run(
        "-c",
        str(config),
        "credentials",
        "set",
        "bisque",
        input=f"{PASSWORD}\nwrong\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower()
    assert memory_keyring.store[(KEYRING_SERVICE, "bisque:me")] == PASSWORD
    assert PASSWORD not in result.output


def test_credentials_on_headless_machine(config: Path) -> None:
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    result = run("-c", str(config), "credentials", "set", "symbiota", input="pw\n")
    assert result.exit_code == 2
    assert "symbiota.password: no usable OS keyring" in result.output
    assert "CYVERSE_LINK_SYMBIOTA_PASSWORD" in result.output


def test_empty_stdin_password_is_refused(config: Path) -> None:
    result = run("-c", str(config), "credentials", "set", "irods", input="\n")
    assert result.exit_code == 2 and "empty password" in result.output


def test_no_password_ever_appears_in_output_logs_or_reports(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(config, "irods", password=PASSWORD)
    edit(config, "bisque", password=f"{PASSWORD}-bq")
    edit(config, "identifiers", pattern=r"(?P<catalog>ASU\d{7})")
    monkeypatch.setenv("CYVERSE_LINK_SYMBIOTA_PASSWORD", f"{PASSWORD}-db")
    make_mixed_folder(load_settings(config).source.path)
    outputs = [
        run("-vv", "-c", str(config), "plan"),
        run("-vv", "-c", str(config), "--json", "plan"),
        run("-vv", "-c", str(config), "status", "--failed"),
        run("-vv", "-c", str(config), "credentials", "set", "irods", input=PASSWORD + "-new\n"),
        run("-vv", "-c", str(config), "credentials", "delete", "irods"),
    ]
    text = "".join(r.output for r in outputs)
    text += "".join(p.read_text() for p in (config.parent / "reports").iterdir())
    assert "discovered" in text  # the runs did happen
    assert PASSWORD not in text
