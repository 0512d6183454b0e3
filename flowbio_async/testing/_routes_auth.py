"""Authentication routes: ``POST /login``, ``GET /token``, ``POST /logout``
(docs/protocol.md §2)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from flowbio_async.testing._revocation import is_revoked, revoke
from flowbio_async.testing._security import (
    REFRESH_COOKIE,
    bad_request,
    make_token,
    read_token,
    settings_of,
    store_of,
)
from flowbio_async.testing._store import Row


def user_summary(user: Row) -> dict[str, Any]:
    """The ``user`` object returned by login and refresh (docs/protocol.md §2.1 variants B/C)."""
    first, _, last = str(user["name"]).partition(" ")
    return {
        "id": str(user["id"]),
        "username": user["username"],
        "email": user["email"],
        "name": user["name"],
        "first_name": first,
        "last_name": last,
    }


def _token_response(request: Request, user: Row, *, cookie: bool, login: bool) -> JSONResponse:
    settings = settings_of(request)
    secret = store_of(request).secret()
    access = make_token(secret, int(user["id"]), "access", settings.access_token_ttl)
    # docs/protocol.md §8 row 1: login answers both `token` and `access_token`; /token reads
    # `token`.
    body: dict[str, Any] = {"token": access, "user": user_summary(user)}
    if login:
        body["access_token"] = access
    response = JSONResponse(body)
    if cookie:
        refresh = make_token(secret, int(user["id"]), "refresh", settings.refresh_token_ttl)
        response.set_cookie(
            REFRESH_COOKIE,
            refresh,
            max_age=int(settings.refresh_token_ttl),
            path="/",
            httponly=True,
            samesite="lax",
        )
    return response


async def login(request: Request) -> JSONResponse:
    """``POST /login`` with JSON (or form) ``username``/``password`` (docs/protocol.md §2.1)."""
    credentials = await _credentials(request)
    username = str(credentials.get("username") or credentials.get("email") or "")
    password = str(credentials.get("password") or "")
    store = store_of(request)
    user = store.authenticate(username, password) if username and password else None
    if user is None and "@" in username:
        found = store.row("SELECT username FROM users WHERE email = ?", (username,))
        user = store.authenticate(found["username"], password) if found else None
    if user is None:
        raise bad_request("Invalid credentials")
    return _token_response(request, user, cookie=True, login=True)


async def refresh(request: Request) -> JSONResponse:
    """``GET /token``: a new access token from the refresh cookie, rotating it
    (docs/protocol.md §2.2)."""
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie:
        raise bad_request("No refresh token supplied")
    store = store_of(request)
    user_id = read_token(store.secret(), cookie, "refresh")
    if user_id is not None and is_revoked(store, cookie):
        user_id = None  # rotated away or logged out (#14): as invalid as a forged one
    user = store.get_user(user_id) if user_id is not None else None
    if user is None:
        raise bad_request("Refresh token not valid")
    rotate = settings_of(request).rotate_refresh_token
    if rotate:
        revoke(store, cookie)  # the new cookie replaces it: the old one must stop working
    return _token_response(request, user, cookie=rotate, login=False)


async def logout(request: Request) -> JSONResponse:
    """``POST /logout``: retires the refresh cookie sent, and clears it."""
    cookie = request.cookies.get(REFRESH_COOKIE)
    store = store_of(request)
    if cookie and read_token(store.secret(), cookie, "refresh") is not None:
        revoke(store, cookie)
    response = JSONResponse({"success": True})
    response.delete_cookie(REFRESH_COOKIE, path="/", httponly=True)
    return response


async def _credentials(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "")
    if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise bad_request("Invalid JSON body") from None
    return body if isinstance(body, dict) else {}


routes: list[BaseRoute] = [
    Route("/login", login, methods=["POST"], name="login"),
    Route("/token", refresh, methods=["GET"], name="token"),
    Route("/logout", logout, methods=["POST"], name="logout"),
]
