"""Checks on local files before the first byte of an upload is sent (issue #3 "Bad input").

Everything checkable locally is refused here with a :class:`ConfigurationError` (a
``ValueError``) naming the problem: a missing path, a directory, an unreadable file, spaces
or separators in the stored name (the server refuses them, docs/protocol.md §3.3), invalid reads
keys (docs/protocol.md §3.4) and ``is_directory=True`` on something that is not a zip or tar
archive.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flowbio_async._errors import ConfigurationError, InvalidUploadError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
READS_KEYS = ("reads1", "reads2")
_ARCHIVE_PROBE = 512


@dataclass(frozen=True, slots=True)
class Source:
    """A local file that passed the checks, with the name it will be stored under."""

    path: Path
    filename: str
    size: int


def check_stored_name(name: str) -> str:
    """Refuse names the server would reject (spaces, docs/protocol.md §3.3) or cannot store."""
    if not name:
        raise ConfigurationError("the stored filename must not be empty")
    if " " in name:
        raise InvalidUploadError(
            f"the stored filename {name!r} contains spaces, which Flow refuses; "
            "pass filename= with a name without spaces"
        )
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise ConfigurationError(f"the stored filename {name!r} must not contain path separators")
    return name


def check_source(
    path: str | os.PathLike[str], filename: str | None = None, *, archive: bool = False
) -> Source:
    """Validate one local file for upload.

    Example:
        ```python
        source = check_source("reads.fastq.gz")
        print(source.filename, source.size)
        ```
    """
    local = Path(path).expanduser()
    if not local.exists():
        raise ConfigurationError(f"file to upload does not exist: {str(local)!r}")
    if local.is_dir():
        hint = " (zip or tar it and pass is_directory=True)" if not archive else ""
        raise ConfigurationError(f"{str(local)!r} is a directory, not a file{hint}")
    if not local.is_file():
        raise ConfigurationError(f"{str(local)!r} is not a regular file")
    try:
        with local.open("rb") as handle:
            head = handle.read(_ARCHIVE_PROBE)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {str(local)!r}: {exc.strerror or exc}") from None
    name = check_stored_name(filename if filename is not None else local.name)
    if archive:
        _check_archive(local, head)
    return Source(path=local.resolve(), filename=name, size=local.stat().st_size)


def _check_archive(path: Path, head: bytes) -> None:
    lowered = path.name.lower()
    if not lowered.endswith(ARCHIVE_SUFFIXES):
        raise ConfigurationError(
            f"is_directory=True needs a .zip, .tar or .tar.gz archive, got {path.name!r}"
        )
    is_zip = head.startswith((b"PK\x03\x04", b"PK\x05\x06"))
    is_gzip = head.startswith(b"\x1f\x8b")
    is_tar = len(head) >= 262 and head[257:262] == b"ustar"
    if not (is_zip or is_gzip or is_tar):
        raise ConfigurationError(f"{path.name!r} does not look like a zip or tar archive")


def ordered_reads(data: Mapping[str, str | os.PathLike[str]]) -> list[tuple[str, Path]]:
    """Order a sample's files the way the official client does (docs/protocol.md §3.4).

    With ``reads*`` keys only ``reads1``/``reads2`` are valid, ``reads2`` needs ``reads1`` and
    ``reads1`` goes first; other keys keep the order given.
    """
    if not data:
        raise ConfigurationError("at least one file is required")
    items = [(key, Path(value)) for key, value in data.items()]
    if not any(key.startswith("reads") for key, _ in items):
        return items
    invalid = sorted(key for key, _ in items if key not in READS_KEYS)
    if invalid:
        raise ConfigurationError(
            f"invalid reads key(s) {invalid}; valid keys are {list(READS_KEYS)}"
        )
    keys = {key for key, _ in items}
    if "reads2" in keys and "reads1" not in keys:
        raise ConfigurationError("reads1 is required when reads2 is provided")
    return sorted(items, key=lambda item: item[0])
