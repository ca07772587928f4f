"""One drop folder, each route to the REAL Symbiota 3.4.14, the same media rows.

db mode writes the rows itself; csv mode writes the import file, which is then loaded by
Symbiota's own Extended Data Import through its web form (tests/symbiota_import.py). Each
route runs against a fresh portal seeded the same way (so occids agree) and a fresh sandbox
iRODS with the same paths (so URLs agree); then the rows must be the same: occids, order
(sortOccurrence), URLs, hashes, owner. Another route is one more entry in ``ROUTES``.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
import yaml
from symbiota_import import import_media_csv, proposed_mapping
from symbiota_real import RealPortal

from cyverse_link.admin.check import run_check
from cyverse_link.config.settings import Settings, load_settings
from cyverse_link.core.models import Match, MatchStatus, MediaLink, MediaUrls
from cyverse_link.demo.data import specimen_image
from cyverse_link.portal.csvfile import COLUMNS, CsvPortal
from cyverse_link.run.report import RunReport
from cyverse_link.sandbox.irods import SandboxIrods
from cyverse_link.sync.pipeline import run_sync

USER, PASSWORD = "alice", "alice-sandbox-pw"
COLLID = 7
MATCH_ON = ["catalogNumber", "otherCatalogNumbers", "omoccuridentifiers"]
# label → (catalogNumber, omoccuridentifiers value); two records share ASU0055555
RECORDS = {
    "plain": ("ASU0012345", None),
    "zeros": ("ASU0012346", None),  # the file says ASU12346
    "dup_a": ("ASU0055555", None),
    "dup_b": ("ASU0055555", None),
    "ident": ("B-77", "ASU0099001"),  # found through the other-numbers rule
}
FILES = [  # drop folder; ASU0077777 has no record, ASU0055555 has two
    "ASU0012345.jpg",
    "tray 1/ASU0012345_2.jpg",
    "ASU0012345_b.jpg",
    "ASU12346.jpg",
    "ASU0055555.jpg",
    "ASU0077777.jpg",
    "ASU0099001.jpg",
]
COMPARED = (
    "occid", "tid", "sortOccurrence", "url", "thumbnailUrl", "originalUrl", "archiveUrl",
    "sourceIdentifier", "format", "hashFunction", "hashValue", "mediaMD5", "owner",
)  # fmt: skip


def seed(portal: RealPortal) -> dict[str, int]:
    engine = sa.create_engine(portal.db_url)
    occ: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            for label, (catalog, ident) in RECORDS.items():
                res = conn.execute(
                    sa.text("INSERT INTO omoccurrences (collid, catalogNumber) VALUES (7, :c)"),
                    {"c": catalog},
                )
                occ[label] = int(res.lastrowid)
                if ident:
                    conn.execute(
                        sa.text(
                            "INSERT INTO omoccuridentifiers (occid, identifierValue, "
                            "identifierName, modifiedUid) VALUES (:o, :v, 'barcode', 1)"
                        ),
                        {"o": occ[label], "v": ident},
                    )
    finally:
        engine.dispose()
    return occ


def media_rows(portal: RealPortal) -> list[dict[str, Any]]:
    engine = sa.create_engine(portal.db_url)
    try:
        with engine.connect() as conn:
            sql = "SELECT * FROM media ORDER BY occid, sortOccurrence, sortSequence, mediaID"
            return [dict(r._mapping) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as the portal orders them, reduced to what every route must agree on;
    empty strings and NULL are the same thing to the portal's pages."""
    return [{k: (r[k] if r[k] != "" else None) for k in COMPARED} for r in rows]


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("drop")
    for i, name in enumerate(FILES):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        colour = (60 + 20 * i, 150 - 10 * i, 70)
        specimen_image(name, colour, (300, 400)).save(path, "JPEG", quality=85)
    return folder


def write_settings(
    tmp: Path, drop: Path, irods: SandboxIrods, symbiota: dict[str, Any]
) -> Settings:
    cfg = {
        "collection": {"collid": COLLID, "code": "ASU-PLANTS"},
        "source": {"path": str(drop)},
        "identifiers": {"match_on": MATCH_ON},
        "irods": {
            "host": irods.host, "port": irods.port, "user": USER, "password": PASSWORD,
            "threads": 2, "retries": 1,
            "collection": "/iplant/home/shared/herbarium/ASU", "connection_timeout": 30,
        },
        "derivatives": {"web_width": 200, "thumbnail_width": 60, "large_width": 300},
        "symbiota": symbiota,
        "state": {"db_url": f"sqlite:///{tmp / 'state.sqlite'}", "report_dir": str(tmp / "r")},
    }  # fmt: skip
    path = tmp / "cyverse-link.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return load_settings(path)


def symbiota_section(route: str, portal: RealPortal, tmp: Path) -> dict[str, Any]:
    if route == "db":
        return {"mode": "db", "db_url": portal.db_url, "password": "none"}
    if route == "csv":  # read access: the portal's API, no token
        out = {"mode": "csv", "csv_dir": str(tmp / "out")}
        return {**out, "portal_url": portal.portal_url, "api_url": portal.api_url}
    if route == "csv-unchecked":  # no access at all: the import file only
        return {"mode": "csv", "csv_dir": str(tmp / "out")}
    if route == "api":  # writes through the REST API with a token
        api = {"mode": "api", "portal_url": portal.portal_url, "api_url": portal.api_url}
        return {**api, "api_token": portal.api_token}
    raise AssertionError(route)


def import_new_files(portal: RealPortal, out: Path, done: set[Path]) -> list[str]:
    """Import every media CSV in ``out`` not imported yet, as the manager would; the logs."""
    logs = []
    for path in sorted(out.glob("*_media_*.csv")):
        if path not in done:
            done.add(path)
            logs.append(import_media_csv(portal, path))
    return logs


def run_route(route: str, portal: RealPortal, tmp: Path, drop: Path) -> RunReport:
    """Sync ``drop`` to ``portal`` through ``route`` (a fresh sandbox iRODS); for csv, import
    the file through the portal's own import page."""
    with SandboxIrods("4.3.1", zone="iplant", users={USER: PASSWORD}) as irods:
        irods.make_shared_folder("herbarium", USER)
        settings = write_settings(tmp, drop, irods, symbiota_section(route, portal, tmp))
        report = run_sync(settings, retry_delay=0.01)
    if route.startswith("csv"):
        (log,) = import_new_files(portal, tmp / "out", set())
        assert "Media loaded successfully" in log, log
        if route == "csv":
            assert "ERROR" not in log and "SKIPPED" not in log, log
    return report


@pytest.fixture(scope="module")
def db_route(
    real_symbiota_factory: Callable[..., RealPortal],
    drop: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[RealPortal, dict[str, int], list[dict[str, Any]]]:
    portal = real_symbiota_factory()
    occ = seed(portal)
    report = run_route("db", portal, tmp_path_factory.mktemp("db"), drop)
    counts = report.counts
    assert (counts.mapped, counts.unmatched, counts.ambiguous) == (5, 1, 1)
    return portal, occ, media_rows(portal)


ROUTES = ["csv", "api"]


@pytest.mark.parametrize("route", ROUTES)
def test_each_route_gives_the_portal_the_rows_db_mode_writes(
    route: str,
    db_route: tuple[RealPortal, dict[str, int], list[dict[str, Any]]],
    real_symbiota_factory: Callable[..., RealPortal],
    drop: Path,
    tmp_path: Path,
) -> None:
    _, db_occ, db_rows = db_route
    portal = real_symbiota_factory()
    occ = seed(portal)
    assert occ == db_occ  # fresh portals, same seeding: the same occids
    report = run_route(route, portal, tmp_path, drop)
    counts = report.counts
    assert (counts.mapped, counts.unmatched, counts.ambiguous) == (5, 1, 1)
    assert "not_checked" not in counts.extra

    rows = media_rows(portal)
    assert comparable(rows) == comparable(db_rows)
    # what db mode does, spelled out: leading zeros and other numbers linked; the ambiguous
    # number linked to neither record (the import alone would link it to both)
    linked = {r["occid"] for r in rows}
    assert linked == {occ["plain"], occ["zeros"], occ["ident"]}
    assert all(r["owner"] == "ASU PLANTS" for r in rows)
    if route != "api":  # the API cannot set mediaType (not fillable in 3.4.14)
        assert all(r["mediaType"] == "image" for r in rows)
    plain = [r["sourceIdentifier"].rsplit("/", 1)[1] for r in rows if r["occid"] == occ["plain"]]
    assert plain == ["ASU0012345.jpg", "ASU0012345_2.jpg", "ASU0012345_b.jpg"]
    # the specimen page shows them in that order too
    page = requests.get(
        f"{portal.portal_url}/collections/individual/index.php",
        params={"occid": occ["plain"]},
        timeout=60,
    ).text
    thumbs = [r["thumbnailUrl"] for r in rows if r["occid"] == occ["plain"]]
    assert all(t in page for t in thumbs)
    assert sorted(thumbs, key=page.index) == thumbs

    if route == "csv":  # the file a manager acts on
        (unmatched,) = (tmp_path / "out").glob("*_unmatched_*.csv")
        with unmatched.open(newline="", encoding="utf-8") as fh:
            left = {r["catalogNumber"]: r for r in csv.DictReader(fh)}
        assert set(left) == {"ASU0055555", "ASU0077777"}
        assert left["ASU0055555"]["occids"] == f"{occ['dup_a']} {occ['dup_b']}"
        assert left["ASU0077777"]["status"] == "unmatched"


def test_the_import_page_maps_every_column_by_itself(
    real_symbiota: RealPortal, tmp_path: Path
) -> None:
    """Every column of the import file is preselected as the field of its name: the manager
    only presses "Import"."""
    portal = CsvPortal(tmp_path, collid=COLLID, code="X")
    urls = MediaUrls(
        "https://d.example/w.jpg", "https://d.example/t.jpg", "https://d.example/o.jpg"
    )
    link = MediaLink("ASU1", "irods:/z/ASU1.jpg", urls, "0123456789abcdef0123456789abcdef")
    portal.write([(link, Match("ASU1", MatchStatus.NOT_CHECKED))])
    mapping = proposed_mapping(real_symbiota, portal.output_files()["media"])
    assert mapping == {c.lower(): c.lower() for c in COLUMNS}


def test_without_read_access_the_report_says_not_checked_and_a_change_is_listed(
    real_symbiota_factory: Callable[..., RealPortal], drop: Path, tmp_path: Path
) -> None:
    """No API, no database: every row is "not checked" (never "mapped"), and the portal's
    import does what the README says it does: exact catalogNumber only, every match; a
    changed image becomes a second row, and the superseded CSV names the old one exactly."""
    portal = real_symbiota_factory()
    occ = seed(portal)
    folder = tmp_path / "drop"
    shutil.copytree(drop, folder)
    done: set[Path] = set()
    with SandboxIrods("4.3.1", zone="iplant", users={USER: PASSWORD}) as irods:
        irods.make_shared_folder("herbarium", USER)
        section = symbiota_section("csv-unchecked", portal, tmp_path)
        settings = write_settings(tmp_path, folder, irods, section)
        report = run_sync(settings, retry_delay=0.01)
        counts = report.counts
        assert counts.mapped == 0 and counts.extra["not_checked"] == len(FILES)
        assert counts.unmatched == counts.ambiguous == 0  # nothing was looked up
        (log,) = import_new_files(portal, tmp_path / "out", done)
        assert log.count("SKIPPED: Unable to find record") == 3  # zeros, other number, none
        first = media_rows(portal)
        linked = sorted(r["occid"] for r in first)
        plain, dup_a, dup_b = occ["plain"], occ["dup_a"], occ["dup_b"]
        assert linked == sorted([plain, plain, plain, dup_a, dup_b])  # both duplicates!

        # a changed image: sync uploads it beside the old one; the import can only insert
        specimen_image("changed", (10, 20, 200), (300, 400)).save(folder / "ASU0012345.jpg")
        again = run_sync(settings, retry_delay=0.01)
        assert again.counts.extra["superseded"] == 1 and again.counts.extra["not_checked"] == 1
    (log,) = import_new_files(portal, tmp_path / "out", done)
    rows = [r for r in media_rows(portal) if r["occid"] == plain]
    assert len(rows) == 4  # the old row stays beside the new one
    (superseded,) = (tmp_path / "out").glob("*_superseded_*.csv")
    with superseded.open(newline="", encoding="utf-8") as fh:
        (line,) = list(csv.DictReader(fh))
    old = [r for r in rows if r["originalUrl"] == line["oldOriginalUrl"]]
    new = [r for r in rows if r["originalUrl"] == line["newOriginalUrl"]]
    assert len(old) == 1 and len(new) == 1 and old[0]["mediaID"] < new[0]["mediaID"]
    assert old[0]["sourceIdentifier"] == line["oldSourceIdentifier"]
    assert line["catalogNumber"] == "ASU0012345" and line["occid"] == ""  # not known here


def test_check_says_whether_csv_matches_are_checked(
    real_symbiota: RealPortal, tmp_path: Path
) -> None:
    with SandboxIrods("4.3.1", zone="iplant", users={USER: PASSWORD}) as irods:
        irods.make_shared_folder("herbarium", USER)
        checked = write_settings(
            tmp_path, tmp_path, irods, symbiota_section("csv", real_symbiota, tmp_path)
        )
        (line,) = [x for x in run_check(checked) if x.service == "symbiota"]
        assert line.ok and "matches checked through" in line.message
        assert "ASU PLANTS" in line.message
        blind = symbiota_section("csv-unchecked", real_symbiota, tmp_path)
        (line,) = [x for x in run_check(write_settings(tmp_path, tmp_path, irods, blind))
                   if x.service == "symbiota"]  # fmt: skip
        assert line.ok and "matches not checked" in line.message
