"""The part file and its small JSON sidecar: what is needed to resume safely.

A download writes into ``<name>.flowbio-part`` and records in ``<name>.flowbio-part.json``
the expected size, the validators (md5 from Flow, ``ETag``/``Last-Modified`` from the
response) and the byte intervals already on disk. Data is always written *before* the
sidecar names it, so after a crash or a cancellation the sidecar never claims bytes that are
not there (design note transfers.md: "a small sidecar with what is needed to resume safely").

These names live in a namespace no server can produce: every name containing
:data:`RESERVED_MARKER` is refused when a server sends it (``_paths``), so a download can never
take another file's finished bytes for its own part file (issue #14 item 1). A name too long
to carry the suffixes gets a hashed one instead. The files are opened without following links
and only ever deleted when they are regular files of this user (``_privatefs``, item 2).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowbio_async._errors import UnsafePathError
from flowbio_async._transfers._privatefs import lstat_ours, read_ours, remove_ours, replace_with

SIDECAR_VERSION = 1

RESERVED_MARKER = ".flowbio-"
"""Names containing this are the SDK's own; a server-provided name with it is refused."""
PART_SUFFIX = ".flowbio-part"
SIDECAR_SUFFIX = ".flowbio-part.json"
_HASHED = ".flowbio-long"
"""Marks a hashed stem: a readable stem never contains the marker, so the two cannot meet."""
_LONGEST_EXTRA = len(SIDECAR_SUFFIX) + len(".12345678.tmp")
_NAME_MAX = 255


def _stem(name: str) -> str:
    if len(name.encode("utf-8", "surrogateescape")) + _LONGEST_EXTRA <= _NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return digest + _HASHED


def check_reserved(name: str) -> None:
    """Refuse a destination name in the SDK's temporary-file namespace."""
    if RESERVED_MARKER in name:
        raise UnsafePathError(
            f"names containing {RESERVED_MARKER!r} are reserved for flowbio-async's "
            f"temporary files: {name!r}"
        )


def part_path(dest: Path) -> Path:
    """Where the bytes of ``dest`` are gathered before the atomic rename."""
    return dest.with_name(_stem(dest.name) + PART_SUFFIX)


def sidecar_path(dest: Path) -> Path:
    """Where the resume record of ``dest`` lives."""
    return dest.with_name(_stem(dest.name) + SIDECAR_SUFFIX)


def add_interval(intervals: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """Return sorted, merged ``[start, end)`` intervals with one more interval added.

    Example:
        ```python
        add_interval([(0, 10), (20, 30)], 10, 20)   # [(0, 30)]
        ```
    """
    if end <= start:
        return list(intervals)
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted([*intervals, (start, end)]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def missing_intervals(intervals: list[tuple[int, int]], total: int) -> list[tuple[int, int]]:
    """The gaps of ``[0, total)`` not covered by ``intervals`` (sorted and merged)."""
    gaps: list[tuple[int, int]] = []
    position = 0
    for lo, hi in intervals:
        if lo > position:
            gaps.append((position, min(lo, total)))
        position = max(position, hi)
        if position >= total:
            break
    if position < total:
        gaps.append((position, total))
    return [(lo, hi) for lo, hi in gaps if hi > lo]


@dataclass
class PartState:
    """What the sidecar knows about a part file."""

    size: int | None = None
    md5: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    done: list[tuple[int, int]] = field(default_factory=list)

    @property
    def done_bytes(self) -> int:
        """Bytes already on disk."""
        return sum(hi - lo for lo, hi in self.done)

    @property
    def prefix(self) -> int:
        """Length of the contiguous run of finished bytes from offset 0."""
        return self.done[0][1] if self.done and self.done[0][0] == 0 else 0

    @property
    def validator(self) -> str | None:
        """The ``If-Range`` value: a strong ETag, else ``Last-Modified`` (RFC 9110 §13.1.5)."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified

    def to_json(self) -> dict[str, Any]:
        """The sidecar document."""
        return {
            "version": SIDECAR_VERSION,
            "size": self.size,
            "md5": self.md5,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "done": [list(pair) for pair in self.done],
        }

    @classmethod
    def from_json(cls, document: Any) -> PartState | None:
        """Parse a sidecar; ``None`` when it is not one this version wrote."""
        if not isinstance(document, dict) or document.get("version") != SIDECAR_VERSION:
            return None
        try:
            done: list[tuple[int, int]] = []
            for lo, hi in document.get("done") or []:
                done = add_interval(done, int(lo), int(hi))
            size = document.get("size")
            return cls(
                size=None if size is None else int(size),
                md5=_opt_str(document.get("md5")),
                etag=_opt_str(document.get("etag")),
                last_modified=_opt_str(document.get("last_modified")),
                done=done,
            )
        except (TypeError, ValueError):
            return None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def save_state(dest: Path, state: PartState) -> None:
    """Write the sidecar atomically (an exclusive, randomly named temp file + ``os.replace``)."""
    replace_with(sidecar_path(dest), json.dumps(state.to_json()).encode("utf-8"))


def discard(dest: Path, *, part: os.stat_result | None = None) -> None:
    """Remove the part file and its sidecar, if present and created by the SDK.

    ``part`` (the ``fstat`` of the open part file) limits the deletion to that very file.
    """
    remove_ours(part_path(dest), expect=part)
    remove_ours(sidecar_path(dest))


def load_state(dest: Path, *, size: int | None, md5: str | None) -> PartState:
    """The resumable state for ``dest``, or a fresh one when nothing usable is on disk.

    A part file is reused only when its sidecar agrees with what the caller now expects
    (size, md5); otherwise it is deleted so stale bytes can never end up in the result.
    The recorded intervals are clipped to the part file's real length.
    """
    raw = read_ours(sidecar_path(dest))
    info = lstat_ours(part_path(dest))
    try:
        document = json.loads(raw) if raw is not None else None
    except ValueError:
        document = None
    if document is None or info is None:
        discard(dest)
        return PartState(size=size, md5=md5)
    length = info.st_size
    state = PartState.from_json(document)
    compatible = (
        state is not None
        and (size is None or state.size is None or state.size == size)
        and (md5 is None or state.md5 is None or state.md5.lower() == md5.lower())
    )
    if state is None or not compatible:
        discard(dest)
        return PartState(size=size, md5=md5)
    clipped: list[tuple[int, int]] = []
    for lo, hi in state.done:
        if lo < length:
            clipped.append((lo, min(hi, length)))
    state.done = clipped
    state.size = size if size is not None else state.size
    state.md5 = md5 if md5 is not None else state.md5
    return state
