"""``plan``'s fast path for unchanged files must be invisible: same entries, counts and
decisions as the full per-file path, with its pieces (identifier parser, include/exclude
filter, report line, lean ledger read) each checked against the straightforward version."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imaging import image_bytes, make_mixed_folder, write

from cyverse_link.config.settings import IdentifierSettings, ReplaceRule, Settings, parse_settings
from cyverse_link.core.identifiers import IdentifierParser, split_copy_marker, stem_of
from cyverse_link.core.models import Counts, MediaUrls, Problem, Stage, Status
from cyverse_link.dropfolder.scan import _Filter
from cyverse_link.ledger.store import Ledger, _encode
from cyverse_link.run.report import ReportEntry, ReportWriter, load_report
from cyverse_link.sync import plan as plan_mod
from cyverse_link.sync.plan import PlanEvent, iter_plan, run_plan

PATTERN = r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?"
HOSTILE = [
    'we"ird\\name ASU0000011.jpg',
    "tab\tASU0000012 - Copy.jpg",
    "emoji 🦎 ASU0000013 (2).jpg",
    "ＡＳＵ００００１４.jpg",  # full-width: NFKC gives ASU0000014
    "ASU0000015 copy 3.jpeg",
    "new\nline ASU0000016.jpg",
]


def make_settings(tmp_path: Path, **source: Any) -> Settings:
    return parse_settings(
        {
            "collection": {"collid": 7},
            "source": {"path": "incoming", **source},
            "identifiers": {"pattern": PATTERN},
            "symbiota": {"mode": "csv"},
            "state": {"db_url": "sqlite:///state.sqlite", "report_dir": "reports"},
        },
        base_dir=tmp_path,
    )


def seed_finished(s: Settings) -> None:
    """Rows as a finished sync leaves them (URLs, iRODS path, occid), plus a few that are
    not settled: an error kept, a resumable stage, a detail note."""
    with Ledger(s.state.db_url) as led:
        for n, item in enumerate(
            iter_plan(s.source, IdentifierParser(s.identifiers), None), start=1
        ):
            f = item.local
            base = f"https://h/dav-anon/iplant/projects/x/{f.rel_path}"
            stage, status = Stage.MAPPED, Status.DONE
            if f.rel_path.startswith("ASU0000002"):
                stage = Stage.UPLOADED  # resumable
            fields: dict[str, Any] = {"urls": MediaUrls(base, f"{base}.t.jpg", base)}
            if f.rel_path.startswith("ASU0000003"):
                fields["urls"] = None
            led.advance(
                f.rel_path, stage, status, size=f.size, mtime_ns=f.mtime_ns, md5=f.md5,
                mime=f.mime, problems=f.problems, detail=f.detail,
                irods_path=f"/iplant/home/shared/x/{f.rel_path}", occid=n,
                catalog=item.identifier.catalog if item.identifier else None, **fields,
            )  # fmt: skip
        led.fail("ASU0000001_b.JPG", Stage.MAPPED, "portal said no")


@pytest.mark.parametrize("include", [None, ["*.jpg", "*.JPEG", "*.png", "*.tif"], ["*"]])
def test_fast_plan_equals_the_full_path(tmp_path: Path, include: list[str] | None) -> None:
    s = make_settings(tmp_path, **({"include": include} if include else {}))
    make_mixed_folder(s.source.path)
    for i, name in enumerate(HOSTILE):
        write(s.source.path / name, image_bytes("JPEG", seed=20 + i))
    seed_finished(s)
    with Ledger(s.state.db_url) as led:
        full = [
            plan_mod._entry(item, None).to_dict()
            for item in iter_plan(s.source, IdentifierParser(s.identifiers), led)
        ]
    events: list[PlanEvent] = []
    report = run_plan(s, on_event=events.append)
    entries = load_report(report.path)["entries"]  # type: ignore[arg-type]
    fast = [e for e in entries if e["action"] != "skipped"]  # what the scan left out: extra
    assert fast == full  # same entries, same order, same values
    unchanged = [e for e in full if e["action"] == "unchanged"]
    # the tab and newline names are bad (a control character iRODS cannot give back)
    assert len(unchanged) >= 6 and report.counts.unchanged == len(unchanged)
    assert report.counts.discovered == len(full)
    assert {e["action"] for e in full} >= {"unchanged", "resume", "bad", "unidentified"}
    batched = sum(e.count for e in events if e.kind == "unchanged")  # the fast path
    flagged = [e for e in events if e.kind == "file" and e.decision == "unchanged"]
    assert batched >= 6 and batched + len(flagged) == len(unchanged)  # flagged: full path
    assert batched + sum(e.kind == "file" for e in events) == len(full)


def test_unchanged_progress_comes_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_mod, "PROGRESS_EVERY", 3)
    s = make_settings(tmp_path)
    data = image_bytes()
    for i in range(7):
        write(s.source.path / f"ASU1{i:06d}.jpg", data)
    seed_finished(s)
    events: list[PlanEvent] = []
    report = run_plan(s, on_event=events.append)
    assert report.counts.unchanged == 7
    assert [(e.kind, e.count, e.rel_path) for e in events] == [
        ("unchanged", 3, "ASU1000002.jpg"),
        ("unchanged", 3, "ASU1000005.jpg"),
        ("unchanged", 1, "ASU1000006.jpg"),
    ]


def test_changed_identifier_rules_are_applied_to_unchanged_files(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    write(s.source.path / "ASU0000001-dorsal.jpg", image_bytes())
    seed_finished(s)
    (entry,) = load_report(run_plan(s).path)["entries"]  # type: ignore[arg-type]
    assert (entry["action"], entry["catalog"], entry["suffix"]) == (
        "unchanged", "ASU0000001", "dorsal",
    )  # fmt: skip
    rules = IdentifierSettings(pattern=PATTERN, replace=(ReplaceRule("^ASU0*", "ASU-"),))
    s2 = Settings(**{**vars(s), "identifiers": rules})
    (entry,) = load_report(run_plan(s2).path)["entries"]  # type: ignore[arg-type]
    assert (entry["action"], entry["catalog"]) == ("unchanged", "ASU-1")


# --- the pieces ------------------------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    rel=text.filter(bool),
    catalog=text,
    suffix=st.none() | text,
    irods=st.none() | text,
    urls=st.none() | st.builds(MediaUrls, text, st.none() | text, st.none() | text),
    occid=st.none() | st.integers(0, 2**40),
)
def test_unchanged_line_is_the_entry_json(
    tmp_path_factory: pytest.TempPathFactory,
    rel: str,
    catalog: str,
    suffix: str | None,
    irods: str | None,
    urls: MediaUrls | None,
    occid: int | None,
) -> None:
    entry = ReportEntry(
        rel, Stage.MAPPED, Status.DONE, "unchanged", catalog, suffix, irods, urls, occid
    )
    w = ReportWriter(tmp_path_factory.mktemp("r"), "plan", dry_run=True)
    stored = _encode("urls", urls)  # the JSON text the ledger keeps
    w.add_unchanged(rel, catalog, suffix, irods, stored, occid)
    w.add(entry)
    fast, full = load_report(w.finish(Counts()).path)["entries"]  # type: ignore[arg-type]
    assert fast == full == entry.to_dict()


def reference_identifier(name: str, rules: IdentifierSettings) -> tuple[str, str | None] | None:
    """The implementation before the compiled parser, kept as the specification."""

    def clean(value: str | None) -> str | None:
        return (value.strip(" _-.") or None) if value is not None else None

    stem, copy = split_copy_marker(stem_of(name))
    m = re.compile(rules.pattern, re.IGNORECASE).search(stem)
    suffix = clean(m.groupdict().get("suffix")) if m else None
    if suffix is None:
        suffix = copy
    catalog = clean(m.group("catalog")) if m else None
    if catalog is None:
        return None
    for rule in rules.replace:
        catalog = re.sub(rule.pattern, rule.replacement, catalog)
    catalog = catalog.strip()
    return (catalog, suffix) if catalog else None


name_part = st.lists(
    st.sampled_from([*"ASUasu0123456789 _-.()/\\copyCOPY", "ＡＳＵ", "１", "é", "\t"]),
    max_size=24,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(name=name_part, tail=st.sampled_from(["", ".jpg", " (2).jpg", " - Copy.JPG", " copy 4"]))
def test_identifier_parser_equals_the_reference(name: str, tail: str) -> None:
    rules = IdentifierSettings(
        pattern=r"(?P<catalog>ASU\d{3,7})(?:[_-](?P<suffix>\w+))?",
        replace=(ReplaceRule(r"^asu", "ASU"),),
    )
    assert IdentifierParser(rules)(name + tail) == reference_identifier(name + tail, rules)


GLOBS = ["*.jpg", "*.JPG", "*.tif*", "raw/*", "*/skip/*", "*", "a?c.png", "[ab]*", "*.jpeg",
         "*.pNg", "x*.png", "*~"]  # fmt: skip
globs = st.lists(st.sampled_from(GLOBS), max_size=4).map(tuple)


@settings(max_examples=400, deadline=None)
@given(
    include=globs,
    exclude=globs,
    rel=st.lists(st.sampled_from([*"abcxAJPGNTIF./~", "raw/", "skip/"]), min_size=1).map("".join),
)
def test_filter_equals_fnmatch_per_pattern(
    include: tuple[str, ...], exclude: tuple[str, ...], rel: str
) -> None:
    name = rel.rsplit("/", 1)[-1] or rel
    lo_rel, lo_name = rel.lower(), name.lower()
    inc = [p.lower() for p in include]
    exc = [p.lower() for p in exclude]
    excluded = any(fnmatch.fnmatchcase(lo_rel, p) or fnmatch.fnmatchcase(lo_name, p) for p in exc)
    included = not inc or any(fnmatch.fnmatchcase(lo_rel if "/" in p else lo_name, p) for p in inc)
    flt = _Filter(include, exclude)
    assert flt.excluded(rel, name) == excluded
    assert flt.included(rel, name) == included
    assert flt.keep_file(rel, name) == (not excluded and included)
    if flt.only_ends is not None:  # the walk's inlined form
        assert lo_name.endswith(flt.only_ends) == flt.keep_file(rel, name)


def check_join_rows(db_url: str) -> None:
    with Ledger(db_url) as led:
        done = {"size": 1, "mtime_ns": 2, "md5": "m" * 32, "irods_path": "/z/b", "occid": 4}
        led.advance("b", Stage.MAPPED, urls=MediaUrls("u"), **done)
        led.advance("a", Stage.MAPPED, **done)
        led.advance("c", Stage.UPLOADED, **done)  # not finished
        led.advance("d", Stage.MAPPED, problems=(Problem.TOO_LARGE,), **done)
        led.advance("e", Stage.MAPPED, detail="note", **done)
        led.advance("f", Stage.MAPPED, size=1, mtime_ns=2)  # no md5
        led.advance("g", Stage.MAPPED, **done)
        led.fail("g", Stage.MAPPED, "boom")
        led.advance("B", Stage.MAPPED, **done)  # code-point order: "B" < "a"
        rows = [tuple(r) for batch in led.iter_join_rows(batch=3) for r in batch]
    assert [r[0] for r in rows] == ["B", "a", "b", "c", "d", "e", "f", "g"]
    assert [bool(r[3]) for r in rows] == [True, True, True, False, False, False, False, False]
    b = rows[2]
    assert b[1:3] == (1, 2) and b[4] == "/z/b" and b[6] == 4
    assert MediaUrls(**json.loads(b[5])) == MediaUrls("u")


def test_lean_ledger_read_sqlite(tmp_path: Path) -> None:
    check_join_rows(f"sqlite:///{tmp_path / 'l.sqlite'}")


def test_lean_ledger_read_mariadb(mariadb_url: str) -> None:
    check_join_rows(mariadb_url)


def test_interrupted_report_keeps_the_buffered_unchanged_entries(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), ReportWriter(tmp_path, "plan", dry_run=True) as w:
        for i in range(3):
            w.add_unchanged(f"ASU{i}.jpg", f"ASU{i}", None, None, None, i)
        raise RuntimeError("killed")
    text = w.path.with_name(w.path.name + ".part").read_text()
    entries = json.loads(text + "]}")["entries"]  # readable up to the last entry
    assert [e["rel_path"] for e in entries] == ["ASU0.jpg", "ASU1.jpg", "ASU2.jpg"]
