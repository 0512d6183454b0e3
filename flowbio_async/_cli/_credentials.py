"""Which credentials and base URL a command runs with (issue #6).

Precedence, highest first: ``--token``, ``FLOW_API_TOKEN``, ``--token-file``,
``FLOW_TOKEN_FILE``, the default token file when it exists, then a username/password prompt.
The password is only ever read from a ``getpass`` prompt, never from a flag or the
environment; when a prompt is needed but stdin is not a terminal, the command fails with a
usage error instead of hanging. Read-only catalogue verbs fall back to anonymous access
(docs/protocol.md §2.4: many reads are public).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from flowbio_async._auth import (
    TOKEN_ENV,
    TOKEN_FILE_ENV,
    Credentials,
    TokenCredentials,
    TokenFileCredentials,
    UsernamePasswordCredentials,
)
from flowbio_async._cli._exit import CliUsageError
from flowbio_async._cli._options import GlobalOptions
from flowbio_async._cli._tokenfile import token_file_path
from flowbio_async._client import BASE_URL_ENV
from flowbio_async._config import DEFAULT_BASE_URL


class Auth(Enum):
    """What a verb needs to log in."""

    REQUIRED = "required"
    """A token, else an interactive username/password prompt."""
    OPTIONAL = "optional"
    """A token when one is configured, else anonymous."""
    PROMPT = "prompt"
    """Always the username/password prompt (the ``login`` verb)."""
    NONE = "none"
    """No login at all."""


@dataclass(frozen=True)
class Resolved:
    """The credentials (``None`` = anonymous) and base URL to build the client with."""

    credentials: Credentials | None
    base_url: str
    token_file: Path | None = None
    """The token file the credentials came from, kept so a rotated token can be saved."""


def resolve(
    options: GlobalOptions,
    auth: Auth,
    env: Mapping[str, str],
    username: str | None = None,
) -> Resolved:
    """Resolve credentials and base URL for one command."""
    base_url = options.base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if auth is Auth.NONE:
        return Resolved(None, base_url)
    if auth is Auth.PROMPT:
        return Resolved(prompt_credentials(username), base_url)
    token = options.token or env.get(TOKEN_ENV)
    if token:
        return Resolved(TokenCredentials(token), base_url)
    path = token_file_path(options.token_file, env)
    explicit = options.token_file is not None or bool(env.get(TOKEN_FILE_ENV))
    if explicit or path.is_file():
        # A named token file that is missing is the caller's mistake: TokenFileCredentials
        # raises ConfigurationError, which maps to the usage exit code.
        return Resolved(TokenFileCredentials(path), base_url, token_file=path)
    if auth is Auth.OPTIONAL:
        return Resolved(None, base_url)
    return Resolved(prompt_credentials(username), base_url)


def prompt_credentials(username: str | None) -> UsernamePasswordCredentials:
    """Ask for the username (unless given) and the password on the terminal."""
    if not sys.stdin.isatty():
        raise CliUsageError(
            "no credentials and stdin is not a terminal: run `flowbio-async login` first, "
            "or pass --token / FLOW_API_TOKEN or --token-file / FLOW_TOKEN_FILE"
        )
    name = username if username else _ask("Flow username: ")
    password = getpass.getpass("Flow password: ")  # from the terminal, never echoed
    if not name or not password:
        raise CliUsageError("username and password must not be empty")
    return UsernamePasswordCredentials(username=name, password=password)


def _ask(prompt: str) -> str:
    # The prompt goes to stderr: stdout carries only the result (one document under --json).
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()
