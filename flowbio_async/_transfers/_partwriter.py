"""The open part file: positional writes, the resume state and an in-order md5.

Downloads write buffers at their byte offsets from worker threads (several at once for a
segmented download) while md5 is extended in file order: from memory when a buffer is next
in line, otherwise read back from the page cache. The sidecar (``_partfile``) is saved every
``SAVE_EVERY`` bytes and on exit, always after the data it names is written (issue #4).
The part file is created exclusively or reopened without following links, and the final
rename checks it is still the file written (issue #14, ``_privatefs``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from flowbio_async._errors import DestinationExistsError, InsufficientSpaceError, TransferError
from flowbio_async._transfers._partfile import (
    PartState,
    add_interval,
    discard,
    part_path,
    save_state,
    sidecar_path,
)
from flowbio_async._transfers._privatefs import (
    create_exclusive,
    local_error,
    not_ours,
    open_ours,
    remove_ours,
)

MiB = 1024 * 1024
HASH_BLOCK = MiB
SAVE_EVERY = 16 * MiB
"""Sidecar writes at most once per this many bytes (and always on exit)."""


Chunk = bytes | memoryview
"""Body bytes as the network handed them, or a view of a reusable buffer."""


def write_all(fd: int, chunks: Sequence[Chunk], offset: int) -> int:
    """``pwritev`` the chunks (no join copy), finishing any short write; returns the size."""
    views = [memoryview(chunk) for chunk in chunks if chunk]
    total = sum(len(view) for view in views)
    if len(views) > 512:  # stay well under IOV_MAX
        views = [memoryview(b"".join(views))]
    while views:
        written = os.pwritev(fd, views, offset) if _PWRITEV else os.pwrite(fd, views[0], offset)
        offset += written
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]
    return total


_PWRITEV = hasattr(os, "pwritev")


def hash_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class PartFile:
    """The open part file: positional writes, the sidecar state and an in-order md5.

    ``record`` runs in worker threads (several at once for segmented downloads): ``lock``
    guards the state; ``hash_lock`` lets one thread at a time extend the md5 over the
    contiguous prefix, from memory when the data is next in line, else from the page cache.
    """

    def __init__(self, dest: Path, state: PartState) -> None:
        self.dest = dest
        self.state = state
        self.fd = self._open()
        self.identity = os.fstat(self.fd)
        self.lock = threading.Lock()
        self.hash_lock = threading.Lock()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.hashed = 0
        self.unsaved = 0
        self.discarded = False
        # One reusable buffer for reading back bytes to hash: fresh multi-MiB allocations
        # in worker threads would each grow a malloc arena (peak RSS, issue #4).
        self.read_buffer: bytearray | None = None

    def _open(self) -> int:
        """Reopen the part named by the sidecar, else create a new one exclusively."""
        path = part_path(self.dest)
        if self.state.done:
            fd = open_ours(path)
            if fd is not None:
                return fd
            self.state.done = []  # gone since the sidecar was read: start afresh
        remove_ours(path)  # an empty leftover of ours (a crash before the first byte)
        return create_exclusive(path)

    def record(self, offset: int, chunks: Sequence[Chunk]) -> int:
        """Write ``chunks`` at ``offset`` and note them in the state (worker thread)."""
        try:
            size = write_all(self.fd, chunks, offset)
        except OSError as exc:
            if exc.errno in {errno.ENOSPC, errno.EDQUOT}:
                raise InsufficientSpaceError(f"disk full while writing {self.dest}") from None
            raise local_error(self.dest, exc) from None
        with self.lock:
            self.state.done = add_interval(self.state.done, offset, offset + size)
            self.unsaved += size
            if self.unsaved >= SAVE_EVERY:
                save_state(self.dest, self.state)
                self.unsaved = 0
        return size

    def record_and_hash(self, offset: int, chunks: Sequence[Chunk]) -> int:
        """Both steps in one worker-thread call (a body that fit in one buffer)."""
        size = self.record(offset, chunks)
        self.hash_chunks(offset, chunks, offset)
        return size

    def hash_chunks(self, offset: int, chunks: Sequence[Chunk] | None, limit: int) -> None:
        """Extend the md5 in file order (worker thread, concurrent with ``record``).

        Bytes before ``offset`` come from the page cache, as far as they are written; the
        chunks themselves are hashed from memory when they are next in line. Otherwise
        they are left for a later call (or the final catch-up) to read back from disk.
        """
        with self.hash_lock:
            while self.hashed < limit:
                with self.lock:
                    frontier = min(self.state.prefix, limit)
                if self.hashed >= frontier:
                    break
                if self.read_buffer is None:
                    self.read_buffer = bytearray(HASH_BLOCK)
                want = min(len(self.read_buffer), frontier - self.hashed)
                view = memoryview(self.read_buffer)[:want]
                got = os.preadv(self.fd, [view], self.hashed)
                if not got:
                    break
                self.md5.update(view[:got])
                self.hashed += got
            if chunks is not None and self.hashed == offset:
                for chunk in chunks:
                    self.md5.update(chunk)
                    self.hashed += len(chunk)

    def reset(self) -> None:
        """Forget every byte (the server sent the whole file instead of a range)."""
        with self.hash_lock, self.lock:
            os.ftruncate(self.fd, 0)
            self.state.done = []
            self.md5 = hashlib.md5(usedforsecurity=False)
            self.hashed = 0
            save_state(self.dest, self.state)

    def save(self) -> None:
        """Persist the sidecar (on failure or cancellation) unless the part was thrown away."""
        if self.discarded:
            return
        with self.lock:
            save_state(self.dest, self.state)
            self.unsaved = 0

    def discard(self) -> None:
        """Close and delete the part file and its sidecar (bad bytes must not be resumed)."""
        self.close()
        self.discarded = True
        discard(self.dest, part=self.identity)

    def commit(self) -> None:
        """Rename the verified part file to its destination and drop the sidecar.

        The name must still lead to the very file written (nothing swapped in meanwhile),
        and the destination must not be a folder; a link there is replaced, not followed.
        """
        self.close()
        path = part_path(self.dest)
        try:
            now = os.lstat(path)
            if (now.st_dev, now.st_ino) != (self.identity.st_dev, self.identity.st_ino):
                raise not_ours(path)
            if self.dest.is_dir() and not self.dest.is_symlink():
                raise DestinationExistsError(f"{self.dest} is a directory")
            path.replace(self.dest)
        except TransferError:
            raise
        except OSError as exc:
            raise local_error(self.dest, exc) from None
        remove_ours(sidecar_path(self.dest))

    def close(self) -> None:
        # -1 afterwards: closing a recycled descriptor number twice would hit another file.
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
