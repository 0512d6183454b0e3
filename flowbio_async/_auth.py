"""Credential strategies, the bearer-token state, and single-flight token refresh.

Credentials validate their input when constructed, so bad input raises
:class:`ConfigurationError` before any request. Logging in stores the access token in a
:class:`TokenState` that the HTTP layer reads for every request to the API or files host;
the ``flow_refresh_token`` cookie lives in the HTTP layer's cookie jar (docs/protocol.md §2.1-2.2).

Nothing here holds or imports an HTTP client: credentials are handed a
:class:`LoginSession` (what the HTTP layer offers for logging in) when they run, and the
request loop drives :meth:`TokenState.refresh` with its own ``GET /token`` (#16).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import anyio

from flowbio_async._errors import AuthenticationError, ConfigurationError
from flowbio_async._private_dirs import check_private_path
from flowbio_async._secrets import token_set

TOKEN_ENV = "FLOW_API_TOKEN"  # noqa: S105 - a variable name, not a secret
TOKEN_FILE_ENV = "FLOW_TOKEN_FILE"  # noqa: S105
DEFAULT_TOKEN_FILE = Path("~/.config/flow/api-token")


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT in Unix seconds, or ``None`` if the token is not a JWT.

    The signature is not verified: the value only schedules a proactive refresh.

    Example:
        ```python
        jwt_expiry("not-a-jwt")  # None
        ```
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def token_from_body(body: Any) -> str | None:
    """The access token of a login or refresh answer, whichever key variant it uses.

    Accepts ``token``, ``access_token``, ``accessToken`` and GraphQL's
    ``data.login.accessToken`` (docs/protocol.md §8 row 1).

    Example:
        ```python
        token_from_body({"access_token": "abc", "user": {}})  # 'abc'
        ```
    """
    if not isinstance(body, dict):
        return None
    for key in ("token", "access_token", "accessToken"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    data = body.get("data")
    login = data.get("login") if isinstance(data, dict) else None
    value = login.get("accessToken") if isinstance(login, dict) else None
    return value if isinstance(value, str) and value else None


class TokenState:
    """The bearer token of one client, with single-flight refresh.

    ``generation`` grows each time the token changes. A request remembers the generation it
    was sent with; after a 401 it asks :meth:`refresh` for a newer one. Only the first caller
    for a given generation performs the ``GET /token`` call; the others wait on the lock and
    reuse its outcome, so 50 concurrent 401s cost exactly one refresh (docs/protocol.md §2.2).
    """

    def __init__(self) -> None:
        self._token: str | None = None
        self._expires_at: float | None = None
        self._generation = 0
        self._failed_generation = -1
        self._refreshable = False
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        # Never show the token itself (issue #2: tokens never in reprs or logs).
        return f"TokenState(logged_in={self._token is not None}, generation={self._generation})"

    @property
    def token(self) -> str | None:
        """The current access token, or ``None`` when anonymous."""
        return self._token

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def expires_at(self) -> float | None:
        """The JWT ``exp`` of the current token (Unix seconds), or ``None`` if unknown."""
        return self._expires_at if self._token is not None else None

    def expired(self, now: float | None = None) -> bool:
        """True when the current token is a JWT whose ``exp`` has passed (#15)."""
        expires_at = self.expires_at
        return expires_at is not None and (time.time() if now is None else now) >= expires_at

    @property
    def refreshable(self) -> bool:
        """True when the login left a refresh cookie behind (username/password logins)."""
        return self._refreshable and self._token is not None

    def set(self, token: str, *, refreshable: bool) -> None:
        token_set(token)  # scrubbed from messages and logs from now on (#14)
        self._token = token
        self._expires_at = jwt_expiry(token)
        self._refreshable = refreshable
        self._generation += 1

    def clear(self) -> None:
        self._token = None
        self._expires_at = None
        self._refreshable = False
        self._generation += 1

    def due(self, margin: float, now: float | None = None) -> bool:
        """True when the JWT ``exp`` is closer than ``margin`` seconds (proactive refresh)."""
        if self._expires_at is None or not self.refreshable:
            return False
        return (time.time() if now is None else now) >= self._expires_at - margin

    async def refresh(
        self, seen_generation: int, fetch: Callable[[], Awaitable[str | None]]
    ) -> bool:
        """Replace the token seen at ``seen_generation``; True when a newer token is available."""
        async with self._lock:
            if self._generation != seen_generation:
                return self._token is not None  # another task refreshed (or logged out) already
            if self._failed_generation == seen_generation or not self._refreshable:
                return False  # this token already failed to refresh; don't hammer /token
            new_token = await fetch()
            if not new_token:
                self._failed_generation = seen_generation
                return False
            self.set(new_token, refreshable=True)
            return True


class LoginAnswer(Protocol):
    """The part of an HTTP answer a credential reads."""

    @property
    def status_code(self) -> int: ...
    def json(self) -> Any: ...


class LoginSession(Protocol):
    """What a credential may use while logging in (the client's HTTP layer provides it)."""

    @property
    def auth(self) -> TokenState: ...

    async def request(
        self, method: str, url: str, *, json: Any = None, authenticated: bool = True
    ) -> LoginAnswer: ...

    def set_refresh_cookie(self, value: str) -> None: ...


class Credentials(ABC):
    """A way to log in; pass one to :meth:`AsyncClient.log_in`.

    Example:
        ```python
        await client.log_in(UsernamePasswordCredentials(username="alice", password="s3cret"))
        ```
    """

    @abstractmethod
    async def authenticate(self, http: LoginSession) -> None:
        """Obtain an access token and store it in ``http.auth``."""


class UsernamePasswordCredentials(Credentials):
    """Log in with a username (or email) and password through ``POST /login``.

    Example:
        ```python
        await client.log_in(UsernamePasswordCredentials(username="alice", password="s3cret"))
        ```
    """

    def __init__(self, username: str, password: str) -> None:
        if not isinstance(username, str) or not username.strip():
            raise ConfigurationError("username must be a non-empty string")
        if not isinstance(password, str) or not password:
            raise ConfigurationError("password must be a non-empty string")
        self.username = username
        self._password = password

    def __repr__(self) -> str:
        return f"UsernamePasswordCredentials(username={self.username!r}, password=***)"

    async def authenticate(self, http: LoginSession) -> None:
        response = await http.request(
            "POST",
            "login",
            json={"username": self.username, "password": self._password},
            authenticated=False,
        )
        token = token_from_body(_json_or_none(response.json))
        if token is None:
            raise AuthenticationError(
                "login answered without an access token", status_code=response.status_code
            )
        # The answer also set the flow_refresh_token cookie in the HTTP layer's jar
        # (docs/protocol.md §2.1).
        http.auth.set(token, refreshable=True)


def _json_or_none(reader: Callable[[], Any]) -> Any:
    try:
        return reader()
    except ValueError:
        return None


def _check_token(token: str, source: str) -> str:
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        raise ConfigurationError(f"{source} is empty")
    if any(ch.isspace() for ch in token) or not token.isprintable() or not token.isascii():
        raise ConfigurationError(f"{source} is malformed: expected one token on one line")
    return token


class TokenCredentials(Credentials):
    """Use an existing access token or API key (docs/protocol.md §2.2).

    ``AsyncClient.log_in`` checks it with one ``GET /me`` unless ``verify=False``.

    Such a login has no refresh cookie, so an expired token surfaces as
    :class:`AuthenticationError`.

    Example:
        ```python
        await client.log_in(TokenCredentials(token=os.environ["FLOW_API_TOKEN"]))
        ```
    """

    def __init__(self, token: str) -> None:
        if not isinstance(token, str):
            raise ConfigurationError("token must be a string")
        self._token = _check_token(token, "token")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token=***)"

    async def authenticate(self, http: LoginSession) -> None:
        http.auth.set(self._token, refreshable=False)


class EnvCredentials(TokenCredentials):
    """Read the token from the ``FLOW_API_TOKEN`` environment variable (like the flowbio CLI).

    Example:
        ```python
        await client.log_in(EnvCredentials())
        ```
    """

    def __init__(self) -> None:
        value = os.environ.get(TOKEN_ENV)
        if value is None:
            raise ConfigurationError(f"environment variable {TOKEN_ENV} is not set")
        self._token = _check_token(value, TOKEN_ENV)


class TokenFileCredentials(TokenCredentials):
    """Read the token from ``path``, else ``$FLOW_TOKEN_FILE``, else ``~/.config/flow/api-token``.

    Example:
        ```python
        await client.log_in(TokenFileCredentials())
        ```
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            path = os.environ.get(TOKEN_FILE_ENV) or DEFAULT_TOKEN_FILE
        self.path = Path(path).expanduser()
        # A folder others can write to lets them swap the token file (#14).
        check_private_path(self.path)
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigurationError(f"token file {self.path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"token file {self.path} is unreadable: {exc}") from None
        self._token, self._refresh_token = parse_token_file(text, f"token file {self.path}")

    def __repr__(self) -> str:
        return f"TokenFileCredentials(path={str(self.path)!r}, token=***)"

    async def authenticate(self, http: LoginSession) -> None:
        if self._refresh_token is None:
            http.auth.set(self._token, refreshable=False)
            return
        # A file written by `flowbio-async login` also holds the refresh token (#6): seed the
        # cookie so an expired access token is refreshed like after a password login
        # (docs/protocol.md §2.2).
        http.set_refresh_cookie(self._refresh_token)
        http.auth.set(self._token, refreshable=True)


def parse_token_file(text: str, source: str) -> tuple[str, str | None]:
    """The access token and optional refresh token of a token file's text.

    Two forms are accepted: the official CLI's bare token, and the JSON document
    ``{"token": ..., "refresh_token": ...}`` that ``flowbio-async login`` writes (#6).

    Example:
        ```python
        parse_token_file('{"token": "abc", "refresh_token": "def"}', "token file")
        # ('abc', 'def')
        ```
    """
    stripped = text.strip()
    if not stripped.startswith("{"):
        return _check_token(text, source), None
    try:
        document = json.loads(stripped)
    except ValueError:
        raise ConfigurationError(f"{source} is malformed: invalid JSON") from None
    token = document.get("token") if isinstance(document, dict) else None
    if not isinstance(token, str):
        raise ConfigurationError(f'{source} is malformed: no "token" string')
    refresh = document.get("refresh_token")
    if refresh is not None and not isinstance(refresh, str):
        raise ConfigurationError(f'{source} is malformed: "refresh_token" is not a string')
    refresh_token = _check_token(refresh, f"{source} refresh_token") if refresh else None
    return _check_token(token, source), refresh_token
