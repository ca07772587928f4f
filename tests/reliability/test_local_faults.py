"""Local trouble: the disk holding the ledger fills up in the middle of a sync, and malformed
configuration files. The first ends with the usual invariants and a clean resume; the second
with exit code 2, a message naming the key, and nothing touched."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from reliability_rig import Rig, assert_consistent, make_rig, write_images

from cyverse_link.cli import cli
from cyverse_link.core.errors import LedgerError


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, n=4, threads=2)
    try:
        yield r
    finally:
        r.srv.stop()


class LedgerDiskFull:
    """Makes SQLite itself answer SQLITE_FULL ("database or disk is full") for the ledger file:
    every new connection to it gets ``max_page_count`` = its current size plus ``room`` pages.
    Real SQLite behaviour, not a mocked exception, so the error path is the production one."""

    def __init__(self, path: Path, room: int) -> None:
        self.path, self.room, self.on = path.resolve(), room, True

    def __call__(self, dbapi_conn: Any, _record: Any) -> None:
        if not self.on or not isinstance(dbapi_conn, sqlite3.Connection):
            return
        files = [row[2] for row in dbapi_conn.execute("PRAGMA database_list")]
        if str(self.path) not in files:
            return
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + self.room}")

    @classmethod
    def install(cls, path: Path, room: int) -> LedgerDiskFull:
        hook = cls(path, room)
        sa.event.listen(sa.engine.Engine, "connect", hook)
        return hook

    def remove(self) -> None:
        self.on = False
        sa.event.remove(sa.engine.Engine, "connect", self)


def test_ledger_disk_full_mid_run_is_a_clear_error_and_loses_nothing(rig: Rig) -> None:
    first = rig.sync()
    assert first.counts.failed == 0
    before = rig.records()
    # 40 new files, and room in the ledger for only a few more rows.
    rig.rels = sorted({*rig.rels, *write_images_offset(rig, 40)})
    full = LedgerDiskFull.install(rig.root / "state" / "ledger.sqlite", room=1)
    try:
        with pytest.raises(LedgerError) as info:
            rig.sync()
    finally:
        full.remove()
    message = str(info.value)
    assert "full" in message and "free some space" in message
    assert "ledger.sqlite" in message  # says which file (the URL has no password here)
    after = rig.records()
    for rel, rec in before.items():  # what was finished stays finished
        assert after[rel].complete and after[rel].md5 == rec.md5
    # The invariants hold on whatever the interrupted run managed to record ...
    assert_consistent(rig, complete=False, all_seen=False)
    # ... and once there is space again, the next run finishes everything, once.
    again = rig.sync()
    assert again.counts.failed == 0
    assert_consistent(rig, complete=True)


def write_images_offset(rig: Rig, n: int) -> list[str]:
    """n more images (catalog numbers after the rig's), with their specimens in the portal."""
    from cyverse_link.sandbox.symbiota_schema import add_occurrence

    extra = rig.root / "extra"
    rels: list[str] = []
    made = write_images(extra, rig.n + n)
    engine = sa.create_engine(rig.db_url)
    try:
        with engine.begin() as conn:
            for rel in made:
                cat = rel.rsplit("/", 1)[1][:10]
                target = rig.root / "incoming" / rel
                if target.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes((extra / rel).read_bytes())
                add_occurrence(conn, 7, cat)
                rels.append(rel)
    finally:
        engine.dispose()
    rig.n += len(rels)
    return rels


# ---- malformed configuration ------------------------------------------------------------

GOOD = """\
collection: {collid: 7}
source: {path: ./incoming}
irods: {user: me, collection: /iplant/home/shared/x}
symbiota: {mode: csv}
state: {db_url: "sqlite:///state.sqlite"}
"""

BAD = {
    "not yaml": ("collection: {collid: 7\nsource: [", "config"),
    "a list": ("- collection\n- source\n", "mapping"),
    "empty": ("", "collection"),
    "unknown key": (GOOD + "irods_extra: 1\n", "irods_extra"),
    "typo in a key": (GOOD.replace("collid", "colid"), "colid"),
    "wrong type": (GOOD.replace("collid: 7", "collid: seven"), "collection.collid"),
    "no catalog group": (GOOD + "identifiers: {pattern: 'ASU\\d+'}\n", "identifiers.pattern"),
    "bad regex": (GOOD + "identifiers: {pattern: '(?P<catalog>ASU\\d+'}\n", "identifiers.pattern"),
    "relative collection": (
        GOOD.replace("/iplant/home/shared/x", "home/shared/x"),
        "irods.collection",
    ),
    "too many threads": (GOOD.replace("user: me,", "user: me, threads: 11,"), "irods.threads"),
    "bad provider": (GOOD + "urls: {provider: flickr}\n", "urls.provider"),
    "binary junk": ("\x00\x01\x02\xff", "config"),
    "tabs": ("collection:\n\tcollid: 7\n", "config"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["sync", "plan"])
def test_malformed_config_is_exit_2_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, command: str
) -> None:
    text, key = BAD[case]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "incoming").mkdir()
    cfg = tmp_path / "cfg.yaml"
    cfg.write_bytes(text.encode("utf-8", "surrogateescape"))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(cli, ["-c", str(cfg), command])
    assert result.exit_code == 2, (result.output, result.exception)
    assert key in result.output, result.output
    assert "Traceback" not in result.output
    after = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert after == before, "a bad config must not create a ledger, report or anything else"


def test_missing_config_file_says_how_to_make_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "nope.yaml"), "sync"])
    assert result.exit_code == 2
    assert "nope.yaml" in result.output and "init" in result.output
