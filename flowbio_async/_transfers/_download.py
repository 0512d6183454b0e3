"""The download engine: stream to a part file, resume, segment, verify, rename (issue #4).

It knows no URL paths: a resource hands it an *opener* (``headers -> async with response``)
and what Flow says about the file (size, md5). The life of one download:

1. An existing complete destination is skipped unless ``overwrite``; a different one is an
   error, never silently replaced.
2. The part file plus its sidecar (``_partfile``) are reused when they agree with the
   expected size and md5; free space is checked before the first byte.
3. Missing byte ranges are fetched with ``Range`` and ``If-Range``: one stream below
   ``config.segment_threshold``; above it one stream too while it delivers at least
   ``config.segment_below_rate`` bytes per second, else more streams join while the
   aggregate rate grows, up to ``config.segments_per_file`` (#13, ``_segments``), each taking
   over the far part of a range another stream is still on.
4. Every body is read through one interface, ``StreamLike.aiter_raw``. Pieces are gathered
   into buffers of ``config.download_buffer_size`` for a writer thread (``pwritev``) and an
   md5 thread while the event loop keeps reading; a body of at most
   ``config.download_inline_max`` bytes is written and hashed in place (a thread hop would
   cost more than the work).
5. Size and md5 are verified, then ``os.replace`` makes the file appear atomically.

A 200 answer to a ``Range`` request restarts cleanly (progress rolls back); 416 with a
complete part means done (docs/protocol.md §8 row 22). Cancellation leaves the part file and an
up-to-date sidecar, so the next call resumes.

Retries (#16, one policy): the HTTP layer retries statuses and connection failures before a
body starts; this engine retries only a body cut mid-stream (a dropped connection, a read
timeout, a stall below ``config.min_download_rate``, a clean end before the last byte),
resuming at the exact byte. Both spend one :class:`~flowbio_async._retry.RetryBudget` of
``config.download_retries`` per stream, refilled when bytes arrive, so a stream that never
makes progress costs at most ``1 + download_retries`` requests.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import anyio
import anyio.abc
import anyio.to_thread

from flowbio_async._config import ClientConfig
from flowbio_async._errors import (
    DestinationExistsError,
    DestinationNotWritableError,
    FlowApiError,
    FlowTransportError,
    InsufficientSpaceError,
    IntegrityError,
    TransferError,
)
from flowbio_async._http import StallError
from flowbio_async._models._downloads import DownloadResult
from flowbio_async._progress import Progress
from flowbio_async._retry import RetryBudget, backoff_delay
from flowbio_async._tasks import first_error
from flowbio_async._transfers._partfile import PartState, load_state, missing_intervals
from flowbio_async._transfers._partwriter import PartFile, hash_file
from flowbio_async._transfers._paths import check_destination
from flowbio_async._transfers._ranges import parse_content_range, range_header
from flowbio_async._transfers._segments import Ramp, min_split, split_point, window_for

MiB = 1024 * 1024
logger = logging.getLogger("flowbio_async")


class StreamLike(Protocol):
    """What the engine needs from a streamed answer (``_http.StreamResponse`` fits)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def aiter_raw(self) -> AsyncIterator[bytes]: ...


Opener = Callable[[Mapping[str, str], RetryBudget], AbstractAsyncContextManager[StreamLike]]
"""Opens ``GET <file>`` with extra headers, its retries spending the stream's budget;
errors (>= 400) raise ``FlowApiError``."""

DiskFree = Callable[[Path], int]


def disk_free(directory: Path) -> int:
    """Free bytes on the file system holding ``directory`` (injectable for tests)."""
    return shutil.disk_usage(directory).free


@dataclass(frozen=True)
class DownloadSpec:
    """One file to fetch: how to open it, where it goes, and what Flow says about it."""

    open: Opener
    dest: Path
    label: str
    size: int | None = None
    md5: str | None = None
    overwrite: bool = False
    root: Path | None = None
    """The folder the caller chose; ``dest`` must stay inside it, through no symbolic link."""


class _RangesRefused(Exception):
    """A parallel piece got 200: the server stopped honouring Range; fall back to one stream."""


class _ShortBody(FlowTransportError):
    """The connection ended cleanly before the requested range was complete."""


@dataclass(eq=False)
class _Cursor:
    """Where one stream stands: the next byte to write and the end (exclusive) it wants.

    ``seen`` is the byte after the last one received (written or still in a buffer): a new
    stream may take over from any point past it, by moving ``end`` back (#13). ``arrived``
    is set at the first body byte (or when the stream ends), ``answered`` at the first
    answer's head; ``round_trip`` is how long that head took.
    """

    pos: int
    end: int | None
    seen: int = -1
    round_trip: float | None = None
    arrived: anyio.Event = field(default_factory=anyio.Event)
    answered: anyio.Event = field(default_factory=anyio.Event)

    def __post_init__(self) -> None:
        self.seen = max(self.seen, self.pos)

    def left(self) -> int:
        return 0 if self.end is None else self.end - self.seen


class Downloader:
    """Downloads files described by :class:`DownloadSpec` (one instance per operation).

    Example:
        ```python
        downloader = Downloader(config, progress)
        result = await downloader.download(spec, task_id="42")
        ```
    """

    def __init__(
        self,
        config: ClientConfig,
        progress: Progress,
        *,
        free_space: DiskFree | None = None,
        streams: anyio.CapacityLimiter | None = None,
    ) -> None:
        self.config = config
        self.progress = progress
        # Looked up at call time so tests can swap the module-level function.
        self._free_space = free_space
        self.streams = streams
        """The client's budget of extra streams (segments beyond each transfer's first), so
        parallel ranges never outgrow the connection pool; ``None``: only the ceiling."""

    async def download(self, spec: DownloadSpec, task_id: str) -> DownloadResult:
        """Fetch ``spec`` to ``spec.dest``; see the module docstring for the steps."""
        dest = spec.dest
        check_destination(dest, spec.root)  # #14: no reserved name, no link between root and dest
        _prepare_directory(dest.parent)
        if dest.is_dir():
            raise DestinationExistsError(f"{dest} is a directory")
        if dest.exists() and not spec.overwrite:
            return await self._existing(spec)
        state = load_state(dest, size=spec.size, md5=spec.md5)
        job = _Job(self, spec, state, task_id)
        return await job.run()

    async def _existing(self, spec: DownloadSpec) -> DownloadResult:
        size = spec.dest.stat().st_size
        if spec.size is not None and size != spec.size:
            raise DestinationExistsError(
                f"{spec.dest} exists with {size} bytes, the server's file has {spec.size}; "
                "pass overwrite=True to replace it"
            )
        digest: str | None = None
        if spec.md5:
            digest = await anyio.to_thread.run_sync(hash_file, spec.dest)
            if digest != spec.md5.strip().lower():
                raise DestinationExistsError(
                    f"{spec.dest} exists with different content (md5 {digest}); "
                    "pass overwrite=True to replace it"
                )
        return DownloadResult(path=spec.dest, size=size, md5=digest, status="skipped")

    def free_space(self, directory: Path) -> int:
        return (self._free_space or disk_free)(directory)


def _prepare_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DestinationNotWritableError(f"{directory} exists and is not a directory") from None
    except PermissionError as exc:
        raise DestinationNotWritableError(f"cannot create {directory}: {exc}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise DestinationNotWritableError(f"{directory} is not writable")


class _Job:
    """One download in progress (state shared by its streams)."""

    def __init__(self, owner: Downloader, spec: DownloadSpec, state: PartState, task: str):
        self.owner = owner
        self.config = owner.config
        self.progress = owner.progress
        self.spec = spec
        self.state = state
        self.task = task
        self.size: int | None = state.size
        self.parallel = False
        self.received = 0
        """Body bytes received by every stream of this download (the ramp's measure)."""
        self.todo: list[_Cursor] = []
        self.lanes: list[_Cursor] = []
        """Streams of this download running now (they share the buffer budget)."""
        self.smallest = self.config.segment_piece_min
        self.head_start = 0
        """Bytes one stream receives while a new one sets up (a split leaves it that more)."""
        self.idle = anyio.Event()
        self.space_checked = False
        self.resumed_from = state.done_bytes
        self.part: PartFile | None = None

    # -- driver ------------------------------------------------------------------------------
    async def run(self) -> DownloadResult:
        self._check_space()  # before the part file and the first request (#4)
        self.part = PartFile(self.spec.dest, self.state)
        self.progress.start(self.task, self.spec.label, self.size)
        if self.resumed_from:
            self.progress.reset(self.task, self.resumed_from)
        ok = False
        try:
            if self.size is not None:
                await self._fetch_known()
            else:
                await self._fetch_unknown()
            result = await self._finish()
            ok = True
            return result
        except IntegrityError:
            self.part.discard()  # bytes that do not match must never be resumed
            raise
        finally:
            if not ok and self.state.done:
                self.part.save()  # resumable next time
            elif not ok:
                self.part.discard()  # nothing saved: leave no empty part file behind
            self.part.close()
            self.progress.finish(self.task, ok)

    def _check_space(self) -> None:
        if self.space_checked or self.size is None:
            return
        needed = self.size - self.state.done_bytes
        free = self.owner.free_space(self.spec.dest.parent)
        if free < needed:
            raise InsufficientSpaceError(
                f"not enough free space for {self.spec.dest.name}: "
                f"{needed:,} bytes needed, {free:,} available"
            )
        self.space_checked = True

    async def _fetch_known(self) -> None:
        assert self.size is not None
        if self.size == 0 and not self.state.done:
            await self._fetch(_Cursor(0, None))  # still ask: a bare 404 must surface
            return
        if self.size >= self.config.segment_threshold and self.config.segments_per_file > 1:
            try:
                await self._fetch_segmented()
            except _RangesRefused:
                assert self.part is not None
                await anyio.to_thread.run_sync(self.part.reset)
                self.progress.reset(self.task, 0)
        # One stream at a time; gaps are recomputed because a 200 may have filled them all.
        while gaps := missing_intervals(self.state.done, self.size):
            start, end = gaps[0]
            await self._fetch(_Cursor(start, end))

    async def _fetch_unknown(self) -> None:
        # Size unknown (an execution result, an archive): one open-ended stream; anything
        # past the contiguous prefix of an earlier attempt is dropped.
        prefix = self.state.prefix
        self.state.done = [(0, prefix)] if prefix else []
        await self._fetch(_Cursor(prefix, None))

    # -- segmented downloads (#13) ------------------------------------------------------------
    async def _fetch_segmented(self) -> None:
        """One stream first; more join while the aggregate rate still grows (``_segments``).

        The lead stream asks for the whole first gap. A controller times it over a window
        of one round trip: at ``segment_below_rate`` or faster it simply goes on alone,
        hashing from memory (parallel ranges are partly hashed back from the page cache,
        which on loopback or a fast LAN costs more than it gains, #16). Slower, and new
        streams take the far part of the largest range still to come, four times as many
        at each step while the aggregate grows. A stream that finishes takes the next gap
        or part of the largest range left (the tail stays balanced); each resumes on its
        own after a cut. ``segment_below_rate=None`` opens ``segments_per_file`` streams at
        the first answer.
        """
        assert self.size is not None
        gaps = missing_intervals(self.state.done, self.size)
        if not gaps:
            return
        self.parallel = True
        self.todo = [_Cursor(lo, hi) for lo, hi in gaps]
        self.lanes = []
        self.smallest = self.config.segment_piece_min
        self.idle = anyio.Event()
        ramp = Ramp(self.config.segments_per_file, self.config.segment_below_rate)
        try:
            async with anyio.create_task_group() as group:
                lead = self.todo.pop(0)
                group.start_soon(self._lane, lead, None)
                group.start_soon(self._control, group, lead, ramp)
        except BaseExceptionGroup as grouped:
            raise first_error(grouped) from None
        finally:
            self.parallel = False

    async def _lane(self, cursor: _Cursor | None, slot: object | None) -> None:
        """One stream: its range, then the next piece of work, until there is none."""
        try:
            while cursor is not None:
                self.lanes.append(cursor)
                try:
                    await self._fetch(cursor)
                finally:
                    self.lanes.remove(cursor)
                    cursor.arrived.set()
                    cursor.answered.set()
                cursor = self._take_work()
        finally:
            if slot is not None and self.owner.streams is not None:
                self.owner.streams.release_on_behalf_of(slot)
            if not self.lanes:
                self.idle.set()

    def _take_work(self) -> _Cursor | None:
        """The next gap in file order, else the second half of the largest range left."""
        if self.todo:
            return self.todo.pop(0)
        victim = max(self.lanes, key=_Cursor.left, default=None)
        if victim is None or victim.end is None:
            return None
        point = split_point(victim.seen, victim.end, self.smallest, self.head_start)
        if point is None:
            return None
        taken = _Cursor(point, victim.end)
        victim.end = point  # the victim stops there; its answer's rest is dropped
        return taken

    def _open(self, group: anyio.abc.TaskGroup, count: int) -> list[_Cursor]:
        """Start up to ``count`` more streams, within the client's stream budget."""
        opened: list[_Cursor] = []
        budget = self.owner.streams
        for _ in range(count):
            slot = object()
            if budget is not None:
                try:
                    budget.acquire_on_behalf_of_nowait(slot)
                except anyio.WouldBlock:
                    break
            work = self._take_work()
            if work is None:
                if budget is not None:
                    budget.release_on_behalf_of(slot)
                break
            group.start_soon(self._lane, work, slot if budget is not None else None)
            opened.append(work)
        return opened

    async def _control(self, group: anyio.abc.TaskGroup, lead: _Cursor, ramp: Ramp) -> None:
        if ramp.below_rate is None:
            await lead.answered.wait()  # the first answer tells whether ranges work
            self._open(group, ramp.ceiling - 1)
            return
        await lead.arrived.wait()
        round_trip = max(lead.round_trip or 0.0, 1e-3)
        window = window_for(round_trip)
        while True:
            rate = await self._measure(window)
            if rate is None:
                return  # everything arrived already
            want = ramp.next_step(rate)
            logger.debug(
                "%s: %d stream(s) at %.1f MB/s (round trip %.0f ms): %s",
                self.spec.label,
                ramp.streams,
                rate / 1e6,
                round_trip * 1000,
                f"{want} more" if want else "no more",
            )
            if not want:
                return
            self.head_start = min_split(0, rate / ramp.streams, round_trip)
            self.smallest = max(self.config.segment_piece_min, self.head_start)
            opened = self._open(group, want)
            ramp.opened(len(opened))
            if not opened:
                return
            # Their first bytes: a connection setup and a round trip. Bounded, so one stuck
            # stream cannot hold the ramp (it then counts as not having helped).
            with anyio.move_on_after(max(20 * round_trip, 2.0)):
                for cursor in opened:
                    await cursor.arrived.wait()

    async def _measure(self, window: float) -> float | None:
        """The aggregate rate over ``window`` seconds; ``None`` if every stream ended."""
        before, started = self.received, time.monotonic()
        with anyio.move_on_after(window):
            await self.idle.wait()
        if self.idle.is_set():
            return None
        return (self.received - before) / max(time.monotonic() - started, 1e-6)

    # -- one stream with its retry budget -----------------------------------------------------
    async def _fetch(self, cursor: _Cursor) -> None:
        budget = RetryBudget(self.config.download_retries)
        while cursor.end is None or cursor.pos < cursor.end:
            before = cursor.pos
            cursor.seen = cursor.pos
            try:
                failure = await self._attempt(cursor, budget)
            except FlowApiError as exc:
                # Statuses were retried by the HTTP layer already; only 416 means something.
                if exc.status_code != 416:
                    raise
                if self._satisfied(exc, cursor):
                    return
                raise IntegrityError(
                    f"{self.spec.label}: the server's file is shorter than expected "
                    f"(416 at byte {cursor.pos})"
                ) from None
            if failure is None:
                return
            # The body was cut mid-stream: resume at the exact byte. Bytes that arrived
            # refill the budget, except a trickle's (a stall, #14).
            if cursor.pos > before and not isinstance(failure, StallError):
                budget.refill()
            if not budget.spend():
                raise failure
            if cursor.pos == before:
                await anyio.sleep(
                    backoff_delay(
                        budget.used - 1,
                        initial=self.config.backoff_initial,
                        maximum=self.config.backoff_max,
                    )
                )

    def _satisfied(self, exc: FlowApiError, cursor: _Cursor) -> bool:
        """416: done if the server's size equals what we already hold
        (docs/protocol.md §8 row 22)."""
        answered = parse_content_range(exc.headers.get("content-range"))
        total = answered.total if answered is not None else None
        if total is None or total != cursor.pos:
            return False
        if self.size is None:
            self.size = total
            self.state.size = total
        return total == self.size

    def _headers(self, cursor: _Cursor) -> dict[str, str]:
        # identity: byte offsets must match the file on disk (design note transfers.md).
        headers = {"Accept-Encoding": "identity"}
        whole = cursor.pos == 0 and (cursor.end is None or cursor.end == self.size)
        if not whole:
            headers["Range"] = range_header(cursor.pos, cursor.end)
            validator = self.state.validator
            if validator:
                headers["If-Range"] = validator
        return headers

    async def _attempt(self, cursor: _Cursor, budget: RetryBudget) -> FlowTransportError | None:
        """One request; ``None`` when the cursor's range (or the whole body) is complete,
        else why the body ended early (the caller resumes from ``cursor.pos``)."""
        headers = self._headers(cursor)
        sent = time.monotonic()
        async with self.spec.open(headers, budget) as response:
            await self._accept(response, cursor, ranged="Range" in headers)
            if cursor.round_trip is None:
                cursor.round_trip = time.monotonic() - sent
            cursor.answered.set()
            try:
                await self._pump(response, cursor)
            except FlowTransportError as exc:
                return exc  # cut, read timeout or stall while reading the body
        if cursor.end is not None:
            finished = cursor.pos >= cursor.end
        elif self.size is None:
            self.size = self.state.size = cursor.pos  # no length given: EOF is the end
            finished = True
        else:
            finished = cursor.pos >= self.size
        if finished:
            return None
        return _ShortBody(f"{self.spec.label}: the server closed the stream early")

    async def _accept(self, response: StreamLike, cursor: _Cursor, *, ranged: bool) -> None:
        """Check the status and headers against what we asked for; adopt size/validators."""
        status = response.status_code
        headers = response.headers
        if status == 206:
            answered = parse_content_range(headers.get("content-range"))
            if answered is None or answered.start != cursor.pos:
                raise TransferError(
                    f"{self.spec.label}: asked for bytes from {cursor.pos}, "
                    f"got {headers.get('content-range')!r}"
                )
            self._adopt_size(answered.total)
        elif status == 200:
            length = headers.get("content-length")
            self._adopt_size(int(length) if length and length.isdigit() else None)
            if ranged:
                # The server ignored Range (or If-Range said the file changed): start over.
                if self.parallel:
                    raise _RangesRefused
                assert self.part is not None
                await anyio.to_thread.run_sync(self.part.reset)
                self.progress.reset(self.task, 0)
                cursor.pos = cursor.seen = 0
                cursor.end = self.size
        else:
            raise TransferError(f"{self.spec.label}: unexpected HTTP {status} for a download")
        self.state.etag = headers.get("etag") or self.state.etag
        self.state.last_modified = headers.get("last-modified") or self.state.last_modified

    def _adopt_size(self, total: int | None) -> None:
        if total is None:
            return
        if self.size is None:
            self.size = self.state.size = total
            self._check_space()
        elif total != self.size:
            # The part is discarded by `run` once every stream has stopped: closing it here
            # could pull the descriptor from under a parallel writer.
            raise IntegrityError(
                f"{self.spec.label}: the server sends {total:,} bytes, Flow recorded {self.size:,}"
            )

    async def _pump(self, response: StreamLike, cursor: _Cursor) -> None:
        """Body → buffers → a writer thread and an md5 thread, both overlapping the network.

        Each stream keeps at most a buffer being filled, one queued for each consumer and
        one in each thread, so memory stays a few buffers per stream (``_config`` bound).
        A body that fits in one buffer skips the pipeline: one thread call writes and
        hashes it (many small files are dominated by per-file overhead).
        """
        assert self.part is not None
        part = self.part
        chunks = aiter(response.aiter_raw())
        # Parallel streams share the buffer budget so memory does not grow with segments.
        limit = self.config.download_buffer_size
        if len(self.lanes) > 1:
            limit = max(256 * 1024, limit // len(self.lanes))
        offset = cursor.pos
        pending, size, failure, ended = await self._fill(chunks, cursor, offset, limit)
        if ended:
            if pending and size <= self.config.download_inline_max:
                # A small body: a thread hop (and the GIL hand-over it causes) costs more
                # than writing and hashing a few hundred KiB right here.
                part.record_and_hash(offset, pending)
                cursor.pos = offset + size
            elif pending:
                await anyio.to_thread.run_sync(part.record_and_hash, offset, pending)
                cursor.pos = offset + size
            if failure is not None:
                raise failure
            return

        to_writer, writes = anyio.create_memory_object_stream[tuple[int, list[bytes]]](1)
        to_hasher, hashes = anyio.create_memory_object_stream[tuple[int, list[bytes]]](1)

        async def writer() -> None:
            async with writes:
                async for at, items in writes:
                    written = await anyio.to_thread.run_sync(part.record, at, items)
                    cursor.pos = at + written

        async def hasher() -> None:
            async with hashes:
                async for at, items in hashes:
                    await anyio.to_thread.run_sync(part.hash_chunks, at, items, at)

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(writer)
                group.start_soon(hasher)
                async with to_writer, to_hasher:
                    while pending:
                        await to_writer.send((offset, pending))
                        await to_hasher.send((offset, pending))
                        offset += size
                        if ended:
                            break
                        pending, size, failure, ended = await self._fill(
                            chunks, cursor, offset, limit
                        )
        except BaseExceptionGroup as grouped:
            raise first_error(grouped) from None
        if failure is not None:
            raise failure  # what arrived before the failure is on disk: resume from there

    async def _fill(
        self, chunks: AsyncIterator[bytes], cursor: _Cursor, offset: int, limit: int
    ) -> tuple[list[bytes], int, Exception | None, bool]:
        """Gather up to ``limit`` bytes: ``(chunks, size, failure, body_ended)``."""
        pending: list[bytes] = []
        size = 0
        try:
            while size < limit:
                chunk = await anext(chunks, b"")
                # cursor.end may have moved back while we waited: a new stream took the rest.
                if cursor.end is not None and len(chunk) > cursor.end - offset - size:
                    room = cursor.end - offset - size
                    if self.size is not None and cursor.end >= self.size:
                        # More than the whole file: a record and a body that disagree are
                        # refused, never cut to fit and reported complete (#14).
                        raise IntegrityError(
                            f"{self.spec.label}: the server sends more than the "
                            f"{self.size:,} bytes Flow recorded"
                        )
                    chunk = chunk[:room]  # a range answer longer than asked: not ours
                if not chunk:
                    return pending, size, None, True
                pending.append(chunk)
                size += len(chunk)
                cursor.seen = offset + size
                self.received += len(chunk)
                if not cursor.arrived.is_set():
                    cursor.arrived.set()
                self.progress.advance(self.task, len(chunk))
        except Exception as exc:
            return pending, size, exc, True  # keep what arrived; the caller re-raises
        return pending, size, None, False

    async def _finish(self) -> DownloadResult:
        assert self.part is not None
        part = self.part
        length = os.fstat(part.fd).st_size
        expected = self.size if self.size is not None else length
        if part.hashed < expected:  # bytes from an earlier call or out-of-order pieces
            await anyio.to_thread.run_sync(part.hash_chunks, expected, None, expected)
        if length != expected or self.state.prefix != expected or part.hashed != expected:
            raise IntegrityError(
                f"{self.spec.label}: got {self.state.prefix:,} of {expected:,} bytes"
            )
        digest = part.md5.hexdigest()
        if self.spec.md5 and digest != self.spec.md5.strip().lower():
            raise IntegrityError(
                f"{self.spec.label}: md5 mismatch (expected {self.spec.md5}, got {digest}); "
                "the damaged copy was removed"
            )
        part.commit()
        return DownloadResult(
            path=self.spec.dest, size=length, md5=digest, resumed_from=self.resumed_from
        )
