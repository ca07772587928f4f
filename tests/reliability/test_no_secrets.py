"""A whole ``sync`` with known passwords for iRODS, BisQue and the Symbiota database (a MariaDB
account made for the test): none of them may appear in the logs (DEBUG), stdout/stderr, the
JSON run reports, the ledger file's bytes, the CSV/other outputs, or ``cassettes/``. A second
run with a wrong Symbiota password exercises the error path the same way."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from reliability_rig import IRODS_PASSWORD, Rig, make_rig

from cyverse_link.cli import cli
from cyverse_link.sandbox.bisque_server import BisqueSandbox

BISQUE_USER = "collmgr"
BISQUE_PASSWORD = "bq-Pw-9d1c7e5a"
SYMBIOTA_PASSWORD = "sy-Pw-4b8e2f61"
SECRETS = (IRODS_PASSWORD, BISQUE_PASSWORD, SYMBIOTA_PASSWORD)
REPO = Path(__file__).resolve().parents[2]


def forms(secret: str) -> list[bytes]:
    """The secret as it could leak: plain, URL-encoded, UTF-16 (SQLite text can be either)."""
    return [secret.encode(), quote(secret, safe="").encode(), secret.encode("utf-16-le")]


def assert_clean(where: str, data: bytes) -> None:
    for secret in SECRETS:
        for form in forms(secret):
            assert form not in data, f"a password leaked into {where}"


@pytest.fixture
def symbiota_account(mariadb_url: str) -> Iterator[str]:
    """A MariaDB user with a password, allowed on the test's own database only."""
    url = sa.make_url(mariadb_url)
    user = f"cl_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url.set(database=None))
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{SYMBIOTA_PASSWORD}'"))
        conn.execute(sa.text(f"GRANT ALL ON `{url.database}`.* TO '{user}'@'%'"))
    try:
        yield url.set(username=user).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'%'"))
        admin.dispose()


@pytest.mark.mariadb
def test_no_password_anywhere_after_a_whole_sync(
    tmp_path: Path,
    mariadb_url: str,
    symbiota_account: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig: Rig = make_rig(tmp_path, n=4, threads=2, db_url=mariadb_url)  # seeded as root
    bq = BisqueSandbox({BISQUE_USER: BISQUE_PASSWORD}).start()
    try:
        rig.configure(
            urls={"provider": "bisque"},
            bisque={"url": bq.url, "user": BISQUE_USER, "password": "keyring",
                    "irods_host": "data.iplantcollaborative.org", "timeout": 30, "retries": 1},
            symbiota={"db_url": symbiota_account, "password": "keyring"},
        )  # fmt: skip
        monkeypatch.setenv("CYVERSE_LINK_IRODS_PASSWORD", IRODS_PASSWORD)
        monkeypatch.setenv("CYVERSE_LINK_BISQUE_PASSWORD", BISQUE_PASSWORD)
        monkeypatch.setenv("CYVERSE_LINK_SYMBIOTA_PASSWORD", SYMBIOTA_PASSWORD)
        monkeypatch.chdir(rig.root)
        caplog.set_level(logging.DEBUG)
        # The CLI resets the root handlers (basicConfig(force=True)); keep caplog's among them.
        original = logging.basicConfig

        def keep_caplog(**kwargs: object) -> None:
            original(**kwargs)  # type: ignore[arg-type]
            logging.getLogger().addHandler(caplog.handler)

        monkeypatch.setattr(logging, "basicConfig", keep_caplog)
        runner = CliRunner()
        ok = runner.invoke(cli, ["-c", str(rig.config_path), "-vv", "--no-progress", "sync"])
        assert ok.exit_code == 0, ok.output
        assert len(rig.media_rows()) == rig.n  # it really went through every service
        json_run = runner.invoke(cli, ["-c", str(rig.config_path), "--json", "sync"])
        assert json_run.exit_code == 0, json_run.output
        monkeypatch.setenv("CYVERSE_LINK_SYMBIOTA_PASSWORD", SYMBIOTA_PASSWORD + "-wrong")
        bad = runner.invoke(cli, ["-c", str(rig.config_path), "-vv", "check"])
        assert bad.exit_code == 3, bad.output

        assert any(r.levelno == logging.DEBUG for r in caplog.records), "DEBUG logs captured"
        assert_clean("the logs", caplog.text.encode())
        for result in (ok, json_run, bad):
            assert_clean("stdout/stderr", result.output.encode())
            if result.exception is not None:
                assert_clean("an exception", repr(result.exception).encode())
        ledger = rig.root / "state" / "ledger.sqlite"
        assert ledger.exists()
        for path in rig.root.rglob("*"):
            if path.is_file() and path.suffix not in (".jpg",):
                assert_clean(str(path.relative_to(rig.root)), path.read_bytes())
        reports = list((rig.root / "reports").glob("*.json"))
        assert reports  # the JSON reports were among the files checked
        for path in (REPO / "cassettes").rglob("*"):
            if path.is_file():
                assert_clean(str(path.relative_to(REPO)), path.read_bytes())
    finally:
        bq.stop()
        rig.srv.stop()
