"""Folders for credentials: created 0700 whatever the umask, refused when others can write.

A token file is only as private as the folders above it: whoever can write to
``~/.config/flow`` (or to ``~/.config``) can swap the file, and the next command then runs
with their token, uploading into their account (issue #14 item 11). So missing folders are
created with mode 0700 (not the umask's idea of it), and before a token file is read or
written every folder on its path must be owned by this user (or root) and writable by no one
else. Two exceptions keep ordinary systems working: a group-writable folder whose group is
the user's own private group (Debian/Ubuntu's user private groups, umask 002), and, above
the token file's own folder, a sticky folder such as ``/tmp``, where nobody can rename
another user's entries.

Example:
    ```python
    make_private_dirs(Path("~/.config/flow").expanduser())
    check_private_path(Path("~/.config/flow/api-token").expanduser())
    ```
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from flowbio_async._errors import ConfigurationError


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and any missing parent with mode 0700, regardless of the umask."""
    missing: list[Path] = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue  # created meanwhile by someone: the check decides whether it will do
        except OSError as exc:
            raise ConfigurationError(f"cannot create {path}: {exc.strerror}") from None
        path.chmod(0o700)  # the umask may have taken bits away (0o700 & ~0o700 = 0)


def _private_group(gid: int) -> bool:
    """True when ``gid`` is this user's own group with no other member (a user private group)."""
    try:
        import grp
        import pwd
    except ImportError:  # pragma: no cover - not POSIX
        return False
    if gid != os.getgid():
        return False
    with contextlib.suppress(KeyError):
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(gid)
        return group.gr_name == user and set(group.gr_mem) <= {user}
    return False


def _problem(info: os.stat_result, *, is_folder: bool, own_folder: bool) -> str | None:
    uid = os.getuid()
    if info.st_uid not in {uid, 0}:
        return f"it belongs to another user (uid {info.st_uid})"
    mode = info.st_mode
    sticky = is_folder and bool(mode & stat.S_ISVTX) and not own_folder
    if mode & stat.S_IWOTH and not sticky:
        return f"it is writable by every user (mode {stat.S_IMODE(mode):04o})"
    if mode & stat.S_IWGRP and not sticky and not _private_group(info.st_gid):
        return f"it is writable by its group (mode {stat.S_IMODE(mode):04o})"
    return None


def check_private_path(path: Path) -> None:
    """Refuse a credentials file whose folders (or itself) others could write to.

    Raises :class:`ConfigurationError` naming the first offending path and the fix.
    """
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows has ACLs, not modes
        return
    resolved = path.resolve()
    candidates: list[tuple[Path, bool, bool]] = []
    if resolved.exists():
        candidates.append((resolved, False, False))
    candidates.append((resolved.parent, True, True))
    candidates.extend((folder, True, False) for folder in resolved.parent.parents)
    for candidate, is_folder, own_folder in candidates:
        try:
            info = candidate.stat()
        except OSError:
            continue  # not there (yet): nothing anyone could have swapped
        problem = _problem(info, is_folder=is_folder, own_folder=own_folder)
        if problem is not None:
            fix = f"chmod go-w {candidate}" if "writable" in problem else "move the token file"
            raise ConfigurationError(
                f"refusing to use the token file {path}: {candidate} is not private, {problem}, "
                f"so someone else could replace the token; {fix} (or choose another "
                "--token-file / FLOW_TOKEN_FILE)"
            )
