"""Held-tail pipelining: one file's chunks on several connections, still in order (#13).

Flow appends a chunk only when its offset equals the bytes it holds (docs/protocol.md §3.2,
§3.8), so one file's chunks go one after another, and over a link that caps each connection
(a per-connection rate limit, a window over a long round trip) a file uploads no faster than
one connection. But a server acts on a chunk only once its whole body is in. So once the
first chunk has fixed the upload's id, later chunks can already be on the wire, each on its
own connection, each holding back its last bytes, the fields and the closing boundary
(:class:`~flowbio_async._transfers._multipart.HeldTailBody`) until the chunk before it has
been acknowledged. The server still receives complete chunks strictly in order, one after
another: it cannot tell this from a sequential client, and the wire protocol is unchanged.

* Only when it pays (:class:`Gauge`): the engine starts sequentially and pipelines once
  two chunks in a row (after the first, which creates the upload; of 256 KiB or more)
  went slower than ``upload_below_rate``, with two chunks or more left.
* Memory: at most ``upload_streams`` bodies in flight, each at most :data:`PIPELINE_CHUNK`,
  streamed from the file in 1 MiB reads (a few MiB in all, whatever the file size).
* Order: chunks are acknowledged in file order only. The first one that fails, or whose hold
  ran out, stops the pipeline: every later request is abandoned before its held bytes go
  out (the server drops an incomplete body and stores nothing), and the engine retries that
  chunk by its usual rules before it pipelines again.
* Bounded waits: a held request waits for its predecessor at most ``request_timeout / 2``
  after its last piece went out, then gives up by itself (not counted as a failure); the HTTP
  layer, which re-arms ``request_timeout`` per piece, never sees the wait as a stall.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from flowbio_async._errors import FlowApiError
from flowbio_async._retry import RETRYABLE_STATUSES
from flowbio_async._transfers._budget import ByteBudget
from flowbio_async._transfers._chunks import ChunkSizer
from flowbio_async._transfers._multipart import HeldTailBody

if TYPE_CHECKING:
    from flowbio_async._config import ClientConfig
    from flowbio_async._transfers._upload import ChunkPoster

logger = logging.getLogger("flowbio_async")

MiB = 1024 * 1024
PIPELINE_CHUNK = 4 * MiB
"""Largest pipelined chunk: enough to amortise a round trip per chunk, small enough that a
chunk abandoned after a failure costs little to send again."""
PIPELINE_MEMORY = 3 * MiB
"""What one pipelined connection holds in memory at most (1 MiB pieces read from the file,
one read ahead by the HTTP layer, one in the socket's writer): its share of the client's
``upload_memory``, taken for the pipeline's lifetime."""
MIN_JUDGED = 256 * 1024
"""Chunks smaller than this say more about per-request costs than about the link: they are
not judged, so a file sent in small chunks (a small ``max_chunk_size``) stays sequential."""
MAX_STOPS = 3
"""After this many stopped pipelines (failures, holds that ran out) a file goes on alone."""
PAYS = 1.25
"""Pipelining goes on only if, over its first ``2 × streams`` chunks, it moved at least this
many times the bytes per second of the chunks sent alone before it."""

ChunkForm = Callable[[int, bool, str], dict[str, str | list[str]]]
"""The form fields of the chunk at an offset: ``form(offset, is_last, data_id)``."""
Acknowledge = Callable[[int, float, Mapping[str, Any]], str]
"""Called in file order for each acknowledged chunk with its length, its seconds on the
wire (holds excluded) and its answer; returns the upload id for the chunks that follow."""


@dataclass
class Gauge:
    """Whether pipelining pays, from the rates of the chunks sent alone.

    Example:
        ```python
        gauge = Gauge(streams=4, below_rate=64 * MiB)
        gauge.observe(1_000_000, 0.14)
        gauge.observe(1_000_000, 0.13)
        gauge.wants(more_than_one_chunk=True, data_id="17")  # True: 7 MB/s is slow
        ```
    """

    streams: int
    below_rate: int | None
    rates: list[float] = field(default_factory=list)
    stops: int = 0

    @classmethod
    def of(cls, config: ClientConfig) -> Gauge:
        return cls(config.upload_streams, config.upload_below_rate)

    def observe(self, sent: int, elapsed: float) -> None:
        """Record a chunk sent alone (``sent`` bytes acknowledged after ``elapsed`` seconds)."""
        if sent < MIN_JUDGED:
            return
        self.rates.append(sent / max(elapsed, 1e-6))
        del self.rates[:-2]

    @property
    def reference(self) -> float | None:
        """The rate pipelining must beat (``PAYS`` times), ``None`` when it is not judged."""
        return max(self.rates) if self.rates and self.below_rate is not None else None

    def stopped(self, *, for_good: bool = False) -> None:
        """A pipeline stopped before the end of the file (``for_good``: never again)."""
        self.stops = MAX_STOPS if for_good else self.stops + 1
        self.rates.clear()  # judge again on fresh chunks sent alone

    def wants(self, *, more_than_one_chunk: bool, data_id: str) -> bool:
        """Pipeline the rest? Two chunks must remain, and the upload's id be known.

        The faster of the last two chunks observed decides (one slow chunk on a busy
        machine is not a slow link); the engine does not show it a file's first chunk,
        which pays for creating the upload and says little about the link.
        """
        if self.streams < 2 or not data_id or not more_than_one_chunk:
            return False
        if self.stops >= MAX_STOPS:
            return False
        if self.below_rate is None:
            return True
        return len(self.rates) >= 2 and max(self.rates) < self.below_rate


class HoldEnded(Exception):
    """A held request gave up before its last bytes: its predecessor failed, or took too long."""


class _Gate:
    """Opens when the chunk before is acknowledged; closes for good when it never will be."""

    def __init__(self, budget: float) -> None:
        self._budget = budget
        self._event = anyio.Event()
        self.state = "held"
        self.waited = 0.0
        self.passed = False
        """Whether a body went past the gate: its whole chunk may have reached the server."""

    @property
    def expired(self) -> bool:
        return self.state == "expired"

    def open(self) -> None:
        if self.state == "held":
            self.state = "open"
            self._event.set()

    def close(self) -> None:
        if self.state == "held":
            self.state = "closed"
            self._event.set()

    async def wait(self, handed: float) -> None:
        """The body's release: return once open; ``handed`` starts the hold's budget."""
        started = anyio.current_time()
        with anyio.move_on_after(max(0.0, handed + self._budget - started)):
            await self._event.wait()
        self.waited += anyio.current_time() - started
        if self.state == "open":
            self.passed = True
            return
        if self.state == "held":
            self.state = "expired"
        raise HoldEnded(f"held chunk released neither in time nor at all ({self.state})")


@dataclass(eq=False)
class _Slot:
    """One chunk request of the pipeline."""

    offset: int
    length: int
    gate: _Gate
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)
    answer: dict[str, Any] | None = None
    error: Exception | None = None
    elapsed: float = 0.0

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class Stop:
    """The pipeline stopped before the end of the file, at the first unacknowledged chunk."""

    error: Exception | None
    """Why that chunk failed (the engine retries it by its rules); ``None`` when nothing
    failed (a hold ran out, the upload id changed, no spare connection)."""
    length: int = 0
    """The failed chunk's length (a 413 shrinks below it)."""
    for_good: bool = False
    """The rest of the file goes alone: the server refused a pipelined chunk (it may check
    a chunk before its body is in), or pipelining did not pay."""


def _judged_alone(error: FlowApiError) -> bool:
    """Failures the engine's retry rules handle as they are: 413, 429, 502/503/504."""
    return error.status_code == 413 or error.status_code in RETRYABLE_STATUSES


class Pipeline:
    """Sends one file's remaining chunks on up to ``config.upload_streams`` connections.

    Example:
        ```python
        pipeline = Pipeline(http, config, "upload", "reads.fq", fd, size, sizer,
                            form=form, acknowledge=acknowledge)
        outcome = await pipeline.run(offset, data_id)   # the last answer, or a Stop
        ```
    """

    def __init__(
        self,
        http: ChunkPoster,
        config: ClientConfig,
        endpoint: str,
        filename: str,
        fd: int,
        size: int,
        sizer: ChunkSizer,
        *,
        form: ChunkForm,
        acknowledge: Acknowledge,
        streams: anyio.CapacityLimiter | None = None,
        memory: ByteBudget | None = None,
    ) -> None:
        self._http = http
        self._endpoint = endpoint
        self._filename = filename
        self._fd = fd
        self._size = size
        self._sizer = sizer
        self._form = form
        self._acknowledge = acknowledge
        self._streams = streams
        self._memory = memory
        self._width = config.upload_streams
        self._budget = config.request_timeout.total_seconds() / 2
        # Set by run(): whether it pays (against the rate alone), measured from its start.
        self._reference: float | None = None
        self._running = 1
        self._started = 0.0
        self._acked = self._acked_bytes = 0

    async def run(
        self, offset: int, data_id: str, reference: float | None = None
    ) -> dict[str, Any] | Stop:
        """Send from ``offset`` (acknowledged; ``data_id`` fixed) to the end, or stop early.

        With a ``reference`` rate (bytes/s of the chunks sent alone), stop for good once the
        first ``2 × streams`` chunks show that pipelining does not pay (a busy machine, a
        link capped as a whole rather than per connection).
        """
        self._reference = reference
        self._running = 1
        self._started = time.monotonic()
        self._acked = self._acked_bytes = 0
        tokens = self._take_streams()
        # Each connection's pieces come out of the client's upload memory too; what the
        # budget cannot give now (many files at once) is not waited for: fewer connections.
        shares = self._take_memory(1 + len(tokens))
        for token in tokens[max(0, shares - 1) :]:
            self._release_stream(token)
        tokens = tokens[: max(0, shares - 1)]
        width = self._running = 1 + len(tokens)
        if width < 2:
            self._release_memory(shares)
            return Stop(None)  # no spare connection (or memory) in the client's budgets
        logger.debug("%s: pipelining from byte %d on %d connections", self._filename, offset, width)
        slots: deque[_Slot] = deque()
        outcome: dict[str, Any] | Stop | None = None
        try:
            async with anyio.create_task_group() as group:
                planned = offset
                while outcome is None:
                    while len(slots) < width and planned < self._size:
                        length = self._sizer.span(self._size - planned, PIPELINE_CHUNK)
                        if planned + length >= self._size and slots:
                            # The last chunk goes alone, once every chunk before it is
                            # acknowledged: it is the one whose answer creates things (a
                            # sample, on /upload/sample) and whose resend, should the first
                            # answer be lost, may not be taken as a repeat (chaos seed 7).
                            break
                        slot = _Slot(planned, length, _Gate(self._budget))
                        if not slots:
                            slot.gate.open()  # its predecessor is acknowledged already
                        slots.append(slot)
                        group.start_soon(self._send, slot, data_id)
                        planned = slot.end
                    head = slots.popleft()
                    await head.done.wait()
                    outcome = self._settle(head, data_id, slots)
                # Abandon the rest before their held bytes go out: the server stores none.
                for slot in slots:
                    slot.gate.close()
                    slot.scope.cancel()
        finally:
            for slot in slots:
                slot.gate.close()  # also on cancellation: wake every held body
            for token in tokens:
                self._release_stream(token)
            self._release_memory(shares)
        assert outcome is not None  # the loop ends only with one
        if isinstance(outcome, Stop):
            reason = type(outcome.error).__name__ if outcome.error else "no failure"
            logger.debug("%s: pipeline stopped (%s)", self._filename, reason)
        return outcome

    def _take_streams(self) -> list[object]:
        """Tokens for the connections beyond the first, within the client's stream budget."""
        tokens: list[object] = []
        for _ in range(self._width - 1):
            token = object()
            if self._streams is not None:
                try:
                    self._streams.acquire_on_behalf_of_nowait(token)
                except anyio.WouldBlock:
                    break
            tokens.append(token)
        return tokens

    def _release_stream(self, token: object) -> None:
        if self._streams is not None:
            self._streams.release_on_behalf_of(token)

    def _take_memory(self, wanted: int) -> int:
        """Up to ``wanted`` connections' shares of the upload memory, without waiting."""
        if self._memory is None:
            return wanted
        shares = 0
        while shares < wanted and self._memory.take_nowait(PIPELINE_MEMORY):
            shares += 1
        return shares

    def _release_memory(self, shares: int) -> None:
        if self._memory is not None and shares:
            self._memory.release(shares * PIPELINE_MEMORY)

    def _settle(
        self, head: _Slot, data_id: str, rest: deque[_Slot]
    ) -> dict[str, Any] | Stop | None:
        """The oldest chunk's outcome: stop, finish, or open the next chunk's gate."""
        if head.gate.expired:
            return Stop(None)
        if isinstance(head.error, FlowApiError) and not _judged_alone(head.error):
            # A refusal (400, 404...) of a chunk sent while another was being answered may
            # come from a server that checks the offset before the body is in. Only the
            # same refusal of the chunk sent alone is the server's verdict.
            logger.debug("%s: refused while pipelined: %s", self._filename, head.error)
            return Stop(None, head.length, for_good=True)
        if head.error is not None or head.answer is None:
            error = head.error or HoldEnded("chunk request ended without an answer")
            return Stop(error, head.length)
        if not head.gate.passed:
            # An answer before the chunk's last bytes were sent acknowledges nothing: send it
            # again whole, alone.
            logger.debug("%s: answer to an incomplete chunk at %d", self._filename, head.offset)
            return Stop(None)
        following = self._acknowledge(head.length, head.elapsed, head.answer)
        if head.end >= self._size:
            return head.answer
        if following != data_id:
            return Stop(None)  # the later chunks carry the old id: send them again
        if not self._pays(head):
            return Stop(None, for_good=True)
        if rest:
            rest[0].gate.open()
        return None

    def _pays(self, head: _Slot) -> bool:
        """False once the first chunks moved less than ``PAYS`` times the reference rate.

        Measured from the pipeline's start, so the chunks that were sent side by side and
        answered in a burst do not flatter it."""
        self._acked += 1
        self._acked_bytes += head.length
        if self._reference is None or self._acked != 2 * self._running:
            return True
        rate = self._acked_bytes / max(time.monotonic() - self._started, 1e-6)
        logger.debug(
            "%s: pipelined at %.1f MB/s against %.1f MB/s alone",
            self._filename,
            rate / 1e6,
            self._reference / 1e6,
        )
        return rate >= PAYS * self._reference

    async def _send(self, slot: _Slot, data_id: str) -> None:
        try:
            with slot.scope:
                started = time.monotonic()
                is_last = slot.end >= self._size
                body = HeldTailBody(
                    self._form(slot.offset, is_last, data_id),
                    "blob",
                    self._filename,
                    self._fd,
                    slot.offset,
                    slot.length,
                    slot.gate.wait,
                )
                try:
                    response = await self._http.request(
                        "POST", self._endpoint, body=body, headers=body.headers, retry=False
                    )
                    answer = response.json()
                except Exception as exc:  # judged in file order by _settle
                    slot.error = exc
                else:
                    slot.answer = answer if isinstance(answer, dict) else {"id": answer}
                slot.elapsed = max(1e-6, time.monotonic() - started - slot.gate.waited)
        finally:
            slot.done.set()
