"""Unlink to the trash or for good, collection removal, renames; the background catalog save."""

from __future__ import annotations

import json
import time
from pathlib import Path

import irods.keywords as kw
import pytest
from irods.exception import CAT_COLLECTION_NOT_EMPTY, CAT_NO_ROWS_FOUND
from irods.session import iRODSSession

from cyverse_link.sandbox.irods import SandboxIrods

from .conftest import HOME, USERS


def put(sess: iRODSSession, tmp_path: Path, target: str, data: bytes = b"x") -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    sess.data_objects.put(str(src), target, num_threads=1, **{kw.FORCE_FLAG_KW: True})


def test_unlink_without_force_goes_to_trash(
    alice: iRODSSession, server: SandboxIrods, tmp_path: Path
) -> None:
    put(alice, tmp_path, f"{HOME}/a.jpg", b"keep me")
    alice.data_objects.unlink(f"{HOME}/a.jpg")
    trash = f"/{server.zone}/trash/home/alice/a.jpg"
    assert not server.exists(f"{HOME}/a.jpg") and server.object(trash).data == b"keep me"
    alice.data_objects.unlink(trash)  # removing from the trash is final
    assert not server.exists(trash)
    with pytest.raises(CAT_NO_ROWS_FOUND):
        alice.data_objects.unlink(f"{HOME}/a.jpg", force=True)


def test_remove_collection(alice: iRODSSession, server: SandboxIrods, tmp_path: Path) -> None:
    alice.collections.create(f"{HOME}/d/e")
    put(alice, tmp_path, f"{HOME}/d/e/f.jpg")
    with pytest.raises(CAT_COLLECTION_NOT_EMPTY):
        alice.collections.remove(f"{HOME}/d", recurse=False)
    alice.collections.remove(f"{HOME}/d", recurse=True, force=True)
    assert not server.exists(f"{HOME}/d") and not server.exists(f"{HOME}/d/e/f.jpg")
    assert server.data_objects(f"/{server.zone}/trash") == []


def test_rename_object_and_collection(
    alice: iRODSSession, server: SandboxIrods, tmp_path: Path
) -> None:
    put(alice, tmp_path, f"{HOME}/old.jpg", b"moved")
    alice.data_objects.move(f"{HOME}/old.jpg", f"{HOME}/new.jpg")
    assert server.object(f"{HOME}/new.jpg").data == b"moved"
    alice.collections.create(f"{HOME}/src/sub")
    alice.data_objects.move(f"{HOME}/new.jpg", f"{HOME}/src/sub")  # into a collection
    alice.collections.move(f"{HOME}/src", f"{HOME}/dst")
    assert alice.data_objects.get(f"{HOME}/dst/sub/new.jpg").size == 5
    assert not server.exists(f"{HOME}/src")


def test_catalog_is_saved_in_the_background(tmp_path: Path) -> None:
    with SandboxIrods(users=USERS, data_dir=tmp_path) as srv:
        srv.seed_object(f"{HOME}/bg.jpg", b"bg", owner="alice")
        deadline = time.monotonic() + 30
        saved: dict[str, object] = {}
        while time.monotonic() < deadline:
            if (tmp_path / "catalog.json").exists():
                saved = json.loads((tmp_path / "catalog.json").read_text())
                if any(o["path"] == f"{HOME}/bg.jpg" for o in saved["objs"]):  # type: ignore[index, union-attr]
                    break
            time.sleep(0.05)
        else:
            pytest.fail("catalog not saved within 30 s")
