"""``plan`` reuses the ledger's catalog numbers, without parsing names, only for rows
``Ledger.confirm_catalogs`` confirmed under the current identifier rules; any other rules (or a
row rewritten since) mean the name is parsed as before. Plus migration 3 (``catalog_rules``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from imaging import image_bytes, write

from cyverse_link.config.settings import IdentifierSettings, ReplaceRule, Settings, parse_settings
from cyverse_link.core.identifiers import IdentifierParser, load_mapping_csv
from cyverse_link.core.models import Stage, Status
from cyverse_link.ledger.store import Ledger
from cyverse_link.run.report import load_report
from cyverse_link.sync.plan import iter_plan, run_plan

PATTERN = r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?"

NAMES = ["ASU0000001-dorsal.jpg", "ASU0000002.jpg", "box/ASU0000003 (2).jpg", "ASU0000004.jpg"]


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every name ``IdentifierParser`` is asked to parse, in order."""
    calls: list[str] = []
    original = IdentifierParser.__call__

    def spy(self: IdentifierParser, file_name: str) -> tuple[str, str | None] | None:
        calls.append(file_name)
        return original(self, file_name)

    monkeypatch.setattr(IdentifierParser, "__call__", spy)
    yield calls


def seed(s: Settings, wrong: str | None = None, mapping: dict[str, str] | None = None) -> None:
    """Finished rows with the catalog numbers (and suffixes) the names parse to; ``wrong``
    gets another catalog number recorded (an older rule, a relinked row...)."""
    with Ledger(s.state.db_url) as led:
        for n, item in enumerate(
            iter_plan(s.source, IdentifierParser(s.identifiers, mapping), None), start=1
        ):
            f, ident = item.local, item.identifier
            assert ident is not None
            catalog = "ASU9999999" if f.rel_path == wrong else ident.catalog
            led.advance(
                f.rel_path, Stage.MAPPED, Status.DONE, size=f.size, mtime_ns=f.mtime_ns,
                md5=f.md5, mime=f.mime, catalog=catalog, suffix=ident.suffix,
                irods_path=f"/z/{f.rel_path}", occid=n,
            )  # fmt: skip


def confirm(s: Settings) -> int:
    parser = IdentifierParser(s.identifiers)
    with Ledger(s.state.db_url) as led:
        return led.confirm_catalogs(parser.fingerprint, parser)


def entries(s: Settings) -> list[tuple[str, str, str | None, str | None]]:
    report = load_report(run_plan(s).path)  # type: ignore[arg-type]
    return [(e["rel_path"], e["action"], e["catalog"], e["suffix"]) for e in report["entries"]]


def with_rules(s: Settings, rules: IdentifierSettings) -> Settings:
    return Settings(**{**vars(s), "identifiers": rules})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = parse_settings(
        {
            "collection": {"collid": 7},
            "source": {"path": "incoming"},
            "identifiers": {"pattern": PATTERN},
            "symbiota": {"mode": "csv"},
            "state": {"db_url": "sqlite:///state.sqlite", "report_dir": "reports"},
        },
        base_dir=tmp_path,
    )
    for i, name in enumerate(NAMES):
        write(s.source.path / name, image_bytes("JPEG", seed=i))
    return s


EXPECTED = [
    ("ASU0000001-dorsal.jpg", "unchanged", "ASU0000001", "dorsal"),
    ("ASU0000002.jpg", "unchanged", "ASU0000002", None),
    ("ASU0000004.jpg", "unchanged", "ASU0000004", None),
    ("box/ASU0000003 (2).jpg", "unchanged", "ASU0000003", "2"),
]


def test_confirmed_catalog_numbers_are_reused_without_parsing(
    settings: Settings, parsed: list[str]
) -> None:
    seed(settings, wrong="ASU0000002.jpg")
    assert confirm(settings) == 3  # the wrong row is checked, found different, not confirmed
    assert confirm(settings) == 0  # each row is checked once per set of rules
    parsed.clear()
    assert entries(settings) == EXPECTED  # the wrong row's number is not shown: parsed
    assert parsed == ["ASU0000002.jpg"]


def test_unconfirmed_rows_are_parsed(settings: Settings, parsed: list[str]) -> None:
    seed(settings)
    parsed.clear()
    assert entries(settings) == EXPECTED
    assert sorted(parsed) == sorted(NAMES)


def test_changed_rules_parse_again_and_apply(settings: Settings, parsed: list[str]) -> None:
    """The rules of the last sync are not the plan's: every name is parsed with the new ones
    (no re-sync needed), however confirmed the old numbers were."""
    seed(settings)
    assert confirm(settings) == 4
    rules = IdentifierSettings(pattern=PATTERN, replace=(ReplaceRule("^ASU0*", "ASU-"),))
    parsed.clear()
    got = entries(with_rules(settings, rules))
    assert [(rel, cat, suf) for rel, _, cat, suf in got] == [
        ("ASU0000001-dorsal.jpg", "ASU-1", "dorsal"),
        ("ASU0000002.jpg", "ASU-2", None),
        ("ASU0000004.jpg", "ASU-4", None),
        ("box/ASU0000003 (2).jpg", "ASU-3", "2"),
    ]
    assert sorted(parsed) == sorted(NAMES)


def test_rewriting_a_catalog_number_unconfirms_the_row(
    settings: Settings, parsed: list[str]
) -> None:
    seed(settings)
    confirm(settings)
    with Ledger(settings.state.db_url) as led:
        led.advance("ASU0000004.jpg", Stage.MAPPED, Status.DONE, catalog="ASU7777777")
    parsed.clear()
    assert entries(settings) == EXPECTED
    assert parsed == ["ASU0000004.jpg"]


def test_fingerprint_follows_what_changes_parsing(tmp_path: Path) -> None:
    base = IdentifierSettings(pattern=PATTERN)
    fp = IdentifierParser(base).fingerprint
    assert IdentifierParser(IdentifierSettings(pattern=PATTERN)).fingerprint == fp
    assert IdentifierParser(base, {}).fingerprint == fp  # an empty mapping is no mapping
    # match_on and strip_leading_zeros are about matching records, not parsing names
    same = IdentifierSettings(pattern=PATTERN, match_on=("catalogNumber",))
    assert IdentifierParser(same).fingerprint == fp
    others = [
        IdentifierParser(IdentifierSettings(pattern=PATTERN + "x")),
        IdentifierParser(IdentifierSettings(pattern=PATTERN, replace=(ReplaceRule("a", "b"),))),
        IdentifierParser(IdentifierSettings(pattern=PATTERN, replace=(ReplaceRule("a", "c"),))),
        IdentifierParser(base, {"asu1.jpg": "ASU1"}),
        IdentifierParser(base, {"asu1.jpg": "ASU2"}),
    ]
    fps = {p.fingerprint for p in others}
    assert len(fps) == len(others) and fp not in fps


def test_plan_with_a_mapping_csv_uses_its_content(settings: Settings, parsed: list[str]) -> None:
    csv = settings.source.path.parent / "map.csv"
    csv.write_text("filename,catalogNumber\nASU0000002.jpg,ASU0000042\n")
    s = with_rules(settings, IdentifierSettings(pattern=PATTERN, mapping_csv=csv))
    mapping = load_mapping_csv(csv)
    seed(s, mapping=mapping)
    with Ledger(s.state.db_url) as led:
        parser = IdentifierParser(s.identifiers, mapping)
        assert led.confirm_catalogs(parser.fingerprint, parser) == 4
    parsed.clear()
    assert ("ASU0000002.jpg", "unchanged", "ASU0000042", None) in entries(s)
    assert parsed == []
    csv.write_text("filename,catalogNumber\nASU0000002.jpg,ASU0000043\n")  # edited: parse again
    assert ("ASU0000002.jpg", "unchanged", "ASU0000043", None) in entries(s)
    assert sorted(parsed) == sorted(NAMES)


def test_version_2_ledger_gains_catalog_rules(tmp_path: Path) -> None:
    """A ledger from before migration 3 opens, keeps its rows unconfirmed (parsed by plan)
    and can be confirmed."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the version-2 files table, as that release made it
        conn.execute(sa.text("CREATE TABLE schema_version (version INTEGER NOT NULL)"))
        conn.execute(sa.text("INSERT INTO schema_version VALUES (2)"))
        conn.execute(sa.text(
            "CREATE TABLE files (id INTEGER PRIMARY KEY, rel_path VARCHAR(1024) NOT NULL UNIQUE,"
            " size BIGINT NOT NULL, mtime_ns BIGINT NOT NULL, md5 VARCHAR(32), mime VARCHAR(100),"
            " catalog VARCHAR(255), suffix VARCHAR(255), stage INTEGER NOT NULL,"
            " status VARCHAR(16) NOT NULL, problems VARCHAR(255) NOT NULL, detail TEXT,"
            " irods_path TEXT, urls TEXT, occid INTEGER, error TEXT, attempts INTEGER NOT NULL,"
            " updated_at DATETIME NOT NULL, last_run INTEGER, previous_irods_path TEXT)"
        ))  # fmt: skip
        conn.execute(sa.text(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, command VARCHAR(50) NOT NULL,"
            " started DATETIME NOT NULL, finished DATETIME, counts TEXT, report_path TEXT)"
        ))  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO files (rel_path, size, mtime_ns, md5, catalog, stage, status, problems,"
            " irods_path, attempts, updated_at) VALUES ('ASU0000001.jpg', 3, 4, 'ab', 'ASU0000001',"
            " 6, 'done', '', '/z/a.jpg', 0, '2026-01-01 00:00:00')"
        ))  # fmt: skip
    engine.dispose()
    parser = IdentifierParser(IdentifierSettings(pattern=PATTERN))
    with pytest.raises(Exception, match="older schema version 2"):
        Ledger.open_existing(url)  # plan never migrates: it says to sync once
    with Ledger(url) as led:
        assert led.schema_version >= 3
        rec = led.get("ASU0000001.jpg")
        assert rec is not None and rec.catalog == "ASU0000001" and rec.complete
        rows = [tuple(r) for b in led.iter_join_rows(catalog_rules=parser.fingerprint) for r in b]
        assert rows == [("ASU0000001.jpg", 3, 4, 1, "/z/a.jpg", None, None, None, None)]
        assert led.confirm_catalogs(parser.fingerprint, parser) == 1
        rows = [tuple(r) for b in led.iter_join_rows(catalog_rules=parser.fingerprint) for r in b]
        assert rows[0][7:] == ("ASU0000001", None)
        assert led.get("ASU0000001.jpg") == rec  # confirming changes nothing else


def check_confirm(db_url: str) -> None:
    parser = IdentifierParser(IdentifierSettings(pattern=PATTERN))
    fp = parser.fingerprint
    with Ledger(db_url) as led:
        done = {"size": 1, "mtime_ns": 2, "md5": "m" * 32}
        led.advance("ASU0000001_b.jpg", Stage.MAPPED, catalog="ASU0000001", suffix="b", **done)
        led.advance("ASU0000002.jpg", Stage.MAPPED, catalog="ASU0000002", **done)
        led.advance("ASU0000003.jpg", Stage.MAPPED, catalog="asu0000003", **done)  # differs
        led.advance("label.jpg", Stage.MAPPED, **done)  # no catalog number: not a candidate
        assert led.confirm_catalogs(fp, parser, batch=2) == 2
        assert led.confirm_catalogs(fp, parser, batch=2) == 0
        rows = {r[0]: tuple(r[7:]) for b in led.iter_join_rows(catalog_rules=fp) for r in b}
        assert rows == {
            "ASU0000001_b.jpg": ("ASU0000001", "b"),
            "ASU0000002.jpg": ("ASU0000002", None),
            "ASU0000003.jpg": (None, None),
            "label.jpg": (None, None),
        }
        other = {r[0]: r[7] for b in led.iter_join_rows(catalog_rules=fp + "x") for r in b}
        assert set(other.values()) == {None}
        led.advance("ASU0000002.jpg", Stage.MAPPED, suffix="2")  # rewritten: unconfirmed
        rows = {r[0]: tuple(r[7:]) for b in led.iter_join_rows(catalog_rules=fp) for r in b}
        assert rows["ASU0000002.jpg"] == (None, None)
        assert rows["ASU0000001_b.jpg"] == ("ASU0000001", "b")


def test_confirm_catalogs_sqlite(tmp_path: Path) -> None:
    check_confirm(f"sqlite:///{tmp_path / 'l.sqlite'}")


def test_confirm_catalogs_mariadb(mariadb_url: str) -> None:
    check_confirm(mariadb_url)
