"""Hostile file names and identifier patterns, property-based (hypothesis).

* ``parse_identifier`` never raises for any name and any pattern the config accepts, and what it
  returns is None or a catalog the pattern's catalog group matches in full;
* the config refuses, with a ``ConfigError`` naming the key, every pattern or replace rule that
  would make ``parse_identifier`` raise later (so a run never dies on file 1 of 100,000);
* ``scan`` never raises on weird names (control characters, NFD, emoji, undecodable bytes,
  names like ``-``, ``.``-leading, very long), loses none: every file is yielded once or
  reported through ``on_skip`` or deliberately ignored (hidden, temporary), and yields sorted.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from cyverse_link.config.settings import IdentifierSettings, SourceSettings, parse_settings
from cyverse_link.core.errors import ConfigError
from cyverse_link.core.identifiers import parse_identifier
from cyverse_link.dropfolder.scan import ignored_reason, scan

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")

# ---- file names ---------------------------------------------------------------------------

CATALOG = st.from_regex(r"\A[A-Za-z]{1,4}[-_]?\d{1,9}\Z")
JUNK = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"),
    max_size=30,
)
SEPARATOR = st.sampled_from(["", "_", "-", " ", ".", "__", " - ", "\t", "\u200b", "\u3000"])
SUFFIX = st.one_of(st.none(), st.from_regex(r"\A\w{1,12}\Z"), st.sampled_from(["dorsal", "2"]))
COPY = st.sampled_from(
    ["", " (1)", "(2)", " - Copy", " - Copy (3)", " copy", " copy 2", " (1) (1)"]
)
EXT = st.sampled_from(
    [".jpg", ".JPG", ".jpeg", ".tif", ".TIFF", ".png", "", ".", ".jpg.part", ".tar.gz"]
)


@st.composite
def file_names(draw: st.DrawFn) -> str:
    parts = [draw(JUNK), draw(SEPARATOR), draw(CATALOG)]
    suffix = draw(SUFFIX)
    if suffix:
        parts += [draw(st.sampled_from(["_", "-"])), suffix]
    parts += [draw(COPY), draw(JUNK), draw(EXT)]
    name = "".join(parts)
    if draw(st.booleans()):
        name = unicodedata.normalize(draw(st.sampled_from(["NFD", "NFKD"])), name)
    if draw(st.booleans()):
        name = draw(st.sampled_from(["", "sub/", "a/b/", "..\\win\\"])) + name
    return name


# ---- patterns -----------------------------------------------------------------------------

# Separators at the ends of the catalog group are trimmed by design ("_0" → "0"; see
# test_separators_around_the_catalog_are_trimmed), so generated groups do not start with one.
PREFIX = st.text(alphabet="ABCXYZabc-_.:# ", min_size=0, max_size=5).map(lambda p: p.lstrip(" _-."))
DIGITS = st.sampled_from([r"\d+", r"\d{7}", r"\d{1,9}", r"[0-9]{3,}", r"\d*"])


@st.composite
def catalog_regexes(draw: st.DrawFn) -> str:
    """A catalog group body: an escaped literal prefix and digits, sometimes a class."""
    prefix = re.escape(draw(PREFIX))
    if draw(st.booleans()):
        prefix = draw(st.sampled_from(["[A-Z]{2,4}", "[A-Za-z]*", "[A-Z0-9]{0,3}", "(?:ASU|NY)"]))
    return prefix + draw(DIGITS)


@st.composite
def patterns(draw: st.DrawFn) -> tuple[str, str]:
    body = draw(catalog_regexes())
    pattern = f"(?P<catalog>{body})"
    if draw(st.booleans()):
        pattern = draw(st.sampled_from(["^", r"\b", "", ".*?"])) + pattern
    if draw(st.booleans()):
        pattern += draw(st.sampled_from([r"(?:[_-](?P<suffix>\w+))?", r"(?P<suffix>_\d+)?"]))
    if draw(st.booleans()):
        pattern = f"(?:{pattern})?"  # the catalog group may not take part at all
    return pattern, body


def rules_for(pattern: str, replace: list[dict[str, str]] | None = None) -> IdentifierSettings:
    data = {
        "collection": {"collid": 1},
        "identifiers": {"pattern": pattern},
        "symbiota": {"mode": "csv"},
    }
    if replace is not None:
        data["identifiers"]["replace"] = replace  # type: ignore[index]
    return parse_settings(data).identifiers


@settings(max_examples=300, deadline=None)
@given(name=file_names(), pat=patterns())
@example(name="A0#..jpg", pat=(r"(?P<catalog>\#\.\d*)", r"\#\.\d*"))  # trimmed "." at the end
def test_parse_identifier_never_crashes_and_matches_the_pattern(
    name: str, pat: tuple[str, str]
) -> None:
    pattern, body = pat
    rules = rules_for(pattern)
    ident = parse_identifier(name, rules)
    if ident is None:
        return
    assert ident.catalog, "an identifier always has a catalog number"
    assert ident.catalog == ident.catalog.strip()
    # What came back is something the catalog group matches in full (case-insensitively,
    # like the search itself), not a fragment of the junk around it -- up to the separators
    # identifiers.py documents trimming from either end (see the test below).
    seps = ["", *TRIMMED, *(a + b for a in TRIMMED for b in TRIMMED)]
    assert any(
        re.fullmatch(body, f"{pre}{ident.catalog}{post}", re.IGNORECASE)
        for pre in seps
        for post in seps
    ), (pattern, name, ident)
    assert "/" not in ident.catalog and "\\" not in ident.catalog


@settings(max_examples=300, deadline=None)
@given(name=file_names())
def test_default_pattern_on_hostile_names(name: str) -> None:
    rules = IdentifierSettings(pattern=r"(?P<catalog>ASU\d{7})(?:[_-](?P<suffix>\w+))?")
    ident = parse_identifier(name, rules)
    assert ident is None or re.fullmatch(r"ASU\d{7}", ident.catalog, re.IGNORECASE)


@settings(max_examples=200, deadline=None)
@given(
    pattern=st.one_of(patterns().map(lambda p: p[0]), st.text(max_size=40)),
    replace_pattern=st.one_of(
        st.sampled_from(["^", "$", "0+", "(A)", "(?P<x>\\d)"]), st.text(max_size=12)
    ),
    replacement=st.text(alphabet=st.sampled_from(list("ab\\12g<>_ -$")), max_size=8),
    name=file_names(),
)
def test_config_refuses_what_would_crash_identification(
    pattern: str, replace_pattern: str, replacement: str, name: str
) -> None:
    """Any text as a pattern or replace rule: the config either refuses it with a ConfigError
    naming the key, or parse_identifier works with it for every name."""
    assume(not re.search(r"[+*}]\)?[+*{]", pattern))  # no nested quantifiers (ReDoS)
    rule = [{"pattern": replace_pattern, "replacement": replacement}]
    try:
        rules = rules_for(pattern, rule)
    except ConfigError as exc:
        assert "identifiers." in str(exc)
        return
    ident = parse_identifier(name, rules)
    assert ident is None or ident.catalog


TRIMMED = (" ", "_", "-", ".")


def test_separators_around_the_catalog_are_trimmed() -> None:
    """Found by the property above: a catalog group that takes a separator gives the catalog
    without it (``_``, ``-``, ``.``, space at either end), as identifiers.py documents."""
    ident = parse_identifier("A_0.jpg", rules_for(r"(?P<catalog>_\d+)"))
    assert ident is not None and ident.catalog == "0"


def test_replacement_with_a_bad_group_reference_is_a_config_error() -> None:
    """Found by the property above: ``\\1`` without a group passed the config and then made
    every file's identification raise ``re.error`` mid-run."""
    with pytest.raises(ConfigError, match=r"identifiers\.replace\[0\]\.replacement"):
        rules_for(r"(?P<catalog>ASU\d+)", [{"pattern": "^ASU", "replacement": r"\1-"}])


# ---- scan -------------------------------------------------------------------------------

NAME_BYTES = st.one_of(
    file_names().map(lambda n: n.replace("/", "_").replace("\\", "_").encode("utf-8")),
    st.binary(min_size=1, max_size=40),
    st.sampled_from([b"-", b"--", b" ", b"\xff\xfe.jpg", b"a\nb.jpg", b"\x1b[31m.jpg", b"~$x.jpg"]),
).map(lambda b: b.replace(b"/", b"_").replace(b"\x00", b"_")[:200])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(names=st.lists(NAME_BYTES, min_size=1, max_size=12), nested=st.booleans())
def test_scan_never_crashes_and_loses_no_file(names: list[bytes], nested: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = os.fsencode(tmp)
        folder = os.path.join(root, "d\xc3\xa9j\xc3\xa0 vu\xf0\x9f\x93\xb7".encode("latin-1"))
        base = folder if nested else root
        os.makedirs(base, exist_ok=True)
        created: set[bytes] = set()
        for raw in names:
            if raw in (b".", b".."):
                continue
            path = os.path.join(base, raw)
            if os.path.lexists(path):
                continue
            with open(path, "wb") as fh:
                fh.write(b"\xff\xd8\xff\xe0 not really a jpeg")
            created.add(raw)
        skipped: list[tuple[str, str]] = []
        src = SourceSettings(path=Path(tmp), include=(), exclude=())
        found = list(scan(src, on_skip=lambda rel, why: skipped.append((rel, why))))
        rels = [f.rel_path for f in found]
        assert rels == sorted(rels), "scan yields in code-point order (the ledger's order)"
        assert len(set(rels)) == len(rels), "each file once"
        for lf in found:
            assert lf.size >= 0 and (lf.md5 is None or len(lf.md5) == 32)
        # No file lost: each one is yielded, reported as skipped (with a reason) or ignored
        # on purpose (hidden, temporary); a name that is both ignored and not UTF-8 may be
        # reported anyway. Nothing is yielded that was not created.
        prefix = os.fsdecode(os.path.relpath(base, root)) + "/" if nested else ""
        names = {prefix + os.fsdecode(raw) for raw in created}
        assert set(rels) <= names
        must_show = [n for n in names if not ignored_reason(n.rsplit("/", 1)[-1], False)]
        assert len(found) + len(skipped) >= len(must_show), (sorted(created), rels, skipped)
        assert len(found) + len(skipped) <= len(created)
        for rel, why in skipped:
            assert why  # every skip says why
            rel.encode("utf-8")  # and is printable in a report
