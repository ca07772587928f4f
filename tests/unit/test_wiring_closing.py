"""Each run closes exactly what it built: ``wiring.closing`` and the BisQue provider."""

from __future__ import annotations

from contextlib import ExitStack

import requests

from cyverse_link.publish.bisque import BisqueClient, BisqueProvider
from cyverse_link.publish.davanon import DavAnonProvider
from cyverse_link.run import wiring


class CountingSession(requests.Session):
    closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


def test_bisque_provider_closes_its_client_session() -> None:
    session = CountingSession()
    client = BisqueClient("http://127.0.0.1:9", ("u", "p"), session=session)
    with ExitStack() as opened:
        provider = wiring.closing(opened, BisqueProvider(client, "data.example.org"))
        assert provider.client is client
        assert session.closed == 0
    assert session.closed == 1


def test_closing_skips_adapters_without_close_and_keeps_order() -> None:
    order: list[str] = []

    class Closable:
        def __init__(self, name: str) -> None:
            self.name = name

        def close(self) -> None:
            order.append(self.name)

    with ExitStack() as opened:
        first = wiring.closing(opened, Closable("first"))
        dav = wiring.closing(opened, DavAnonProvider("https://data.cyverse.org/dav-anon"))
        wiring.closing(opened, Closable("second"))
        assert isinstance(dav, DavAnonProvider) and first.name == "first"
    assert order == ["second", "first"]
