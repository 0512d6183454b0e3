"""The token file written by ``login`` and read by every other verb (issue #6).

``login`` stores ``{"token": ..., "refresh_token": ...}`` as JSON: access tokens are short-lived
(5 minutes by default on the local server, docs/protocol.md §2.3), so the refresh token is what
keeps the file useful. The library reads this form and the official CLI's bare-token form alike.
The file is created with mode 0600 inside 0700 folders (whatever the umask) and replaced
atomically, so a token is never readable by other users, not even for a moment; a folder on
the way that others can write to is refused, reading and writing alike (``_private_dirs``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from flowbio_async._auth import DEFAULT_TOKEN_FILE, TOKEN_FILE_ENV
from flowbio_async._private_dirs import check_private_path, make_private_dirs


def token_file_path(explicit: Path | None, env: Mapping[str, str]) -> Path:
    """``--token-file``, else ``FLOW_TOKEN_FILE``, else ``~/.config/flow/api-token``."""
    if explicit is not None:
        return explicit
    from_env = env.get(TOKEN_FILE_ENV)
    return Path(from_env or DEFAULT_TOKEN_FILE).expanduser()


def write_token_file(path: Path, token: str, refresh_token: str | None) -> None:
    """Write the tokens to ``path`` with mode 0600 (missing folders 0700, whatever the umask).

    Refused (``ConfigurationError``) when another user could write to a folder on the way
    and so swap the file (#14).
    """
    make_private_dirs(path.parent)
    check_private_path(path)
    document: dict[str, str] = {"token": token}
    if refresh_token:
        document["refresh_token"] = refresh_token
    payload = (json.dumps(document) + "\n").encode("utf-8")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # O_EXCL + 0o600 at creation: the bytes never sit in a file with wider permissions.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def remove_token_file(path: Path) -> bool:
    """Delete the token file; True when there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
