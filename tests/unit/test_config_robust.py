"""Issue 13 item 11: any config text ends in Settings or one ConfigError naming the key
(exit 2), never a traceback from PyYAML, SQLAlchemy or urllib."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cyverse_link.cli import cli
from cyverse_link.config.settings import load_settings, parse_settings
from cyverse_link.core.errors import ConfigError
from cyverse_link.run.wiring import symbiota_needs_password

BASE = "collection: {collid: 7}\nsymbiota: {mode: csv}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("extra", "key", "hint"),
    [
        ('symbiota: {mode: db, db_url: "mysql+pymysql//u@h:3306/s"}', "symbiota.db_url", "URL"),
        ('symbiota: {mode: db, db_url: "mysql+pymysql://u@h:abc/s"}', "symbiota.db_url", "port"),
        ('symbiota: {mode: db, db_url: "mysql+pymysql://u@h:70000/s"}', "symbiota.db_url", "port"),
        ('symbiota: {mode: db, db_url: "mysql+nosuch://u@h/s"}', "symbiota.db_url", "driver"),
        ('symbiota: {mode: db, db_url: "nosuch://u@h/s"}', "symbiota.db_url", "driver"),
        ('state: {db_url: "sqlite//x.db"}', "state.db_url", "URL"),
        ('state: {db_url: "postgresql+nosuch://h/x"}', "state.db_url", "driver"),
        ("urls: {davanon_base: 'https://h.org:xx/dav-anon'}", "urls.davanon_base", "URL"),
        ("urls: {davanon_base: 'data.cyverse.org/dav-anon'}", "urls.davanon_base", "http"),
        ("bisque: {url: 'https://b.example.org:99999'}", "bisque.url", "URL"),
        ("irods: {port: 0}", "irods.port", "1..65535"),
        ("irods: {collection: /iplant/home/shared/../me}", "irods.collection", ".."),
        ("irods: {collection: /iplant/home/./me}", "irods.collection", "."),
        ("relink: {search_collections: [/iplant/../x]}", "relink.search_collections[0]", ".."),
    ],
)
def test_malformed_values_name_the_key(tmp_path: Path, extra: str, key: str, hint: str) -> None:
    text = BASE.replace("symbiota: {mode: csv}\n", "") if extra.startswith("symbiota") else BASE
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text + extra + "\n"))
    message = str(info.value)
    assert message.startswith(f"{key}:"), message
    assert hint in message
    assert "\n" not in message


def test_db_url_errors_never_show_the_url(tmp_path: Path) -> None:
    extra = 'symbiota: {mode: db, db_url: "mysql+pymysql://u:s3cret@h:abc/s"}\n'
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, "collection: {collid: 7}\n" + extra))
    assert "s3cret" not in str(info.value)


def test_irods_collection_is_normalised(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, BASE + "irods: {collection: '/iplant//home/me/x/'}\n"))
    assert s.irods.collection == "/iplant/home/me/x"


def test_a_duplicate_section_is_an_error_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "irods: {user: a}\nsymbiota: {mode: db}\n")
    with pytest.raises(ConfigError, match=r"^symbiota: given twice .*lines 2 and 4"):
        load_settings(path)


def test_a_duplicate_nested_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "irods:\n  user: a\n  zone: iplant\n  user: b\n")
    with pytest.raises(ConfigError, match=r"^user: given twice"):
        load_settings(path)


def test_merge_keys_may_repeat_a_key_on_purpose(tmp_path: Path) -> None:
    path = write(tmp_path, "collection: {collid: 7}\nsymbiota: {<<: {mode: db}, mode: csv}\n")
    assert load_settings(path).symbiota.mode.value == "csv"


@pytest.mark.parametrize(
    "body",
    [
        "x: " + "[" * 20000 + "]" * 20000,
        "x: " + "{a: " * 20000 + "1" + "}" * 20000,
        "".join("  " * i + f"k{i}:\n" for i in range(2000)),
    ],
    ids=["flow-lists", "flow-maps", "block-maps"],
)
def test_deep_nesting_is_a_config_error(tmp_path: Path, body: str) -> None:
    with pytest.raises(ConfigError, match="nested more than"):
        load_settings(write(tmp_path, BASE + body + "\n"))


def test_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"collection: {collid: 7}\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_settings(path)


def test_yaml_error_is_one_line_without_the_file_text(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "irods: {password: hunter2, user: [\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "\n" not in str(info.value)
    assert "hunter2" not in str(info.value)
    assert "line" in str(info.value)


@pytest.mark.parametrize(
    "extra",
    [
        'symbiota: {mode: db, db_url: "mysql+pymysql//u@h/s"}',
        'symbiota: {mode: db, db_url: "mysql+pymysql://u@h:abc/s"}',
        "x: " + "[" * 20000 + "]" * 20000,
        "symbiota: {mode: csv}",
    ],
    ids=["no-colon", "port", "deep", "duplicate"],
)
def test_cli_says_one_line_and_exits_2(tmp_path: Path, extra: str) -> None:
    path = write(tmp_path, BASE + extra + "\n")
    result = CliRunner().invoke(cli, ["-c", str(path), "check"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ")
    assert result.output.count("\n") == 1


URL_CHARS = st.sampled_from(list("mysql+pymsqlite:/@[]:%?#._-0123456789abcé \\"))
URL_TEXT = st.one_of(
    st.text(URL_CHARS, max_size=40),
    st.builds(
        lambda s, rest: s + rest,
        st.sampled_from(["mysql+pymysql://", "sqlite:///", "mysql://", "https://", ""]),
        st.text(max_size=30),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(db=URL_TEXT, state=URL_TEXT, web=URL_TEXT, coll=st.text(max_size=30))
def test_any_url_or_path_text_is_settings_or_config_error(
    db: str, state: str, web: str, coll: str
) -> None:
    data = {
        "collection": {"collid": 7},
        "symbiota": {"mode": "db", "db_url": db},
        "state": {"db_url": state},
        "urls": {"davanon_base": web},
        "bisque": {"url": web},
        "irods": {"collection": "/iplant/" + coll},
    }
    try:
        s = parse_settings(data)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    # What passed validation is usable by the steps after it (they raised raw errors before).
    assert isinstance(symbiota_needs_password(s), bool)
    sa.make_url(s.state.db_url).get_dialect().import_dbapi()


YAML_ALPHABET = st.sampled_from([*"ab:{}[],-&*!|>'\"#?% \n\t7", "collection", "<<"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(YAML_ALPHABET, max_size=60).map("".join))
def test_any_yaml_text_is_settings_or_config_error(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(BASE + text, encoding="utf-8")
        try:
            load_settings(path)
        except ConfigError as exc:
            assert "\n" not in str(exc)
