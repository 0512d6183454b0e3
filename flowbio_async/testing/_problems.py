"""Problem Details (RFC 9457) answers of the ``/v2/*`` routes
(docs/protocol.md §6.2 shape 5, §8 row 12).

Flow's newer endpoints answer errors as ``application/problem+json`` with ``type``, ``title``,
``status``, ``detail``, a stable ``code`` (``validation_error``, ``not_found``...) and, for
refused input, ``errors``: one ``{pointer, code, detail}`` per problem, ``pointer`` a JSON
Pointer into the request body (the official 0.14.1 client reads exactly these members).
Handlers raise :class:`Problem`; :func:`problem_route` turns it, and the foundation's
``ApiError`` (401 from ``require_user``...), into such an answer.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flowbio_async.testing._security import ApiError

PROBLEM_TYPE = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Content",
}
_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "validation_error",
}


class Problem(Exception):
    """An error answered as Problem Details.

    Example:
        ```python
        raise Problem(422, "1 problem", errors=[issue("/imports/0/accession", "required",
                                                      "This field is required.")])
        ```
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or _CODES.get(status, "error")
        self.errors = errors or []

    def response(self, instance: str) -> JSONResponse:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            "code": self.code,
        }
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM_TYPE)


def issue(pointer: str, code: str, detail: str) -> dict[str, Any]:
    """One entry of ``errors``: where in the body, what kind, what is wrong."""
    return {"pointer": pointer, "code": code, "detail": detail}


def refused(issues: list[dict[str, Any]]) -> Problem:
    """The 422 for refused input, its ``detail`` naming every field."""
    listed = "; ".join(f"{i['pointer']}: {i['detail']}" for i in issues)
    count = f"{len(issues)} problem{'s' if len(issues) != 1 else ''}"
    return Problem(422, f"Invalid request ({count}): {listed}", errors=issues)


Handler = Callable[[Request], Awaitable[Response]]


def problem_route(handler: Handler) -> Handler:
    """Answer :class:`Problem` and the foundation's ``ApiError`` as Problem Details."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Problem as exc:
            return exc.response(request.url.path)
        except ApiError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            message = body.get("error")
            detail = message if isinstance(message, str) else _TITLES.get(exc.status, "Error")
            return Problem(exc.status, detail).response(request.url.path)

    return wrapped
