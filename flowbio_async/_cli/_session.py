"""The tokens a logged-in client holds, so ``login`` can save them and verbs can keep the
token file current after a refresh rotated them (issue #6)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from flowbio_async._auth import parse_token_file
from flowbio_async._cli._tokenfile import write_token_file
from flowbio_async._errors import ConfigurationError

if TYPE_CHECKING:
    from flowbio_async._client import AsyncClient


def session_tokens(client: AsyncClient) -> tuple[str | None, str | None]:
    """The client's current access token and refresh cookie (either may be ``None``)."""
    http = client._http  # the CLI is part of the package; tokens never leave this module
    return http.auth.token, http.refresh_cookie()


def save_rotated_tokens(client: AsyncClient, path: Path) -> None:
    """Rewrite ``path`` when a refresh during the command replaced the tokens it holds."""
    token, refresh = session_tokens(client)
    if token is None or refresh is None:
        return  # a bare-token file (or a logout): nothing to keep current
    try:
        saved = parse_token_file(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ConfigurationError):
        return
    if saved != (token, refresh):
        with contextlib.suppress(OSError):
            write_token_file(path, token, refresh)
