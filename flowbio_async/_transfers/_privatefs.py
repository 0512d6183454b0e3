"""File operations for the SDK's own temporary files, safe in folders other users can write.

A download folder may be shared (a lab's group-writable project folder): another user can
plant a symbolic link, a hard link or a file of their own where the SDK is about to write.
Everything here therefore opens without following links (``O_NOFOLLOW``), creates
exclusively (``O_EXCL``), checks what it opened (a regular file, owned by this user, with one
link) and deletes only files that pass that check (issue #14, items 1-2).

Example:
    ```python
    fd = create_exclusive(Path("out/reads.fq.flowbio-part"))
    ```
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from flowbio_async._errors import DestinationNotWritableError, InsufficientSpaceError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOSPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _uid() -> int | None:
    geteuid = getattr(os, "geteuid", None)
    return geteuid() if geteuid is not None else None


def is_ours(info: os.stat_result) -> bool:
    """A regular file with one link, owned by this process's user (what the SDK creates)."""
    uid = _uid()
    return stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and (uid is None or info.st_uid == uid)


def not_ours(path: Path) -> DestinationNotWritableError:
    """The error for a temporary-file name occupied by something the SDK did not create."""
    return DestinationNotWritableError(
        f"{path} is in the way and was not created by flowbio-async (a link, a folder or "
        "another user's file); it is left untouched: remove it or choose another destination"
    )


def local_error(path: Path, exc: OSError) -> Exception:
    """A typed error for a failed local file operation (disk full, name too long, ...)."""
    if exc.errno in _NOSPACE:
        return InsufficientSpaceError(f"disk full while writing {path}")
    reason = exc.strerror or type(exc).__name__
    return DestinationNotWritableError(f"cannot write {path}: {reason}")


def lstat_ours(path: Path) -> os.stat_result | None:
    """``lstat`` of a temporary file: ``None`` when absent; refused when it is not ours."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise local_error(path, exc) from None
    if not is_ours(info):
        raise not_ours(path)
    return info


def remove_ours(path: Path, *, expect: os.stat_result | None = None) -> None:
    """Delete a temporary file the SDK created; anything else there is refused, not deleted.

    ``expect`` (the ``fstat`` of the descriptor the SDK wrote) narrows it to that very file.
    """
    info = lstat_ours(path)
    if info is None:
        return
    if expect is not None and (info.st_dev, info.st_ino) != (expect.st_dev, expect.st_ino):
        raise not_ours(path)
    path.unlink(missing_ok=True)


def create_exclusive(path: Path, mode: int = 0o644) -> int:
    """Create ``path`` for reading and writing; never opens something already there."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode)
    except FileExistsError:
        raise not_ours(path) from None
    except OSError as exc:
        raise local_error(path, exc) from None


def open_ours(path: Path, flags: int = os.O_RDWR) -> int | None:
    """Open an existing temporary file without following links; ``None`` when absent.

    The check runs on the opened descriptor, so a swap between a check and the open
    cannot slip another file in.
    """
    try:
        fd = os.open(path, flags | _NOFOLLOW | _CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise not_ours(path) from None  # a symbolic link
        raise local_error(path, exc) from None
    if not is_ours(os.fstat(fd)):
        os.close(fd)
        raise not_ours(path)
    return fd


def read_ours(path: Path, limit: int = 1 << 20) -> bytes | None:
    """The bytes of a small temporary file (a sidecar), or ``None`` when absent."""
    fd = open_ours(path, os.O_RDONLY)
    if fd is None:
        return None
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


def replace_with(path: Path, payload: bytes) -> None:
    """Atomically make ``path`` hold ``payload`` (an exclusive temp file + ``os.replace``).

    The temporary name is random, so nothing planted in advance can be written through;
    ``os.replace`` swaps a planted link itself rather than writing where it points.
    """
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    fd = create_exclusive(temporary)
    try:
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            temporary.replace(path)
        except OSError as exc:
            raise local_error(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
