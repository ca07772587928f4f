"""The pipeline's logic with in-process fakes: stages, resume, changes, batching, isolation."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from cyverse_link.config import Settings, parse_settings
from cyverse_link.models import Stage, Status
from cyverse_link.pipeline import SyncResult, SyncRun

from .fakes import FakeLedger, FakePortal, FakeProvider, FakeStore, local_files, touch_later

COLL = "/iplant/home/shared/proj/ASU"


def settings(tmp_path: Path, **over: object) -> Settings:
    data: dict[str, object] = {
        "collection": {"collid": 7, "code": "ASU"},
        "source": {"path": str(tmp_path / "in")},
        "identifiers": {"pattern": r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?"},
        "irods": {"user": "me", "collection": COLL, "threads": 3, "retries": 2},
        "symbiota": {"mode": "csv", "batch_size": 2},
        "derivatives": {"web_width": 300, "thumbnail_width": 40, "large_width": 500},
    }
    for key, value in over.items():
        section, name = key.split("__")
        data.setdefault(section, {})[name] = value  # type: ignore[index]
    return parse_settings(data, base_dir=tmp_path)


def jpeg(
    color: tuple[int, int, int], size: tuple[int, int] = (600, 400), fmt: str = "JPEG"
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    (d / "box1").mkdir(parents=True)
    (d / "ASU0000001.jpg").write_bytes(jpeg((200, 0, 0)))
    (d / "ASU0000001_2.jpg").write_bytes(jpeg((0, 200, 0)))
    (d / "box1" / "ASU0000002.tif").write_bytes(jpeg((0, 0, 200), fmt="TIFF"))
    (d / "ASU0000003.jpg").write_bytes(jpeg((9, 9, 9)))  # no such specimen
    (d / "ASU0000006.jpg").write_bytes(jpeg((1, 2, 3)))  # two specimens share the number
    (d / "ASU0000004.jpg").write_bytes(b"")  # empty
    (d / "ASU0000005.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")  # corrupt
    (d / "label-scan.jpg").write_bytes(jpeg((5, 5, 5)))  # no catalog number
    return d


class World:
    def __init__(self, s: Settings) -> None:
        self.settings = s
        self.ledger = FakeLedger()
        self.store = FakeStore()
        self.portal = FakePortal(
            specimens={"ASU0000001": [101], "ASU0000002": [102], "ASU0000006": [106, 107]}
        )
        self.provider = FakeProvider()
        self.events: list[object] = []

    def run(self, limit: int | None = None) -> SyncResult:
        run = SyncRun(
            self.settings, self.ledger, self.store, self.store, self.portal, self.provider,
            on_event=self.events.append, retry_delay=0,
        )  # fmt: skip
        return run.execute(local_files(self.settings.source.path, self.ledger), limit=limit)


def test_first_run_links_good_images_and_reports_bad_ones(tmp_path: Path, drop: Path) -> None:
    w = World(settings(tmp_path))
    r = w.run()
    c = r.counts
    assert (c.discovered, c.uploaded, c.published, c.registered) == (8, 5, 5, 5)
    assert (c.mapped, c.unmatched, c.ambiguous, c.failed) == (3, 1, 1, 3)
    assert r.exit_code == 1
    failed = {e.rel_path: e for e in r.entries if e.status == "failed"}
    assert "empty" in (failed["ASU0000004.jpg"].error or "")
    assert failed["ASU0000005.jpg"].stage is Stage.DERIVED
    assert "cannot read the image" in (failed["ASU0000005.jpg"].error or "")
    assert "no catalog number" in (failed["label-scan.jpg"].error or "")
    # originals, derivatives (tif has a large one), AVUs, public tree
    orig = f"{COLL}/box1/ASU0000002.tif"
    assert orig in w.store.objects
    derivs = [p for p in w.store.objects if "/box1/_derivatives/ASU0000002." in p]
    assert sorted(p.rsplit(".", 2)[-2] for p in derivs) == ["large", "thumb", "web"]
    md5 = w.ledger.rows["box1/ASU0000002.tif"].md5
    assert w.store.avus[orig] == {"catalog_number": "ASU0000002", "collid": "7", "source_md5": md5}
    assert w.store.avus[f"{COLL}/ASU0000001_2.jpg"]["suffix"] == "2"
    assert w.store.public == {COLL}  # one tree call, no per-object ACLs
    # portal: batched matching, rows with sort order and source identifiers
    assert all(len(batch) <= 2 for batch in w.portal.match_calls)
    rows = {sid: (occ, link) for sid, (occ, link) in w.portal.rows.items()}
    occ, link = rows[f"irods:{COLL}/ASU0000001_2.jpg"]
    assert occ == 101 and link.sort_occurrence == 2 and link.urls.url.endswith(".web.jpg")
    tif = rows[f"irods:{orig}"][1]
    assert tif.urls.archive_url and tif.urls.archive_url.endswith("ASU0000002.tif")
    # ledger: unmatched says why and stays retryable
    rec = w.ledger.rows["ASU0000003.jpg"]
    assert (rec.stage, rec.status) == (Stage.MAPPED, Status.SKIPPED)
    assert rec.error.startswith("unmatched")
    assert w.ledger.rows["ASU0000006.jpg"].error.startswith("ambiguous")


def test_second_run_over_unchanged_folder_does_nothing(tmp_path: Path, drop: Path) -> None:
    w = World(settings(tmp_path))
    w.run()
    puts, writes, provider_calls = (
        sum(w.store.puts.values()),
        w.portal.write_calls,
        w.provider.calls,
    )
    r = w.run()
    assert r.counts.unchanged == 3 and r.counts.uploaded == 0 and r.counts.mapped == 0
    assert sum(w.store.puts.values()) == puts
    assert w.portal.write_calls == writes  # unmatched ones are looked up again, never written
    assert w.provider.calls == provider_calls


def test_unmatched_image_is_linked_once_the_record_appears(tmp_path: Path, drop: Path) -> None:
    w = World(settings(tmp_path))
    w.run()
    w.portal.specimens["ASU0000003"] = [103]
    puts = sum(w.store.puts.values())
    r = w.run()
    assert r.counts.mapped == 1 and r.counts.uploaded == 0
    assert sum(w.store.puts.values()) == puts
    assert w.portal.rows[f"irods:{COLL}/ASU0000003.jpg"][0] == 103


def test_create_skeletal_writes_unmatched(tmp_path: Path, drop: Path) -> None:
    w = World(settings(tmp_path, symbiota__create_skeletal=True))
    w.portal.skeletal = True
    r = w.run()
    assert r.counts.mapped == 4 and r.counts.unmatched == 0 and r.counts.ambiguous == 1


def test_changed_image_gets_new_path_and_updates_its_row(tmp_path: Path, drop: Path) -> None:
    w = World(settings(tmp_path))
    w.run()
    old = f"{COLL}/ASU0000001.jpg"
    old_bytes = w.store.objects[old]
    f = drop / "ASU0000001.jpg"
    f.write_bytes(jpeg((10, 20, 250)))
    touch_later(f)
    r = w.run()
    assert r.counts.uploaded == 1 and r.counts.mapped == 1
    assert w.store.objects[old] == old_bytes  # never overwritten
    new = w.ledger.rows["ASU0000001.jpg"].irods_path
    assert new != old and new.startswith(f"{COLL}/ASU0000001.v")
    assert f"irods:{old}" not in w.portal.rows  # row moved, not duplicated
    occ, link = w.portal.rows[f"irods:{new}"]
    assert occ == 101 and link.previous_source_identifier == f"irods:{old}"
    assert link.urls.url != w.portal.rows[f"irods:{COLL}/ASU0000001_2.jpg"][1].urls.url
    # a third change versions again, still keeping the original name's bytes
    f.write_bytes(jpeg((250, 250, 0)))
    touch_later(f)
    w.run()
    newer = w.ledger.rows["ASU0000001.jpg"].irods_path
    assert newer not in (old, new) and w.store.objects[old] == old_bytes
    assert [sid for sid in w.portal.rows if "ASU0000001." in sid or "ASU0000001.v" in sid] == [
        f"irods:{newer}"
    ]


def test_transient_upload_failures_are_retried(tmp_path: Path, drop: Path) -> None:
    w = World(settings(tmp_path))
    w.store.fail_puts["ASU0000001.jpg"] = 2  # retries: 2 → 3 attempts
    r = w.run()
    assert r.counts.mapped == 3
    assert any("retry" in str(e) for e in w.events)


def test_persistent_upload_failure_is_isolated(tmp_path: Path, drop: Path) -> None:
    w = World(settings(tmp_path))
    w.store.fail_puts["ASU0000001.jpg"] = 99
    r = w.run()
    assert r.counts.mapped == 2 and r.counts.failed == 4
    rec = w.ledger.rows["ASU0000001.jpg"]
    assert (rec.stage, rec.status) == (Stage.UPLOADED, Status.FAILED)
    w.store.fail_puts.clear()
    r2 = w.run()
    assert r2.counts.mapped == 1 and r2.counts.uploaded == 1


def test_limit_counts_files_with_work(tmp_path: Path, drop: Path) -> None:
    w = World(settings(tmp_path))
    r = w.run(limit=2)
    assert r.counts.discovered == 2


@pytest.mark.parametrize("kill_after", [0, 1, 3, 6, 9])
def test_killed_run_resumes_to_the_same_state(tmp_path: Path, drop: Path, kill_after: int) -> None:
    ref = World(settings(tmp_path))
    ref.run()
    w = World(settings(tmp_path))
    w.store.kill_after_puts = kill_after
    with pytest.raises(KeyboardInterrupt):
        w.run()
    w.store.kill_after_puts = None
    r = w.run()
    assert r.counts.failed == 3
    assert set(w.store.objects) == set(ref.store.objects)
    assert set(w.portal.rows) == set(ref.portal.rows)
    assert {k: (v.stage, v.status) for k, v in w.ledger.rows.items()} == {
        k: (v.stage, v.status) for k, v in ref.ledger.rows.items()
    }
    assert w.run().counts.unchanged == 3
