"""Safe unpacking of uploaded archives (``is_directory=true``, docs/protocol.md §3.3).

Only regular files and directories are extracted; absolute names, ``..`` components, links
and device files are refused, so a hostile archive cannot write outside its folder.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


class UnsafeArchiveError(ValueError):
    """The bytes are not an archive, or an entry would escape the destination."""


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise UnsafeArchiveError(f"unsafe archive entry {name!r}")
    return path


def unpack(archive: Path, destination: Path) -> list[str]:
    """Extract ``archive`` (zip or tar, maybe gzip) into ``destination``; return file names.

    Example:
        ```python
        names = unpack(Path("results.zip"), Path("/tmp/results"))
        ```
    """
    destination.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                target = _target(destination, info.filename, names, directory=info.is_dir())
                if target is not None:
                    with bundle.open(info) as source, target.open("wb") as sink:
                        shutil.copyfileobj(source, sink, 1024 * 1024)
        return names
    try:
        bundle_tar = tarfile.open(archive, "r:*")  # noqa: SIM115 - closed below
    except tarfile.TarError as exc:
        raise UnsafeArchiveError("not a zip or tar archive") from exc
    with bundle_tar:
        for member in bundle_tar.getmembers():
            if not (member.isdir() or member.isfile()):
                raise UnsafeArchiveError(f"archive entry {member.name!r} is not a regular file")
            target = _target(destination, member.name, names, directory=member.isdir())
            extracted = bundle_tar.extractfile(member) if target is not None else None
            if target is not None and extracted is not None:
                with extracted, target.open("wb") as sink:
                    shutil.copyfileobj(extracted, sink, 1024 * 1024)
    return names


def _target(destination: Path, name: str, names: list[str], *, directory: bool) -> Path | None:
    """Where entry ``name`` goes (None for a directory, created here); records file names."""
    relative = _safe_relative(name)
    target = destination.joinpath(*relative.parts)
    if directory:
        target.mkdir(parents=True, exist_ok=True)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    names.append(relative.as_posix())
    return target
