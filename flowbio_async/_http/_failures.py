"""Failures of a request without an HTTP answer, as the SDK's typed errors.

Both engines speak httpx's exception types (our aiohttp transport maps aiohttp's onto them,
``_aiohttp``), so this is the one place where library errors become ``FlowError`` subclasses.
"""

from __future__ import annotations

import errno
import ssl

import httpx

from flowbio_async._errors import (
    ConfigurationError,
    FlowConnectionError,
    FlowError,
    FlowTimeoutError,
    UnexpectedResponseError,
    redact_url,
)


class StallError(FlowTimeoutError):
    """A body arrived slower than ``config.min_download_rate`` (a trickle, #14).

    Unlike a cut, bytes that trickled in do not earn a download stream more retries.
    """


class DeadlineError(FlowTimeoutError):
    """A request got no complete answer within ``config.request_deadline`` (#14)."""


NETWORK_ERRORS = (httpx.HTTPError, ssl.SSLError, ConnectionError)
"""What a transport may raise for a network failure: httpx's types, and the TLS alerts and
resets httpcore lets through unmapped (a server refusing a client certificate in TLS 1.3
answers with an alert on the first read)."""


def never_sent(exc: Exception) -> bool:
    """True when the request cannot have reached the server: safe to resend for any method.

    A connection that was never established, or a connection the pool never handed out.
    """
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def connection_refused(exc: BaseException) -> bool:
    """True when every connection attempt behind ``exc`` was refused (nothing listens there).

    Both engines keep the operating system's error in the chain: aiohttp's connector error
    wraps it, httpcore's goes through anyio's "All connection attempts failed" (one cause, or
    an exception group when the host had several addresses).
    """
    leaves: list[OSError] = []
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
            continue
        cause = current.__cause__ or current.__context__
        if cause is not None:
            pending.append(cause)
        elif isinstance(current, OSError):
            leaves.append(current)
    return bool(leaves) and all(
        isinstance(leaf, ConnectionRefusedError) or leaf.errno == errno.ECONNREFUSED
        for leaf in leaves
    )


def host_port(url: str) -> str:
    """``host:port`` of ``url`` (the scheme's default port when none is given), no userinfo."""
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    host = parsed.host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def connect_error(exc: Exception, method: str, url: str, attempts: int) -> FlowError:
    """The typed error for a connection never established after ``attempts`` tries."""
    where = f"{method} {redact_url(url)}"
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    if connection_refused(exc):
        return FlowConnectionError(
            f"connection refused by {host_port(url)} during {where} ({tries}): "
            "nothing is listening there"
        )
    detail = redact_url(str(exc)) or type(exc).__name__
    message = f"{type(exc).__name__} during {where} ({tries} to reach {host_port(url)}): {detail}"
    if isinstance(exc, httpx.TimeoutException):
        return FlowTimeoutError(message)
    return FlowConnectionError(message)


def transport_error(exc: Exception, method: str, url: str) -> FlowError:
    """The typed error for a library failure during ``method url`` (tokens redacted)."""
    where = f"{method} {redact_url(url)}"
    detail = redact_url(str(exc)) or type(exc).__name__
    message = f"{type(exc).__name__} during {where}: {detail}"
    if isinstance(exc, httpx.TimeoutException):
        return FlowTimeoutError(message)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ConfigurationError(message)
    if isinstance(exc, httpx.DecodingError):
        # The body's Content-Encoding lied (not gzip after all): a broken answer.
        return UnexpectedResponseError(message, status_code=0, method=method, url=redact_url(url))
    return FlowConnectionError(message)
