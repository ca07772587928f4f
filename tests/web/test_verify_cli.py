"""``cyverse-link verify``: ledger rows → URL checks → report and exit code (live image host)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from web_support import SAMPLE_JPEG, ImageHost

from cyverse_link.admin.verify import targets_for
from cyverse_link.cli import cli
from cyverse_link.core.models import MediaUrls, Stage
from cyverse_link.ledger.store import Ledger


@pytest.fixture
def host() -> Iterator[str]:
    with ImageHost() as h:
        yield h.url


def make_config(tmp_path: Path, host: str, broken: bool) -> Path:
    db = tmp_path / "state.sqlite"
    with Ledger(f"sqlite:///{db}") as ledger:
        ledger.advance(
            "ok.jpg",
            Stage.MAPPED,
            size=len(SAMPLE_JPEG),
            irods_path="/iplant/home/shared/p/ok.jpg",
            urls=MediaUrls(url=f"{host}/ok.jpg", thumbnail_url=f"{host}/nohead.jpg"),
        )
        if broken:
            ledger.advance(
                "x.tif",
                Stage.MAPPED,
                size=99,
                irods_path="/iplant/home/shared/p/x.tif",
                urls=MediaUrls(url=f"{host}/missing.jpg", archive_url=f"{host}/octet.dng"),
            )
        ledger.advance("unmapped.jpg", Stage.UPLOADED, size=5)  # no URLs: not checked
    cfg = tmp_path / "cyverse-link.yaml"
    cfg.write_text(
        f"collection: {{collid: 7}}\nsymbiota: {{mode: csv}}\nstate: {{db_url: 'sqlite:///{db}'}}\n"
    )
    return cfg


def test_verify_all_good(tmp_path: Path, host: str) -> None:
    cfg = make_config(tmp_path, host, broken=False)
    result = CliRunner().invoke(cli, ["-c", str(cfg), "verify"])
    assert result.exit_code == 0, result.output
    assert "checked 2 URLs: 2 ok, 0 broken" in result.output


def test_verify_reports_broken_and_exits_1(tmp_path: Path, host: str) -> None:
    cfg = make_config(tmp_path, host, broken=True)
    result = CliRunner().invoke(cli, ["-c", str(cfg), "--json", "verify", "--concurrency", "2"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert (report["checked"], report["ok"]) == (4, 2)
    problems = {b["key"]: b["problems"] for b in report["broken"]}
    assert problems == {"x.tif url": ["broken"], "x.tif archive_url": ["not_image"]}


def test_expected_size_only_on_the_original_object() -> None:
    class Rec:
        rel_path, size, irods_path = "a b.jpg", 123, "/iplant/home/u/a b.jpg"
        urls = MediaUrls(
            url="https://d/_derivatives/a b.x.web.jpg",
            thumbnail_url="https://d/_derivatives/a b.x.thumb.jpg",
            original_url="https://d/iplant/home/u/a%20b.jpg",
        )

    sizes = {t.key: t.expected_size for t in targets_for(Rec())}
    assert sizes == {
        "a b.jpg url": None,
        "a b.jpg thumbnail_url": None,
        "a b.jpg original_url": 123,
    }
