"""URL rules: base URLs, the files host, trusted origins and checks on URLs from elsewhere.

Credentials go only to the API's and the files server's origin (scheme, host and port,
docs/protocol.md §1.1, §8 row 20). URLs that come from a caller or from a server (a
``download_url``, a ``Location``) are checked here before any library parses them, so a port out of
range or a broken IPv6 literal is a typed error instead of a ``ValueError`` from deep inside (#14).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from flowbio_async._config import DEFAULT_BASE_URL
from flowbio_async._errors import ConfigurationError, redact_url

DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


def normalise_base_url(base_url: str | None) -> str:
    """Validate a base URL and drop its trailing slash (docs/protocol.md §1.1).

    Example:
        ```python
        normalise_base_url("https://app.flow.bio/api/")  # 'https://app.flow.bio/api'
        ```
    """
    url = (base_url or DEFAULT_BASE_URL).strip()
    parts = split_url(url, "base URL")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"base URL must not have a query or fragment: {url!r}")
    return url.rstrip("/")


def derive_files_url(base_url: str, configured: str | None) -> str:
    """The files server base for downloads (docs/protocol.md §8 row 20).

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


def split_url(url: str, what: str = "URL") -> SplitResult:
    """``urlsplit`` with every ``ValueError`` turned into :class:`ConfigurationError`.

    Checks the scheme (http/https), the host and the port (1-65535) too, so later parsing by
    the HTTP libraries cannot fail on them.

    Example:
        ```python
        split_url("http://127.0.0.1:99999/")  # ConfigurationError: port out of range
        ```
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError as exc:
        raise ConfigurationError(f"invalid {what} {shown!r}: {exc}") from None
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise ConfigurationError(f"{what} must start with http:// or https://, got {shown!r}")
    if not parts.hostname:
        raise ConfigurationError(f"{what} has no host: {shown!r}")
    if port == 0:
        raise ConfigurationError(f"invalid {what} {shown!r}: port 0")
    if _UNSAFE.search(url):
        raise ConfigurationError(f"invalid {what} {shown!r}: whitespace or control characters")
    return parts


def origin(url: str) -> Origin:
    """``(scheme, host, port)`` with the default port filled in (the unit of trust)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1  # never equal to a trusted origin's port
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme, -1)


class TrustedOrigins:
    """The origins that may receive the bearer token and the refresh cookie.

    Example:
        ```python
        trusted = TrustedOrigins("https://app.flow.bio/api", "https://app.flow.bio/api")
        trusted.contains("https://app.flow.bio:443/api/me")  # True
        trusted.contains("https://bucket.s3.amazonaws.com/x")  # False
        ```
    """

    def __init__(self, *urls: str) -> None:
        self._origins = frozenset(origin(url) for url in urls)
        self._prefixes = tuple(f"{url.rstrip('/')}/" for url in urls)

    def contains(self, url: str) -> bool:
        # A URL under one of the base URLs is trusted without parsing (most requests).
        return url.startswith(self._prefixes) or origin(url) in self._origins
