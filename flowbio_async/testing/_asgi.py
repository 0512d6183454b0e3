"""Tiny ASGI helpers shared by the server's middlewares."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths that bypass counters, faults and rate limits (control plane and health).
CONTROL_PREFIXES = ("/_testing", "/_health")


def is_control(scope: Scope) -> bool:
    """True for the control-plane paths that test machinery itself uses."""
    path: str = scope.get("path", "")
    return path.startswith(CONTROL_PREFIXES)


def header(scope: Scope, name: bytes) -> str | None:
    """The first request header ``name`` (lower-case bytes), decoded."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def send_json(
    send: Send, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    """Send a complete JSON (or raw ``bytes``/``str``) response from a middleware."""
    if isinstance(body, bytes):
        payload, kind = body, "application/octet-stream"
    elif isinstance(body, str):
        payload, kind = body.encode(), "text/plain; charset=utf-8"
    elif body is None:
        payload, kind = b"", ""
    else:
        payload, kind = json.dumps(body).encode(), "application/json"
    raw = [(b"content-length", str(len(payload)).encode())]
    if kind:
        raw.append((b"content-type", kind.encode()))
    merged = {k.lower(): v for k, v in (headers or {}).items()}
    raw = [(k, v) for k, v in raw if k.decode() not in merged]
    raw += [(k.encode(), str(v).encode()) for k, v in merged.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
