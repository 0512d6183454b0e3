"""Safe local paths for names the server chooses, and archive extraction that cannot escape.

Everything the server names (a data ``filename``, an execution result's relative path, a zip
entry, a sample name used as a folder) goes through here before it touches the disk, so a
hostile or buggy server can never write outside the destination the user picked (issue #4,
"Bad input"; design note transfers.md).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath

from flowbio_async._errors import DestinationExistsError, UnsafePathError
from flowbio_async._transfers._partfile import RESERVED_MARKER, check_reserved

NAME_MAX = 255
"""Longest file name (bytes) on common file systems (ext4, XFS, APFS, NTFS in UTF-16 units)."""

# Windows drive letters ("C:") and UNC prefixes are absolute on some platforms even when
# written with forward slashes; refuse them everywhere so behaviour does not depend on the OS.
_DRIVE = re.compile(r"^[A-Za-z]:")
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f/\\:*?\"<>|]")


def safe_filename(name: str) -> str:
    """Return ``name`` if it is one plain path component, else raise :class:`UnsafePathError`.

    Example:
        ```python
        safe_filename("reads_1.fastq.gz")   # "reads_1.fastq.gz"
        safe_filename("../etc/passwd")      # raises UnsafePathError
        ```
    """
    if not name or name in {".", ".."} or "\x00" in name:
        raise UnsafePathError(f"unsafe file name from the server: {name!r}")
    if "/" in name or "\\" in name or _DRIVE.match(name):
        raise UnsafePathError(f"unsafe file name from the server: {name!r}")
    _check_component(name)
    return name


def _check_component(name: str) -> None:
    """Refuse a name no file system takes, or one in the SDK's temporary namespace (#14)."""
    try:
        encoded = os.fsencode(name)
    except UnicodeError:
        raise UnsafePathError(f"name from the server cannot be a file name: {name!r}") from None
    if len(encoded) > NAME_MAX:
        raise UnsafePathError(
            f"name from the server is longer than {NAME_MAX} bytes: {name[:40]!r}…"
        )
    check_reserved(name)


def safe_relative_path(relative: str) -> PurePosixPath:
    """Validate a ``/``-separated relative path (execution results, archive entries).

    Empty and ``.`` components are dropped; ``..``, absolute paths, drive letters,
    backslashes and NUL bytes are refused.
    """
    if not relative or "\x00" in relative or "\\" in relative:
        raise UnsafePathError(f"unsafe path from the server: {relative!r}")
    if relative.startswith("/") or _DRIVE.match(relative):
        raise UnsafePathError(f"absolute path from the server: {relative!r}")
    parts = [part for part in relative.split("/") if part not in {"", "."}]
    if not parts or any(part == ".." for part in parts):
        raise UnsafePathError(f"unsafe path from the server: {relative!r}")
    for part in parts:
        _check_component(part)
    return PurePosixPath(*parts)


def safe_join(root: str | os.PathLike[str], relative: str) -> Path:
    """Join a server-provided relative path under ``root``, refusing anything that escapes.

    Example:
        ```python
        safe_join("out", "results/counts.tsv")   # Path("out/results/counts.tsv")
        safe_join("out", "../../.bashrc")        # raises UnsafePathError
        ```
    """
    base = Path(root)
    target = base.joinpath(*safe_relative_path(relative).parts)
    # Belt and braces: the component check above already guarantees this, but a lexical
    # containment check keeps the invariant explicit should the rules above ever change.
    base_abs = os.path.normpath(base.absolute())
    target_abs = os.path.normpath(target.absolute())
    if os.path.commonpath([base_abs, target_abs]) != base_abs:
        raise UnsafePathError(f"path escapes the destination: {relative!r}")
    return target


def _inside(root: Path, path: Path) -> bool:
    base = os.path.normpath(root.absolute())
    return os.path.commonpath([base, os.path.normpath(path.absolute())]) == base


def refuse_links_below(root: Path, path: Path) -> None:
    """Refuse when a folder between ``root`` (excluded) and ``path`` is a symbolic link.

    In a shared folder another user may plant ``dest/sub -> /elsewhere``; writing
    ``dest/sub/x`` would then land outside the destination (issue #14 item 2).
    """
    if not _inside(root, path):
        raise UnsafePathError(f"{path} is outside the destination {root}")
    relative = Path(os.path.normpath(path.absolute())).relative_to(
        os.path.normpath(root.absolute())
    )
    current = root
    for part in relative.parts:
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return  # the rest does not exist yet: it will be created as plain folders
        except OSError as exc:
            raise UnsafePathError(f"cannot check {current}: {exc.strerror}") from None
        if stat.S_ISLNK(info.st_mode):
            raise UnsafePathError(
                f"{current} is a symbolic link; refusing to write through it (it could lead "
                "outside the destination)"
            )


def check_destination(dest: Path, root: Path | None) -> None:
    """What every download checks first: a name of its own and, under ``root``, no link.

    Example:
        ```python
        check_destination(Path("out/results/a.tsv"), Path("out"))
        ```
    """
    check_reserved(dest.name)
    if root is not None:
        refuse_links_below(root, dest.parent)
    try:
        info = dest.stat()  # follows a link: what a skip check would read
    except OSError:
        return  # absent (or a dangling link, which the final rename replaces)
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        # A FIFO or device planted as the destination would hang or fool the skip check.
        raise DestinationExistsError(f"{dest} exists and is not a regular file")


def folder_name(name: str, fallback: str) -> str:
    """Turn a display name (a sample or project name) into one safe folder name.

    Separators and characters that are invalid on common file systems become ``_``; a name
    that ends up empty, ``.`` or ``..`` is replaced by ``fallback`` (usually the id).

    Example:
        ```python
        folder_name("Liver rep 1/2", "42")   # "Liver rep 1_2"
        folder_name("..", "42")              # "42"
        ```
    """
    cleaned = _UNSAFE_CHARS.sub("_", name).strip().rstrip(".")
    if RESERVED_MARKER in cleaned:
        cleaned = cleaned.replace(RESERVED_MARKER, "_flowbio-")
    encoded = cleaned.encode("utf-8", "replace")  # a lone surrogate cannot be a file name
    if len(encoded) > NAME_MAX or encoded.decode("utf-8") != cleaned:
        cleaned = encoded[:NAME_MAX].decode("utf-8", "ignore").replace("?", "_").strip()
        cleaned = cleaned.rstrip(".")
    if cleaned in {"", ".", ".."}:
        return safe_filename(fallback)
    return cleaned
