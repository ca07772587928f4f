from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cyverse_link.cli import cli
from cyverse_link.config.settings import load_settings, parse_settings
from cyverse_link.core.errors import ConfigError
from cyverse_link.core.models import PortalMode

BASE = {"collection": {"collid": 7}, "symbiota": {"mode": "csv"}}


def with_(section: str, **values: object) -> dict[str, object]:
    data: dict[str, object] = {k: dict(v) for k, v in BASE.items()}
    data.setdefault(section, {})
    data[section].update(values)  # type: ignore[attr-defined]
    return data


def test_example_config_loads(tmp_path: Path) -> None:
    target = tmp_path / "x.yaml"
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    s = load_settings(target)
    assert s.collection.collid == 7
    assert s.irods.collection == "/iplant/home/shared/myproject/ASU-PLANTS"
    assert s.symbiota.mode is PortalMode.DB
    assert s.source.path == tmp_path / "incoming"  # anchored at the config's folder
    assert s.state.db_url == f"sqlite:///{tmp_path / 'cyverse-link-state.sqlite'}"


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "x.yaml"
    target.write_text("keep me")
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 2
    assert target.read_text() == "keep me"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (with_("irods", colection="/iplant/x"), "irods.colection"),
        (with_("irods", threads="four"), "irods.threads"),
        (with_("irods", threads=11), "irods.threads"),
        (with_("irods", collection="iplant/home/me"), "irods.collection"),
        (with_("identifiers", pattern="(?P<cat>A\\d+)"), "identifiers.pattern"),
        (with_("identifiers", pattern="(?P<catalog>A\\d+"), "identifiers.pattern"),
        (with_("source", include="*.jpg"), "source.include"),
        (with_("urls", provider="imgur"), "urls.provider"),
        (with_("derivatives", enabled="yes"), "derivatives.enabled"),
        ({"collection": {}}, "collection.collid"),
        ({"source": {}}, "collection"),
        (with_("symbiota", mode="db"), "symbiota.db_url"),
        (with_("symbiota", portal_url="portal.example.org"), "symbiota.portal_url"),
        (with_("symbiota", api_url="ftp://portal.example.org/api"), "symbiota.api_url"),
        ({**BASE, "bogus": {}}, "bogus"),
    ],
)
def test_bad_config_names_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(data)
    assert str(info.value).startswith(key)


def test_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="init"):
        load_settings(tmp_path / "nope.yaml")
