"""A loopback HTTP/1.1 server that answers with scripted raw bytes (hostile answers, #14, #16).

Some answers no well-behaved server framework will produce on request: a head that
trickles in a byte at a time, a body that never ends, 5000 nested brackets, a body cut in
the middle, a ``Location`` with port 99999. Each path maps to a handler that writes raw
bytes to the connection. Real sockets, stdlib only, one thread per connection.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Handler = Callable[["Connection"], None]


@dataclass
class Connection:
    """One accepted connection: the request that came in and a way to answer."""

    sock: socket.socket
    method: str
    path: str
    headers: dict[str, str]
    stop: threading.Event

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        lines = [f"HTTP/1.1 {status} X"]
        values = {"Content-Length": str(len(body)), **(headers or {})}
        if close:
            values["Connection"] = "close"
        lines += [f"{name}: {value}" for name, value in values.items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def json(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        self.answer(status, body.encode(), {"Content-Type": "application/json", **(headers or {})})

    def trickle(self, data: bytes, every: float) -> None:
        """Send ``data`` one byte at a time, ``every`` seconds apart, until told to stop."""
        for index in range(len(data)):
            if self.stop.wait(every):
                return
            self.send(data[index : index + 1])


@dataclass
class Hostile:
    """Handlers by path (without the query); ``seen`` lists ``(method, path)`` requests."""

    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, path: str) -> int:
        return sum(1 for _, seen in self.seen if seen.split("?")[0] == path)


def _read_request(sock: socket.socket) -> tuple[str, str, dict[str, str]] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        piece = sock.recv(65536)
        if not piece:
            break
        rest += piece
    return method, path, headers


@contextmanager
def hostile_server(state: Hostile) -> Iterator[Hostile]:
    """Serve ``state.routes`` on 127.0.0.1 (port in ``state.port``) until the block ends.

    An unknown path gets a 404; after a handler returns, the connection is closed (no
    keep-alive: every request is a fresh connection, which keeps the scripts simple).
    """
    listener = socket.create_server(("127.0.0.1", 0))
    state.port = listener.getsockname()[1]
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def serve(sock: socket.socket) -> None:
        with sock:
            try:
                request = _read_request(sock)
                if request is None:
                    return
                method, path, headers = request
                state.seen.append((method, path))
                handler = state.routes.get(path.split("?")[0])
                connection = Connection(sock, method, path, headers, stop)
                if handler is None:
                    connection.answer(404, b"")
                else:
                    handler(connection)
                sock.shutdown(socket.SHUT_WR)
                # Let the client read what was sent before the close discards it.
                deadline = time.monotonic() + 2
                sock.settimeout(0.2)
                while time.monotonic() < deadline and not stop.is_set():
                    try:
                        if not sock.recv(65536):
                            break
                    except TimeoutError:
                        continue
            except OSError:
                return  # the client went away: fine for a hostile script

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=serve, args=(sock,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield state
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()
        for thread in threads:
            thread.join(5)
