"""Request helpers shared by every route module: tokens, the current user, errors, params.

Route modules raise :class:`ApiError` (or use the helpers below); the app turns it into a
JSON response in the legacy ``{"error": ...}`` shape (docs/protocol.md §6.2 shape 1) or, with the
``problem_details`` setting, as ``application/problem+json`` (shape 5).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flowbio_async.testing._revocation import is_revoked
from flowbio_async.testing._settings import ServerSettings
from flowbio_async.testing._store import Row, Store

REFRESH_COOKIE = "flow_refresh_token"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class ApiError(Exception):
    """An HTTP error answered with a JSON body; ``body`` is sent as is.

    Example:
        ```python
        raise ApiError(404, {"error": "Not found"})
        ```
    """

    def __init__(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        field_errors: bool = False,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}
        #: ``body`` is ``{"error": {field: [messages]}}``, answered bare unless the
        #: ``wrapped_field_errors`` setting is on (data.md ``POST /upload``, #15 item 15).
        self.field_errors = field_errors


def as_field_errors(exc: ApiError) -> ApiError:
    """``exc`` marked as a form's field errors when its body is ``{"error": {field: [...]}}``.

    Example:
        ```python
        raise as_field_errors(error(400, {"filename": ["Spaces in filename"]}))
        ```
    """
    problems = exc.body.get("error") if isinstance(exc.body, dict) and len(exc.body) == 1 else None
    if (
        isinstance(problems, dict)
        and problems
        and all(isinstance(v, list) for v in problems.values())
    ):
        exc.field_errors = True
    return exc


def error(status: int, message: Any, **extra: Any) -> ApiError:
    """Build the legacy ``{"error": message}`` error (docs/protocol.md §6.2 shapes 1 and 2)."""
    return ApiError(status, {"error": message, **extra})


def not_found() -> ApiError:
    """The 404 every read answers for unknown or invisible things (docs/protocol.md §4)."""
    return error(404, "Not found")


def bad_request(message: Any) -> ApiError:
    """A 400 with ``{"error": message}``."""
    return error(400, message)


def error_response(exc: ApiError, settings: ServerSettings) -> Response:
    """Render an :class:`ApiError` as a response."""
    if exc.body is None:
        return Response(b"", status_code=exc.status, headers=exc.headers)
    if settings.problem_details and isinstance(exc.body, dict) and "error" in exc.body:
        message = exc.body["error"]
        problem = {
            "type": "about:blank",
            "title": message if isinstance(message, str) else "Invalid request",
            "status": exc.status,
            "detail": message if isinstance(message, str) else json.dumps(message),
            "code": _PROBLEM_CODES.get(exc.status, "error"),
        }
        return JSONResponse(
            problem,
            status_code=exc.status,
            headers=exc.headers,
            media_type="application/problem+json",
        )
    if exc.field_errors and not settings.wrapped_field_errors:
        return JSONResponse(exc.body["error"], status_code=exc.status, headers=exc.headers)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


_PROBLEM_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    410: "gone",
    422: "validation_error",
    429: "rate_limited",
}


# -- JWT (HS256, stdlib only) -------------------------------------------------------------
def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_HEADER = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())


def make_token(secret: bytes, user_id: int, kind: str, ttl: float) -> str:
    """Return a signed JWT for ``user_id``; ``kind`` is ``access`` or ``refresh``.

    Access and refresh tokens share the header segment, as production's do (docs/protocol.md §2.1).
    """
    now = time.time()
    claims = {
        "sub": str(user_id),
        "type": kind,
        "iat": int(now),
        "exp": int(now + ttl),
        "jti": secrets.token_hex(8),
    }
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{_HEADER}.{body}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{_HEADER}.{body}.{_b64(signature)}"


def read_token(secret: bytes, token: str, kind: str) -> int | None:
    """Return the user id of a valid, unexpired ``kind`` token, else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    expected = hmac.new(secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _unb64(parts[2])):
            return None
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or claims.get("type") != kind:
        return None
    if float(claims.get("exp", 0)) <= time.time():
        return None
    try:
        return int(claims["sub"])
    except (KeyError, TypeError, ValueError):
        return None


# -- the current user ---------------------------------------------------------------------
def store_of(request: Request) -> Store:
    """The app's :class:`Store`."""
    store: Store = request.app.state.store
    return store


def settings_of(request: Request) -> ServerSettings:
    """The app's current :class:`ServerSettings` (``/_testing/settings`` may change them)."""
    settings: ServerSettings = request.app.state.settings
    return settings


def bearer_token(request: Request) -> str | None:
    """The token from ``Authorization``: ``Bearer <jwt>`` or a bare ``<jwt>``
    (docs/protocol.md §8 row 6)."""
    header = request.headers.get("authorization", "").strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    if rest and scheme.lower() in {"bearer", "token", "jwt"}:
        return rest.strip()
    return header


def token_user_id(request: Request, *, downloads: bool = False) -> tuple[int | None, bool]:
    """Return ``(user_id, presented)``: who the credentials name, and whether any were sent.

    Downloads also accept ``?token=<jwt>`` and the refresh cookie (docs/protocol.md §5.1).
    """
    secret = store_of(request).secret()
    token = bearer_token(request)
    if token is None and downloads:
        token = request.query_params.get("token") or None
    if token is not None:
        return read_token(secret, token, "access"), True
    if downloads:
        cookie = request.cookies.get(REFRESH_COOKIE)
        if cookie:
            if is_revoked(store_of(request), cookie):
                return None, True  # rotated away or logged out (#14)
            return read_token(secret, cookie, "refresh"), True
    return None, False


def current_user(request: Request, *, downloads: bool = False, search: bool = False) -> Row | None:
    """The authenticated user, or None for anonymous requests.

    A presented but invalid/expired token raises 401 ``{"error": "Not authorized"}``, except
    on searches (``search=True``), which Flow answers as for an anonymous caller (users.md,
    #15 item 1; the ``strict_search_tokens`` setting keeps the 401), and everywhere with the
    ``anonymous_downgrade`` setting (older Flow, docs/protocol.md §8 row 5).
    """
    user_id, presented = token_user_id(request, downloads=downloads)
    user = store_of(request).get_user(user_id) if user_id is not None else None
    if user is None and presented and not downgrades(request, search=search):
        raise not_authorized()
    return user


def downgrades(request: Request, *, search: bool = False) -> bool:
    """Whether a bad token is treated as anonymous here instead of answered with 401."""
    settings = settings_of(request)
    return settings.anonymous_downgrade or (search and not settings.strict_search_tokens)


def require_user(request: Request, *, downloads: bool = False) -> Row:
    """The authenticated user; 401 ``{"error": "Not authorized"}`` otherwise
    (docs/protocol.md §9.2)."""
    user = current_user(request, downloads=downloads)
    if user is None:
        raise not_authorized()
    return user


def not_authorized() -> ApiError:
    """The 401 of protected routes (docs/protocol.md §9.2)."""
    return error(401, "Not authorized")


# -- query and form parameters ------------------------------------------------------------
def read_bool(value: object, default: bool = False) -> bool:
    """Parse a boolean form/query value: ``true/1/yes/on`` (docs/protocol.md §8 row 9)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return default


def read_int(request: Request, name: str, default: int) -> int:
    """An integer query parameter; a non-integer gives a 500, like production
    (docs/protocol.md §4.3)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(500, {"error": "Server error"}) from None
