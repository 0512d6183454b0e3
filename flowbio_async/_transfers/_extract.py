"""Archive extraction that cannot escape, overflow or surprise (issues #4, #7, #14).

Every entry of a zip or tar(.gz) archive is checked *before* the first byte is written:

* names go through ``_paths.safe_relative_path`` (no ``..``, absolute names, backslashes,
  NUL, over-long components or the SDK's reserved names);
* symbolic and hard links, devices, FIFOs and encrypted entries are refused;
* two entries for one path, or a path that is both a file and a folder (``x`` then ``x/y``),
  are refused rather than letting the last one silently win;
* the declared total size, the expansion ratio and the entry count are held to
  :class:`ArchiveLimits` (``ClientConfig.archive_*``), and the total must fit on the disk;
* no folder on the way may be a symbolic link (one planted in a shared folder would lead
  outside), and existing files are kept unless ``overwrite``.

Files are then written into exclusive temporaries next to their final names, folders are
walked with descriptors opened without following links, and only once every entry has been
read and verified does each file appear by an atomic rename: a damaged archive (bad CRC-32,
truncated stream) leaves the destination as it was, existing files included.

An existing regular file with the very bytes of its entry (same size, same SHA-256) is left
untouched and reported as skipped, so extracting the same archive twice succeeds (#17 item
4); an existing file that differs still needs ``overwrite``, and is refused before anything
is renamed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import lzma
import os
import secrets
import shutil
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING

from flowbio_async._errors import (
    ArchiveLimitError,
    DestinationExistsError,
    FlowError,
    InsufficientSpaceError,
    IntegrityError,
    UnsafePathError,
)
from flowbio_async._transfers._partfile import RESERVED_MARKER
from flowbio_async._transfers._paths import refuse_links_below, safe_relative_path
from flowbio_async._transfers._privatefs import local_error

if TYPE_CHECKING:
    from flowbio_async._config import ClientConfig

MiB = 1024 * 1024
RATIO_FLOOR = 64 * MiB
"""Below this expanded total the ratio limit does not apply (small archives cannot hurt)."""
_COPY_BLOCK = MiB
_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_EXISTING = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_NEW_FILE = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
# What a hostile or damaged archive makes the standard library raise while it is read.
_DAMAGED = (
    zipfile.BadZipFile,
    tarfile.TarError,
    zlib.error,
    lzma.LZMAError,
    gzip.BadGzipFile,
    EOFError,
    struct.error,
    ValueError,
    OverflowError,
    UnicodeError,
)


@dataclass(frozen=True)
class ArchiveLimits:
    """How large an archive may expand (``ClientConfig.archive_max_*``).

    Example:
        ```python
        limits = ArchiveLimits(max_bytes=10 * 2**30, max_ratio=50, max_entries=10_000)
        ```
    """

    max_bytes: int = 1 << 40
    """Total bytes of all files (declared sizes): 1 TiB by default."""
    max_ratio: float = 100.0
    """Expanded total / archive size, once the total passes :data:`RATIO_FLOOR`."""
    max_entries: int = 100_000

    @classmethod
    def of(cls, config: ClientConfig) -> ArchiveLimits:
        """The limits a client is configured with."""
        return cls(config.archive_max_bytes, config.archive_max_ratio, config.archive_max_entries)


@dataclass(frozen=True)
class Extraction:
    """What :func:`extract_archive` left under the target.

    Example:
        ```python
        done = extract_archive("bundle.zip", "bundle/")
        print(len(done.files), "files,", len(done.skipped), "already there")
        ```
    """

    files: list[Path] = field(default_factory=list)
    """Every file of the archive, now in place (written, or already there), in archive order."""
    skipped: list[Path] = field(default_factory=list)
    """Files that already existed with the entry's exact bytes: left untouched."""

    @property
    def written(self) -> list[Path]:
        """The files this extraction wrote (``files`` without ``skipped``)."""
        kept = set(self.skipped)
        return [path for path in self.files if path not in kept]


@dataclass(frozen=True)
class _Entry:
    relative: PurePosixPath
    is_dir: bool
    size: int
    open: Callable[[], IO[bytes] | None]


def extract_archive(
    archive: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    limits: ArchiveLimits | None = None,
) -> Extraction:
    """Extract a zip or tar(.gz) archive under ``target``; say what is now there.

    The format is detected from the magic bytes (docs/protocol.md §8 row 25: zip or tar.gz). Any
    refused entry (see the module docstring) fails the whole extraction before anything
    is renamed into place: :class:`UnsafePathError` for names, links and clashes,
    :class:`ArchiveLimitError` for size, ratio and entry count,
    :class:`DestinationExistsError` for an existing file with other bytes (unless
    ``overwrite``) or one that would land on the archive itself, :class:`IntegrityError`
    for a damaged archive. Existing files with the entry's exact bytes are skipped.

    Example:
        ```python
        done = extract_archive("bundle.zip", "bundle/")
        print(done.files, done.skipped)
        ```
    """
    source = Path(archive)
    root = Path(target)
    with source.open("rb") as handle:
        magic = handle.read(4)
    try:
        with _entries(source, magic) as entries:
            _check(source, root, entries, overwrite, limits or ArchiveLimits())
            return _write(root, entries, overwrite)
    except FlowError:
        raise
    except _DAMAGED as exc:
        # A corrupted byte in transit (bulk archives have no md5, docs/protocol.md §5.3) shows up
        # here: typed, so callers can fetch the archive again (#7).
        raise IntegrityError(f"{source.name} is damaged: {exc}") from exc
    except (NotImplementedError, RuntimeError) as exc:  # unknown compression, encryption
        raise UnsafePathError(f"{source.name} has an entry that cannot be read: {exc}") from exc


@contextlib.contextmanager
def _entries(source: Path, magic: bytes) -> Iterator[list[_Entry]]:
    if magic.startswith(b"PK"):
        with zipfile.ZipFile(source) as zipped:
            yield [_zip_entry(zipped, info) for info in zipped.infolist()]
        return
    try:
        tarred = tarfile.open(source, mode="r:*")  # noqa: SIM115 - closed just below
    except tarfile.TarError as exc:
        raise UnsafePathError(f"not a zip or tar archive: {source.name}") from exc
    with tarred:
        yield [_tar_entry(tarred, member) for member in tarred.getmembers()]


def _zip_entry(zipped: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Entry:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        raise UnsafePathError(f"archive entry is a symbolic link: {info.filename!r}")
    if kind and kind not in {stat.S_IFREG, stat.S_IFDIR}:
        raise UnsafePathError(f"archive entry is not a regular file: {info.filename!r}")
    if info.flag_bits & 0x1:
        raise UnsafePathError(f"archive entry is encrypted: {info.filename!r}")
    return _Entry(
        safe_relative_path(info.filename),
        info.is_dir(),
        0 if info.is_dir() else info.file_size,
        lambda: zipped.open(info),
    )


def _tar_entry(tarred: tarfile.TarFile, member: tarfile.TarInfo) -> _Entry:
    if not (member.isfile() or member.isdir()):
        raise UnsafePathError(f"archive entry is not a regular file: {member.name!r}")
    return _Entry(
        safe_relative_path(member.name),
        member.isdir(),
        member.size if member.isfile() else 0,
        lambda: tarred.extractfile(member),
    )


def _check(
    source: Path, root: Path, entries: list[_Entry], overwrite: bool, limits: ArchiveLimits
) -> None:
    """Every refusal, before anything is written."""
    if len(entries) > limits.max_entries:
        raise ArchiveLimitError(
            f"{source.name} has {len(entries):,} entries, more than the limit of "
            f"{limits.max_entries:,} (ClientConfig.archive_max_entries)"
        )
    files: dict[PurePosixPath, int] = {}  # path -> declared size
    folders: set[PurePosixPath] = set()
    total = 0
    for entry in entries:
        folders.update(entry.relative.parents)
        if entry.is_dir:
            folders.add(entry.relative)
            continue
        if entry.relative in files:
            raise UnsafePathError(f"{source.name} has two entries for {str(entry.relative)!r}")
        files[entry.relative] = entry.size
        total += entry.size
    folders.discard(PurePosixPath("."))
    clash = sorted(files.keys() & folders)
    if clash:
        raise UnsafePathError(f"{source.name} has {str(clash[0])!r} both as a file and as a folder")
    _check_size(source, root, total, limits)
    _check_places(source, root, files, folders, overwrite)


def _check_size(source: Path, root: Path, total: int, limits: ArchiveLimits) -> None:
    if total > limits.max_bytes:
        raise ArchiveLimitError(
            f"{source.name} would expand to {total:,} bytes, more than the limit of "
            f"{limits.max_bytes:,} (ClientConfig.archive_max_bytes)"
        )
    packed = max(source.stat().st_size, 1)
    if total > RATIO_FLOOR and total > limits.max_ratio * packed:
        raise ArchiveLimitError(
            f"{source.name} would expand {total / packed:,.0f}-fold ({packed:,} to {total:,} "
            f"bytes), more than the limit of {limits.max_ratio:g} "
            "(ClientConfig.archive_max_ratio): a decompression bomb?"
        )
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if total > free:
        raise InsufficientSpaceError(
            f"not enough free space to extract {source.name}: {total:,} bytes needed, "
            f"{free:,} available"
        )


def _check_places(
    source: Path,
    root: Path,
    sizes: dict[PurePosixPath, int],
    folders: set[PurePosixPath],
    overwrite: bool,
) -> None:
    """No link on the way, no file where a folder goes, nothing replaced unasked."""
    archive = source.resolve()
    for folder in sorted(folders):
        path = root.joinpath(*folder.parts)
        refuse_links_below(root, path)
        if path.exists() and not path.is_dir():
            raise DestinationExistsError(f"{path} exists and is not a folder")
    for relative in sorted(sizes):
        path = root.joinpath(*relative.parts)
        refuse_links_below(root, path.parent)
        if not (path.exists() or path.is_symlink()):
            continue
        if path.is_dir() and not path.is_symlink():
            raise DestinationExistsError(f"{path} exists and is a folder")
        if path.resolve() == archive:
            raise DestinationExistsError(
                f"the archive has an entry named like the archive itself ({path.name}); "
                "fetch it without extract=True and unpack it elsewhere"
            )
        if not overwrite and _size_of(path) != sizes[relative]:
            # Cheap and early: other bytes for sure. Same size: compared once staged.
            raise DestinationExistsError(_exists_message(path))


def _exists_message(path: Path) -> str:
    return (
        f"{path} already exists with different content; pass overwrite=True "
        "(CLI: --overwrite) to replace it"
    )


def _size_of(path: Path) -> int | None:
    """The size of a regular file (links not followed), else ``None``."""
    try:
        info = path.lstat()
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


@dataclass
class _Staged:
    relative: PurePosixPath
    temporary: str
    digest: bytes


def _write(root: Path, entries: list[_Entry], overwrite: bool) -> Extraction:
    """Every file into a temporary beside its final name, then, all verified, every rename.

    Nothing already there is replaced before the whole archive has been read and its CRC-32s
    checked, so a damaged archive leaves the destination exactly as it was (#7, #14). A file
    already there with the same bytes is skipped; one with other bytes refuses the whole
    extraction unless ``overwrite``, also before any rename.
    """
    staged: list[_Staged] = []
    try:
        root.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            folder = entry.relative if entry.is_dir else entry.relative.parent
            with _folder(root, folder) as fd:
                if not entry.is_dir:
                    path = root.joinpath(*entry.relative.parts)
                    staged.append(_stage(fd, entry, path))
        skipped = _identical(root, staged, overwrite)
    except BaseException:
        _unstage(root, staged)
        raise
    places = [(item.relative, root.joinpath(*item.relative.parts)) for item in staged]
    done = Extraction(
        files=[path for _, path in places],
        skipped=[path for relative, path in places if relative in skipped],
    )
    pending = [item for item in staged if item.relative not in skipped]
    renamed = 0
    try:
        _unstage(root, [item for item in staged if item.relative in skipped])
        for item in pending:
            path = root.joinpath(*item.relative.parts)
            with _folder(root, item.relative.parent) as fd:
                try:
                    os.replace(item.temporary, item.relative.name, src_dir_fd=fd, dst_dir_fd=fd)
                except OSError as exc:
                    raise local_error(path, exc) from None
            renamed += 1
    finally:
        _unstage(root, pending[renamed:])
    return done


def _identical(root: Path, staged: list[_Staged], overwrite: bool) -> set[PurePosixPath]:
    """Entries whose destination already holds their exact bytes; refuse other existing files
    unless ``overwrite`` (checked now, after staging, so one that appeared meanwhile counts)."""
    same: set[PurePosixPath] = set()
    for item in staged:
        path = root.joinpath(*item.relative.parts)
        if not (path.exists() or path.is_symlink()):
            continue
        with _folder(root, item.relative.parent) as fd:
            existing = _digest_existing(fd, item.relative.name)
        if existing == item.digest:
            same.add(item.relative)
        elif not overwrite:
            raise DestinationExistsError(_exists_message(path))
    return same


def _digest_existing(folder: int, name: str) -> bytes | None:
    """SHA-256 of a regular file in ``folder``; ``None`` for a link, FIFO, device or folder
    (never opened in a way that follows a link or blocks, #14)."""
    try:
        fd = os.open(name, _EXISTING, dir_fd=folder)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        digest = hashlib.sha256()
        while block := handle.read(_COPY_BLOCK):
            digest.update(block)
    return digest.digest()


def _unstage(root: Path, staged: list[_Staged]) -> None:
    """Remove temporaries written for entries that will not be renamed into place."""
    for item in staged:
        with contextlib.suppress(OSError, FlowError), _folder(root, item.relative.parent) as fd:
            os.unlink(item.temporary, dir_fd=fd)


@contextlib.contextmanager
def _folder(root: Path, relative: PurePosixPath) -> Iterator[int]:
    """A descriptor of ``root/relative``, created as needed, walked without following links."""
    try:
        fd = os.open(root, _DIRECTORY)
    except OSError as exc:
        raise local_error(root, exc) from None
    try:
        for part in relative.parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o777, dir_fd=fd)
            try:
                child = os.open(part, _DIRECTORY, dir_fd=fd)
            except OSError as exc:
                raise UnsafePathError(
                    f"cannot enter {root.joinpath(*relative.parts)} without following a "
                    f"link: {exc.strerror}"
                ) from None
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _stage(folder: int, entry: _Entry, path: Path) -> _Staged:
    """Stream one entry into an exclusive temporary in its folder, hashing it on the way."""
    temporary = f"{secrets.token_hex(4)}{RESERVED_MARKER}extract.tmp"  # short, never a name
    try:
        fd = os.open(temporary, _NEW_FILE, 0o666, dir_fd=folder)
    except OSError as exc:
        raise local_error(path, exc) from None
    digest = hashlib.sha256()
    try:
        source = entry.open()
        with contextlib.ExitStack() as stack:
            sink = stack.enter_context(os.fdopen(fd, "wb"))
            if source is not None:
                src = stack.enter_context(source)
                copied = 0
                while block := src.read(_COPY_BLOCK):
                    copied += len(block)
                    if copied > entry.size:  # the readers stop at the size; belt and braces
                        raise IntegrityError(f"{path} is longer than the archive says")
                    digest.update(block)
                    sink.write(block)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=folder)
        if isinstance(exc, OSError) and not isinstance(exc, FlowError):
            raise local_error(path, exc) from None
        raise
    return _Staged(entry.relative, temporary, digest.digest())
