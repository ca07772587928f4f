"""``Ledger.advance_many``: several transitions in one transaction, same result as advance."""

from __future__ import annotations

from pathlib import Path

from cyverse_link.core.models import MediaUrls, Stage, Status
from cyverse_link.ledger.store import Ledger


def test_advance_many_equals_advance_calls(tmp_path: Path) -> None:
    urls = MediaUrls(url="https://x/a.jpg")
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        ledger.fail("irods:/z/a.jpg", Stage.MAPPED, "boom")
        ledger.advance_many(
            [
                ("irods:/z/a.jpg", Stage.REGISTERED, Status.DONE,
                 {"md5": "a" * 32, "size": 3, "urls": urls, "irods_path": "/z/a.jpg"}),
                ("irods:/z/a.jpg", Stage.MAPPED, Status.DONE, {"occid": 7}),
                ("irods:/z/b.jpg", Stage.MAPPED, Status.SKIPPED, {"error": "unmatched"}),
            ]
        )  # fmt: skip
        a, b = ledger.get("irods:/z/a.jpg"), ledger.get("irods:/z/b.jpg")
    assert a is not None and a.complete and a.occid == 7 and a.urls == urls
    assert a.error is None and a.attempts == 0 and a.md5 == "a" * 32
    assert b is not None and b.status is Status.SKIPPED and b.error == "unmatched"
