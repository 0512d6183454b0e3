"""``login``, ``logout`` and ``whoami`` (issue #6)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from flowbio_async._auth import TokenFileCredentials
from flowbio_async._cli._command import Invocation, add_command
from flowbio_async._cli._credentials import Auth
from flowbio_async._cli._session import session_tokens
from flowbio_async._cli._tokenfile import remove_token_file, token_file_path, write_token_file
from flowbio_async._errors import AuthenticationError, ConfigurationError


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``login``, ``logout`` and ``whoami``."""
    login = sub.add_parser(
        "login",
        parents=[parent],
        help="log in and save the token file (mode 0600)",
        description="Log in with a username and password and save the tokens to the token "
        "file (~/.config/flow/api-token, or --token-file / FLOW_TOKEN_FILE), mode 0600. "
        "The password is only ever read from the terminal prompt.",
    )
    login.add_argument("--username", metavar="NAME", help="username (prompted when absent)")
    add_command(login, _login, Auth.PROMPT)

    logout = sub.add_parser(
        "logout",
        parents=[parent],
        help="log out and delete the token file",
        description="Tell the server to log out (best effort) and delete the token file.",
    )
    add_command(logout, _logout, Auth.NONE)

    whoami = sub.add_parser(
        "whoami",
        parents=[parent],
        help="show the logged-in user",
        description="Show the user the configured credentials belong to.",
    )
    add_command(whoami, _whoami)


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
        await inv.client.log_out()  # POST /logout, best effort (contract §2.1)
    removed = remove_token_file(path)
    human = f"Logged out; removed {path}" if removed else f"No token file at {path}"
    inv.output.result({"removed": removed, "token_file": str(path)}, human)
    return 0


async def _whoami(inv: Invocation) -> int:
    me = await inv.client.me()
    if me.id is None:
        # The real API downgrades a bad token to anonymous instead of a 401 (contract §8 row 5).
        raise AuthenticationError(
            "not logged in: the server treats these credentials as anonymous", status_code=401
        )
    inv.output.result(me, f"{me.username} (id {me.id})")
    return 0
