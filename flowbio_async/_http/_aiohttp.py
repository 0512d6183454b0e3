"""httpx's transport interface on an aiohttp ``ClientSession`` (aiohttp's public API only).

Why our own and not ``httpx_aiohttp.AiohttpTransport`` (what openai-python's
``DefaultAioHttpClient`` uses), measured side by side under our request loop
(``benchmarks/bench_http.py``, docs/benchmarks.md "HTTP engine"): small requests cost the
same within the noise of this machine, but large bodies are read with ``iter_any`` (whatever
arrived, up to the read buffer: about 3,000 pieces for 512 MiB instead of 33,000 fixed
16 KiB ones), which took 20-45 % less event-loop CPU, the CPU a download's md5 competes
for. And the retry rules need "never sent" kept apart from "cut mid-request":
httpx-aiohttp 0.2 maps every ``ClientConnectionError``, a server disconnect mid-request
included, to ``httpx.ConnectTimeout``, which would make a POST look safe to resend.

The session is created on first use, inside the running event loop, with aiohttp's cookie jar
switched off (``HttpClient`` keeps the refresh cookie and sends it only where it belongs),
no automatic decompression (httpx decodes, so both engines behave alike) and no
``trust_env``: with it aiohttp reads ``~/.netrc`` and the proxy variables in a worker thread
on every request; the proxy for each origin is resolved once here instead (``_proxies``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
import yarl

READ_BUFFER = 1024 * 1024
"""aiohttp's per-connection read buffer: one body read returns up to this much (its default
of 256 KiB meant four times as many pieces for large downloads); reading pauses at twice it."""


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests through one aiohttp session (asyncio only).

    Example:
        ```python
        transport = AiohttpTransport(ssl_context=ctx, max_connections=64, proxy_for=lambda u: None)
        response = await transport.handle_async_request(httpx.Request("GET", url))
        ```
    """

    def __init__(
        self,
        *,
        ssl_context: Callable[[], ssl.SSLContext],
        max_connections: int,
        proxy_for: Callable[[httpx.URL], str | None],
        keepalive_expiry: float = 15.0,
    ) -> None:
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._keepalive = keepalive_expiry
        self._proxy_for = proxy_for
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=0, keepalive_timeout=self._keepalive
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            read_bufsize=READ_BUFFER,
            trust_env=False,
            raise_for_status=False,
        )
        return self._session

    def _timeout(self, extension: Any) -> aiohttp.ClientTimeout:
        values = extension if isinstance(extension, dict) else {}
        key = (values.get("connect"), values.get("read"), values.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read, pool = key
            # aiohttp's `connect` covers the wait for a pooled connection plus connecting;
            # `sock_connect` the TCP/TLS connect alone; `sock_read` each read. No total: the
            # request loop sets whole-request deadlines itself (both engines alike).
            total_connect = None if pool is None or connect is None else pool + connect
            timeout = aiohttp.ClientTimeout(
                total=None, connect=total_connect, sock_connect=connect, sock_read=read
            )
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.lower() != b"transfer-encoding"  # aiohttp frames the body itself
        ]
        data: bytes | AsyncIterator[bytes] | None
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = _pieces(request.stream)
        proxy = self._proxy_for(request.url)  # may refuse with a ConfigurationError
        # The TLS context (CA bundle loaded, ~20 ms) is built for the first https request
        # only, not for a client that talks plain HTTP (a local server).
        tls = self._ssl_context() if request.url.scheme == "https" else True
        try:
            answer = await session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),  # httpx already encoded it
                headers=headers,
                data=data,
                allow_redirects=False,
                timeout=self._timeout(request.extensions.get("timeout")),
                proxy=proxy,
                ssl=tls,
            )
        except Exception as exc:
            mapped = _as_httpx(exc, request)
            if mapped is exc:
                raise
            raise mapped from exc
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if answer.reason:
            extensions["reason_phrase"] = answer.reason.encode("latin-1", "replace")
        return httpx.Response(
            answer.status,
            headers=list(answer.raw_headers),
            stream=_Body(answer, request),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


async def _pieces(stream: Any) -> AsyncIterator[bytes]:
    async for piece in stream:
        yield piece


class _Body(httpx.AsyncByteStream):
    """An aiohttp answer's body as httpx reads it; closing an unfinished body drops the
    connection (aiohttp never pools a connection with unread bytes)."""

    def __init__(self, answer: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._answer = answer
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._answer.content.iter_any():
                yield chunk
        except Exception as exc:
            mapped = _as_httpx(exc, self._request)
            if mapped is exc:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        self._answer.release()


def _as_httpx(exc: BaseException, request: httpx.Request) -> BaseException:
    """httpx's exception for an aiohttp failure, keeping "never sent" apart from the rest."""
    kind: type[httpx.HTTPError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout  # waiting for a pooled connection or connecting
    elif isinstance(exc, asyncio.TimeoutError):
        kind = httpx.ReadTimeout  # sock_read (aiohttp's SocketTimeoutError and kin)
    elif isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        kind = httpx.ProxyError
    elif isinstance(exc, aiohttp.ClientConnectorError):
        kind = httpx.ConnectError  # DNS, refused, TLS handshake and certificate failures
    elif isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        kind = httpx.UnsupportedProtocol
    elif isinstance(
        exc,
        aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError,
    ):
        kind = httpx.RemoteProtocolError  # closed mid-answer, bad framing, unparsable head
    elif isinstance(exc, aiohttp.ClientError | OSError):
        kind = httpx.ReadError  # reset, broken pipe, TLS errors after the handshake
    elif isinstance(exc, ValueError):
        kind = httpx.LocalProtocolError  # aiohttp refusing a header value we were given
    else:
        return exc  # not a network failure (cancellation, a bug): let it through unchanged
    return kind(str(exc) or type(exc).__name__, request=request)
