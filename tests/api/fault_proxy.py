"""A forwarding HTTP proxy in front of the real Symbiota API that damages what a real network
fault damages: an answer lost after the portal acted on the request, or a 503 from a gateway."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")  # scheme://host:port
        self.drop_answers: dict[str, int] = {}  # method → how many answers to drop
        self.gateway_errors: dict[str, int] = {}  # method → how many 503s (not forwarded)
        self.seen: list[tuple[str, str, bytes]] = []  # (method, path, body) as received
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                method = self.command
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.seen.append((method, self.path, body))
                if proxy.gateway_errors.get(method, 0) > 0:
                    proxy.gateway_errors[method] -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                resp = requests.request(
                    method, proxy.upstream + self.path, data=body, headers=headers, timeout=60
                )
                if proxy.drop_answers.get(method, 0) > 0:
                    proxy.drop_answers[method] -= 1
                    self.close_connection = True  # the portal acted; the client hears nothing
                    return
                self.send_response(resp.status_code)
                for k in ("Content-Type",):
                    if k in resp.headers:
                        self.send_header(k, resp.headers[k])
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
