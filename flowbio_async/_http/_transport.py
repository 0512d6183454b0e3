"""Building the transport of one client: engine, TLS, proxies from the environment, pool.

Two engines sit behind httpx's transport interface:

* ``"aiohttp"`` (the default): :class:`~flowbio_async._http._aiohttp.AiohttpTransport`, on
  asyncio only;
* ``"httpx"``: httpx's own ``AsyncHTTPTransport`` (httpcore). It serves anyio backends other
  than asyncio (chosen automatically there), respx's mocks in tests, and anyone who asks.

Both get the same TLS context (``verify``, a CA bundle, a client certificate), the same pool
size and the same proxy choice per origin, read once from ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
``ALL_PROXY`` / ``NO_PROXY`` (standard library rules) unless ``trust_env=False``.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from urllib.request import getproxies_environment, proxy_bypass

import httpx

from flowbio_async._config import ClientConfig
from flowbio_async._errors import ConfigurationError, redact_url

ENGINES = ("aiohttp", "httpx")


def _check_path(value: str, what: str) -> Path:
    path = Path(value).expanduser()
    if not path.exists():
        raise ConfigurationError(f"{what} {value!r} does not exist")
    return path


def check_tls_files(config: ClientConfig) -> None:
    """Refuse a missing CA bundle or client certificate before any request."""
    if isinstance(config.verify, str):
        _check_path(config.verify, "CA bundle")
    cert = config.cert
    for value in [cert] if isinstance(cert, str) else list(cert or ())[:2]:
        _check_path(value, "client certificate file")


def ssl_context(config: ClientConfig) -> ssl.SSLContext:
    """The TLS context both engines use (certifi's CAs by default, like httpx).

    Example:
        ```python
        context = ssl_context(ClientConfig(verify="/etc/ssl/company-ca.pem"))
        ```
    """
    check_tls_files(config)
    try:
        if isinstance(config.verify, str):
            path = Path(config.verify).expanduser()
            if path.is_dir():
                context = ssl.create_default_context(capath=str(path))
            else:
                context = ssl.create_default_context(cafile=str(path))
        else:
            # certifi's bundle (or SSL_CERT_FILE / SSL_CERT_DIR), or no verification at all.
            context = httpx.create_ssl_context(verify=config.verify)
        cert = config.cert
        if isinstance(cert, str):
            context.load_cert_chain(cert)
        elif cert is not None:
            context.load_cert_chain(*cert)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(f"cannot load the TLS settings: {exc}") from None
    return context


class EnvProxies:
    """The proxy for each origin, from the environment (read once, cached per origin).

    Example:
        ```python
        EnvProxies(True).for_url(httpx.URL("https://app.flow.bio/api/me"))  # None or a URL
        ```
    """

    def __init__(self, enabled: bool) -> None:
        self._proxies = getproxies_environment() if enabled else {}
        self._cache: dict[tuple[str, str, int | None], str | None] = {}

    def __bool__(self) -> bool:
        return any(self._proxies.get(s) for s in ("http", "https", "all"))

    def for_url(self, url: httpx.URL) -> str | None:
        key = (url.scheme, url.host, url.port)
        if key in self._cache:
            return self._cache[key]
        proxy: str | None = None
        if self:
            where = url.host if url.port is None else f"{url.host}:{url.port}"
            if not proxy_bypass(where):  # NO_PROXY (and the system settings on macOS)
                proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if proxy and not proxy.lower().startswith(("http://", "https://")):
            # Refused when it would be used, so an unrelated ALL_PROXY=socks5://... set for
            # other tools does not stop a client whose hosts are in NO_PROXY.
            raise ConfigurationError(
                f"proxy {redact_url(proxy)!r} for {url.scheme}:// URLs: only http:// and "
                "https:// proxies are supported (or set trust_env=False)"
            )
        self._cache[key] = proxy
        return proxy


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False  # trio (or another anyio backend): aiohttp needs asyncio
    return True


class Transports:
    """The transport(s) of one ``HttpClient``, built on first use inside the event loop.

    ``custom`` (a test's mock transport) replaces everything.

    Example:
        ```python
        transports = Transports(ClientConfig())
        response = await transports.for_url(request.url).handle_async_request(request)
        await transports.aclose()
        ```
    """

    def __init__(
        self, config: ClientConfig, custom: httpx.AsyncBaseTransport | None = None
    ) -> None:
        if config.http_engine not in ENGINES:
            raise ConfigurationError(f"http_engine must be one of {ENGINES}")
        check_tls_files(config)
        self._config = config
        self._custom = custom
        self._proxies = EnvProxies(config.trust_env)
        self._context: ssl.SSLContext | None = None
        self._aiohttp: httpx.AsyncBaseTransport | None = None
        self._httpx: dict[str | None, httpx.AsyncBaseTransport] = {}
        self.engine: str | None = None
        """The engine in use once the first request went out (``"aiohttp"`` or ``"httpx"``)."""

    def _ssl(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl_context(self._config)
        return self._context

    def for_url(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        if self._custom is not None:
            return self._custom
        if self._aiohttp is not None:
            return self._aiohttp
        if self.engine is None:
            wanted = self._config.http_engine
            self.engine = "aiohttp" if wanted == "aiohttp" and _on_asyncio() else "httpx"
        if self.engine == "aiohttp":
            from flowbio_async._http._aiohttp import AiohttpTransport  # imports aiohttp

            self._aiohttp = AiohttpTransport(
                ssl_context=self._ssl,
                max_connections=self._config.max_connections,
                proxy_for=self._proxies.for_url,
            )
            return self._aiohttp
        proxy = self._proxies.for_url(url)
        transport = self._httpx.get(proxy)
        if transport is None:
            limit = self._config.max_connections
            transport = httpx.AsyncHTTPTransport(
                verify=self._ssl(),
                limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
                proxy=proxy,
            )
            self._httpx[proxy] = transport
        return transport

    async def aclose(self) -> None:
        transports = [self._custom, self._aiohttp, *self._httpx.values()]
        self._custom, self._aiohttp, self._httpx = None, None, {}
        for transport in transports:
            if transport is not None:
                await transport.aclose()
