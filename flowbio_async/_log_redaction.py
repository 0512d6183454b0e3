"""Keep credentials out of the HTTP libraries' own log records (issue #7).

Our logger already redacts, but httpx logs every request URL at INFO (a download URL may
carry ``?token=<jwt>``, contract §5.1) and httpcore logs response headers at DEBUG (the
login's ``Set-Cookie: flow_refresh_token=...``, contract §2.1). A filter on those loggers
rewrites such records before any handler sees them, so turning on DEBUG logging to debug a
transfer never writes a token to a log file.
"""

from __future__ import annotations

import logging
import re

from flowbio_async._errors import redact_url

_SECRETS = (
    # Cookie and header values: flow_refresh_token=..., Authorization: Bearer ...
    re.compile(r"(flow_refresh_token=)[^;,\s'\"]+", re.IGNORECASE),
    re.compile(r"(bearer\s+)[^\s'\",;]+", re.IGNORECASE),
)

#: Loggers of httpx and of the httpcore/hpack layers below it (filters do not propagate).
LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.connection_pool",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "hpack",
    "hpack.hpack",
    "hpack.table",
)


def redact_text(text: str) -> str:
    """Replace token query parameters, refresh cookies and bearer tokens in ``text``.

    Example:
        ```python
        redact_text("Set-Cookie: flow_refresh_token=abc; HttpOnly")
        # 'Set-Cookie: flow_refresh_token=REDACTED; HttpOnly'
        ```
    """
    cleaned = redact_url(text)
    for pattern in _SECRETS:
        cleaned = pattern.sub(r"\1REDACTED", cleaned)
    return cleaned


class RedactingFilter(logging.Filter):
    """Rewrites a record's message when it contains a credential (never drops records)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed record is the logging module's problem, not ours
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install() -> None:
    """Attach one :class:`RedactingFilter` to each HTTP library logger (idempotent)."""
    for name in LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())
