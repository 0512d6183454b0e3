"""Per-user rate limit, added latency and body-size cap (docs/protocol.md §6.3).

Every response carries ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (Unix seconds). With
``rate_limit > 0`` a user who spent the window's budget gets 429 ``{"error": ...}`` with
``Retry-After``; with ``rate_limit == 0`` the headers report the documented 1000/hour budget
and nothing is refused.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

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
from flowbio_async.testing._security import read_token
from flowbio_async.testing._settings import ServerSettings

#: The budget production documents when none is configured (docs/protocol.md §6.3).
NOMINAL_LIMIT = 1000


class RateLimiter:
    """Fixed-window request budgets keyed by user (or client address when anonymous)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, window: float, now: float) -> tuple[int, float]:
        """Count one request; return ``(used_in_window, window_reset_time)``."""
        start = math.floor(now / window) * window if window > 0 else now
        with self._lock:
            begun, used = self._windows.get(key, (start, 0))
            if begun != start:
                used = 0
            used += 1
            self._windows[key] = (start, used)
        return used, start + window

    def reset(self) -> None:
        """Forget every window (``/_testing/reset``)."""
        with self._lock:
            self._windows.clear()


class LimitsMiddleware:
    """Applies latency, the body-size cap and the rate limit, in that order."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        settings: Callable[[], ServerSettings],
        secret: Callable[[], bytes],
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.settings = settings
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_control(scope):
            await self.app(scope, receive, send)
            return
        settings = self.settings()
        if settings.latency_ms > 0:
            await anyio.sleep(settings.latency_ms / 1000)
        length = header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > settings.max_body_size:
            # Read (and drop) the body first, as proxies doing a lingering close do: otherwise
            # the client is still sending and sees a reset instead of the 413 (#3).
            await _drain(receive)
            await send_json(send, 413, {"error": "Request body too large"})
            return
        now = time.time()
        used, reset = self.limiter.hit(self._key(scope), settings.rate_window, now)
        limit = settings.rate_limit or NOMINAL_LIMIT
        rate_headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(math.ceil(reset)),
        }
        if settings.rate_limit and used > settings.rate_limit:
            retry_after = max(1, math.ceil(reset - now))
            await send_json(
                send,
                429,
                {"error": "Rate limit exceeded"},
                {**rate_headers, "Retry-After": str(retry_after)},
            )
            return
        raw = [(k.lower().encode(), v.encode()) for k, v in rate_headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *raw]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _key(self, scope: Scope) -> str:
        auth = header(scope, b"authorization") or ""
        token = auth.split(" ", 1)[-1].strip()
        user_id = read_token(self.secret(), token, "access") if token else None
        if user_id is not None:
            return f"user:{user_id}"
        client = scope.get("client") or ("anonymous", 0)
        return f"anon:{client[0]}"


async def _drain(receive: Receive) -> None:
    """Consume the request body without keeping it."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
