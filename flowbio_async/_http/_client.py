"""The request loop: credentials per hop, retries, one token refresh on 401, redirects, limits.

One :class:`HttpClient` per :class:`~flowbio_async.AsyncClient`. Requests are httpx requests
handed straight to the transport (``_transport``): this loop already does what
``httpx.AsyncClient.send`` would add (redirects, auth, cookies), and skipping it saves CPU on
every request. The bearer token comes from :class:`~flowbio_async._auth.TokenState` and is
attached only for the API and files origins (``_urls``); a JWT past its ``exp`` is refreshed
first, or the call fails without being sent (#15). A 401 runs the single-flight refresh and
resends once (docs/protocol.md §2.2, httpx's auth-flow idea). The refresh cookie lives in this
loop's own jar and goes only to ``GET /token`` and ``POST /logout``.

Limits on every attempt (#14): ``request_deadline`` for the answer's head (and the whole body
of answers that are not streamed), ``max_response_size`` for bodies read into memory.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import IO, Any
from urllib.parse import urljoin

import anyio
import httpx

from flowbio_async import _log_redaction as redaction
from flowbio_async._auth import TokenState, token_from_body
from flowbio_async._config import ClientConfig
from flowbio_async._errors import (
    AuthenticationError,
    ConfigurationError,
    FlowConnectionError,
    FlowError,
    UnexpectedResponseError,
    error_from_response,
    redact_url,
)
from flowbio_async._http._failures import (
    NETWORK_ERRORS,
    DeadlineError,
    connect_error,
    connection_refused,
    host_port,
    never_sent,
    transport_error,
)
from flowbio_async._http._responses import Headers, RateLimitInfo, Response, StreamResponse
from flowbio_async._http._transport import Transports
from flowbio_async._http._urls import (
    TrustedOrigins,
    derive_files_url,
    normalise_base_url,
    split_url,
)
from flowbio_async._retry import (
    IDEMPOTENT_METHODS,
    RETRYABLE_STATUSES,
    RetryBudget,
    backoff_delay,
    retry_after_seconds,
)
from flowbio_async._version import __version__

logger = logging.getLogger("flowbio_async")

REFRESH_COOKIE = "flow_refresh_token"  # docs/protocol.md §2.1
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10
_ERROR_BODY_MAX = 1024 * 1024
"""Error bodies are read up to this much (a message needs far less); the rest is dropped."""

_REFUSED_BACKOFF_INITIAL = 0.05
_REFUSED_BACKOFF_MAX = 0.25
"""Backoff ceilings (seconds) after a refused connection: worst case 0.35 s for 3 retries."""

_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

QueryParams = Mapping[str, Any] | list[tuple[str, Any]]
Timeout = float | timedelta | None


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@dataclass(frozen=True, slots=True)
class _Call:
    """One logical request, as re-sent by retries, the 401 refresh and redirects."""

    method: str
    url: str
    params: QueryParams | None
    content: dict[str, Any]
    headers: Mapping[str, str] | None
    authenticated: bool
    timeout: Timeout
    cookies: bool = False
    """Send the refresh cookie (only ``/token`` and ``/logout`` read it, docs/protocol.md §2)."""


class _TooLarge(Exception):
    pass


def _charset(content_type: str | None) -> str | None:
    """The ``charset`` of a Content-Type (httpx's own parser goes through ``email``: slow)."""
    if not content_type or "charset=" not in content_type.lower():
        return None
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def _index(budget: RetryBudget | None, done: int) -> int:
    """The 0-based number of the retry just granted (for the backoff ceiling)."""
    return done if budget is None else budget.used - 1


class HttpClient:
    """Transport, cookie jar, credentials, retries and error mapping for one client.

    Example:
        ```python
        http = HttpClient("http://127.0.0.1:8123/api", ClientConfig())
        me = (await http.request("GET", "me")).json()
        await http.aclose()
        ```
    """

    def __init__(
        self,
        base_url: str | None,
        config: ClientConfig,
        *,
        auth: TokenState | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.base_url = normalise_base_url(base_url)
        self.files_url = derive_files_url(self.base_url, config.files_url)
        self.auth = auth or TokenState()
        self.rate_limit: RateLimitInfo | None = None
        self._trusted = TrustedOrigins(self.base_url, self.files_url)
        agent = f"flowbio-async/{__version__}"
        if config.user_agent:
            agent = f"{agent} {config.user_agent}"
        self._agent = agent
        self._cookies = httpx.Cookies()
        self._closed = False
        self._transports = Transports(config, transport)
        self._read_timeout = _seconds(config.request_timeout)
        self._timeouts = self._timeout_dict(None)
        deadline = config.request_deadline
        self._deadline = math.inf if deadline is None else deadline.total_seconds()
        redaction.install()  # httpx/httpcore log URLs and headers themselves (#7)

    def __repr__(self) -> str:
        return f"HttpClient(base_url={self.base_url!r}, auth={self.auth!r})"

    # -- public interface --------------------------------------------------------------------

    @property
    def engine(self) -> str:
        """The HTTP engine in use (``"aiohttp"`` or ``"httpx"``), as configured until the first
        request decides (httpx serves anyio backends other than asyncio)."""
        return self._transports.engine or self.config.http_engine

    def url_for(self, url: str) -> str:
        """Absolute URL for a path relative to the API base (``me`` == ``/me``) or a full URL.

        A full URL is checked first (``ConfigurationError`` for a bad port or host, #14).
        """
        if _ABSOLUTE.match(url):
            split_url(url)
            return url
        return f"{self.base_url}/{url.lstrip('/')}"

    def is_trusted(self, url: str) -> bool:
        """True when credentials may be sent to ``url`` (API or files host, same port)."""
        return self._trusted.contains(url)

    def cookie_names(self) -> list[str]:
        """Names of the cookies held (for diagnostics; values are never exposed)."""
        return sorted({cookie.name for cookie in self._cookies.jar})

    def clear_cookies(self) -> None:
        self._cookies.clear()

    def refresh_cookie(self) -> str | None:
        """The ``flow_refresh_token`` cookie value, for saving it in a token file (#6)."""
        for cookie in self._cookies.jar:
            if cookie.name == REFRESH_COOKIE and cookie.value:
                return cookie.value
        return None

    def set_refresh_cookie(self, value: str) -> None:
        """Seed the refresh cookie saved by an earlier login, scoped to the API host (#6)."""
        host = httpx.URL(self.base_url).host
        self._cookies.set(REFRESH_COOKIE, value, domain=host, path="/")

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        data: Mapping[str, str | list[str]] | None = None,
        files: Mapping[str, tuple[str, bytes | IO[bytes], str]] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        retry: bool | None = None,
        timeout: Timeout = None,  # noqa: ASYNC109 - per-operation timeout, not a deadline
        raise_for_status: bool = True,
        body: bytes | AsyncIterable[bytes] | None = None,
        cookies: bool = False,
    ) -> Response:
        """Send a request and read the whole answer; errors raise ``FlowError`` subclasses.

        ``body`` is a raw request body (a presigned ``PUT``, #3); an async iterable is
        streamed, so pass ``retry=False`` with one unless it can be iterated again.
        ``cookies`` sends the refresh cookie along (the auth endpoints of docs/protocol.md §2).
        """
        content: dict[str, Any] = {}
        if body is not None:
            content["content"] = body
        if json is not None:
            content["json"] = json
        if data is not None:
            content["data"] = dict(data)
        if files is not None:
            content["files"] = dict(files)
        call = _Call(
            method.upper(),
            self.url_for(url),
            params,
            content,
            headers,
            authenticated,
            timeout,
            cookies,
        )
        raw, answer_headers, body_bytes = await self._exchange(
            call, retry=retry, raise_for_status=raise_for_status, stream=False
        )
        return Response(
            raw.status_code,
            answer_headers,
            body_bytes,
            str(raw.url),
            _charset(answer_headers.get("content-type")),
        )

    def stream(
        self,
        method: str,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        timeout: Timeout = None,
        raise_for_status: bool = True,
        retry_budget: RetryBudget | None = None,
    ) -> AbstractAsyncContextManager[StreamResponse]:
        """Send a request and stream the answer body inside ``async with``.

        ``retry_budget`` makes the retries of this request spend a budget the caller shares
        with its own retries (a download stream, ``_retry.RetryBudget``).
        """
        call = _Call(method.upper(), self.url_for(url), params, {}, headers, authenticated, timeout)
        return self._stream(call, raise_for_status, retry_budget)

    async def aclose(self) -> None:
        self._closed = True
        with anyio.CancelScope(shield=True):
            await self._transports.aclose()

    # -- internals ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _stream(
        self, call: _Call, raise_for_status: bool, budget: RetryBudget | None
    ) -> AsyncIterator[StreamResponse]:
        raw, headers, _ = await self._exchange(
            call, retry=None, raise_for_status=raise_for_status, stream=True, budget=budget
        )
        read_timeout = self._read_timeout if call.timeout is None else _seconds(call.timeout)
        try:
            yield StreamResponse(
                raw,
                headers,
                method=call.method,
                min_rate=self.config.min_download_rate,
                window=read_timeout,
            )
        finally:
            with anyio.CancelScope(shield=True):
                await raw.aclose()

    def _timeout_dict(self, timeout: Timeout) -> dict[str, float]:
        read = self._read_timeout if timeout is None else _seconds(timeout)
        connect = _seconds(self.config.connect_timeout)
        return {"connect": connect, "read": read, "write": read, "pool": read}

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(
            attempt, initial=self.config.backoff_initial, maximum=self.config.backoff_max
        )

    def _connect_backoff(self, attempt: int, refused: bool) -> float:
        """A refusal is an answer (nothing listens there), not congestion: retry it soon, so
        a server restarting gets its chance and a wrong port fails within a fraction of a
        second instead of the full backoff."""
        if not refused:
            return self._backoff(attempt)
        return backoff_delay(
            attempt,
            initial=min(self.config.backoff_initial, _REFUSED_BACKOFF_INITIAL),
            maximum=min(self.config.backoff_max, _REFUSED_BACKOFF_MAX),
        )

    async def _exchange(
        self,
        call: _Call,
        *,
        retry: bool | None,
        raise_for_status: bool,
        stream: bool,
        budget: RetryBudget | None = None,
    ) -> tuple[httpx.Response, Headers, bytes]:
        """The request loop; returns the answer, its headers and body (empty when streamed)."""
        if self._closed:
            raise RuntimeError("this client is closed")
        method = call.method
        policy = (method in IDEMPOTENT_METHODS) if retry is None else retry
        attempts = connects = 0
        refreshed = False
        while True:
            generation = await self._bearer_ready(call)
            failure: Exception | None = None
            raw: httpx.Response | None = None
            content = b""
            scope = anyio.CancelScope(deadline=anyio.current_time() + self._deadline)
            try:
                with scope:
                    raw = await self._send_following(call, scope)
                    if not stream or raw.status_code >= 400:
                        content = await self._read(raw, raw.status_code >= 400)
            except NETWORK_ERRORS as exc:
                failure = exc
            except _TooLarge:
                raise UnexpectedResponseError(
                    f"the answer to {method} {redact_url(call.url)} is larger than "
                    f"max_response_size ({self.config.max_response_size:,} bytes)",
                    status_code=raw.status_code if raw is not None else 0,
                    method=method,
                    url=redact_url(call.url),
                ) from None
            if scope.cancelled_caught:
                if raw is not None:
                    await raw.aclose()
                failure = DeadlineError(
                    f"no complete answer to {method} {redact_url(call.url)} within "
                    f"{self._deadline:g} s (request_deadline)"
                )
            if failure is not None:
                if never_sent(failure):
                    # One budget for connection failures (safe to resend for any method):
                    # never also retried under max_retries, so a dead port fails after
                    # 1 + connection_retries attempts.
                    refused = connection_refused(failure)
                    retrying = self._may_retry(budget, connects, True)
                    logger.debug(
                        "connecting to %s failed (%s), attempt %d; %s",
                        host_port(call.url),
                        "connection refused" if refused else type(failure).__name__,
                        connects + 1,
                        "retrying" if retrying else "giving up",
                    )
                    if retrying:
                        await anyio.sleep(self._connect_backoff(_index(budget, connects), refused))
                        connects += 1
                        continue
                    raise connect_error(failure, method, call.url, connects + 1) from None
                if policy and self._may_retry(budget, attempts, False):
                    if logger.isEnabledFor(logging.DEBUG):
                        shown = redact_url(call.url)
                        logger.debug("retrying %s %s after %s", method, shown, type(failure))
                    await anyio.sleep(self._backoff(_index(budget, attempts)))
                    attempts += 1
                    continue
                if isinstance(failure, FlowError):
                    raise failure
                raise transport_error(failure, method, call.url) from None

            assert raw is not None
            status = raw.status_code
            headers = Headers(raw.headers.multi_items())
            info = RateLimitInfo.from_headers(headers)
            if info is not None:
                self.rate_limit = info
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s %s -> %s", method, redact_url(str(raw.url)), status)
            if status < 400:
                return raw, headers, content

            if status == 401 and "authorization" in raw.request.headers and not refreshed:
                refreshed = True  # docs/protocol.md §2.2: one refresh, one resend
                if await self.auth.refresh(generation, self._fetch_token):
                    continue
            elif (
                policy and status in RETRYABLE_STATUSES and self._may_retry(budget, attempts, False)
            ):
                hint = retry_after_seconds(
                    headers,
                    cap=self.config.max_retry_after,
                    include_reset=status == 429,
                )
                delay = self._backoff(_index(budget, attempts))
                await anyio.sleep(delay if hint is None else hint)
                attempts += 1
                continue
            if not raise_for_status:
                return raw, headers, content
            raise error_from_response(status, headers, content, method, str(raw.request.url))

    def _may_retry(self, budget: RetryBudget | None, done: int, connect: bool) -> bool:
        if budget is not None:
            return budget.spend()
        limit = self.config.connection_retries if connect else self.config.max_retries
        return done < limit

    async def _bearer_ready(self, call: _Call) -> int:
        """Refresh a token about to expire; refuse to send one that has expired (#15).

        A server may treat an expired token as anonymous and answer 200 with public data
        only (docs/protocol.md §8 row 5), so such a request must not go out at all.
        """
        auth = self.auth
        if not call.authenticated or auth.token is None or auth.expires_at is None:
            return auth.generation
        if not self.is_trusted(call.url):
            return auth.generation  # no bearer goes there anyway
        if auth.due(_seconds(self.config.refresh_margin)):
            await auth.refresh(auth.generation, self._fetch_token)
        expires_at = auth.expires_at
        if expires_at is not None and auth.expired():
            when = datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="seconds")
            raise AuthenticationError(
                f"the access token expired at {when}; log in again",
                status_code=401,
                method=call.method,
                url=redact_url(call.url),
            )
        return auth.generation

    async def _read(self, raw: httpx.Response, error: bool) -> bytes:
        """The body, decoded; at most ``max_response_size`` (error bodies: cut at 1 MiB)."""
        cap = _ERROR_BODY_MAX if error else self.config.max_response_size
        try:
            length = raw.headers.get("content-length", "")
            if not error and length.isdigit() and int(length) > cap:
                raise _TooLarge
            pieces: list[bytes] = []
            size = 0
            encoded = "content-encoding" in raw.headers
            async for piece in raw.aiter_bytes() if encoded else raw.aiter_raw():
                size += len(piece)
                if size > cap:
                    if error:
                        pieces.append(piece[: cap - size + len(piece)])
                        break  # enough for a message: stop reading, drop the connection
                    raise _TooLarge
                pieces.append(piece)
            return b"".join(pieces)
        finally:
            await raw.aclose()

    async def _send_following(self, call: _Call, scope: anyio.CancelScope) -> httpx.Response:
        """Send once, following GET/HEAD redirects with credentials decided per hop."""
        request = self._build(call, scope)
        for _ in range(_MAX_REDIRECTS + 1):
            raw = await self._send(request)
            location = raw.headers.get("location")
            if (
                raw.status_code not in _REDIRECTS
                or not location
                or call.method not in {"GET", "HEAD"}
            ):
                return raw
            await raw.aclose()
            try:
                target = urljoin(str(raw.url), location)
                split_url(target, "redirect")
            except ValueError as exc:  # ConfigurationError, or urljoin's own
                raise UnexpectedResponseError(
                    f"unusable redirect Location {redact_url(location)!r}: {exc}",
                    status_code=raw.status_code,
                    method=call.method,
                    url=redact_url(call.url),
                ) from None
            # Presigned or foreign hosts never get the bearer token
            # (docs/protocol.md §8 row 20, §7).
            call = replace(call, url=target, params=None, content={})
            request = self._build(call, scope)
        raise FlowConnectionError(f"too many redirects for {call.method} {redact_url(call.url)}")

    def _build(self, call: _Call, scope: anyio.CancelScope) -> httpx.Request:
        headers = {"User-Agent": self._agent, "Accept-Encoding": "gzip, deflate"}
        if call.headers:
            headers.update(call.headers)
        token = self.auth.token
        trusted = self.is_trusted(call.url)
        if call.authenticated and token and trusted:
            headers["Authorization"] = f"Bearer {token}"
        content = call.content
        body = content.get("content")
        if body is not None and not isinstance(body, bytes | bytearray | memoryview | str):
            content = {**content, "content": self._rearming(body, scope)}
        timeouts = self._timeouts if call.timeout is None else self._timeout_dict(call.timeout)
        try:
            request = httpx.Request(
                call.method,
                call.url,
                params=call.params,
                headers=headers,
                extensions={"timeout": timeouts},
                **content,
            )
        except httpx.InvalidURL as exc:
            raise ConfigurationError(f"invalid URL {redact_url(call.url)!r}: {exc}") from None
        if call.cookies and trusted and self._cookies:
            self._cookies.set_cookie_header(request)
        return request

    async def _rearming(
        self, body: AsyncIterable[bytes], scope: anyio.CancelScope
    ) -> AsyncIterator[bytes]:
        """A streamed request body: each piece gets ``request_timeout`` to go out, and the
        deadline for the answer starts once the last piece is sent (uploads are not cut).

        One piece is read ahead, so the source has finished (a file body has closed its
        file) before its last piece goes out: aiohttp stops the body's writer as soon as the
        answer is in, which could otherwise interrupt the source while it closes.
        """
        pieces = aiter(body)
        try:
            piece = await anext(pieces, None)
            while piece is not None:
                following = await anext(pieces, None)
                scope.deadline = anyio.current_time() + self._read_timeout
                yield piece
                piece = following
        finally:
            close = getattr(pieces, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()
        scope.deadline = anyio.current_time() + self._deadline

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """One request through the transport (what ``AsyncClient.send`` would do, lean)."""
        transport = self._transports.for_url(request.url)
        raw = await transport.handle_async_request(request)
        raw.request = request
        if "set-cookie" in raw.headers and self.is_trusted(str(request.url)):
            self._cookies.extract_cookies(raw)  # login and /token set the refresh cookie
        return raw

    async def _fetch_token(self) -> str | None:
        """``GET /token`` with the refresh cookie, outside the 401 loop so it cannot recurse."""
        call = _Call("GET", self.url_for("token"), None, {}, None, True, None, cookies=True)
        with anyio.move_on_after(self._deadline):
            try:
                raw = await self._send(self._build(call, anyio.CancelScope()))
                content = await self._read(raw, raw.status_code >= 400)
            except (*NETWORK_ERRORS, _TooLarge) as exc:
                logger.debug("token refresh failed: %s", type(exc).__name__)
                return None
            logger.debug("GET %s -> %s", redact_url(str(raw.url)), raw.status_code)
            if not 200 <= raw.status_code < 300:
                return None  # the caller re-raises the original 401 (docs/protocol.md §2.2 step 2)
            try:
                return token_from_body(Response(200, {}, content, call.url).json())
            except FlowError:
                return None
        return None
