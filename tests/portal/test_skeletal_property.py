"""Issue 13.5 over a wide input space: however a number is spelled across file names (case,
leading zeros, suffixes) and however the links fall into batches, ``create_skeletal`` makes one
record per normalised catalog number and links every image of it there."""

from __future__ import annotations

import tempfile
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from symbiota_helpers import Portal, link

from cyverse_link.config.settings import IdentifierSettings
from cyverse_link.core.identifiers import IdentifierParser, normalize_catalog
from cyverse_link.portal.base import MatchRules
from cyverse_link.portal.symbiota import SymbiotaDb
from cyverse_link.sandbox.symbiota_schema import add_collection, create_symbiota_schema

PARSE = IdentifierParser(IdentifierSettings())


@st.composite
def spellings(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """(file names, their numbers) for a few numbers, each spelled several ways."""
    names: list[str] = []
    numbers: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        prefix = draw(st.text("ABCNYZ", min_size=1, max_size=4))
        number = draw(st.integers(0, 10**6))
        numbers.append(f"{prefix}{number}")
        for _ in range(draw(st.integers(1, 4))):
            cased = "".join(
                ch.lower() if draw(st.booleans()) else ch for ch in prefix
            )  # the default pattern ignores case
            width = draw(st.integers(len(str(number)), 10))
            suffix = draw(st.sampled_from(["", "_b", "-2", "_lateral", "_10"]))
            ext = draw(st.sampled_from([".jpg", ".JPG", ".tif"]))
            names.append(f"{cased}{number:0{width}d}{suffix}{ext}")
    return list(dict.fromkeys(names)), numbers


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spellings(), st.integers(1, 4), st.randoms(use_true_random=False))
def test_one_record_per_normalised_number(
    case: tuple[list[str], list[str]], batch_size: int, rnd: object
) -> None:
    names, numbers = case
    rnd.shuffle(names)  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'symbiota.sqlite'}"
        engine = sa.create_engine(url)
        create_symbiota_schema(engine, "media")
        p = Portal(url, "media", engine)
        with engine.begin() as conn:  # no occurrences: every number is new
            add_collection(conn, institution_code="ASU", collection_code="PLANTS", collid=7)
        db = SymbiotaDb(url, None, rules=MatchRules(7, match_on=("catalogNumber",)),
                        create_skeletal=True, batch_size=batch_size)  # fmt: skip
        try:
            links = []
            for name in names:
                found = PARSE(name)
                assert found is not None, name
                links.append(link(found[0], name))
            # one write per batch, matched just before it, as mapping.py does
            for i in range(0, len(links), batch_size):
                part = links[i : i + batch_size]
                found_m = db.match([lk.catalog for lk in part])
                result = db.write([(lk, found_m[lk.catalog]) for lk in part])
                assert not result.errors
            groups: dict[str, set[int]] = {}
            for row in p.rows():
                catalog = PARSE(row["sourceIdentifier"].rsplit("/", 1)[-1])
                assert catalog is not None
                groups.setdefault(_norm(catalog[0]), set()).add(int(row["occid"]))
            assert all(len(occids) == 1 for occids in groups.values()), groups
            assert len({o for occids in groups.values() for o in occids}) == len(groups)
            skeletal = p.scalar(
                "SELECT COUNT(*) FROM omoccurrences WHERE processingStatus = 'unprocessed'"
            )
            assert skeletal == len({_norm(n) for n in numbers})
        finally:
            db.close()
            engine.dispose()


def _norm(catalog: str) -> str:
    return normalize_catalog(catalog).casefold()
