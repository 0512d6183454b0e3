"""Failures of a request without an HTTP answer, as the SDK's typed errors.

Both engines speak httpx's exception types (our aiohttp transport maps aiohttp's onto them,
``_aiohttp``), so this is the one place where library errors become ``FlowError`` subclasses.
"""

from __future__ import annotations

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
