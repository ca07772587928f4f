"""Issue 13 item 3: a 255-byte file name (NAME_MAX) failed every run with OSError 36 from the
local derivative name; the remote derivative and version names also outgrew NAME_MAX."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyverse_link.admin.collection_index import CollectionIndex
from cyverse_link.core.models import RemoteObject, Stage, Status
from cyverse_link.core.naming import (
    NAME_MAX,
    Rendition,
    derivative_of,
    derivative_path,
    derivative_stem,
    versioned_path,
)
from cyverse_link.run.report import load_report

from .test_pipeline import COLL, World, image, make_settings

ASCII_255 = "ASU0000001_" + "a" * 240 + ".jpg"
MULTI_255 = "ASU0000002_" + "é" * 120 + ".jpg"  # 11 + 240 + 4 bytes


@pytest.mark.parametrize("name", [ASCII_255, MULTI_255])
def test_255_byte_name_is_synced_with_derivatives(tmp_path: Path, name: str) -> None:
    assert len(name.encode()) == 255
    drop = tmp_path / "in"
    drop.mkdir()
    (drop / name).write_bytes(image((200, 0, 0), "PNG"))  # PNG: web, thumb and large
    w = World(make_settings(tmp_path))
    w.portal.specimens.update({"ASU0000001": [101], "ASU0000002": [102]})
    w.run()
    rec = w.ledger()[name]
    assert (rec.stage, rec.status, rec.error) == (Stage.MAPPED, Status.DONE, None)
    objects = list(w.objects())
    assert len(objects) == 4  # the original and three derivatives
    for path in objects:
        assert len(posixpath.basename(path).encode()) <= NAME_MAX
    assert f"{COLL}/{name}" in objects


_stems = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/\x00"), max_size=300)


@given(_stems, st.sampled_from(["", ".jpg", ".tiff", ".x" * 30]))
@settings(max_examples=300, deadline=None)
def test_made_names_fit_name_max_and_are_found_again(stem: str, ext: str) -> None:
    original = f"/z/home/p/{stem or 'x'}{ext}"
    md5 = "0123456789abcdef0123456789abcdef"
    for rendition in Rendition:
        path = derivative_path(original, md5, rendition)
        assert len(posixpath.basename(path).encode()) <= NAME_MAX
        found = derivative_of(path)
        assert found is not None and found[0] == derivative_stem(original)
    if len(posixpath.basename(original).encode()) <= NAME_MAX:
        assert len(posixpath.basename(versioned_path(original, md5)).encode()) <= NAME_MAX
    index = CollectionIndex().add(
        [RemoteObject(derivative_path(original, md5, Rendition.WEB), 1, "c")]
    )
    assert index.derivatives_for(original, md5) == {
        Rendition.WEB: derivative_path(original, md5, Rendition.WEB)
    }


def test_iRODS_path_longer_than_max_name_len_fails_only_that_file(tmp_path: Path) -> None:
    drop = tmp_path / "in"
    deep = drop / ("f" * 250) / ("g" * 250) / ("h" * 250) / ("i" * 250) / ("j" * 50)
    deep.mkdir(parents=True)
    (deep / "ASU0000001.jpg").write_bytes(image((1, 2, 3)))
    (drop / "ASU0000002.jpg").write_bytes(image((3, 2, 1)))
    w = World(make_settings(tmp_path))
    w.portal.specimens.update({"ASU0000001": [101], "ASU0000002": [102]})
    w.run()
    led = w.ledger()
    bad = next(r for k, r in led.items() if k.endswith("/ASU0000001.jpg"))
    assert bad.status is Status.FAILED and "iRODS takes at most 1087" in (bad.error or "")
    assert led["ASU0000002.jpg"].status is Status.DONE
    assert w.puts() == 3  # the good file and its derivatives; nothing of the long one


def test_a_path_deeper_than_path_max_is_reported_not_recorded(tmp_path: Path) -> None:
    drop = tmp_path / "in"
    drop.mkdir()
    (drop / "ASU0000002.jpg").write_bytes(image((3, 2, 1)))
    fd = os.open(drop, os.O_RDONLY)
    try:  # built through descriptors: the whole path is longer than open() accepts
        for i in range(18):
            name = f"{i:02d}" + "d" * 240
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        leaf = os.open("ASU0000001.jpg", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
        os.write(leaf, image((1, 2, 3)))
        os.close(leaf)
    finally:
        os.close(fd)
    w = World(make_settings(tmp_path))
    w.portal.specimens.update({"ASU0000001": [101], "ASU0000002": [102]})
    report = w.run()
    assert set(w.ledger()) == {"ASU0000002.jpg"}
    assert report.counts.extra["skipped"] == 1
    entries = load_report(report.path)["entries"]  # type: ignore[arg-type]
    (skipped,) = [e for e in entries if e["action"] == "skipped"]
    assert "longer than 4096 characters" in skipped["error"]
