"""Fault injection: an ASGI middleware driven by rules posted to ``/_testing/faults``.

A rule matches requests by method, path regex and route name; it fires on the ``nth``
matching request and then for ``count`` requests (``count=0``: forever). Each rule names an
action from :data:`ACTIONS`; add one with :func:`action` (an async function receiving the
rule and the ASGI call) — the registry is the only thing new actions touch.

Built-in actions: ``status`` (answer ``status``/``body``/``headers``, e.g. a 503 burst or a
429 with ``Retry-After``), ``latency`` (sleep ``seconds`` then serve normally), ``stall``
(sleep ``seconds``, then serve — long enough for a client timeout), ``drop`` (close the
connection before any response byte), ``cut`` (serve, but close after ``bytes`` body bytes),
``corrupt`` (flip the body byte at offset ``bytes``), ``ignore_range`` (strip ``Range`` so
the app answers 200 with the whole body), ``cut_request`` (read ``bytes`` of the request
body, then reset the connection: an upload cut mid-chunk), ``expire_token`` (answer the 401
an expired access token gets, only to requests that carry one; issue #7), ``gate`` (hold
requests until ``params["together"]`` of them are held at once, or ``seconds`` passed, then
let them all through: overlap made by events, not by latency; issue #12), ``drop_query``
(remove the query parameters named in ``params["names"]``: a server that predates one, such
as ``/v1/files`` without ``offset``; issue #17).
"""

from __future__ import annotations

import os
import re
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import anyio

from flowbio_async.testing._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    header,
    is_control,
    send_json,
)
from flowbio_async.testing._counters import route_name


class DropConnection(Exception):
    """Raised inside the app call to make the server abort the connection."""


@dataclass
class FaultRule:
    """One fault: which requests it hits and what happens to them."""

    action: str
    method: str | None = None
    #: Regex searched in the request path (e.g. ``"^/api/token$"``).
    path: str | None = None
    #: Route name, as in ``counters()`` (e.g. ``"token"``).
    route: str | None = None
    #: First matching request (1-based) that the fault hits.
    nth: int = 1
    #: How many requests it hits from there; 0 = every later one.
    count: int = 1
    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    bytes: int = 0
    #: Free-form parameters for actions added later.
    params: dict[str, Any] = field(default_factory=dict)
    seen: int = 0
    applied: int = 0

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> FaultRule:
        """Build a rule from JSON; unknown keys or actions raise ``ValueError``."""
        known = {f.name for f in fields(cls)} - {"seen", "applied"}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        rule = cls(**values)
        if rule.action not in ACTIONS:
            raise ValueError(f"unknown fault action {rule.action!r}; known: {sorted(ACTIONS)}")
        if rule.path is not None:
            re.compile(rule.path)
        return rule

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (includes ``seen`` and ``applied`` counts)."""
        return asdict(self)

    def matches(self, scope: Scope, name: str | None) -> bool:
        """Whether this rule's filters select the request."""
        if self.method and self.method.upper() != scope.get("method", ""):
            return False
        if self.path and not re.search(self.path, scope.get("path", "")):
            return False
        return not (self.route and self.route != name)


FaultAction = Callable[[FaultRule, Scope, Receive, Send, ASGIApp], Awaitable[None]]

#: Action name → implementation. Extend with :func:`action`.
ACTIONS: dict[str, FaultAction] = {}


def action(name: str) -> Callable[[FaultAction], FaultAction]:
    """Register a fault action under ``name``."""

    def register(func: FaultAction) -> FaultAction:
        ACTIONS[name] = func
        return func

    return register


class FaultRegistry:
    """The live rule list, shared by the middleware and the control routes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        """Append a rule (rules are tried in insertion order; the first that fires wins)."""
        with self._lock:
            self.rules.append(rule)

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self.rules.clear()
            _GATES.clear()  # keyed by rule identity, which a later rule may reuse

    def pick(self, scope: Scope, name: str | None) -> FaultRule | None:
        """Count the request against matching rules and return the one that fires, if any."""
        chosen: FaultRule | None = None
        with self._lock:
            for rule in self.rules:
                if not rule.matches(scope, name):
                    continue
                rule.seen += 1
                active = rule.seen >= rule.nth and (rule.count <= 0 or rule.applied < rule.count)
                if active and chosen is None:
                    rule.applied += 1
                    chosen = rule
        return chosen


class FaultsMiddleware:
    """Applies the first firing :class:`FaultRule` to each request."""

    def __init__(self, app: ASGIApp, registry: FaultRegistry, routes: Any) -> None:
        self.app = app
        self.registry = registry
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_control(scope) or not self.registry.rules:
            await self.app(scope, receive, send)
            return
        rule = self.registry.pick(scope, route_name(self.routes, dict(scope)))
        if rule is None:
            await self.app(scope, receive, send)
            return
        await ACTIONS[rule.action](rule, scope, receive, send, self.app)


@action("status")
async def _status(
    rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp
) -> None:
    # Read the request body first, as Flow's nginx does before answering (request buffering):
    # otherwise an upload chunk sees a reset instead of the 503/429 and its Retry-After (#7).
    await _drain(receive)
    await send_json(send, rule.status, rule.body, rule.headers)


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


@action("latency")
async def _latency(
    rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp
) -> None:
    await anyio.sleep(rule.seconds)
    await app(scope, receive, send)


@action("stall")
async def _stall(rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
    await anyio.sleep(rule.seconds or 3600.0)
    await app(scope, receive, send)


@action("drop")
async def _drop(rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
    # ASGI has no "close the socket" message and granian answers 500 to an app error, so
    # reset the TCP connection ourselves (Linux); elsewhere fall back to a response whose
    # body ends early, which clients also see as a dropped connection.
    if not reset_connection(scope):
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]}
        )
    raise DropConnection("fault: drop the connection before responding")


@action("cut")
async def _cut(rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
    remaining = rule.bytes

    async def cut_send(message: Message) -> None:
        nonlocal remaining
        if message["type"] != "http.response.body":
            await send(message)
            return
        body = bytes(message.get("body", b""))
        if len(body) >= remaining:
            await send({"type": "http.response.body", "body": body[:remaining], "more_body": True})
            raise DropConnection("fault: cut the response body")
        remaining -= len(body)
        await send(message)

    await app(scope, receive, _without_pathsend(scope, cut_send))


@action("corrupt")
async def _corrupt(
    rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp
) -> None:
    position = rule.bytes

    async def corrupt_send(message: Message) -> None:
        nonlocal position
        if message["type"] == "http.response.body":
            body = bytearray(message.get("body", b""))
            if 0 <= position < len(body):
                body[position] ^= 0xFF
            position -= len(body)
            message = {**message, "body": bytes(body)}
        await send(message)

    await app(scope, receive, _without_pathsend(scope, corrupt_send))


@action("ignore_range")
async def _ignore_range(
    rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp
) -> None:
    headers = [(k, v) for k, v in scope.get("headers", []) if bytes(k).lower() != b"range"]
    await app({**scope, "headers": headers}, receive, send)


@action("drop_query")
async def _drop_query(
    rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp
) -> None:
    dropped = {str(name) for name in rule.params.get("names", [])}
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    kept = [part for part in query.split("&") if part and part.split("=", 1)[0] not in dropped]
    await app({**scope, "query_string": "&".join(kept).encode("latin-1")}, receive, send)


@action("cut_request")
async def _cut_request(
    rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp
) -> None:
    # Issue #7: the other direction of `cut`. The app sees (and may store) the first `bytes`
    # body bytes, then the connection goes away mid-request, as when a proxy or a flaky
    # link drops an upload; the client must resend from an offset the server agrees with.
    remaining = rule.bytes

    async def cut_receive() -> Message:
        nonlocal remaining
        message = await receive()
        if message["type"] != "http.request":
            return message
        body = bytes(message.get("body", b""))
        if len(body) >= remaining:
            if not reset_connection(scope):
                await send_json(send, 200, {"cut": True}, {"content-length": "999"})
            raise DropConnection("fault: cut the request body")
        remaining -= len(body)
        return message

    await app(scope, cut_receive, send)


@dataclass
class _Gate:
    held: int = 0
    open: anyio.Event = field(default_factory=anyio.Event)


_GATES: dict[int, _Gate] = {}
"""One gate per rule, keyed by the rule's identity (rules live until the registry's clear)."""


@action("gate")
async def _gate(rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
    # Issue #12: a test that wants N requests in flight at once (a concurrency limit) used a
    # latency and hoped they overlapped; on a loaded machine they did not. The gate holds
    # each request until `together` are held, so the overlap happens whatever the speed.
    # `seconds` bounds the wait (default 60): a client that never sends enough is not hung.
    gate = _GATES.setdefault(id(rule), _Gate())
    gate.held += 1
    if gate.held >= int(rule.params.get("together", 2)):
        gate.open.set()
    with anyio.move_on_after(rule.seconds or 60.0):
        await gate.open.wait()
    await app(scope, receive, send)


@action("expire_token")
async def _expire_token(
    rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp
) -> None:
    # Issue #7: what an access token that expired in the middle of a transfer gets (docs/protocol.md
    # §2.2, §9.2). Requests without credentials are served normally, so presigned or public
    # URLs are unaffected. The body is drained first, as the real server reads it.
    query = bytes(scope.get("query_string", b""))
    if header(scope, b"authorization") is None and b"token=" not in query:
        await app(scope, receive, send)
        return
    await _drain(receive)
    await send_json(send, 401, {"error": "Not authorized"})


def reset_connection(scope: Scope) -> bool:
    """Reset the client's TCP connection (RST) via ``/proc``; False when impossible."""
    client, server = scope.get("client"), scope.get("server")
    if not client or not server:
        return False
    fd = _socket_fd(int(server[1]), int(client[1]))
    if fd is None:
        return False
    sock = socket.socket(fileno=os.dup(fd))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    finally:
        sock.close()
    return True


def _socket_fd(local_port: int, remote_port: int) -> int | None:
    wanted = f":{local_port:04X}", f":{remote_port:04X}"
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[1].endswith(wanted[0]) and cols[2].endswith(wanted[1]):
                inodes.add(cols[9])
    if not inodes:
        return None
    fd_dir = Path("/proc/self/fd")
    for entry in fd_dir.iterdir():
        try:
            target = str(entry.readlink())
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return int(entry.name)
    return None


def _without_pathsend(scope: Scope, send: Send) -> Send:
    # Body-rewriting faults must see the bytes, so hide granian's pathsend extension from
    # the app (Starlette's FileResponse then streams chunks through `send`).
    extensions = scope.get("extensions")
    if extensions and "http.response.pathsend" in extensions:
        scope["extensions"] = {k: v for k, v in extensions.items() if k != "http.response.pathsend"}
    return send
