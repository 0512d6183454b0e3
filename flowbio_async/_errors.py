"""Exception hierarchy of the SDK.

Every exception the SDK raises derives from :class:`FlowError`. HTTP failures are
:class:`FlowApiError` subclasses chosen by status code; network failures are
:class:`FlowTransportError`; bad input detected before any request is
:class:`ConfigurationError`; transfer-level failures (checksum, disk space, unsafe paths)
are :class:`TransferError`. Messages never contain tokens: every message (and an API error's
body, details and headers) is scrubbed of the client's own token values, ``Bearer …``,
refresh cookies and JWTs when the exception is created (``_secrets``, issue #14).

The parsing of the seven error-body shapes of docs/protocol.md §6.2 lives in
``error_from_response``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flowbio_async._secrets import redact_token_params, scrub, scrub_data


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

    def __init__(self, *args: object) -> None:
        # Messages are often built from what a server sent: it may echo our token (#14).
        super().__init__(*(scrub(arg) if isinstance(arg, str) else arg for arg in args))


class ConfigurationError(FlowError, ValueError):
    """Bad input detected before any request was sent (bad URL, empty credentials...)."""


class FlowApiError(FlowError):
    """The server answered with an error status.

    Attributes:
        status_code: HTTP status.
        message: Human-readable message extracted from the body (docs/protocol.md §6.2).
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
        message = scrub(message)
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = scrub(code) if code is not None else None
        self.details = scrub_data(details)
        self.problem = scrub_data(problem)
        self.body = scrub_data(body)
        self.method = method
        self.url = scrub(url) if url is not None else None
        self.headers: Mapping[str, str] = {k: scrub(v) for k, v in (headers or {}).items()}

    def __str__(self) -> str:
        head = status_line(self.status_code)
        if self.message == head or self.message.startswith(f"{head}: "):
            # A bare-status answer (no JSON body): "HTTP 404 Not Found for GET <url>", not
            # "HTTP 404: HTTP 404 Not Found" (#17 item 10); any text body follows the URL.
            rest = self.message[len(head) :]
            where = f" for {self.method} {self.url}" if self.method and self.url else ""
            return f"{head}{where}{rest}"
        where = f" ({self.method} {self.url})" if self.method and self.url else ""
        return f"HTTP {self.status_code}: {self.message}{where}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(FlowApiError):
    """400: the server refused the input (also bad credentials on login)."""


class UnprocessableError(BadRequestError):
    """422: well-formed but refused values."""


class InvalidUploadError(ConfigurationError, BadRequestError):
    """An upload Flow would refuse with 400, caught before any byte was sent (#17).

    Both a :class:`ConfigurationError` (a ``ValueError``: nothing was sent) and a
    :class:`BadRequestError` with ``status_code`` 400 (what Flow would have answered), so code
    written for the official client, which learns of it from the server, catches it
    unchanged: ``except BadRequestError``. ``method`` and ``url`` are ``None``.

    Example:
        ```python
        try:
            await client.data.upload_data("my reads.fq")
        except BadRequestError as exc:
            print(exc.message)  # the stored filename 'my reads.fq' contains spaces, ...
        ```
    """

    def __init__(self, message: str) -> None:
        BadRequestError.__init__(self, message, status_code=400)

    def __str__(self) -> str:
        return self.message


class InvalidSampleError(InvalidUploadError):
    """A sample that Flow would refuse, caught before any byte was sent (#17).

    ``problems`` lists every reason (name, sample type, data keys, metadata); the message
    says what was refused and joins them. Also a ``BadRequestError`` (see
    :class:`InvalidUploadError`).
    """

    def __init__(self, message: str, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{message}: " + "; ".join(self.problems))


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


class UnexpectedResponseError(FlowApiError):
    """A success answer whose body cannot be read: not JSON, or not the documented shape.

    Seen behind a misconfigured proxy (an HTML page with 200) or after an API change; raised
    instead of ``JSONDecodeError``/``AttributeError`` so one ``except FlowError`` covers it
    (issue #7: malformed responses give typed errors).
    """


class FlowTransportError(FlowError):
    """The request did not get an HTTP answer (connection refused, reset, timed out)."""


class FlowConnectionError(FlowTransportError):
    """The connection could not be established or was dropped."""


class FlowTimeoutError(FlowTransportError):
    """A connect, read, write or pool timeout expired."""


class NotStartedError(FlowError):
    """An item of a batch that was never started: an earlier one failed and the call was
    made with ``stop_on_error=True``. Nothing of it was sent; run it again on its own.

    Example:
        ```python
        results = await client.samples.upload_samples(specs, stop_on_error=True)
        retry = [r.item for r in results if isinstance(r.error, NotStartedError)]
        ```
    """


class TransferError(FlowError):
    """A transfer could not complete safely."""


class IntegrityError(TransferError):
    """Downloaded or uploaded bytes do not match the expected size or checksum."""


class InsufficientSpaceError(TransferError, OSError):
    """Not enough free disk space for a download."""


class UnsafePathError(TransferError, ValueError):
    """A server-provided name or archive entry would escape the destination directory."""


class DestinationExistsError(TransferError, FileExistsError):
    """A different file already exists at a download's destination (pass ``overwrite=True``)."""


class DestinationNotWritableError(TransferError, PermissionError):
    """A download's destination directory cannot be created or written."""


class ArchiveLimitError(TransferError):
    """An archive would expand past ``ClientConfig.archive_max_*`` (a decompression bomb?).

    Nothing was extracted and the archive is kept, so it can be inspected or unpacked with
    higher limits.
    """


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


_NON_JSON_PREVIEW = 500


def redact_url(url: str) -> str:
    """Replace the value of any ``token`` query parameter (docs/protocol.md §5.1 ``?token=<jwt>``).

    Example:
        ```python
        redact_url("https://files.flow.bio/downloads/1/a.txt?token=abc")
        # 'https://files.flow.bio/downloads/1/a.txt?token=REDACTED'
        ```
    """
    return redact_token_params(url)


def _parse_json(content: bytes) -> Any:
    if not content.strip():
        return None
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nesting too deep (#14)
        return None


def _dump(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (RecursionError, ValueError):  # parsed near the nesting limit, too deep to print
        return "<JSON body nested too deeply to show>"


def _field_dict(error: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """Shape 2: ``{"error": {"field": ["msg", ...]}}``, or the same dict bare."""
    parts: list[str] = []
    details: list[Any] = []
    for field, messages in error.items():
        items = messages if isinstance(messages, list) else [messages]
        texts = [m if isinstance(m, str) else _dump(m) for m in items]
        parts.append(f"{field}: {', '.join(texts)}")
        details.extend({"field": field, "message": text} for text in texts)
    return "; ".join(parts), details


def _is_field_dict(body: Any) -> bool:
    """``{"field": ["msg", ...], ...}``: every value a list of strings (not an annotation
    sheet's ``validation``/``warnings`` rows, which are objects)."""
    return (
        isinstance(body, dict)
        and bool(body)
        and all(
            isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages)
            for messages in body.values()
        )
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _list_or_none(value: Any) -> list[Any] | None:
    return list(value) if isinstance(value, list) and value else None


def status_line(status_code: int) -> str:
    """``HTTP 404 Not Found``: the status and its standard reason phrase.

    Example:
        ```python
        assert status_line(502) == "HTTP 502 Bad Gateway"
        ```
    """
    try:
        reason = HTTPStatus(status_code).phrase
    except ValueError:
        reason = "Error"
    return f"HTTP {status_code} {reason}"


def _non_json_message(status_code: int, content: bytes) -> str:
    head = status_line(status_code)
    text = content.decode("utf-8", errors="replace").strip()
    if not text:
        return head
    suffix = "…" if len(text) > _NON_JSON_PREVIEW else ""
    return f"{head}: {text[:_NON_JSON_PREVIEW]}{suffix}"


def _error_class(status_code: int, body: Any) -> type[FlowApiError]:
    if status_code == 400 and isinstance(body, dict) and "error" not in body:
        # Annotation sheets answer 400 with these keys and no "error" (docs/protocol.md §3.6).
        if "validation" in body:
            return AnnotationValidationError
        if "warnings" in body:
            return AnnotationWarningsError
    if status_code in STATUS_CLASSES:
        return STATUS_CLASSES[status_code]
    if status_code >= 500:
        return ServerError
    return FlowApiError


def error_from_response(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    method: str | None = None,
    url: str | None = None,
) -> FlowApiError:
    """Build the typed error for an HTTP error answer, accepting every body shape of
    docs/protocol.md §6.2.

    Problem Details is recognised by content type first; then the ``error`` member as a string,
    a field dict or a structured envelope; then any other JSON body whole; then non-JSON text.

    Example:
        ```python
        exc = error_from_response(404, {}, b'{"error": "Not found"}', "GET", "https://x/api/data/1")
        assert isinstance(exc, NotFoundError) and exc.message == "Not found"
        ```
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type", "").lower()
    body = _parse_json(content)
    code: str | None = None
    details: list[Any] | None = None
    problem: Mapping[str, Any] | None = None

    if content_type.startswith("application/problem+json") and isinstance(body, dict):
        # Shape 5: RFC 9457 Problem Details, kept verbatim in ``problem``.
        problem = body
        message = _str_or_none(body.get("detail")) or _str_or_none(body.get("title")) or _dump(body)
        code = _str_or_none(body.get("code"))
        details = _list_or_none(body.get("errors"))
    elif isinstance(body, dict) and "error" in body:
        error = body["error"]
        if isinstance(error, str):
            # Shapes 1 and 6: legacy string, optionally with the docs-site ``code``.
            message = error or _dump(body)
            code = _str_or_none(body.get("code"))
        elif isinstance(error, dict) and isinstance(error.get("message"), str):
            # Shape 4: structured envelope {"code", "message", "details"}.
            message = error["message"]
            code = _str_or_none(error.get("code"))
            details = _list_or_none(error.get("details"))
        elif isinstance(error, dict):
            message, details = _field_dict(error)  # shape 2
            details = details or None
        else:
            message = _dump(error)
    elif _is_field_dict(body):
        # Shape 2 unwrapped: Flow's upload pages show ``{"filename": [...]}`` bare (#15).
        message, details = _field_dict(body)
    elif body is not None:
        message = _dump(body)  # shape 3: no "error" key, the whole body is the message
    else:
        message = _non_json_message(status_code, content)  # shape 7

    cls = _error_class(status_code, body)
    return cls(
        redact_url(message),
        status_code=status_code,
        code=code,
        details=details,
        problem=problem,
        body=body,
        method=method,
        url=redact_url(url) if url is not None else None,
        headers=dict(headers),
    )
