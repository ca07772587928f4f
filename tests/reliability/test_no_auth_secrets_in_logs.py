"""Issue 13 item 4: ``cyverse-link -vv check`` logged python-irodsclient's DEBUG lines with the
auth challenge and the digest (MD5 of challenge + password: offline password guessing). A real
login through the unmodified client to the sandbox server, both auth flows (4.3 plugin, 4.2
legacy), at -vv: neither the challenge, the digest nor the password may reach stderr or a log
file."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cyverse_link.cli import cli
from cyverse_link.config.credentials import redactor
from cyverse_link.sandbox.irods import SandboxIrods
from cyverse_link.sandbox.irods import auth as sandbox_auth

USER, PASSWORD = "alice", "alice-Log-pw-5e1"


@pytest.mark.parametrize("persona", ["4.3.1", "4.2.8"])
def test_vv_check_logs_no_challenge_digest_or_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, persona: str
) -> None:
    challenges: list[str] = []
    real = sandbox_auth.new_challenge

    def recorded() -> str:
        challenges.append(real())
        return challenges[-1]

    monkeypatch.setattr(sandbox_auth, "new_challenge", recorded)
    monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", PASSWORD)
    log_file = tmp_path / "run.log"
    with SandboxIrods(persona, zone="iplant", users={USER: PASSWORD}) as srv:
        srv.make_shared_folder("herbarium", USER)
        (tmp_path / "in").mkdir()
        cfg = {
            "collection": {"collid": 7, "code": "ASU"},
            "source": {"path": "in"},
            "irods": {"host": srv.host, "port": srv.port, "user": USER,
                      "collection": "/iplant/home/shared/herbarium/ASU"},
            "symbiota": {"mode": "csv", "csv_dir": "out"},
            "state": {"db_url": "sqlite:///state.sqlite", "report_dir": "reports"},
        }  # fmt: skip
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump(cfg), encoding="utf-8")

        # A log file as a cron wrapper would add one: the CLI's handlers replace the root's,
        # so it is attached to the CLI's own handlers' logger afterwards, with the same filter.
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.addFilter(redactor)
        real_basic = logging.basicConfig

        def basic_config(**kw: object) -> None:
            real_basic(**kw)  # type: ignore[arg-type]
            logging.getLogger().addHandler(file_handler)

        monkeypatch.setattr(logging, "basicConfig", basic_config)
        try:
            result = CliRunner().invoke(cli, ["-vv", "-c", str(config), "check"])
        finally:
            logging.getLogger().removeHandler(file_handler)
            file_handler.close()
    out = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "irods" in out and challenges, out  # it logged in (and said so)
    logged = log_file.read_text(encoding="utf-8")
    for text in (out, logged):
        assert PASSWORD not in text
        for challenge in challenges:
            raw = sandbox_auth.digest(challenge.encode(), PASSWORD)
            for secret in (challenge, raw.hex(), base64.b64encode(raw).decode(), repr(raw)):
                assert secret not in text
        assert "irods.auth" not in text and "irods.connection" not in text


def test_prc_debug_records_are_dropped_even_when_a_logger_is_turned_up(
    tmp_path: Path,
) -> None:
    handler = logging.FileHandler(tmp_path / "x.log", encoding="utf-8")
    handler.addFilter(redactor)
    for name in ("irods.auth", "irods.connection", "irods.message", "irods"):
        record = logging.LogRecord(name, logging.DEBUG, __file__, 1, "resp = %r", ({},), None)
        assert not handler.filter(record)
    warning = logging.LogRecord("irods.pool", logging.WARNING, __file__, 1, "x", (), None)
    assert handler.filter(warning)
    handler.close()
    assert logging.getLogger("irods.auth").getEffectiveLevel() >= logging.WARNING
