"""Response types of the HTTP layer: what resources and engines see of an answer.

No httpx or aiohttp type leaves the package: :class:`Response` holds bytes, :class:`StreamResponse`
wraps the library's answer and turns every failure while reading it into a typed error.
"""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from flowbio_async._errors import FlowTimeoutError, UnexpectedResponseError, redact_url
from flowbio_async._http._failures import NETWORK_ERRORS, transport_error


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive response headers (repeated headers joined with ``, ``)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            key = name.lower()
            if key in self._items:
                value = f"{self._items[key][1]}, {value}"
            self._items[key] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __repr__(self) -> str:
        return f"Headers({len(self)} items)"  # values may hold cookies: not shown


@dataclass(frozen=True)
class RateLimitInfo:
    """The last ``X-RateLimit-*`` headers seen (docs/protocol.md §6.3); ``reset`` is Unix seconds.

    Example:
        ```python
        if client.rate_limit and client.rate_limit.remaining == 0:
            print("rate limited until", client.rate_limit.reset)
        ```
    """

    limit: int | None
    remaining: int | None
    reset: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        values = [headers.get(f"X-RateLimit-{n}") for n in ("Limit", "Remaining", "Reset")]
        if all(v is None for v in values):
            return None
        limit, remaining, reset = (_number(v) for v in values)
        return cls(
            limit=None if limit is None else int(limit),
            remaining=None if remaining is None else int(remaining),
            reset=reset,
        )


def _number(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def decode_json(content: bytes, *, status_code: int, url: str) -> Any:
    """Parse a JSON body; anything a parser cannot take is :class:`UnexpectedResponseError`.

    That includes nesting deeper than the interpreter's recursion limit (#14: 5000 ``[``
    raised ``RecursionError``).

    Example:
        ```python
        decode_json(b'{"id": 1}', status_code=200, url="https://x/api/data/1")  # {'id': 1}
        ```
    """
    try:
        return jsonlib.loads(content)
    except RecursionError:
        reason = "JSON nested too deeply to parse"
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        preview = content[:200].decode("utf-8", errors="replace")
        reason = f"expected a JSON body, got {preview!r}"
    raise UnexpectedResponseError(
        redact_url(reason), status_code=status_code, url=redact_url(url)
    ) from None


class Response:
    """A fully read HTTP answer.

    Example:
        ```python
        response = await http.request("GET", "me")
        print(response.status_code, response.json())
        ```
    """

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        content: bytes,
        url: str,
        encoding: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers: Mapping[str, str] = headers
        self.content = content
        self.url = url
        self._encoding = encoding or "utf-8"

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}] {redact_url(self.url)}>"

    @property
    def text(self) -> str:
        try:
            return self.content.decode(self._encoding, errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; :class:`UnexpectedResponseError` when it is not JSON."""
        return decode_json(self.content, status_code=self.status_code, url=self.url)


class StreamResponse:
    """An HTTP answer whose body is read incrementally (downloads).

    Every failure while reading the body (a cut connection, a read timeout, a body that
    trickles in slower than ``min_rate`` bytes per second over a ``window``) is raised as
    ``FlowConnectionError`` / ``FlowTimeoutError``, the same types as a failure before the
    answer, so callers can resume (#4, #14).

    Example:
        ```python
        async with http.stream("GET", url) as response:
            async for chunk in response.aiter_raw():
                sink.write(chunk)
        ```
    """

    def __init__(
        self,
        raw: httpx.Response,
        headers: Mapping[str, str] | None = None,
        *,
        method: str,
        min_rate: float = 0.0,
        window: float = 60.0,
    ) -> None:
        self._raw = raw
        self._method = method
        self.status_code = raw.status_code
        self.headers: Mapping[str, str] = headers or Headers(raw.headers.multi_items())
        self.url = str(raw.url)
        self._min_rate = min_rate
        self._window = window

    def __repr__(self) -> str:
        return f"<StreamResponse [{self.status_code}] {redact_url(self.url)}>"

    def aiter_raw(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive, undecoded (downloads send ``Accept-Encoding: identity``)."""
        return self._guarded(self._raw.aiter_raw())

    def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Body bytes, content-decoded (gzip/deflate) when the server encoded them."""
        return self._guarded(self._raw.aiter_bytes(chunk_size))

    async def aread(self) -> bytes:
        """The whole body (only for bodies known to be small)."""
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    async def _guarded(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        min_bytes = self._min_rate * self._window
        started = time.monotonic()
        seen = 0
        try:
            async for chunk in chunks:
                yield chunk
                if min_bytes <= 0:
                    continue
                # A trickle (one byte every few seconds) never trips the per-read timeout;
                # the rate over each window does (#14).
                seen += len(chunk)
                now = time.monotonic()
                if now - started >= self._window:
                    if seen < min_bytes:
                        raise FlowTimeoutError(
                            f"download stalled during {self._method} {redact_url(self.url)}: "
                            f"{seen:,} bytes in {now - started:.0f} s, below the minimum of "
                            f"{self._min_rate:,.0f} bytes/s"
                        )
                    started, seen = now, 0
        except NETWORK_ERRORS as exc:
            raise transport_error(exc, self._method, self.url) from None
