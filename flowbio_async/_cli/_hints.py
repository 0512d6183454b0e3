"""Error messages that name the URL or object and the fix, in the CLI's words (#17 item 8).

The library's messages are written for Python callers (``pass overwrite=True``) and carry the
server's words (``Not found``). On the command line each failure instead says which object
or URL it was about and what to type next: ``data 99 not found (or not visible to you)``,
``run `flowbio-async login```, ``did you mean http://HOST:PORT/api?``, ``--overwrite``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from flowbio_async._cli._exit import CliUsageError
from flowbio_async._errors import (
    AuthenticationError,
    FlowApiError,
    FlowConnectionError,
    FlowError,
    FlowTimeoutError,
    NotFoundError,
)

if TYPE_CHECKING:
    from flowbio_async._client import AsyncClient

LOGIN_HINT = "run `flowbio-async login` (or pass --token / set FLOW_API_TOKEN)"

#: Python keyword arguments named in library messages -> the CLI option doing the same.
_CLI_WORDS = (
    (re.compile(r"\boverwrite=True\b"), "--overwrite"),
    (re.compile(r"\bfilename=(?=\s|$|[;,)])"), "--filename NAME"),
    (re.compile(r"\bis_directory=True\b"), "--directory"),
    (re.compile(r"\bextract=True\b"), "--extract"),
    (re.compile(r"\bignore_warnings=False\b"), "--reject-warnings"),
    (re.compile(r"\bstop_on_error=True was passed\b"), "--stop-on-error was given"),
    (re.compile(r"\bdata=\{'reads1': PATH\}"), "--reads1 PATH"),
)

#: First path segment after the API base -> what the object is called.
_OBJECTS = {
    "data": "data",
    "samples": "sample",
    "projects": "project",
    "executions": "execution",
    "pipelines": "pipeline",
    "organisms": "organism",
}


class WrongBaseUrlError(CliUsageError):
    """The base URL answers 404 where a Flow API answers: the ``/api`` part is missing."""


def cli_words(message: str) -> str:
    """``message`` with Python argument names replaced by the CLI options doing the same.

    Example:
        ```python
        cli_words("x exists; pass overwrite=True to replace it")  # "...; pass --overwrite ..."
        ```
    """
    for pattern, option in _CLI_WORDS:
        message = pattern.sub(option, message)
    return message


def _api_path(url: str | None, base_url: str | None) -> list[str]:
    """The request's path segments below the API base (unquoted), or ``[]``."""
    if not url:
        return []
    path = urlsplit(url).path
    base = urlsplit(base_url).path.rstrip("/") if base_url else ""
    if base and path.startswith(base + "/"):
        path = path[len(base) :]
    elif path.startswith("/api/"):
        path = path[len("/api") :]
    elif path.startswith("/files/"):  # the files server (downloads)
        path = path[len("/files") :]
    return [unquote(part) for part in path.split("/") if part]


def not_found_message(exc: NotFoundError, base_url: str | None) -> str:
    """``data 99 not found (or not visible to you)``: the object a 404 was about."""
    parts = _api_path(exc.url, base_url)
    invisible = "not found (or not visible to you)"
    if len(parts) >= 2 and parts[0] == "samples" and parts[1] in {"types", "metadata"}:
        kind = "sample type" if parts[1] == "types" else "metadata attribute"
        if len(parts) >= 3:
            return f"{kind} {parts[2]!r} not found"
    if len(parts) >= 2 and parts[0] == "annotation":
        return f"no annotation template for sample type {parts[1]!r} (see `samples types`)"
    if len(parts) >= 2 and parts[0] == "downloads":
        if len(parts) >= 3 and parts[2] != "status":
            return f"the file of data {parts[1]} ({parts[2]}) {invisible}"
        return f"bulk download job {parts[1]} {invisible}"
    if len(parts) >= 2 and parts[0] in _OBJECTS:
        return f"{_OBJECTS[parts[0]]} {parts[1]} {invisible}"
    where = f" for {exc.method} {exc.url}" if exc.method and exc.url else ""
    return f"HTTP 404 Not Found{where}: {exc.message}"


def explain(exc: BaseException, base_url: str | None = None) -> str:
    """The one line the CLI prints for ``exc``: what failed, where, and the fix."""
    if isinstance(exc, NotFoundError):
        return not_found_message(exc, base_url)
    if isinstance(exc, AuthenticationError):
        refused = exc.message or "not authorized"
        return f"{refused}: the token was refused or has expired; {LOGIN_HINT}"
    if isinstance(exc, FlowApiError):
        return cli_words(exc.message)
    if isinstance(exc, FlowTimeoutError):
        return f"{base_url or 'the server'} did not answer in time ({exc}); try again later"
    if isinstance(exc, FlowConnectionError):
        target = base_url or "the server"
        return (
            f"cannot connect to {target} ({exc}); is the server running, and is --base-url "
            "(or FLOW_API_URL) right?"
        )
    if isinstance(exc, CliUsageError | FlowError):
        return cli_words(str(exc))
    return str(exc)


async def _status(client: AsyncClient, url: str) -> int | None:
    http = client._http  # the CLI is part of the package (see _session.py)
    try:
        response = await http.request(
            "GET", url, authenticated=False, retry=False, raise_for_status=False
        )
    except FlowError:
        return None
    return response.status_code


async def base_url_hint(client: AsyncClient, base_url: str) -> str | None:
    """When ``base_url`` lacks ``/api`` (its ``/me`` is a 404, ``<base>/api/me`` is not), say so."""
    base = base_url.rstrip("/")
    if urlsplit(base).path.endswith("/api"):
        return None
    if await _status(client, f"{base}/me") != 404:
        return None  # the base answers like Flow: the 404 was about the object
    candidate = f"{base}/api"
    status = await _status(client, f"{candidate}/me")
    if status is None or status == 404:
        return None
    return f"{base_url} is not a Flow API (GET {base}/me: 404 Not Found); did you mean {candidate}?"
