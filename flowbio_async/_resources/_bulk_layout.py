"""Lay out an extracted bulk archive like the per-file downloads (seed 002 "Organize Downloads").

A bulk archive's entry names are the server's choice (docs/protocol.md §5.3: flat file names, or
``<execution>/<path>`` with ``by_execution``; zip or tar.gz; a clash renamed somehow). Each
entry is matched to the data file it holds, most certain evidence first:

1. the entry carries the data id (an ``<id>/`` folder, or an ``<id>_``/``<id>-`` prefix)
   next to the data's filename;
2. the filename is unique on both sides (one remaining entry, one remaining data file);
3. content: same size and, when several candidates remain or the name differs (a renamed
   clash), the same md5. Candidates with one md5 are interchangeable (identical bytes).

An entry that stays ambiguous is kept under ``<project>/unsorted/`` and reported, never
dropped; a planned file the archive lacks is reported as missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from flowbio_async._transfers._paths import refuse_links_below, safe_filename

if TYPE_CHECKING:
    from flowbio_async._models._data import Data

Moved = Literal["downloaded", "skipped", "kept"]

UNSORTED = "unsorted"
"""Folder (inside the project folder) for archive entries that match no planned file."""


def deduplicated(planned: Sequence[tuple[Data, Path]]) -> list[tuple[Data, Path]]:
    """Give a file whose path is taken ``<dir>/<id>/<name>``, as the many-file runner does.

    Applied before choosing per-file or bulk, so both branches end with the same layout.
    """
    taken: set[Path] = set()
    unique: list[tuple[Data, Path]] = []
    for data, path in planned:
        if path in taken:
            path = path.parent / safe_filename(data.id) / path.name
        taken.add(path)
        unique.append((data, path))
    return unique


def _md5_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


@dataclass
class _Entry:
    """One extracted file: its name inside the archive, where it is, and its bytes' facts."""

    relative: PurePosixPath
    path: Path
    _size: int | None = None
    _md5: str | None = None

    @property
    def size(self) -> int:
        if self._size is None:
            self._size = self.path.stat().st_size
        return self._size

    @property
    def md5(self) -> str:
        if self._md5 is None:
            self._md5 = _md5_of(self.path)
        return self._md5


def _ids_in(entry: PurePosixPath) -> set[str]:
    """Data ids an entry name may carry: folder names, or an ``<id>_``/``<id>-`` prefix."""
    found = set(entry.parts[:-1])
    for separator in "_-":
        head, sep, _ = entry.name.partition(separator)
        if sep and head.isdigit():
            found.add(head)
    return found


def _carries_id(entry: PurePosixPath, data: Data) -> bool:
    name = data.filename or ""
    if entry.name == name and data.id in entry.parts[:-1]:
        return True
    return entry.name in {f"{data.id}_{name}", f"{data.id}-{name}"}


def _fits(entry: _Entry, data: Data) -> bool:
    return data.size is None or data.size == entry.size


def _by_content(entry: _Entry, candidates: list[int], files: Sequence[Data]) -> int | None:
    """The candidate holding ``entry``'s bytes, or None when that stays ambiguous."""
    sized = [i for i in candidates if _fits(entry, files[i])]
    if any(files[i].md5 for i in sized):
        same = [i for i in sized if files[i].md5 == entry.md5]
        sized = same or [i for i in sized if files[i].md5 is None]
    digests = {files[i].md5 for i in sized}
    if len(sized) == 1 or (len(sized) > 1 and len(digests) == 1 and None not in digests):
        return sized[0]
    return None


class _Matcher:
    """Indexes of the still unclaimed data files, by id and by filename."""

    def __init__(self, files: Sequence[Data]) -> None:
        self.files = files
        self.by_id = {data.id: i for i, data in enumerate(files)}
        self.by_name: dict[str, list[int]] = {}
        for i, data in enumerate(files):
            self.by_name.setdefault(data.filename or "", []).append(i)
        self.claimed: set[int] = set()
        self.matched: dict[int, int] = {}

    def named(self, name: str) -> list[int]:
        return [i for i in self.by_name.get(name, []) if i not in self.claimed]

    def claim(self, entry: int, file: int) -> None:
        self.matched[entry] = file
        self.claimed.add(file)


def match_entries(
    entries: Sequence[_Entry], files: Sequence[Data]
) -> tuple[dict[int, int], list[int]]:
    """Match archive entries to data files: ``{entry index: file index}`` and the leftovers."""
    state = _Matcher(files)
    for e, entry in enumerate(entries):
        carried = {state.by_id[i] for i in _ids_in(entry.relative) if i in state.by_id}
        by_id = [
            i
            for i in sorted(carried - state.claimed)
            if _carries_id(entry.relative, files[i]) and _fits(entry, files[i])
        ]
        if len(by_id) == 1:
            state.claim(e, by_id[0])
    open_names: dict[str, int] = {}
    for e, entry in enumerate(entries):
        if e not in state.matched:
            open_names[entry.relative.name] = open_names.get(entry.relative.name, 0) + 1
    for e, entry in enumerate(entries):
        named = state.named(entry.relative.name)
        if (
            e not in state.matched
            and len(named) == 1
            and open_names[entry.relative.name] == 1
            and _fits(entry, files[named[0]])  # a known size that differs is not this file
        ):
            state.claim(e, named[0])
    with_md5 = [i for i, data in enumerate(files) if data.md5]
    for e, entry in enumerate(entries):
        if e in state.matched:
            continue
        # A name no data file has: the server renamed a clash; only an md5 can tell then.
        candidates = state.named(entry.relative.name) or [
            i for i in with_md5 if i not in state.claimed and _fits(entry, files[i])
        ]
        found = _by_content(entry, candidates, files)
        if found is None:
            continue
        if files[found].md5 is None and any(
            o != e
            and o not in state.matched
            and other.relative.name == entry.relative.name
            and other.size == entry.size
            for o, other in enumerate(entries)
        ):
            continue  # another entry fits that file just as well: ambiguous
        state.claim(e, found)
    return state.matched, [e for e in range(len(entries)) if e not in state.matched]


@dataclass
class Placement:
    """Where the entries went: organised paths, ``unsorted/`` paths, data not in the archive."""

    files: list[tuple[Data, Path]] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # of ``files``: same bytes already there
    unsorted: list[Path] = field(default_factory=list)
    missing: list[Data] = field(default_factory=list)

    @property
    def placed(self) -> list[Path]:
        """The organised paths, in plan order."""
        return [path for _, path in self.files]


def _same_bytes(left: Path, right: Path) -> bool:
    if left.stat().st_size != right.stat().st_size:
        return False
    return _md5_of(left) == _md5_of(right)


def _free_name(path: Path) -> Path:
    stem, dot, suffix = path.name.partition(".")
    counter = 2
    while path.exists():
        path = path.with_name(f"{stem} ({counter}){dot}{suffix}")
        counter += 1
    return path


def _move(source: Path, target: Path, folder: Path, *, overwrite: bool) -> Moved:
    """Move ``source`` to ``target``; ``"kept"`` when a different file is there (untouched).

    Never through a symbolic link planted below ``folder`` (issue #14), never onto a folder.
    """
    refuse_links_below(folder, target.parent)
    if target.is_dir() and not target.is_symlink():
        return "kept"
    if target.exists() and not overwrite:
        if not _same_bytes(source, target):
            return "kept"
        source.unlink()  # the same bytes already in place: like a skipped download
        return "skipped"
    target.parent.mkdir(parents=True, exist_ok=True)
    source.replace(target)
    return "downloaded"


def place_extracted(
    root: Path,
    extracted: Sequence[Path],
    planned: Sequence[tuple[Data, Path]],
    folder: Path,
    *,
    overwrite: bool,
) -> Placement:
    """Move files extracted under ``root`` to their planned paths (blocking; run in a thread).

    Unmatched entries go to ``folder/unsorted/<entry path>``; so does an entry whose planned
    path holds a *different* file when ``overwrite`` is false (nothing is ever replaced
    silently). Same-folder renames only: ``root`` lives inside ``folder``.
    """
    entries = [
        _Entry(PurePosixPath(path.relative_to(root).as_posix()), path) for path in sorted(extracted)
    ]
    files = [data for data, _ in planned]
    matched, leftovers = match_entries(entries, files)
    result = Placement()
    for e, i in sorted(matched.items(), key=lambda item: item[1]):
        target = planned[i][1]
        moved = _move(entries[e].path, target, folder, overwrite=overwrite)
        if moved == "kept":
            leftovers.append(e)
            continue
        result.files.append((files[i], target))
        if moved == "skipped":
            result.skipped.append(target)
    for e in sorted(leftovers):
        target = folder.joinpath(UNSORTED, *entries[e].relative.parts)
        if _move(entries[e].path, target, folder, overwrite=overwrite) == "kept":
            target = _free_name(target)
            _move(entries[e].path, target, folder, overwrite=False)
        result.unsorted.append(target)
    result.missing = [files[i] for i in range(len(files)) if i not in matched.values()]
    return result
