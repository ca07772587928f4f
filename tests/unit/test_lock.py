"""Issue 13 item 21: no ``<config>.lock`` is left beside a config, and removing it on release
never lets two runs hold the lock at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cyverse_link.cli import cli
from cyverse_link.core.errors import LockHeld
from cyverse_link.run import lock as lock_mod
from cyverse_link.run.lock import RunLock, lock_path_for


def test_release_removes_the_lock_file(tmp_path: Path) -> None:
    path = lock_path_for(tmp_path / "x.yaml")
    with RunLock(path):
        assert path.read_text().strip() == str(os.getpid())
    assert not path.exists()
    with RunLock(path):  # and it can be taken again
        pass
    assert not path.exists()


def test_release_leaves_a_file_that_is_not_ours(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml.lock"
    lock = RunLock(path)
    lock.acquire()
    path.unlink()
    path.write_text("someone else's\n")  # replaced behind our back (by hand)
    lock.release()
    assert path.read_text() == "someone else's\n"


def test_a_run_that_opened_the_removed_file_does_not_get_a_second_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A opens and holds; B opens the same file; A releases (removing it); C takes a new file;
    B's flock on the old, removed file would succeed: B must see that and fail on C's lock."""
    path = tmp_path / "x.yaml.lock"
    a = RunLock(path)
    a.acquire()
    stale = os.open(path, os.O_RDWR)  # B got this far before A released
    a.release()
    c = RunLock(path)
    c.acquire()
    opened = iter([stale])
    real_open = os.open
    monkeypatch.setattr(lock_mod.os, "open", lambda *args: next(opened, None) or real_open(*args))
    with pytest.raises(LockHeld):
        RunLock(path).acquire()
    c.release()
    assert not path.exists()


def test_no_lock_file_after_commands_or_config_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "collection: {collid: 7}\nsymbiota: {mode: csv}\n"
        f"state: {{db_url: 'sqlite:///{tmp_path}/state.sqlite'}}\n"
        f"source: {{path: {tmp_path}/incoming}}\n"
    )
    (tmp_path / "incoming").mkdir()
    bad = tmp_path / "bad.yaml"
    bad.write_text("collection: {collid: 7}\nsymbiota: {mode: db}\n")
    for args in (
        ["-c", str(good), "plan"],
        ["-c", str(good), "status"],
        ["-c", str(good), "sync", "--dry-run"],
        ["-c", str(bad), "plan"],
        ["-c", str(bad), "sync"],
        ["-c", str(bad), "link", "/iplant/home/x"],
        ["-c", str(bad), "relink"],
    ):
        CliRunner().invoke(cli, args)
        assert sorted(p.name for p in tmp_path.glob("*.lock")) == [], args
