"""Invariant checks of the chaos harness: checksums, stray files, leaked sockets and tasks."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import sys
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flowbio_async._transfers._partfile import PART_SUFFIX, SIDECAR_SUFFIX

PART_SUFFIXES = (PART_SUFFIX, SIDECAR_SUFFIX)
"""A download's resumable part file and its sidecar (``_transfers._partfile``)."""


def md5_file(path: Path) -> str:
    """Hex md5 of a file read from disk (the only way the harness trusts what it wrote)."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def files_under(root: Path) -> list[Path]:
    """Every regular file below ``root`` (empty when it does not exist)."""
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file())


def stray_files(root: Path, expected: Iterable[Path], *, resumable: bool) -> list[str]:
    """Files under ``root`` that are neither expected nor (when allowed) resumable parts.

    Upload resume records (``state/uploads/*.json``) count as resumable parts too; atomic-write
    temporaries (``.rec-*.tmp``) never do.
    """
    keep = {p.resolve() for p in expected}
    strays: list[str] = []
    for path in files_under(root):
        if path.resolve() in keep:
            continue
        is_part = path.name.endswith(PART_SUFFIXES) or (
            path.parent.name == "uploads" and path.suffix == ".json"
        )
        if resumable and is_part:
            continue
        strays.append(str(path.relative_to(root)))
    return strays


def open_sockets() -> int:
    """Sockets this process holds (Linux ``/proc``; 0 elsewhere, where the check is moot)."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        return 0
    count = 0
    for entry in fd_dir.iterdir():
        try:
            if str(entry.readlink()).startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def other_tasks() -> int:
    """Tasks alive on the running loop besides the caller's own."""
    current = asyncio.current_task()
    return sum(1 for task in asyncio.all_tasks() if task is not current and not task.done())


@dataclass
class Unraisables:
    """Collects ``ResourceWarning`` (turned into errors) and other unraisable exceptions.

    An unclosed socket, file or transport warns from ``__del__``; with the warning filter
    set to ``error`` that becomes an unraisable exception, which lands here instead of being
    printed and forgotten.
    """

    seen: list[str] = field(default_factory=list)

    def hook(self, info: sys.UnraisableHookArgs) -> None:
        self.seen.append(f"{info.exc_type.__name__}: {info.exc_value}")

    @contextmanager
    def installed(self) -> Iterator[Unraisables]:
        previous = sys.unraisablehook
        sys.unraisablehook = self.hook
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", ResourceWarning)
                yield self
                gc.collect()
        finally:
            sys.unraisablehook = previous


def describe(exc: BaseException) -> str:
    """``Type: message`` on one line, for the per-transfer log."""
    text = str(exc).replace("\n", " ")
    return f"{type(exc).__name__}: {text[:200]}"
