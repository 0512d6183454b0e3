"""The client's own secrets, and scrubbing them out of any text (issue #14 item 7).

A server can echo what it received: a 400 ``{"error": "Invalid token <tok>"}``, a proxy's
502 page listing the request headers (``Authorization: Bearer <tok>``). Patterns alone
cannot catch a bare token, so the values themselves are known here: every access token set
on a client (``TokenState.set``) and, polled through weak references, each client's current
token and refresh cookie. Exception messages (``FlowError``), log records of the HTTP
libraries and the CLI's error output all go through :func:`scrub`.

Example:
    ```python
    remember("eyJhbGciOi...")
    scrub("HTTP 400: Invalid token eyJhbGciOi...")   # 'HTTP 400: Invalid token REDACTED'
    ```
"""

from __future__ import annotations

import contextlib
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

REDACTED = "REDACTED"
MIN_LENGTH = 8
"""Shorter values are not scrubbed by value: they would mangle ordinary words."""
_KEEP = 256
"""Most recent secret values remembered (a long-running process refreshes often)."""

_TOKEN_PARAM = re.compile(r"((?:^|[?&;])(?:access_)?token=)[^&#;\s]*", re.IGNORECASE)
_PATTERNS = (
    # Cookie and header values: flow_refresh_token=..., Authorization: Bearer ...
    re.compile(r"(flow_refresh_token=)[^;,\s'\"&]+", re.IGNORECASE),
    re.compile(r"(bearer\s+)[^\s'\",;]+", re.IGNORECASE),
    # Any JWT (another client's, another user's): three base64url segments, header first.
    re.compile(r"()\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]+"),
)

_lock = threading.Lock()
_known: OrderedDict[str, None] = OrderedDict()
_sources: list[tuple[weakref.ref[Any], Callable[[Any], str | None]]] = []

T = TypeVar("T")


def remember(*values: str | None) -> None:
    """Add secret values (access tokens, refresh cookies) to scrub from now on."""
    with _lock:
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_LENGTH:
                _known[value] = None
                _known.move_to_end(value)
        while len(_known) > _KEEP:
            _known.popitem(last=False)


def token_set(token: str) -> None:
    """A client got a new access token: remember it, and the refresh cookie it came with.

    Called by ``TokenState.set`` (login, refresh): the cookie a refresh rotates away is
    still in the jar at the previous call, so every value a client held is remembered.
    """
    remember(token)
    poll()


def watch(owner: T, read: Callable[[T], str | None]) -> None:
    """Poll ``read(owner)`` for a current secret while ``owner`` lives (a weak reference).

    Example:
        ```python
        watch(http, HttpClient.refresh_cookie)
        ```
    """
    with _lock:
        _sources[:] = [(ref, get) for ref, get in _sources if ref() is not None]
        _sources.append((weakref.ref(owner), read))


def poll() -> None:
    """Remember what every watched owner holds right now (e.g. a rotated refresh cookie)."""
    with _lock:
        sources = list(_sources)
    values: list[str | None] = []
    for ref, read in sources:
        owner = ref()
        # A worker thread may poll while the event loop updates a cookie jar: skip that one.
        if owner is not None:
            with contextlib.suppress(RuntimeError):
                values.append(read(owner))
    remember(*values)


def redact_token_params(text: str) -> str:
    """Replace the value of any ``token`` query parameter (docs/protocol.md §5.1
    ``?token=<jwt>``)."""
    return _TOKEN_PARAM.sub(rf"\1{REDACTED}", text)


def scrub(text: str) -> str:
    """Remove known secret values, ``Bearer …``, refresh cookies, JWTs and ``?token=``.

    Example:
        ```python
        scrub("Authorization: Bearer abc.def")   # 'Authorization: Bearer REDACTED'
        ```
    """
    if not text:
        return text
    poll()
    with _lock:
        known = sorted(_known, key=len, reverse=True)  # a longer value first: no half-scrubs
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    text = redact_token_params(text)
    for pattern in _PATTERNS:
        text = pattern.sub(rf"\1{REDACTED}", text)
    return text


def scrub_data(value: Any) -> Any:
    """:func:`scrub` every string inside JSON-like data (dicts, lists, tuples)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_data(k): scrub_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_data(item) for item in value]
    if isinstance(value, tuple):
        return tuple(scrub_data(item) for item in value)
    return value
