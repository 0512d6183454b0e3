"""The HTTP layer: the only module that imports httpx (DEVELOPING.md "Internal interfaces").

One :class:`HttpClient` per :class:`~flowbio_async.AsyncClient` owns the connection pool, the
cookie jar (``flow_refresh_token``, contract §2.1) and the bearer token. It joins paths to the
base URL (§1.1), attaches credentials only to the API and files hosts, retries per
``_retry``, refreshes the token once on 401 (§2.2) and turns error answers into the typed
exceptions of ``_errors``. No httpx type leaves this module.

Requests are built here and handed straight to the pool's transport: this layer already does
what ``httpx.AsyncClient.send`` would add (redirects, auth, cookies), and skipping it saves
about a third of a millisecond of CPU per request, which dominates many small downloads
(#4). The cookie jar is ours for the same reason: the refresh cookie is sent only where it is
needed (``GET /token``, ``POST /logout``), not merged into every request.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json as jsonlib
import logging
import os
import select
import ssl
import sys
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import anyio
import httpcore
import httpx

from flowbio_async import _log_redaction as redaction
from flowbio_async._auth import TokenState, token_from_body
from flowbio_async._config import DEFAULT_BASE_URL, ClientConfig
from flowbio_async._errors import (
    ConfigurationError,
    FlowConnectionError,
    FlowTimeoutError,
    FlowTransportError,
    UnexpectedResponseError,
    error_from_response,
    redact_url,
)
from flowbio_async._lean import (
    LeanAnswer,
    LeanConnectError,
    LeanConnectTimeout,
    LeanError,
    LeanPool,
    LeanProtocolError,
    LeanReadTimeout,
)
from flowbio_async._retry import (
    IDEMPOTENT_METHODS,
    RETRYABLE_STATUSES,
    backoff_delay,
    retry_after_seconds,
)
from flowbio_async._socket_body import SocketBody
from flowbio_async._version import __version__

logger = logging.getLogger("flowbio_async")
redaction.install()  # httpx/httpcore log URLs and headers themselves (#7)

# httpcore runs `import sniffio` on every request to detect trio; when sniffio is not
# installed (anyio 4 no longer needs it) each failed import walks sys.path: ~1-2 ms of CPU
# per request, a third of the client's time when uploading many small files (#3). Remember
# the miss so the import fails fast; httpcore then assumes asyncio, which is what we run.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

REFRESH_COOKIE = "flow_refresh_token"  # contract §2.1
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10
_DEFAULT_PORTS = {"http": 80, "https": 443}

QueryParams = Mapping[str, Any] | list[tuple[str, Any]]
Timeout = float | timedelta | None


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
    """The last ``X-RateLimit-*`` headers seen (contract §6.3); ``reset`` is Unix seconds.

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


class Response:
    """A fully read HTTP answer."""

    def __init__(
        self, status_code: int, headers: Headers, content: bytes, url: str, encoding: str | None
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
        return self.content.decode(self._encoding, errors="replace")

    def json(self) -> Any:
        try:
            return jsonlib.loads(self.content)
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            preview = self.content[:200].decode("utf-8", errors="replace")
            raise UnexpectedResponseError(
                redact_url(f"expected a JSON body, got {preview!r}"),
                status_code=self.status_code,
                url=redact_url(self.url),
            ) from None


class StreamResponse:
    """An HTTP answer whose body is read incrementally (used by downloads)."""

    def __init__(self, raw: httpx.Response, *, read_timeout: float | None = None) -> None:
        self._raw = raw
        self.status_code = raw.status_code
        self.headers: Mapping[str, str] = Headers(raw.headers.multi_items())
        self.url = str(raw.url)
        self._read_timeout = read_timeout
        self._started = False

    def __repr__(self) -> str:
        return f"<StreamResponse [{self.status_code}] {redact_url(self.url)}>"

    def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Body bytes (content-decoded)."""
        self._started = True
        return self._raw.aiter_bytes(chunk_size)

    async def aread(self) -> bytes:
        self._started = True
        return await self._raw.aread()

    def socket_body(self) -> SocketBody | None:
        """The rest of the body for a worker thread to read from the socket, or ``None``.

        Only for a plain-HTTP/1.1 body with a ``Content-Length``, no encoding, not yet
        iterated, on a connection of this client's own pools (``_socket_body``, #4).
        """
        headers = self._raw.headers
        length = headers.get("content-length", "")
        if (
            self._started
            or self._raw.request.method != "GET"  # a HEAD answer announces a body it never sends
            or not length.isdigit()
            or "transfer-encoding" in headers
            or headers.get("content-encoding", "identity").lower() != "identity"
        ):
            return None
        lean = self._raw.extensions.get(_LEAN_ANSWER)
        stream = self._raw.extensions.get("network_stream")
        if isinstance(lean, LeanAnswer):
            taken = lean.take_socket()
        elif isinstance(stream, _LargeReadStream):
            taken = stream.take_body(self.status_code, int(length))
        else:
            return None
        if taken is None:
            return None
        prefix, fd = taken
        self._started = True
        return SocketBody(
            fd,
            prefix,
            int(length) - len(prefix),
            timeout=self._read_timeout,
            label=redact_url(self.url),
        )

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive, undecoded (downloads send ``Accept-Encoding: identity``).

        A connection dropped or timed out mid-body raises the same ``FlowConnectionError`` /
        ``FlowTimeoutError`` as a failure before the answer, so callers can resume (#4).
        """
        self._started = True
        try:
            async for chunk in self._raw.aiter_raw():
                yield chunk
        except httpx.TransportError as exc:
            raise _map_transport_error(exc, self._raw.request.method, self.url) from None


def normalise_base_url(base_url: str | None) -> str:
    """Validate a base URL and drop its trailing slash (contract §1.1).

    Example:
        ```python
        normalise_base_url("https://app.flow.bio/api/")  # 'https://app.flow.bio/api'
        ```
    """
    url = (base_url or DEFAULT_BASE_URL).strip()
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:
        raise ConfigurationError(f"base URL must start with http:// or https://, got {url!r}")
    if not parts.hostname:
        raise ConfigurationError(f"base URL has no host: {url!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"base URL must not have a query or fragment: {url!r}")
    return url.rstrip("/")


def derive_files_url(base_url: str, configured: str | None) -> str:
    """The files server base for downloads (contract §8 row 20).

    ``configured`` wins. Otherwise a ``*.flow.bio`` API host other than ``app`` gets ``api``
    swapped for ``files`` (``api.flow.bio`` → ``https://files.flow.bio``); anything else,
    including ``app.flow.bio/api`` and local servers, uses the API base itself.

    Example:
        ```python
        derive_files_url("https://api.flow.bio", None)  # 'https://files.flow.bio'
        ```
    """
    if configured:
        return normalise_base_url(configured)
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host.endswith(".flow.bio") and host != "app.flow.bio":
        labels = host.split(".")
        first = labels[0]
        if "api" in first:
            labels[0] = first.replace("api", "files", 1)
            netloc = ".".join(labels) + (f":{parts.port}" if parts.port else "")
            return f"{parts.scheme}://{netloc}"
    return base_url


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _verify(verify: bool | str) -> bool | ssl.SSLContext:
    if isinstance(verify, bool):
        return verify
    path = Path(verify).expanduser()
    if not path.exists():
        raise ConfigurationError(f"CA bundle {verify!r} does not exist")
    if path.is_dir():
        return ssl.create_default_context(capath=str(path))
    return ssl.create_default_context(cafile=str(path))


def _is_connect_failure(exc: httpx.TransportError) -> bool:
    # The TCP/TLS connection was never established: safe to retry for any method (§1.3).
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


def _map_transport_error(exc: httpx.TransportError, method: str, url: str) -> FlowTransportError:
    where = f"{method} {redact_url(url)}"
    detail = redact_url(str(exc)) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return FlowTimeoutError(f"{type(exc).__name__} during {where}: {detail}")
    return FlowConnectionError(f"{type(exc).__name__} during {where}: {detail}")


@dataclass(frozen=True)
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
    """Send the refresh cookie (only ``/token`` and ``/logout`` read it, contract §2)."""
    lean: bool = False
    """A streamed GET may go through ``_lean`` (download bodies, #4)."""


class HttpClient:
    """Pool, cookie jar, credentials, retries and error mapping for one client.

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
        transport: Any = None,
    ) -> None:
        self.config = config
        self.base_url = normalise_base_url(base_url)
        self.files_url = derive_files_url(self.base_url, config.files_url)
        self.auth = auth or TokenState()
        self.rate_limit: RateLimitInfo | None = None
        self._trusted = {_origin(self.base_url), _origin(self.files_url)}
        agent = f"flowbio-async/{__version__}"
        if config.user_agent:
            agent = f"{agent} {config.user_agent}"
        request_timeout = _seconds(config.request_timeout)
        self._agent = agent
        self._cookies = httpx.Cookies()
        self._closed = False
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(request_timeout, connect=_seconds(config.connect_timeout)),
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
            verify=_verify(config.verify),
            headers={"User-Agent": agent},
            # Redirects are followed by hand so credentials are re-decided per hop.
            follow_redirects=False,
            transport=transport,
        )
        # The lean GET client replaces httpx for download bodies unless a test transport or
        # a proxy from the environment (httpx mounts) is in play, or the user turned it off.
        self._lean: LeanPool | None = None
        if transport is None:
            _enable_large_reads(self._client)
            if config.lean_downloads and not getattr(self._client, "_mounts", True):
                verify = _verify(config.verify)
                self._lean = LeanPool(
                    ssl_context=lambda: httpx.create_ssl_context(verify=verify),
                    max_idle=config.max_connections,
                )

    def __repr__(self) -> str:
        return f"HttpClient(base_url={self.base_url!r}, auth={self.auth!r})"

    # -- public interface --------------------------------------------------------------------

    def url_for(self, url: str) -> str:
        """Absolute URL for a path relative to the API base (``me`` == ``/me``) or a full URL."""
        if url.startswith(("http://", "https://")):
            return url
        return f"{self.base_url}/{url.lstrip('/')}"

    def is_trusted(self, url: str) -> bool:
        """True when credentials may be sent to ``url`` (API or files host, same port)."""
        return _origin(url) in self._trusted

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
        host = urlsplit(self.base_url).hostname or ""
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
        timeout: Timeout = None,  # noqa: ASYNC109 - per-operation httpx timeout, not a deadline
        raise_for_status: bool = True,
        body: bytes | AsyncIterable[bytes] | None = None,
        cookies: bool = False,
    ) -> Response:
        """Send a request and read the whole answer; errors raise ``FlowApiError`` subclasses.

        ``body`` is a raw request body (a presigned ``PUT``, #3); an async iterable is
        streamed, so pass ``retry=False`` with one (it cannot be replayed). ``cookies``
        sends the refresh cookie along (the auth endpoints of contract §2).
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
        raw = await self._exchange(call, retry=retry, raise_for_status=raise_for_status)
        return Response(
            raw.status_code,
            Headers(raw.headers.multi_items()),
            raw.content,
            str(raw.url),
            raw.encoding,
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
        lean: bool = False,
    ) -> AbstractAsyncContextManager[StreamResponse]:
        """Send a request and stream the answer body inside ``async with``.

        ``lean`` lets a GET go through the lean HTTP/1.1 client (``_lean``): downloads.
        """
        method = method.upper()
        call = _Call(
            method, self.url_for(url), params, {}, headers, authenticated, timeout, lean=lean
        )
        return self._stream(call, raise_for_status)

    async def aclose(self) -> None:
        self._closed = True
        if self._lean is not None:
            self._lean.close()
        await self._client.aclose()

    # -- internals ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _stream(self, call: _Call, raise_for_status: bool) -> AsyncIterator[StreamResponse]:
        raw = await self._exchange(call, retry=None, raise_for_status=raise_for_status, stream=True)
        timeout = self.config.request_timeout if call.timeout is None else call.timeout
        try:
            yield StreamResponse(raw, read_timeout=_seconds(timeout))
        finally:
            stream = raw.extensions.get("network_stream")
            if isinstance(stream, _LargeReadStream):
                stream.forget_head()  # no pooled connection keeps a body piece alive
            await raw.aclose()

    def _timeout(self, timeout: Timeout) -> httpx.Timeout:
        if timeout is None:
            return self._client.timeout
        return httpx.Timeout(_seconds(timeout), connect=_seconds(self.config.connect_timeout))

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(
            attempt, initial=self.config.backoff_initial, maximum=self.config.backoff_max
        )

    async def _exchange(
        self, call: _Call, *, retry: bool | None, raise_for_status: bool, stream: bool = False
    ) -> httpx.Response:
        """The request loop: connect retries, policy retries, one refresh on 401, errors."""
        if self._closed:
            raise RuntimeError("this client is closed")
        method, url = call.method, call.url
        retry_policy = (method in IDEMPOTENT_METHODS) if retry is None else retry
        attempts = connect_attempts = 0
        refreshed = False
        while True:
            if call.authenticated and self.auth.due(_seconds(self.config.refresh_margin)):
                await self._refresh(self.auth.generation)
            generation = self.auth.generation
            try:
                response = await self._send_following(call, stream)
            except httpx.UnsupportedProtocol as exc:
                raise ConfigurationError(f"unsupported URL {redact_url(url)!r}: {exc}") from None
            except httpx.TransportError as exc:
                if _is_connect_failure(exc) and connect_attempts < self.config.connection_retries:
                    await anyio.sleep(self._backoff(connect_attempts))
                    connect_attempts += 1
                    continue
                if retry_policy and attempts < self.config.max_retries:
                    logger.debug("retrying %s %s after %s", method, redact_url(url), exc)
                    await anyio.sleep(self._backoff(attempts))
                    attempts += 1
                    continue
                raise _map_transport_error(exc, method, url) from None

            status = response.status_code
            info = RateLimitInfo.from_headers(response.headers)
            if info is not None:
                self.rate_limit = info
            logger.debug("%s %s -> %s", method, redact_url(str(response.url)), status)
            if status < 400:
                return response

            if stream:
                await response.aread()
                await response.aclose()
            if status == 401 and "authorization" in response.request.headers and not refreshed:
                refreshed = True  # contract §2.2: one refresh, one resend
                if await self._refresh(generation):
                    continue
            elif (
                retry_policy and status in RETRYABLE_STATUSES and attempts < self.config.max_retries
            ):
                hint = retry_after_seconds(
                    response.headers,
                    cap=self.config.max_retry_after,
                    include_reset=status == 429,
                )
                delay = self._backoff(attempts) if hint is None else hint
                logger.debug(
                    "retrying %s %s in %.2fs after %s", method, redact_url(url), delay, status
                )
                await anyio.sleep(delay)
                attempts += 1
                continue
            if not raise_for_status:
                return response
            raise error_from_response(
                status,
                Headers(response.headers.multi_items()),
                response.content,
                method,
                str(response.request.url),
            )

    async def _send_following(self, call: _Call, stream: bool) -> httpx.Response:
        """Send once, following GET/HEAD redirects with credentials decided per hop."""
        request = self._build(call)
        for _ in range(_MAX_REDIRECTS + 1):
            if (
                stream
                and call.lean
                and call.method == "GET"
                and self._lean is not None
                and _on_asyncio()
            ):
                response = await self._send_lean(self._lean, request)
            else:
                response = await self._send(request, stream=stream)
            location = response.headers.get("location")
            if (
                response.status_code not in _REDIRECTS
                or not location
                or call.method not in {"GET", "HEAD"}
            ):
                return response
            await response.aclose()
            target = urljoin(str(response.url), location)
            # Presigned or foreign hosts never get the bearer token (contract §8 row 20, §7).
            call = replace(call, url=target, params=None, content={})
            request = self._build(call)
        raise FlowConnectionError(f"too many redirects for {call.method} {redact_url(call.url)}")

    def _build(self, call: _Call) -> httpx.Request:
        merged = {"User-Agent": self._agent, **(call.headers or {})}
        token = self.auth.token
        trusted = self.is_trusted(call.url)
        if call.authenticated and token and trusted:
            merged["Authorization"] = f"Bearer {token}"
        request = httpx.Request(
            call.method,
            call.url,
            params=call.params,
            headers=merged,
            extensions={"timeout": self._timeout(call.timeout).as_dict()},
            **call.content,
        )
        if call.cookies and trusted and self._cookies:
            self._cookies.set_cookie_header(request)
        return request

    async def _send(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        """One request through the pool's transport (what ``AsyncClient.send`` would do, lean).

        ``_transport_for_url`` picks the proxy mount from the environment like httpx does;
        should a future httpx rename it, requests go through ``AsyncClient.send`` instead
        (slower, same behaviour).
        """
        route = getattr(self._client, "_transport_for_url", None)
        if route is None:  # pragma: no cover - another httpx
            response = await self._client.send(request, stream=stream)
        else:
            response = await route(request.url).handle_async_request(request)
            response.request = request
        if "set-cookie" in response.headers and self.is_trusted(str(request.url)):
            self._cookies.extract_cookies(response)  # login and /token set the refresh cookie
        if not stream and route is not None:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response

    async def _send_lean(self, pool: LeanPool, request: httpx.Request) -> httpx.Response:
        """A streamed GET through ``_lean``, wrapped as an httpx answer for the layers above."""
        url = request.url
        timeouts = request.extensions.get("timeout") or {}
        origin = (url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme])
        try:
            answer = await pool.get(
                origin,
                url.raw_path,
                request.headers.raw,
                (timeouts.get("connect"), timeouts.get("read")),
            )
        except LeanError as exc:
            raise _from_lean(exc, request) from None
        return httpx.Response(
            answer.status_code,
            headers=answer.headers,
            stream=_LeanBody(answer, request),
            request=request,
            extensions={
                "http_version": answer.http_version,
                "reason_phrase": answer.reason,
                _LEAN_ANSWER: answer,
            },
        )

    async def _refresh(self, seen_generation: int) -> bool:
        return await self.auth.refresh(seen_generation, self._fetch_token)

    async def _fetch_token(self) -> str | None:
        """``GET /token`` with the refresh cookie, outside the 401 loop so it cannot recurse."""
        call = _Call("GET", self.url_for("token"), None, {}, None, True, None, cookies=True)
        try:
            response = await self._send(self._build(call), stream=False)
        except httpx.TransportError as exc:
            logger.debug("token refresh failed: %s", type(exc).__name__)
            return None
        logger.debug("GET %s -> %s", redact_url(str(response.url)), response.status_code)
        if not 200 <= response.status_code < 300:
            return None  # the caller re-raises the original 401 (§2.2 step 2)
        try:
            return token_from_body(response.json())
        except ValueError:
            return None


# -- the lean GET client's answers as httpx answers (downloads, #4) -------------------------
_LEAN_ANSWER = "flowbio_lean_answer"


class _LeanBody(httpx.AsyncByteStream):
    def __init__(self, answer: LeanAnswer, request: httpx.Request) -> None:
        self._answer = answer
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for piece in self._answer.body():
                yield piece
        except LeanError as exc:
            raise _from_lean(exc, self._request) from None

    async def aclose(self) -> None:
        self._answer.close()


def _on_asyncio() -> bool:
    """The lean client is built on asyncio protocols: under trio, httpx does the work."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _from_lean(exc: LeanError, request: httpx.Request) -> httpx.TransportError:
    """The httpx error the same failure would have raised (the retry rules key on them)."""
    kind: type[httpx.TransportError] = httpx.ReadError
    if isinstance(exc, LeanConnectTimeout):
        kind = httpx.ConnectTimeout
    elif isinstance(exc, LeanConnectError):
        kind = httpx.ConnectError
    elif isinstance(exc, LeanReadTimeout):
        kind = httpx.ReadTimeout
    elif isinstance(exc, LeanProtocolError):
        kind = httpx.RemoteProtocolError
    return kind(str(exc), request=request)


# -- large socket reads (downloads, #4) ----------------------------------------------------
# httpcore reads responses 64 KiB at a time (READ_NUM_BYTES on its HTTP/1.1 connection
# class), which caps httpx near 0.4-0.6 GB/s (design/transfers.md). asyncio's socket transport
# already holds up to 256 KiB per receive; asking for more lets one read return all of it
# (measured on loopback: ~0.45 -> ~1.2-2 GB/s). Instead of changing that class attribute for
# every httpx user in the process, the network backend of *this client's* pools is wrapped so
# its streams read up to LARGE_READ bytes. Should httpx's internals change shape, the wrapper
# is simply not installed and reads stay at 64 KiB: slower, never wrong.
LARGE_READ = 4 * 1024 * 1024


class _LargeReadStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: Any = _UNKNOWN
        # What was read since the last request went out, up to the end of the answer's
        # head: `take_body` needs the body bytes h11 already holds (#4, _socket_body).
        self._head: list[bytes] | None = None
        self._body_start = -1

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        data = await self._inner.read(max(max_bytes, LARGE_READ), timeout)
        if self._head is not None:
            if self._body_start < 0:
                self._note_head(data)
            else:
                self.forget_head()  # h11 asks for more: it has consumed what was buffered
        return data

    def forget_head(self) -> None:
        """Drop the recorded head (the body went through httpx, or the answer is closed)."""
        self._head, self._body_start = None, -1

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self._head, self._body_start = [], -1  # httpcore sends one request at a time
        await self._inner.write(buffer, timeout)

    def _note_head(self, data: bytes) -> None:
        assert self._head is not None
        self._head.append(data)
        if len(self._head) > 1:
            self._head = [b"".join(self._head)]
        end = self._head[0].find(b"\r\n\r\n")
        if end >= 0:
            self._body_start = end + 4
        elif len(self._head[0]) > _HEAD_MAX:
            self._head = None  # not an answer head we understand: no fast path

    def take_body(self, status: int, length: int) -> tuple[bytes, int] | None:
        """``(body bytes already read, duplicate socket fd)`` for the current answer, or None.

        None whenever anything is unexpected (TLS, an interim 1xx answer, asyncio still
        reading, anyio's internals changed shape): the caller then reads through httpx.
        """
        head = self._head
        if head is None or self._body_start < 0 or self.get_extra_info("ssl_object") is not None:
            return None
        status_line = head[0][: head[0].find(b"\r\n")].split()
        if (
            len(status_line) < 2
            or not status_line[0].startswith(b"HTTP/1.")
            or status_line[1] != str(status).encode()
        ):
            return None  # not the head we think it is (an interim answer, leftover bytes)
        anyio_stream = getattr(self._inner, "_stream", None)
        transport = getattr(anyio_stream, "_transport", None)
        queue = getattr(getattr(anyio_stream, "_protocol", None), "read_queue", None)
        is_reading = getattr(transport, "is_reading", None)
        if not isinstance(queue, deque) or is_reading is None or is_reading():
            return None  # asyncio could still receive bytes behind our back
        sock = self._inner.get_extra_info("socket")
        if sock is None or sys.platform == "win32":  # Windows sockets are not descriptors
            return None
        prefix = head[0][self._body_start :] + b"".join(queue)
        if len(prefix) > length:
            return None
        try:
            fd = os.dup(sock.fileno())
        except OSError:
            return None
        queue.clear()
        self._head = None
        return prefix, fd

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        return _LargeReadStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # httpcore asks this of every pooled connection on every request and release;
            # anyio rebuilds its attribute table per lookup, about a third of the pool's
            # cost for many small downloads (#4). The socket itself never changes.
            if self._socket is _UNKNOWN:
                self._socket = self._inner.get_extra_info("socket")
            return _is_readable(self._socket)
        return self._inner.get_extra_info(info)


_UNKNOWN = object()
_HEAD_MAX = 1024 * 1024


def _is_readable(sock: Any) -> bool:
    """Whether a read would return at once (data or EOF); a closed socket counts as readable."""
    fileno = -1 if sock is None else sock.fileno()
    if fileno < 0:
        return True
    if not hasattr(select, "poll"):  # pragma: no cover - Windows
        return bool(select.select([fileno], [], [], 0)[0])
    poller = select.poll()
    poller.register(fileno, select.POLLIN)
    return bool(poller.poll(0))


class _LargeReadBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _LargeReadStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(path, timeout, socket_options)
        return _LargeReadStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _enable_large_reads(client: httpx.AsyncClient) -> None:
    """Wrap the network backend of ``client``'s own pools (see the note above)."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.AsyncNetworkBackend) and not isinstance(
            backend, _LargeReadBackend
        ):
            pool._network_backend = _LargeReadBackend(backend)  # type: ignore[union-attr]
