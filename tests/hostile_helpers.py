"""A loopback server that answers whatever a test scripts: the hostile server of issue #14.

The local Flow server is faithful by design, so it cannot lie about a size, echo a token in
an error page or compress a body that was asked for as ``identity``. This one can: each
route is a function from the request to an :class:`Answer`, written to a real socket (the
client under test is the real one, HTTP layer included). Stdlib only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """What to send back. ``length=None`` omits ``Content-Length`` (the body ends at close)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    length: int | str | None = "auto"
    """``"auto"``: the body's real length; an int: that value (a lie); ``None``: no header."""

    @classmethod
    def json(cls, document: Any, status: int = 200, **headers: str) -> Answer:
        import json

        return cls(
            status,
            json.dumps(document).encode(),
            {"Content-Type": "application/json", **headers},
        )


Route = Callable[[Seen], Answer]


@dataclass
class Hostile:
    """Routes by path prefix (longest first) and every request seen."""

    routes: dict[str, Route] = field(default_factory=dict, repr=False)
    seen: list[Seen] = field(default_factory=list, repr=False)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.base}/api"

    def route(self, seen: Seen) -> Answer:
        for prefix in sorted(self.routes, key=len, reverse=True):
            if seen.path.startswith(prefix):
                return self.routes[prefix](seen)
        return Answer.json({"error": "Not found"}, 404)


def _handler(state: Hostile) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            seen = Seen(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            state.seen.append(seen)
            answer = state.route(seen)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if answer.length == "auto":
                self.send_header("Content-Length", str(len(answer.body)))
            elif answer.length is not None:
                self.send_header("Content-Length", str(answer.length))
            if answer.length != "auto":
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(answer.body)
                    self.wfile.flush()
                except OSError:
                    pass  # the client gave up on a lying body: fine

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet

    return Handler


@contextmanager
def hostile_server(routes: dict[str, Route] | None = None) -> Iterator[Hostile]:
    """Serve scripted answers on 127.0.0.1; yields the :class:`Hostile` state."""
    state = Hostile(routes=dict(routes or {}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
