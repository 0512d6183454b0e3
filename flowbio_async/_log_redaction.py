"""Keep credentials out of the HTTP libraries' own log records (issue #7).

Our logger redacts what it formats, but httpx logs every request URL at INFO (a download URL may
carry ``?token=<jwt>``, docs/protocol.md §5.1) and httpcore logs response headers at DEBUG (the
login's ``Set-Cookie: flow_refresh_token=...``, docs/protocol.md §2.1). A filter on those loggers
rewrites such records before any handler sees them, so turning on DEBUG logging to debug a
transfer never writes a token to a log file.
"""

from __future__ import annotations

import logging

from flowbio_async._secrets import scrub

#: Loggers of httpx and of the httpcore/hpack layers below it (filters do not propagate).
LOGGERS = (
    "flowbio_async",  # ours: messages may quote what a server sent (#14)
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
    """Scrub ``text`` of every credential: known token values, cookies, bearers, JWTs.

    Example:
        ```python
        redact_text("Set-Cookie: flow_refresh_token=abc; HttpOnly")
        # 'Set-Cookie: flow_refresh_token=REDACTED; HttpOnly'
        ```
    """
    return scrub(text)


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
