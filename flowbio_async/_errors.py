"""Exception hierarchy of the SDK.

Every exception the SDK raises derives from :class:`FlowError`. HTTP failures are
:class:`FlowApiError` subclasses chosen by status code; network failures are
:class:`FlowTransportError`; bad input detected before any request is
:class:`ConfigurationError`; transfer-level failures (checksum, disk space, unsafe paths)
are :class:`TransferError`. Messages never contain tokens.

The parsing of the seven error-body shapes of contract §6.2 lives in ``error_from_response``
(filled in by the HTTP layer work, see DEVELOPING.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FlowError(Exception):
    """Base class of every error raised by flowbio-async.

    Example:
        ```python
        try:
            await client.data.get("404")
        except FlowError as exc:
            print(exc)
        ```
    """


class ConfigurationError(FlowError, ValueError):
    """Bad input detected before any request was sent (bad URL, empty credentials...)."""


class FlowApiError(FlowError):
    """The server answered with an error status.

    Attributes:
        status_code: HTTP status.
        message: Human-readable message extracted from the body (contract §6.2).
        code: Machine-readable code when the body has one (``NOT_FOUND``, ``validation_error``).
        details: Field or row level details when the body has them.
        problem: The RFC 9457 Problem Details body, verbatim, when the server sent one.
        body: The parsed JSON body when it was JSON, else ``None``.
        method: Request method.
        url: Request URL with any ``token`` query parameter redacted.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        details: list[Any] | None = None,
        problem: Mapping[str, Any] | None = None,
        body: Any = None,
        method: str | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.details = details
        self.problem = problem
        self.body = body
        self.method = method
        self.url = url
        self.headers: Mapping[str, str] = dict(headers or {})

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.method and self.url else ""
        return f"HTTP {self.status_code}: {self.message}{where}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(FlowApiError):
    """400: the server refused the input (also bad credentials on login)."""


class UnprocessableError(BadRequestError):
    """422: well-formed but refused values."""


class AuthenticationError(FlowApiError):
    """401: not logged in, or the token expired and could not be refreshed."""


class PermissionDeniedError(FlowApiError):
    """403: the token is not allowed to do this."""


class NotFoundError(FlowApiError):
    """404: unknown or invisible resource."""


class GoneError(FlowApiError):
    """410: the resource expired (for example a bulk-download archive after 24 h)."""


class PayloadTooLargeError(FlowApiError):
    """413: the request body is larger than the server accepts."""


class RateLimitError(FlowApiError):
    """429: too many requests; ``retry_after`` is the server's hint in seconds, if any."""

    @property
    def retry_after(self) -> float | None:
        from flowbio_async._retry import retry_after_seconds

        return retry_after_seconds(self.headers)


class ServerError(FlowApiError):
    """5xx: the server or a proxy in front of it failed."""


class FlowTransportError(FlowError):
    """The request did not get an HTTP answer (connection refused, reset, timed out)."""


class FlowConnectionError(FlowTransportError):
    """The connection could not be established or was dropped."""


class FlowTimeoutError(FlowTransportError):
    """A connect, read, write or pool timeout expired."""


class TransferError(FlowError):
    """A transfer could not complete safely."""


class IntegrityError(TransferError):
    """Downloaded or uploaded bytes do not match the expected size or checksum."""


class InsufficientSpaceError(TransferError, OSError):
    """Not enough free disk space for a download."""


class UnsafePathError(TransferError, ValueError):
    """A server-provided name or archive entry would escape the destination directory."""


class BulkDownloadFailedError(TransferError):
    """A bulk-download job ended in failure; ``message`` is the server's error."""


class AnnotationValidationError(BadRequestError):
    """400 with a ``validation`` body: the annotation sheet has errors that cannot be ignored."""

    @property
    def errors(self) -> list[Any]:
        body = self.body if isinstance(self.body, dict) else {}
        value = body.get("validation", [])
        return list(value) if isinstance(value, list) else [value]


class AnnotationWarningsError(BadRequestError):
    """400 with a ``warnings`` body, raised only when ``ignore_warnings=False``."""

    @property
    def warnings(self) -> list[Any]:
        body = self.body if isinstance(self.body, dict) else {}
        value = body.get("warnings", [])
        return list(value) if isinstance(value, list) else [value]


STATUS_CLASSES: dict[int, type[FlowApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    410: GoneError,
    413: PayloadTooLargeError,
    422: UnprocessableError,
    429: RateLimitError,
}
