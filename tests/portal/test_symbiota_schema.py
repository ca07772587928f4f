"""Schema detection, connection errors and the sandbox schema itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from symbiota_helpers import Portal, link

from cyverse_link.core.errors import AuthenticationFailed, PortalError, ServiceUnavailable
from cyverse_link.portal.base import MatchRules, SchemaInfo
from cyverse_link.portal.schema import parse_version
from cyverse_link.portal.symbiota import SymbiotaDb
from cyverse_link.sandbox.symbiota_schema import add_collection, create_symbiota_schema

ONE = MatchRules(1, match_on=("catalogNumber",))  # collection 1, catalog numbers only


def test_detects_both_flavours(portal: Portal) -> None:
    if portal.real:  # Symbiota's own schema files: 3.4 (media) and 3.1 (images)
        expected = {"media": SchemaInfo("3.4", "media"), "images": SchemaInfo("3.1", "images")}
    else:
        expected = {"media": SchemaInfo("3.2.1", "media"), "images": SchemaInfo("3.1.8", "images")}
    assert portal.db().schema() == expected[portal.flavour]


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("3.2.1", (3, 2, 1)), ("3.10", (3, 10)), ("3.1.8-beta", (3, 1, 8)), ("", None), ("x", None)],
)
def test_parse_version(value: str, parsed: tuple[int, ...] | None) -> None:
    assert parse_version(value) == parsed


def _fresh(url: str, flavour: str, version: str | None = None) -> sa.Engine:
    engine = sa.create_engine(url)
    create_symbiota_schema(engine, flavour, version=version)  # type: ignore[arg-type]
    with engine.begin() as conn:
        add_collection(conn, institution_code="ASU", collid=1)
    return engine


def test_version_is_compared_as_a_tuple(backend_url: str) -> None:
    """As strings "3.10.0" < "3.2"; as versions it is newer, so the table is media."""
    engine = _fresh(backend_url, "media", "3.10.0")
    db = SymbiotaDb(backend_url, None, rules=ONE)
    assert db.schema() == SchemaInfo("3.10.0", "media")
    db.close()
    engine.dispose()


def test_tables_win_over_a_missing_version(backend_url: str) -> None:
    engine = _fresh(backend_url, "images")
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM schemaversion"))
    db = SymbiotaDb(backend_url, None, rules=ONE)
    assert db.schema() == SchemaInfo(None, "images")
    db.close()
    engine.dispose()


def test_missing_required_column_is_a_clear_error(ddl_portal: Portal) -> None:
    with ddl_portal.engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {ddl_portal.media} DROP COLUMN sourceIdentifier"))
    with pytest.raises(PortalError, match=r"lacks column\(s\) sourceIdentifier"):
        ddl_portal.db().schema()


def test_extra_columns_are_tolerated(ddl_portal: Portal) -> None:
    with ddl_portal.engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {ddl_portal.media} ADD COLUMN localNote VARCHAR(20)"))
        conn.execute(sa.text("ALTER TABLE omoccurrences ADD COLUMN extra1 INT"))
    db = ddl_portal.db()
    found = db.match(["ASU1234"])
    assert db.write([(link("ASU1234"), found["ASU1234"])]).inserted == 1


def test_identifiers_table_required_only_when_used(ddl_portal: Portal) -> None:
    with ddl_portal.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE omoccuridentifiers"))
    assert ddl_portal.db(match_on=["catalogNumber"]).match(["ASU1234"])["ASU1234"].occids
    # the other-numbers rule covers the table only where it exists (Symbiota < 3.0 lacks it)
    other = ddl_portal.db(match_on=["catalogNumber", "otherCatalogNumbers"])
    assert other.match(["ASU777"])["ASU777"].occids == (ddl_portal.occ["other"],)
    with pytest.raises(PortalError, match="omoccuridentifiers"):
        ddl_portal.db().schema()


def test_skeletal_columns_required_only_when_used(ddl_portal: Portal) -> None:
    with ddl_portal.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE omoccurrences DROP COLUMN processingStatus"))
    assert ddl_portal.db().schema().table == ddl_portal.flavour
    with pytest.raises(PortalError, match="processingStatus"):
        ddl_portal.db(create_skeletal=True).schema()


def test_unknown_collection(portal: Portal) -> None:
    with pytest.raises(PortalError, match="collection 99 does not exist"):
        portal.db(collid=99).schema()


def test_not_a_symbiota_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with pytest.raises(PortalError, match="no 'media' or 'images' table"):
        SymbiotaDb(url, None, rules=ONE).schema()


@pytest.mark.mariadb
def test_wrong_password_is_reported_without_it(mariadb_server: str) -> None:
    url = mariadb_server.replace("root@", "cl_nobody@") + "/mysql"
    db = SymbiotaDb(url, "s3cret-pw", rules=ONE)
    with pytest.raises(AuthenticationFailed) as info:
        db.schema()
    assert "s3cret-pw" not in str(info.value)
    assert "***" in str(info.value)
    assert "s3cret-pw" not in repr(db._engine)


def test_unreachable_server() -> None:
    db = SymbiotaDb("mysql+pymysql://u@127.0.0.1:1/symbiota", "pw-xyz", rules=ONE)
    with pytest.raises(ServiceUnavailable) as info:
        db.schema()
    assert info.value.retryable
    assert "pw-xyz" not in str(info.value)


@pytest.mark.mariadb
def test_mariadb_is_strict(mariadb_url: str) -> None:
    """The sandbox relies on strict mode: an over-long catalogNumber is refused, not cut."""
    engine = _fresh(mariadb_url, "media")
    with engine.connect() as conn:
        assert "STRICT_TRANS_TABLES" in conn.execute(sa.text("SELECT @@sql_mode")).scalar()
        with pytest.raises(sa.exc.DataError):
            conn.execute(
                sa.text("INSERT INTO omoccurrences (collid, catalogNumber) VALUES (1, :c)"),
                {"c": "X" * 33},
            )
    engine.dispose()
