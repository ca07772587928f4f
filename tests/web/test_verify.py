"""``check_urls`` against a tiny dav-anon-like image host, replayed from cassettes and live."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from web_support import SAMPLE_JPEG

from cyverse_link.admin.verify import UrlProblem, UrlToCheck, check_urls

SIZE = len(SAMPLE_JPEG)


def run(host: str, *targets: UrlToCheck, concurrency: int = 1) -> list[Any]:
    # one worker in cassette mode: vcrpy does not record reliably from several threads
    return list(check_urls(targets, concurrency=concurrency, timeout=30))


def test_image_is_ok_with_size_and_accept(imagehost: str) -> None:
    (r,) = run(imagehost, UrlToCheck(f"{imagehost}/ok.jpg", expected_size=SIZE))
    assert r.ok and r.method == "HEAD" and r.status == 200
    assert r.content_type == "image/jpeg" and r.size == SIZE  # Accept: image/*, not */*


def test_broken_gone_and_octet_stream(imagehost: str) -> None:
    missing, gone, octet = run(
        imagehost,
        UrlToCheck(f"{imagehost}/missing.jpg"),
        UrlToCheck(f"{imagehost}/gone.jpg"),
        UrlToCheck(f"{imagehost}/octet.dng"),
    )
    assert missing.problems == (UrlProblem.BROKEN,) and missing.status == 404
    assert gone.problems == (UrlProblem.GONE,) and gone.status == 410
    assert octet.problems == (UrlProblem.NOT_IMAGE,)
    assert "application/octet-stream" in (octet.detail or "")


def test_head_refused_falls_back_to_a_ranged_get(imagehost: str) -> None:
    (r,) = run(imagehost, UrlToCheck(f"{imagehost}/nohead.jpg", expected_size=SIZE))
    assert r.ok and r.method == "GET" and r.status == 206
    assert r.size == SIZE  # the Content-Range total, not the one byte received


def test_size_mismatch(imagehost: str) -> None:
    (r,) = run(imagehost, UrlToCheck(f"{imagehost}/ok.jpg", expected_size=SIZE + 1))
    assert r.problems == (UrlProblem.SIZE_MISMATCH,)
    assert str(SIZE + 1) in (r.detail or "")


def test_redirect_is_followed_and_noted(imagehost: str) -> None:
    (r,) = run(imagehost, UrlToCheck(f"{imagehost}/moved.jpg"))
    assert r.ok and r.final_url == f"{imagehost}/ok.jpg"
    assert len(r.redirects) == 1 and r.redirects[0].startswith("301 ")


# -- live only: connection errors and the concurrency bound ----------------------------------


def test_unreachable_host() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there any more
    (r,) = check_urls([UrlToCheck(f"http://127.0.0.1:{port}/x.jpg")], timeout=2)
    assert r.problems == (UrlProblem.UNREACHABLE,) and r.status is None


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    active = 0
    peak = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        cls = type(self)
        with cls.lock:
            cls.active += 1
            cls.peak = max(cls.peak, cls.active)
        time.sleep(0.1)  # long enough for the three workers to overlap on a loaded machine
        with cls.lock:
            cls.active -= 1
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", "10")
        self.end_headers()


def test_concurrency_is_bounded_and_order_kept() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        targets = [UrlToCheck(f"{base}/{i}.jpg", key=str(i)) for i in range(24)]
        results = list(check_urls(targets, concurrency=3, timeout=30))
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
    assert [r.target.key for r in results] == [str(i) for i in range(24)]
    assert all(r.ok for r in results)
    assert 2 <= _Slow.peak <= 3
