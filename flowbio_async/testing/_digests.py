"""Running md5 of uploads in progress, fed after each chunk has been answered (#3).

Hashing a whole file when its last chunk arrives keeps the client waiting for it (half a
second for 256 MiB). Instead each chunk's bytes are hashed in a worker thread right after
its answer is sent, while the client is already sending the next chunk; the last chunk only
adds its own bytes. Anything unusual (a retried chunk that rewinds the offset, a server
restart that lost the state, an update that never ran) drops the running digest and the
file is hashed in full, so the recorded md5 is always the md5 of the stored bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

import anyio

_BLOCK = 4 * 1024 * 1024
#: How long the last chunk waits for earlier updates before hashing the file in full.
_WAIT = 30.0


def md5_range(path: Path, start: int, end: int, digest: hashlib._Hash | None = None) -> str:
    """Feed bytes ``[start, end)`` of ``path`` into ``digest`` (new if None); return hex."""
    digest = digest or hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = end - start
        while remaining > 0:
            block = handle.read(min(_BLOCK, remaining))
            if not block:
                break
            digest.update(block)
            remaining -= len(block)
    return digest.hexdigest()


@dataclass
class _Running:
    digest: hashlib._Hash = field(default_factory=lambda: hashlib.md5(usedforsecurity=False))
    end: int = 0
    """Bytes fed so far or scheduled to be: the next chunk must start here."""
    idle: anyio.Event | None = None
    """Set when the last scheduled update has run."""
    broken: bool = False
    """An update failed: the digest misses bytes."""


@dataclass
class Update:
    """One scheduled update: hash ``[start, end)`` once ``after`` is set."""

    state: _Running
    path: Path
    start: int
    end: int
    after: anyio.Event | None
    done: anyio.Event


class RunningDigests:
    """The running md5 of every upload in progress on this server process.

    Example:
        ```python
        update = digests.chunk_stored(7, part, 0, 1_000_000)   # before answering
        digests.schedule(update)                                 # hashed while we answer
        md5 = await digests.finish(7, blob, 1_000_000, size)    # on the last chunk
        ```
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, _Running] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, update: Update | None) -> None:
        """Run ``update`` in the background, detached from the request.

        Not a Starlette background task: that would keep the request open (and counted as
        in flight by the server's counters) until the hash is done.
        """
        if update is None:
            return
        task = asyncio.get_running_loop().create_task(self.feed(update))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    def chunk_stored(self, upload: int, path: Path, start: int, end: int) -> Update | None:
        """Schedule hashing ``[start, end)`` just written (None: the digest was dropped).

        Called before the chunk is answered, so updates are ordered as the chunks were.
        """
        with self._lock:
            state = self._running.get(upload)
            if state is None and start == 0:
                state = self._running[upload] = _Running()
            if state is None or state.end != start:
                self._running.pop(upload, None)  # a rewind or a gap: hash in full at the end
                return None
            update = Update(state, path, start, end, state.idle, anyio.Event())
            state.end, state.idle = end, update.done
            return update

    @staticmethod
    async def feed(update: Update) -> None:
        """Run one update, after the updates scheduled before it."""
        try:
            if update.after is not None:
                await update.after.wait()
            await anyio.to_thread.run_sync(
                md5_range, update.path, update.start, update.end, update.state.digest
            )
        except Exception:
            update.state.broken = True  # finish() then hashes the whole file
        finally:
            update.done.set()

    async def finish(self, upload: int, path: Path, start: int, end: int) -> str:
        """The md5 of the whole file once its last chunk ``[start, end)`` is on disk.

        ``path`` is the file the updates read (call this before moving it).
        """
        with self._lock:
            state = self._running.pop(upload, None)
        ready = state is not None and state.end == start
        if ready and state is not None and state.idle is not None:
            with anyio.move_on_after(_WAIT) as waited:
                await state.idle.wait()
            ready = not waited.cancelled_caught
        if not ready or state is None or state.broken:
            return await anyio.to_thread.run_sync(md5_range, path, 0, end)
        return await anyio.to_thread.run_sync(md5_range, path, start, end, state.digest)

    def forget(self, upload: int) -> None:
        """Drop the state of an upload that was refused or discarded."""
        with self._lock:
            self._running.pop(upload, None)
