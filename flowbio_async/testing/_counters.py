"""Per-route request counters and in-flight high-water marks (read via ``/_testing/counters``).

Routes are named (``Route(..., name="token")``); ``counters()["token"]`` is the number of
``GET /token`` requests the server received, faulted or not (#2: single-flight refresh tests).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Mount

from flowbio_async.testing._asgi import ASGIApp, Receive, Scope, Send, is_control


class RequestStats:
    """Thread-safe counts, current and maximum concurrent requests per route name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()

    def enter(self, name: str) -> None:
        """Record the start of a request to ``name``."""
        with self._lock:
            self.counts[name] += 1
            self.in_flight[name] += 1
            if self.in_flight[name] > self.max_in_flight[name]:
                self.max_in_flight[name] = self.in_flight[name]

    def leave(self, name: str) -> None:
        """Record the end of a request to ``name``."""
        with self._lock:
            self.in_flight[name] -= 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy: ``{"counts", "in_flight", "max_in_flight"}``."""
        with self._lock:
            return {
                "counts": dict(self.counts),
                "in_flight": {k: v for k, v in self.in_flight.items() if v},
                "max_in_flight": dict(self.max_in_flight),
            }

    def reset(self) -> None:
        """Zero counts and high-water marks (requests in flight stay tracked)."""
        with self._lock:
            self.counts.clear()
            self.max_in_flight = Counter({k: v for k, v in self.in_flight.items() if v > 0})


_MEMO_MAX = 1024
_memo: dict[tuple[str, str, str, str], tuple[Sequence[BaseRoute], str | None]] = {}


def route_name(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    """The name of the route that fully matches ``scope`` (walking into mounts).

    Remembered per path for a while: the counters and the faults middleware both ask for
    every request, and the walk through every route pattern was a tenth of the server's
    time for many small downloads (#4). An entry only counts for the same ``routes``.
    """
    key = (
        str(scope.get("type", "")),
        str(scope.get("method", "")),
        str(scope.get("root_path", "")),
        str(scope.get("path", "")),
    )
    known = _memo.get(key)
    if known is not None and known[0] is routes:
        return known[1]
    name = _walk(routes, scope)
    if len(_memo) >= _MEMO_MAX:
        _memo.clear()
    _memo[key] = (routes, name)
    return name


def _walk(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    for route in routes:
        match, child = route.matches(scope)
        if match is not Match.FULL:
            continue
        if isinstance(route, Mount):
            inner = _walk(route.routes, {**scope, **child})
            if inner is not None:
                return inner
            continue
        name = getattr(route, "name", None)
        return str(name) if name else None
    return None


class CountersMiddleware:
    """Counts each request under its route name (``"unmatched"`` when none matches)."""

    def __init__(self, app: ASGIApp, stats: RequestStats, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.stats = stats
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_control(scope):
            await self.app(scope, receive, send)
            return
        name = route_name(self.routes, dict(scope)) or "unmatched"
        self.stats.enter(name)
        try:
            await self.app(scope, receive, send)
        finally:
            self.stats.leave(name)
