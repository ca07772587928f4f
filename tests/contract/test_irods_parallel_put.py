"""Large masters through python-irodsclient's parallel put (``IrodsStore(parallel_streams=N)``),
sandbox 4.3.1: verified the same way as a single stream (the final close compares the MD5),
re-sent when damaged in transit, and never more connections than ``irods.threads``."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from datastore_backends import PASSWORD, RETRIES, ROOT, USER, ZONE, md5_of

from cyverse_link.config.settings import IrodsSettings
from cyverse_link.core.errors import ChecksumMismatch
from cyverse_link.core.retry import Backoff
from cyverse_link.datastore.irods import IrodsStore
from cyverse_link.sandbox.irods import SandboxIrods

FD_INFO = 20000
SIZE = 40 << 20

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="PRC uses 1 stream on 1 CPU")


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "master.tif"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.fixture(params=["4.3.1", "4.2.8"])
def srv(request: pytest.FixtureRequest) -> Iterator[SandboxIrods]:
    with SandboxIrods(request.param, zone=ZONE, users={USER: PASSWORD}) as server:
        yield server


def store_for(srv: SandboxIrods, threads: int) -> IrodsStore:
    settings = IrodsSettings(
        host=srv.host, port=srv.port, zone=ZONE, user=USER, collection=ROOT,
        threads=threads, connection_timeout=30, retries=RETRIES,
    )  # fmt: skip
    no_wait = Backoff(settings.retries, 0, sleep=lambda _s: None)
    return IrodsStore(settings, PASSWORD, retry=no_wait, parallel_streams=4)


@pytest.mark.slow
def test_large_put_goes_parallel_on_43_and_is_verified(srv: SandboxIrods, big: Path) -> None:
    with store_for(srv, threads=4) as store:
        store.ensure_collection(ROOT)
        got = store.put(big, f"{ROOT}/m.tif", md5_of(big))
        assert got.checksum == md5_of(big)
        stored = srv.object(f"{ROOT}/m.tif")
        assert stored.data == big.read_bytes() and stored.checksum == md5_of(big)
        parallel = srv.persona == "4.3.1"  # 4.2.x: single stream + read-back
        assert (srv.stats.requests.get(FD_INFO, 0) > 0) == parallel
        assert store.open_connections() == 1  # the extra streams were closed at once
        assert srv.stats.peak_connections <= 4


@pytest.mark.slow
def test_parallel_put_damaged_in_transit_is_resent_then_fails(srv: SandboxIrods, big: Path) -> None:
    remote = f"{ROOT}/d.tif"
    with store_for(srv, threads=4) as store:
        store.ensure_collection(ROOT)
        srv.faults.damage_upload(remote, 1)
        assert store.put(big, remote, md5_of(big)).checksum == md5_of(big)
        assert srv.object(remote).data == big.read_bytes()
        srv.faults.damage_upload(remote, RETRIES + 1)
        with pytest.raises(ChecksumMismatch):
            store.put(big, remote, md5_of(big))
        assert srv.object(remote).checksum != md5_of(big)


@pytest.mark.slow
def test_parallel_streams_stay_within_the_connection_budget(
    srv: SandboxIrods, big: Path, tmp_path: Path
) -> None:
    """Capped at exactly ``irods.threads`` (4): this thread's session and three workers, one
    of them putting a large master first, never get a connection refused, however the
    borrowed streams and the workers' sessions interleave."""
    if srv.persona != "4.3.1":
        pytest.skip("parallel transfer is 4.3 only")
    srv.faults.max_connections = 4
    small = tmp_path / "s.jpg"
    small.write_bytes(os.urandom(50_000))
    errors: list[BaseException] = []
    with store_for(srv, threads=4) as store:
        store.ensure_collection(ROOT)

        def work(i: int) -> None:
            try:
                for j in range(3):
                    if i == 0 and j == 0:
                        store.put(big, f"{ROOT}/big{j}.tif", md5_of(big))
                    else:
                        store.put(small, f"{ROOT}/s{i}-{j}.jpg", md5_of(small))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert srv.stats.connections_refused == 0
        assert srv.stats.peak_connections <= 4
    with store_for(srv, threads=1) as lone:  # nothing to borrow: single stream
        before = srv.stats.requests.get(FD_INFO, 0)
        lone.put(big, f"{ROOT}/lone.tif", md5_of(big))
        assert srv.stats.requests.get(FD_INFO, 0) == before


def test_settings_are_unchanged_by_the_option() -> None:
    fields = {f.name for f in dataclasses.fields(IrodsSettings)}
    assert "parallel_streams" not in fields  # a store option, not (yet) a config key
