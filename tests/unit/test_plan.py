from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from imaging import image_bytes, make_mixed_folder, write

from cyverse_link.config.settings import Settings, parse_settings
from cyverse_link.core.identifiers import IdentifierParser
from cyverse_link.core.models import LocalFile, Match, MatchStatus, Problem, Stage, Status
from cyverse_link.dropfolder import scan as scan_mod
from cyverse_link.ledger.store import FileRecord, Ledger
from cyverse_link.run.report import load_report
from cyverse_link.sync.plan import Decision, RecordCursor, decide, iter_plan, run_plan


def make_settings(tmp_path: Path, **ident: object) -> Settings:
    return parse_settings(
        {
            "collection": {"collid": 7},
            "source": {"path": "incoming"},
            "identifiers": {"pattern": r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?", **ident},
            "symbiota": {"mode": "csv"},
            "state": {"db_url": "sqlite:///state.sqlite", "report_dir": "reports"},
        },
        base_dir=tmp_path,
    )


def local(md5: str = "a" * 32, problems: tuple[Problem, ...] = ()) -> LocalFile:
    return LocalFile("x.jpg", 3, 4, md5, "image/jpeg", problems, "why" if problems else None)


def record(stage: Stage = Stage.MAPPED, status: Status = Status.DONE, md5: str = "a" * 32):  # type: ignore[no-untyped-def]
    return FileRecord("x.jpg", 3, 4, md5, stage, status)


@pytest.mark.parametrize(
    ("loc", "ident", "rec", "expected"),
    [
        (local(problems=(Problem.CORRUPT,)), "ASU1", None, Decision.BAD),
        (local(problems=(Problem.CORRUPT,)), "ASU1", record(), Decision.BAD),
        (local(), None, None, Decision.UNIDENTIFIED),
        (local(), "ASU1", None, Decision.NEW),
        (local(), "ASU1", record(), Decision.UNCHANGED),
        (local(md5="b" * 32), "ASU1", record(), Decision.CHANGED),
        (local(), "ASU1", record(Stage.UPLOADED, Status.FAILED), Decision.RESUME),
        (local(), "ASU1", record(Stage.MAPPED, Status.FAILED), Decision.RESUME),
        (local(problems=(Problem.WRONG_EXTENSION,)), "ASU1", None, Decision.NEW),  # not fatal
        (local(problems=(Problem.TOO_LARGE,)), "ASU1", record(), Decision.UNCHANGED),
    ],
)
def test_decide(loc, ident, rec, expected) -> None:  # type: ignore[no-untyped-def]
    from cyverse_link.core.models import Identifier

    decision, reason = decide(loc, Identifier(ident) if ident else None, rec)
    assert decision is expected
    if expected in (Decision.BAD, Decision.UNIDENTIFIED, Decision.CHANGED, Decision.RESUME):
        assert reason


def test_record_cursor_merge_join() -> None:
    recs = [FileRecord(p, 1, 1, "m", Stage.MAPPED, Status.DONE) for p in ["a", "c", "e"]]
    cur = RecordCursor(iter(recs))
    assert cur.lookup("a") is recs[0]
    assert cur.lookup("a") is recs[0]  # repeated look-up of the current key
    assert cur.lookup("b") is None
    assert cur.lookup("e") is recs[2]  # skips "c"
    assert cur.lookup("f") is None
    assert cur.known("f", 1, 1) is None


def test_run_plan_on_mixed_folder_reports_every_reason(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    make_mixed_folder(s.source.path)
    report = run_plan(s)
    c = report.counts
    assert c.discovered == 11
    assert c.extra["new"] == 7  # 6 good + the PNG named .jpg (flagged, not fatal)
    assert c.extra["bad"] == 3 and c.extra["unidentified"] == 1 and c.failed == 4
    assert c.extra["flagged"] == 1 and c.unchanged == 0
    assert report.exit_code == 1
    assert not (tmp_path / "state.sqlite").exists()  # plan never creates the ledger
    entries = {e["rel_path"]: e for e in load_report(report.path)["entries"]}  # type: ignore[arg-type]
    assert list(entries) == sorted(entries)
    assert entries["ASU0000006.jpg"]["problems"] == ["empty"]
    assert "truncated" in entries["ASU0000007.jpg"]["detail"]
    assert entries["ASU0000008.jpg"]["detail"] == "not an image: text"
    assert entries["ASU0000009.jpg"]["action"] == "new"
    assert entries["ASU0000009.jpg"]["problems"] == ["wrong_extension"]
    assert entries["IMG_4711.jpg"]["problems"] == ["no_catalog_number"]
    assert entries["IMG_4711.jpg"]["action"] == "unidentified"
    for bad in ("ASU0000006.jpg", "ASU0000007.jpg", "ASU0000008.jpg", "IMG_4711.jpg"):
        assert entries[bad]["status"] == "skipped" and entries[bad]["error"]
    good = entries["ünïcode/ASU0000005 (1).jpg"]
    assert (good["catalog"], good["suffix"], good["status"]) == ("ASU0000005", "1", "pending")


def test_mapping_csv_is_used(tmp_path: Path) -> None:
    (tmp_path / "names.csv").write_text("filename,catalogNumber\nIMG_4711.jpg,ASU0000099\n")
    s = make_settings(tmp_path, mapping_csv="names.csv")
    write(s.source.path / "IMG_4711.jpg", image_bytes())
    entries = load_report(run_plan(s).path)["entries"]  # type: ignore[arg-type]
    assert entries[0]["catalog"] == "ASU0000099"


def test_matcher_seam_counts_matches_in_batches(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    for i in range(3):
        write(s.source.path / f"ASU000000{i}.jpg", image_bytes(seed=i))
    write(s.source.path / "ASU0000001_b.jpg", image_bytes(seed=7))
    calls: list[Sequence[str]] = []

    def matcher(catalogs: Sequence[str]) -> dict[str, Match]:
        calls.append(list(catalogs))
        return {
            "ASU0000000": Match("ASU0000000", MatchStatus.MATCHED, (10,)),
            "ASU0000001": Match("ASU0000001", MatchStatus.AMBIGUOUS, (11, 12)),
            "ASU0000002": Match("ASU0000002", MatchStatus.UNMATCHED),
        }

    report = run_plan(s, matcher=matcher)
    assert calls == [["ASU0000000", "ASU0000001", "ASU0000002"]]  # one batch, distinct
    c = report.counts
    assert (c.extra["matched"], c.ambiguous, c.unmatched) == (1, 2, 1)
    entries = {e["rel_path"]: e for e in load_report(report.path)["entries"]}  # type: ignore[arg-type]
    assert entries["ASU0000000.jpg"]["occid"] == 10
    assert entries["ASU0000001_b.jpg"]["match"] == "ambiguous"


def seed_as_sync_would(s: Settings) -> None:
    """What the sync pipeline records once a file is fully mapped."""
    with Ledger(s.state.db_url) as led:
        for item in iter_plan(s.source, IdentifierParser(s.identifiers), None):
            f = item.local
            led.advance(
                f.rel_path,
                Stage.MAPPED,
                size=f.size,
                mtime_ns=f.mtime_ns,
                md5=f.md5,
                mime=f.mime,
                problems=f.problems,
                detail=f.detail,
                catalog=item.identifier.catalog if item.identifier else None,
            )


class Spy:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashes = 0
        self.opens = 0
        real_md5, real_open = hashlib.md5, open

        def md5(*a, **k):  # type: ignore[no-untyped-def]
            self.hashes += 1
            return real_md5(*a, **k)

        def spy_open(file, *a, **k):  # type: ignore[no-untyped-def]
            if str(file).startswith(str(self.root)):
                self.opens += 1
            return real_open(file, *a, **k)

        monkeypatch.setattr(scan_mod.hashlib, "md5", md5)
        monkeypatch.setattr("builtins.open", spy_open)
        self.root: Path = Path("/nonexistent")


def test_second_plan_on_unchanged_folder_reads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = make_settings(tmp_path)
    make_mixed_folder(s.source.path)
    seed_as_sync_would(s)
    spy = Spy(monkeypatch)
    spy.root = s.source.path
    report = run_plan(s)
    assert (spy.hashes, spy.opens) == (0, 0)
    c = report.counts
    assert c.unchanged == 7 and c.extra["new"] == 0
    assert c.extra["bad"] == 3 and c.failed == 4  # bad files stay bad without re-reading

    # touch one file with new content: exactly that one is read again
    target = s.source.path / "ASU0000001.jpg"
    target.write_bytes(image_bytes(seed=42))
    report = run_plan(s)
    assert spy.opens == 1 and report.counts.extra["changed"] == 1


@pytest.mark.slow
def test_second_plan_on_10000_unchanged_files_rehashes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = make_settings(tmp_path)
    data = image_bytes()
    md5 = hashlib.md5(data).hexdigest()
    paths = [f"batch{i // 1000:02d}/ASU{i:07d}.jpg" for i in range(10_000)]
    for p in paths:
        write(s.source.path / p, data)
    with Ledger(s.state.db_url) as led:  # seeded as sync would, without a first scan
        for p in paths:
            st = (s.source.path / p).stat()
            led.advance(
                p,
                Stage.MAPPED,
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                md5=md5,
                mime="image/jpeg",
                catalog=p[-14:-4],
            )
    spy = Spy(monkeypatch)
    spy.root = s.source.path
    report = run_plan(s)
    assert (spy.hashes, spy.opens) == (0, 0)
    assert report.counts.discovered == 10_000 and report.counts.unchanged == 10_000
    assert report.exit_code == 0
