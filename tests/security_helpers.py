"""A tiny loopback HTTP(S) server that records every request (a "presigned" or other host).

It stands for hosts that must never see Flow credentials: S3-style presigned URLs and the
target of a cross-host redirect (issue #7 security checks). Real sockets, stdlib only.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    """What the server saw and what it serves."""

    body: bytes = b""
    redirect_to: str | None = None
    """When set, paths starting with ``/redirect`` answer 302 to this URL."""
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    """Bodies received by ``PUT``, by path (a presigned upload target)."""

    def headers_for(self, prefix: str) -> list[dict[str, str]]:
        return [headers for path, headers in self.requests if path.startswith(prefix)]


def _handler(state: Recorded) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if state.redirect_to and self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", state.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def do_PUT(self) -> None:
            state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            length = int(self.headers.get("Content-Length", "0"))
            state.uploads[self.path] = self.rfile.read(length)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet

    return Handler


@contextmanager
def recording_server(state: Recorded, context: ssl.SSLContext | None = None) -> Iterator[int]:
    """Serve ``state`` on 127.0.0.1; yields the port (HTTPS when ``context`` is given)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
