"""The sandbox's checksum rules at open and close follow the real server's source
(cyverse_link/sandbox/irods/finalize.py cites it), and its byte-damage fault damages the
stored bytes themselves. Every upload here goes through PRC's own ``put``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import irods.keywords as kw
import pytest
from irods.exception import USER_CHKSUM_MISMATCH

from cyverse_link.sandbox.irods import SandboxIrods

from .conftest import HOME, SessionFactory

PUT = {kw.FORCE_FLAG_KW: True}
DATA = b"specimen bytes " * 500
GOOD = hashlib.md5(DATA).hexdigest()


def put(connect: SessionFactory, tmp_path: Path, target: str, **opts: str) -> None:
    local = tmp_path / "src.bin"
    local.write_bytes(DATA)
    sess = connect("alice")
    try:
        sess.data_objects.put(str(local), target, num_threads=1, **PUT, **opts)
    finally:
        sess.cleanup()


def test_damage_upload_flips_one_stored_byte_and_the_server_hashes_that(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    target = f"{HOME}/d.bin"
    server.faults.damage_upload(target)
    put(connect, tmp_path, target, regChksum="")
    stored = server.object(target)
    assert len(stored.data) == len(DATA)
    assert sum(a != b for a, b in zip(stored.data, DATA, strict=True)) == 1
    assert stored.checksum == hashlib.md5(stored.data).hexdigest() != GOOD
    assert server.faults.damaged == [target]
    put(connect, tmp_path, target, regChksum="")  # the fault was for one upload
    assert server.object(target).data == DATA


def test_damage_every_nth_upload(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    server.faults.damage_every(3)
    for i in range(6):
        put(connect, tmp_path, f"{HOME}/n{i}.bin", regChksum="")
    assert server.faults.damaged == [f"{HOME}/n2.bin", f"{HOME}/n5.bin"]
    bad = [i for i in range(6) if server.object(f"{HOME}/n{i}.bin").data != DATA]
    assert bad == [2, 5]


def test_reg_chksum_wins_over_verify_chksum_at_open(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    """objDesc.cpp: with both keywords the descriptor is REG_CHKSUM, so the close registers
    the hash of the damaged bytes and refuses nothing (both personas, new object)."""
    target = f"{HOME}/both.bin"
    server.faults.damage_upload(target)
    put(connect, tmp_path, target, regChksum="", verifyChksum=GOOD)
    stored = server.object(target)
    assert stored.checksum == hashlib.md5(stored.data).hexdigest() != GOOD


def test_verify_chksum_alone_refuses_damaged_bytes_of_a_new_object(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    target = f"{HOME}/new.bin"
    server.faults.damage_upload(target)
    with pytest.raises(USER_CHKSUM_MISMATCH):
        put(connect, tmp_path, target, verifyChksum=GOOD)
    assert server.object(target).checksum is None  # nothing registered
    assert server.replicas(target)[0].status != "1"


def test_verify_chksum_on_an_overwrite_follows_the_persona(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    """4.3.x compares on every close; 4.2.8 turns the flag into REG_CHKSUM when the object
    already has a checksum, and keeps the old checksum when it equals the given one
    (rsDataObjClose.cpp 4.2.8 ~447-453, ~979-997): the damage goes unnoticed there."""
    target = f"{HOME}/over.bin"
    put(connect, tmp_path, target, regChksum="")
    assert server.object(target).checksum == GOOD
    server.faults.damage_upload(target)
    if server.persona == "4.3.1":
        with pytest.raises(USER_CHKSUM_MISMATCH):
            put(connect, tmp_path, target, verifyChksum=GOOD)
        assert server.object(target).checksum is None
    else:
        put(connect, tmp_path, target, verifyChksum=GOOD)
        stored = server.object(target)
        assert stored.data != DATA and stored.checksum == GOOD  # the real 4.2.8 hides it


def test_empty_reg_chksum_always_registers_the_stored_hash(
    connect: SessionFactory, server: SandboxIrods, tmp_path: Path
) -> None:
    target = f"{HOME}/reg.bin"
    put(connect, tmp_path, target, regChksum="")
    server.faults.damage_upload(target)
    put(connect, tmp_path, target, regChksum="")  # an overwrite, on both personas
    stored = server.object(target)
    assert stored.checksum == hashlib.md5(stored.data).hexdigest() != GOOD
