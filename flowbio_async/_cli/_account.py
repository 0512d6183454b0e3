"""``login``, ``logout`` and ``whoami`` (issue #6)."""

from __future__ import annotations

import os

from flowbio_async._auth import TokenFileCredentials
from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._credentials import Auth
from flowbio_async._cli._session import session_tokens
from flowbio_async._cli._tokenfile import remove_token_file, token_file_path, write_token_file
from flowbio_async._errors import AuthenticationError, ConfigurationError


def register(verbs: Verbs) -> None:
    """Add ``login``, ``logout`` and ``whoami``."""
    login = verbs.add(
        "login",
        _login,
        "log in and save the token file (mode 0600)",
        "Log in with a username and password and save the tokens to the token file "
        "(~/.config/flow/api-token, or --token-file / FLOW_TOKEN_FILE), mode 0600. "
        "The password is only ever read from the terminal prompt.",
        auth=Auth.PROMPT,
    )
    login.add_argument("--username", metavar="NAME", help="username (prompted when absent)")
    verbs.add(
        "logout",
        _logout,
        "log out and delete the token file",
        "Tell the server to log out (best effort) and delete the token file.",
        auth=Auth.NONE,
    )
    verbs.add("whoami", _whoami, "show the user the credentials belong to")


async def _login(inv: Invocation) -> int:
    token, refresh = session_tokens(inv.client)
    if token is None:
        raise AuthenticationError("login answered without an access token", status_code=200)
    path = token_file_path(inv.options.token_file, os.environ)
    write_token_file(path, token, refresh)
    me = await inv.client.me()
    inv.output.result(
        {"username": me.username, "id": me.id, "token_file": str(path)},
        f"Logged in as {me.username}; token saved to {path}",
    )
    return 0


async def _logout(inv: Invocation) -> int:
    path = token_file_path(inv.options.token_file, os.environ)
    try:
        credentials = TokenFileCredentials(path)
    except ConfigurationError:
        credentials = None  # missing or unreadable: still delete whatever is there
    if credentials is not None:
        await inv.client.log_in(credentials)
        await inv.client.log_out()  # POST /logout, best effort (docs/protocol.md §2.1)
    removed = remove_token_file(path)
    human = f"Logged out; removed {path}" if removed else f"No token file at {path}"
    inv.output.result({"removed": removed, "token_file": str(path)}, human)
    return 0


async def _whoami(inv: Invocation) -> int:
    me = await inv.client.me()
    if me.id is None:
        # Older servers answer /me for a bad token with nulls; Flow's 401 is raised by me().
        raise AuthenticationError(
            "not logged in: the server treats these credentials as anonymous", status_code=401
        )
    inv.output.result(me, f"{me.username} (id {me.id})")
    return 0
