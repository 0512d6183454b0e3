"""The chunked upload engine (issue #3, docs/protocol.md §3): one file, one chunk series.

It knows nothing of URL paths or resources: callers hand it an endpoint, a file, the stored
name and the extra form fields of their endpoint. What it adds over the official client:

* the next chunk is read from disk (in a worker thread, with ``os.pread``) while the current
  one is on the wire, so at most two chunks are in memory whatever the file size;
* chunk sizes adapt (``_chunks.ChunkSizer``): grow while fast, shrink on 413 or timeouts;
* each chunk is retried on timeouts, dropped connections, 429 and 502/503/504 with backoff,
  honouring ``Retry-After`` (docs/protocol.md §3.8; the protocol is idempotent on the byte offset);
  401 refresh-and-resend is done by the HTTP layer;
* a resume record (``_resume``) after every acknowledged chunk lets a later call continue an
  upload that was interrupted by a crash, Ctrl-C or an exhausted retry budget;
* over a slow link (two chunks in a row below ``upload_below_rate``) the rest of the file is
  pipelined on up to ``upload_streams`` connections, still acknowledged strictly in order
  (``_upload_pipeline``, #13); any failure there comes back here and is retried alone.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.abc

from flowbio_async._errors import (
    BadRequestError,
    FlowApiError,
    FlowConnectionError,
    FlowTimeoutError,
    NotFoundError,
    PayloadTooLargeError,
)
from flowbio_async._retry import RETRYABLE_STATUSES, backoff_delay, retry_after_seconds
from flowbio_async._tasks import first_error
from flowbio_async._transfers._budget import ByteBudget
from flowbio_async._transfers._chunks import ChunkSizer
from flowbio_async._transfers._multipart import ChunkBody, read_exact
from flowbio_async._transfers._resume import ResumeRecord, ResumeStore, upload_key
from flowbio_async._transfers._upload_pipeline import PIPELINE_CHUNK, Gauge, Pipeline, Stop

if TYPE_CHECKING:
    from flowbio_async._config import ClientConfig
    from flowbio_async._progress import Progress

FormFields = Mapping[str, str | Sequence[str]]
"""Extra multipart fields of an endpoint; sequences become repeated parts
(docs/protocol.md §3.2)."""


class _Response(Protocol):
    status_code: int

    def json(self) -> Any: ...


class ChunkPoster(Protocol):
    """The slice of ``HttpClient`` the engine uses (kept narrow so tests can see it)."""

    base_url: str

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = ...,
        retry: bool | None = ...,
        body: bytes | AsyncIterable[bytes] | None = ...,
    ) -> _Response: ...


ProgressCallback = Callable[[int], None]
"""Called with the number of bytes the server just acknowledged (negative to roll back)."""


@dataclass(frozen=True, slots=True)
class UploadJob:
    """One file to send to one endpoint."""

    endpoint: str
    path: Path
    filename: str
    fields: FormFields

    @property
    def key_fields(self) -> dict[str, str | list[str]]:
        return {k: v if isinstance(v, str) else list(v) for k, v in self.fields.items()}


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, FlowConnectionError | FlowTimeoutError):
        return True
    return isinstance(exc, FlowApiError) and exc.status_code in RETRYABLE_STATUSES


class _Prefetch:
    """A chunk being read from disk in a worker thread while another one is on the wire.

    Its bytes come out of the client's upload memory budget (``ClientConfig.upload_memory``)
    before the read starts, and go back when the chunk is dropped: sent, replaced, or not
    needed any more.
    """

    def __init__(self, fd: int, offset: int, length: int, budget: ByteBudget | None) -> None:
        self.offset = offset
        self.length = length
        self._fd = fd
        self._budget = budget
        self._held = 0
        self._dropped = False
        self._done = anyio.Event()
        self._data: bytes = b""
        self._error: Exception | None = None

    async def run(self) -> None:
        try:
            if self._budget is not None:
                self._held = await self._budget.acquire(self.length)
            self._data = await anyio.to_thread.run_sync(
                read_exact, self._fd, self.length, self.offset
            )
        except Exception as exc:  # handed to the awaiting side, re-raised there
            self._error = exc
        finally:
            self._done.set()
            if self._dropped:  # dropped while reading: nobody else will give it back
                self._give_back()

    async def result(self) -> bytes:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        # Hand the bytes over and forget them: this object may be referenced for longer than
        # the chunk is needed (by the finished task), and must not pin its memory.
        data, self._data = self._data, b""
        return data

    @property
    def dropped(self) -> bool:
        """``True`` once :meth:`drop` was called."""
        return self._dropped

    def drop(self) -> None:
        """The chunk is not needed any more: give its bytes back to the budget (now, or
        when a read still running ends). Safe to call more than once."""
        self._dropped = True
        self._data = b""
        if self._done.is_set():
            self._give_back()

    def _give_back(self) -> None:
        if self._held and self._budget is not None:
            self._budget.release(self._held)
            self._held = 0


class ChunkedUploader:
    """Sends files through the Flow chunk protocol with read-ahead, retries and resume.

    Example:
        ```python
        uploader = ChunkedUploader(
            http, config, limiter, streams=ctx.streams, memory=ctx.upload_memory
        )
        job = UploadJob("upload", Path("reads.fq"), "reads.fq", {})
        final = await uploader.upload(job)
        ```
    """

    def __init__(
        self,
        http: ChunkPoster,
        config: ClientConfig,
        limiter: anyio.CapacityLimiter | None = None,
        *,
        streams: anyio.CapacityLimiter | None = None,
        memory: ByteBudget | None = None,
    ) -> None:
        self._http = http
        self._config = config
        self._limiter = limiter
        self._streams = streams
        """The client's budget of extra connections (``ClientContext.streams``): a pipelined
        upload takes its connections beyond the first from it, as parallel downloads do."""
        self._memory = memory
        """The client's budget of chunk bytes in memory (``ClientContext.upload_memory``)."""
        self._store = ResumeStore(config.state_dir)

    def key(self, job: UploadJob) -> str:
        """The resume-record key of ``job``."""
        return upload_key(
            server=self._http.base_url,
            endpoint=job.endpoint.strip("/"),
            path=job.path,
            filename=job.filename,
            fields=job.key_fields,
        )

    def forget(self, job: UploadJob) -> None:
        """Drop any resume record of ``job`` (e.g. once a multi-file sample is complete)."""
        self._store.forget(self.key(job))

    async def upload(
        self,
        job: UploadJob,
        *,
        on_progress: ProgressCallback | None = None,
        resume: bool = True,
        keep_record: bool = False,
    ) -> dict[str, Any]:
        """Upload ``job.path`` and return the JSON of the last chunk's response.

        ``keep_record`` leaves a completed record behind, so a caller chaining several files
        (a paired sample) can skip files already sent when it is called again.
        """
        limiter = self._limiter
        if limiter is None:
            return await self._upload(job, on_progress, resume, keep_record)
        async with limiter:
            return await self._upload(job, on_progress, resume, keep_record)

    async def _upload(
        self,
        job: UploadJob,
        on_progress: ProgressCallback | None,
        resume: bool,
        keep_record: bool,
    ) -> dict[str, Any]:
        sent = 0

        def report(n: int) -> None:
            nonlocal sent
            sent += n
            if on_progress is not None:
                on_progress(n)

        key = self.key(job)
        stat = job.path.stat()
        base = ResumeRecord(
            endpoint=job.endpoint.strip("/"),
            path=str(job.path),
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            filename=job.filename,
            data_id="",
            offset=0,
        )
        record: ResumeRecord | None = None
        if resume:
            record = self._store.load(key, job.path)
        else:
            self._store.forget(key)
        if record is not None and record.complete:
            report(record.size)
            return dict(record.response)
        start = record if record is not None and 0 < record.offset <= base.size else base
        try:
            try:
                final = await self._send_from(job, start, key, report, resume)
            except (BadRequestError, NotFoundError):
                if start.offset == 0:
                    raise
                # The server no longer knows this upload (expired, other user, a fresh
                # store): docs/protocol.md §8 row 10 says start the file again from 0.
                self._store.forget(key)
                report(-sent)
                final = await self._send_from(job, base, key, report, resume)
        except FlowApiError as exc:
            if not _retryable(exc):
                # Refused for good (validation, permissions): nothing worth resuming. A
                # record survives only interruptions: exhausted retries, crashes, Ctrl-C.
                self._store.forget(key)
            raise
        if resume and keep_record:
            done = base.advanced(_next_data_id(final), base.size)
            self._store.save(key, replace(done, complete=True, response=final))
        else:
            self._store.forget(key)
        return final

    async def _send_from(
        self,
        job: UploadJob,
        start: ResumeRecord,
        key: str,
        report: ProgressCallback,
        persist: bool,
    ) -> dict[str, Any]:
        config = self._config
        sizer = ChunkSizer(initial=config.chunk_size, maximum=config.max_chunk_size)
        if start.offset:
            report(start.offset)  # bytes the server already holds from an earlier attempt
        fd = os.open(job.path, os.O_RDONLY)
        try:
            return await self._send_chunks(job, start, key, report, persist, fd, sizer)
        except ExceptionGroup as group:
            # The read-ahead task group wraps errors; callers want the typed error itself.
            raise first_error(group) from None
        finally:
            os.close(fd)

    async def _send_chunks(
        self,
        job: UploadJob,
        start: ResumeRecord,
        key: str,
        report: ProgressCallback,
        persist: bool,
        fd: int,
        sizer: ChunkSizer,
    ) -> dict[str, Any]:
        series = _Series(start, key, self._store, persist, report, start.offset, start.data_id)
        gauge = Gauge.of(self._config)
        stop: Stop | None = None
        while True:
            final = await self._sequential(job, fd, series, sizer, gauge, stop)
            if final is not None:
                return final

            def acknowledge(length: int, elapsed: float, answer: Mapping[str, Any]) -> str:
                sizer.record_success(length, elapsed)
                series.acknowledge(length, answer)
                return series.data_id

            pipeline = Pipeline(
                self._http,
                self._config,
                job.endpoint,
                job.filename,
                fd,
                start.size,
                sizer,
                form=functools.partial(_chunk_form, job),
                acknowledge=acknowledge,
                streams=self._streams,
                memory=self._memory,
            )
            outcome = await pipeline.run(series.offset, series.data_id, gauge.reference)
            if not isinstance(outcome, Stop):
                return outcome
            gauge.stopped(for_good=outcome.for_good)
            stop = outcome

    async def _sequential(
        self,
        job: UploadJob,
        fd: int,
        series: _Series,
        sizer: ChunkSizer,
        gauge: Gauge,
        stop: Stop | None,
    ) -> dict[str, Any] | None:
        """Chunks one at a time from ``series.offset``: the last answer, or ``None`` once
        pipelining should take over (``gauge``). ``stop`` is how a pipeline ended: its failed
        chunk is retried here first, by the usual rules."""
        size = series.start.size
        attempt = 0
        if stop is not None and stop.error is not None:
            attempt, _ = await self._recover(stop.error, 0, sizer, stop.length)
        offset = series.offset
        made: list[_Prefetch] = []  # at most the chunk being sent and the one read ahead
        try:
            async with anyio.create_task_group() as tg:
                pending = self._prefetch(tg, made, fd, offset, sizer.span(size - offset))
                while True:
                    current = pending
                    chunk = await current.result()
                    if not sizer.fits(len(chunk)):  # shrunk since this read was started
                        chunk = chunk[: sizer.size]
                    end = offset + len(chunk)
                    if end < size:
                        pending = self._prefetch(tg, made, fd, end, sizer.span(size - end))
                    try:
                        response, chunk, elapsed = await self._post_chunk(
                            job, chunk, offset, series.data_id, size, sizer, attempt
                        )
                        sent = len(chunk)
                    finally:
                        current.drop()
                    del chunk  # its budget is given back: the bytes go with it
                    attempt = 0
                    series.acknowledge(sent, response)
                    end = series.offset
                    if end >= size:
                        return response
                    if offset:  # the first chunk creates the upload: no measure of the link
                        gauge.observe(sent, elapsed)
                    remaining = size - end
                    if gauge.wants(
                        more_than_one_chunk=sizer.span(remaining, PIPELINE_CHUNK) < remaining,
                        data_id=series.data_id,
                    ):
                        tg.cancel_scope.cancel()  # the read-ahead is not needed any more
                        return None
                    if pending.offset != end or not sizer.fits(pending.length):
                        # A 413/timeout shrank this chunk; the read-ahead no longer lines up.
                        pending.drop()
                        pending = self._prefetch(tg, made, fd, end, sizer.span(size - end))
                    offset = end
        finally:
            for prefetch in made:  # every read has ended: what is still held goes back
                prefetch.drop()
        raise AssertionError("unreachable: the loop returns")

    def _prefetch(
        self, tg: anyio.abc.TaskGroup, made: list[_Prefetch], fd: int, offset: int, length: int
    ) -> _Prefetch:
        # Dropped reads give their bytes back by themselves; forget them, so a long file
        # does not pile up one object per chunk.
        made[:] = [prefetch for prefetch in made if not prefetch.dropped]
        pending = _Prefetch(fd, offset, length, self._memory)
        made.append(pending)
        tg.start_soon(pending.run)
        return pending

    async def _post_chunk(
        self,
        job: UploadJob,
        chunk: bytes,
        offset: int,
        data_id: str,
        size: int,
        sizer: ChunkSizer,
        attempt: int = 0,
    ) -> tuple[dict[str, Any], bytes, float]:
        """POST one chunk with retries; returns the JSON answer, the bytes actually sent and
        the seconds the successful attempt took. ``attempt`` counts failures before."""
        while True:
            form = _chunk_form(job, offset, offset + len(chunk) >= size, data_id)
            started = time.monotonic()
            body = ChunkBody(form, "blob", job.filename, chunk)
            try:
                response = await self._http.request(
                    "POST",
                    job.endpoint,
                    body=body,
                    headers=body.headers,
                    retry=False,
                )
            except Exception as exc:
                attempt, shrunk = await self._recover(exc, attempt, sizer, len(chunk))
                if shrunk:
                    chunk = chunk[: sizer.size]
                continue
            finally:
                body.close()
            elapsed = time.monotonic() - started
            sizer.record_success(len(chunk), elapsed)
            answer = response.json()
            return (answer if isinstance(answer, dict) else {"id": answer}), chunk, elapsed

    async def _recover(
        self, exc: Exception, attempt: int, sizer: ChunkSizer, sent: int
    ) -> tuple[int, bool]:
        """After chunk attempt ``attempt`` of ``sent`` bytes failed with ``exc``: re-raise it,
        or wait as the retry rules say. Returns the failures counted so far and whether the
        chunk must shrink to ``sizer.size``."""
        config = self._config
        if isinstance(exc, PayloadTooLargeError):
            # 413: the server's body limit is below this chunk; halve and resend at the same
            # offset (not a failed attempt: nothing about the server is flaky).
            if not sizer.shrink(too_large=True, sent=sent):
                raise exc
            return attempt, True
        if not _retryable(exc) or attempt >= config.upload_retries:
            raise exc
        # A timeout, or a connection a proxy closed over a too-large body (instead of
        # answering 413), both say "smaller": halve and let it grow back.
        shrunk = isinstance(exc, FlowTimeoutError | FlowConnectionError) and sizer.shrink()
        hint = None
        if isinstance(exc, FlowApiError):
            hint = retry_after_seconds(exc.headers, cap=config.max_retry_after)
        delay = (
            hint
            if hint is not None
            else backoff_delay(attempt, initial=config.backoff_initial, maximum=config.backoff_max)
        )
        await anyio.sleep(delay)
        return attempt + 1, shrunk


@dataclass
class _Series:
    """Where one chunk series stands: what the server acknowledged, and its resume record."""

    start: ResumeRecord
    key: str
    store: ResumeStore
    persist: bool
    report: ProgressCallback
    offset: int
    data_id: str

    def acknowledge(self, length: int, answer: Mapping[str, Any]) -> None:
        """The next ``length`` bytes are acknowledged: progress, and the record advances."""
        self.offset += length
        self.data_id = _next_data_id(answer) or self.data_id
        self.report(length)
        if self.persist and self.offset < self.start.size:
            self.store.save(self.key, self.start.advanced(self.data_id, self.offset))


def _chunk_form(
    job: UploadJob, offset: int, is_last: bool, data_id: str
) -> dict[str, str | list[str]]:
    # docs/protocol.md §3.2: protocol fields first, then the endpoint's extra fields on every
    # chunk.
    return {
        "filename": job.filename,
        "expected_file_size": str(offset),
        "is_last": "true" if is_last else "false",
        "data": data_id,
        **job.key_fields,
    }


def _next_data_id(response: Mapping[str, Any]) -> str:
    # docs/protocol.md §8 row 8: the next chunk's `data` is `data_id` if present, else `id`.
    value = response.get("data_id") or response.get("id")
    return "" if value is None else str(value)


_task_numbers = itertools.count(1)


async def upload_with_progress(
    uploader: ChunkedUploader,
    job: UploadJob,
    progress: Progress,
    *,
    resume: bool = True,
    keep_record: bool = False,
) -> dict[str, Any]:
    """Run ``uploader.upload(job)`` as one progress task (bytes, rate, ETA)."""
    task_id = f"upload-{next(_task_numbers)}"
    progress.start(task_id, job.filename, job.path.stat().st_size)
    ok = False
    try:
        result = await uploader.upload(
            job,
            on_progress=lambda nbytes: progress.advance(task_id, nbytes),
            resume=resume,
            keep_record=keep_record,
        )
        ok = True
        return result
    finally:
        progress.finish(task_id, ok)
