"""A lost ledger against BisQue (issue 14): file names holding '=', '#', '<' and '>' are still
registered once. The ledger is the only record of a registration besides BisQue itself, so a
second ``sync`` with a fresh ledger must find each one through BisQue's value filter (which
cuts at '=', '<', '>'), and BisQue's own name for it must be the file's name."""

from __future__ import annotations

from pathlib import Path

from reliability_rig import assert_consistent, make_rig

from cyverse_link.sandbox.bisque_server import BisqueSandbox

BISQUE_USER, BISQUE_PASSWORD = "collmgr", "bisque-Secret-90c1aa"
HOSTILE = ["ASU0001000 scale=2.jpg", "ASU0001001 #1 é.jpg", "ASU0001002 <dorsal>.jpg",
           "ASU0001003 a>=b 'x'.jpg"]  # fmt: skip


def test_hostile_names_are_registered_once_across_a_lost_ledger(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, n=len(HOSTILE), threads=2)
    incoming = rig.root / "incoming"
    renamed = []
    for rel, name in zip(rig.rels, HOSTILE, strict=True):
        target = Path(rel).parent / name
        (incoming / rel).rename(incoming / target)
        renamed.append(target.as_posix())
    rig.rels = sorted(renamed)
    with BisqueSandbox({BISQUE_USER: BISQUE_PASSWORD}) as bq:
        rig.configure(
            urls={"provider": "bisque"},
            bisque={"url": bq.url, "user": BISQUE_USER, "password": "keyring",
                    "irods_host": "data.iplantcollaborative.org", "timeout": 30, "retries": 1},
        )  # fmt: skip
        rig.env["CYVERSE_LINK_BISQUE_PASSWORD"] = BISQUE_PASSWORD
        try:
            first = rig.sync()
            assert first.counts.failed == 0
            assert_consistent(rig, complete=True)
            rows = {r["sourceIdentifier"]: r["originalUrl"] for r in rig.media_rows()}
            ledgers = list(rig.root.rglob("ledger.sqlite"))
            assert len(ledgers) == 1
            ledgers[0].unlink()  # the ledger is lost
            again = rig.sync()
            assert again.counts.failed == 0
            assert_consistent(rig, complete=True)
            assert {r["sourceIdentifier"]: r["originalUrl"] for r in rig.media_rows()} == rows
        finally:
            rig.srv.stop()
        inserts = [r for r in bq.requests if r.path == "/blob_service/paths/insert"]
        assert len(inserts) == len(HOSTILE), "one paths/insert per file, none after the loss"
        assert sorted(r.name for r in bq.resources.values()) == sorted(HOSTILE)
        assert all(r.permission == "published" for r in bq.resources.values())
