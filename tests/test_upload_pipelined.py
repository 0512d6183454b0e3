"""Held-tail pipelining of one file's chunks (#13): the rule, the body, and the engine over
the local server's emulated network.

The server refuses a chunk whose offset is ahead of what it holds (docs/protocol.md §3.8),
so a chunk that reached it out of order fails the upload or shows up as a refused request;
these tests check every request the engine made (a recorder around the HTTP layer) and what
the server stored. Verdicts are on counts, offsets and md5s, never on time.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from test_fuzz_chunks import _parse_form  # the stdlib multipart parser, shared
from upload_helpers import DEMO, config, data_row, md5, random_file, rows

from flowbio_async import AsyncClient, FlowConnectionError, ServerError
from flowbio_async._transfers._chunks import ChunkSizer
from flowbio_async._transfers._multipart import HELD, HeldTailBody
from flowbio_async._transfers._upload import ChunkedUploader, UploadJob
from flowbio_async._transfers._upload_pipeline import (
    MAX_STOPS,
    MIN_JUDGED,
    PIPELINE_MEMORY,
    Gauge,
    HoldEnded,
    Pipeline,
    Stop,
)
from flowbio_async.testing import FlowServer

MiB = 1024 * 1024
BOUND = 120.0
METADATA = {"scientist": "Rosalind Franklin", "strandedness": "reverse", "replicate": "2"}


# -- the rule (no I/O) -----------------------------------------------------------------------
def test_two_slow_chunks_in_a_row_start_pipelining() -> None:
    gauge = Gauge(streams=4, below_rate=64 * MiB)
    gauge.observe(MiB, 0.14)  # 7.5 MB/s
    assert not gauge.wants(more_than_one_chunk=True, data_id="7")  # one chunk is no trend
    gauge.observe(2 * MiB, 0.24)
    assert gauge.wants(more_than_one_chunk=True, data_id="7")
    assert gauge.reference == pytest.approx(2 * MiB / 0.24)  # what pipelining must beat
    assert not gauge.wants(more_than_one_chunk=False, data_id="7")  # one chunk left
    assert not gauge.wants(more_than_one_chunk=True, data_id="")  # the upload's id unknown


def test_fast_chunks_small_chunks_and_one_stream_stay_sequential() -> None:
    fast = Gauge(streams=4, below_rate=64 * MiB)
    fast.observe(MiB, 0.1)  # a slow chunk on a busy machine...
    fast.observe(2 * MiB, 0.012)  # ...and a fast one: the link is fast
    assert not fast.wants(more_than_one_chunk=True, data_id="7")
    small = Gauge(streams=4, below_rate=64 * MiB)
    small.observe(MIN_JUDGED - 1, 1.0)
    small.observe(MIN_JUDGED - 1, 1.0)
    assert not small.wants(more_than_one_chunk=True, data_id="7")  # too small to judge
    alone = Gauge(streams=1, below_rate=None)
    assert not alone.wants(more_than_one_chunk=True, data_id="7")
    assert Gauge(streams=2, below_rate=None).wants(more_than_one_chunk=True, data_id="7")


def test_stopped_pipelines_are_judged_again_then_given_up() -> None:
    gauge = Gauge(streams=4, below_rate=64 * MiB)
    for _ in range(MAX_STOPS):
        gauge.observe(MiB, 0.2)
        gauge.observe(MiB, 0.2)
        assert gauge.wants(more_than_one_chunk=True, data_id="7")
        gauge.stopped()
        assert not gauge.wants(more_than_one_chunk=True, data_id="7")  # fresh rates first
        assert gauge.reference is None
    gauge.observe(MiB, 0.2)
    gauge.observe(MiB, 0.2)
    assert not gauge.wants(more_than_one_chunk=True, data_id="7")
    refused = Gauge(streams=4, below_rate=None)
    refused.observe(MiB, 0.1)
    assert refused.reference is None  # forced pipelining is not judged
    refused.stopped(for_good=True)
    assert not refused.wants(more_than_one_chunk=True, data_id="7")


# -- the body (no server) --------------------------------------------------------------------
def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.anyio
@pytest.mark.parametrize("length", [0, 10, HELD + 1, 3 * MiB + 7])
async def test_a_held_body_holds_back_only_its_last_bytes(tmp_path: Path, length: int) -> None:
    content = os.urandom(3 * MiB + 100)
    path = tmp_path / "f.bin"
    path.write_bytes(content)
    fields = {"filename": "f.bin", "expected_file_size": "50", "is_last": "false", "data": "9"}
    sent_before: list[int] = []
    pieces: list[bytes] = []

    async def release(handed: float) -> None:
        assert handed <= anyio.current_time()
        sent_before.append(sum(map(len, pieces)))

    fd = os.open(path, os.O_RDONLY)
    try:
        body = HeldTailBody(fields, "blob", "f.bin", fd, 50, length, release)
        for _ in range(2):  # iterable again (a resend after a 401 reads the file again)
            pieces.clear()
            async for piece in body:
                pieces.append(piece)
    finally:
        os.close(fd)
    raw = b"".join(pieces)
    assert len(raw) == len(body) == int(body.headers["Content-Length"])
    # With the HTTP layer's one piece of read-ahead, what waits for the release is the last
    # piece before it and everything after: data bytes, the fields and the closing boundary.
    held = len(raw) - sent_before[-1] + len(pieces[-2]) if len(pieces) > 1 else len(raw)
    assert held <= 2 * HELD + 600
    assert raw.index(b'name="blob"') < raw.index(b'name="expected_file_size"')
    got_fields, blob = _parse_form(body.content_type, raw)
    assert got_fields == fields
    assert blob == content[50 : 50 + length]
    assert len(sent_before) == 2


@pytest.mark.anyio
async def test_a_body_whose_release_fails_ends_and_closes_its_file(tmp_path: Path) -> None:
    path = random_file(tmp_path / "f.bin", 2 * MiB)

    async def refuse(handed: float) -> None:
        raise HoldEnded("the chunk before failed")

    fd = os.open(path, os.O_RDONLY)
    before = _open_fds()
    try:
        body = HeldTailBody({"data": "1"}, "blob", "f.bin", fd, 0, 2 * MiB, refuse)
        got = 0
        with pytest.raises(HoldEnded):
            async for piece in body:
                got += len(piece)
        assert 2 * MiB - 2 * HELD <= got < 2 * MiB  # never its last bytes
        assert _open_fds() == before  # its own descriptor is closed
    finally:
        os.close(fd)


class _LateAnswers:
    """A chunk endpoint in memory that answers the first chunk only once the holds of the
    ``held`` chunks behind it have run out (events, not delays: the verdict does not depend
    on the machine)."""

    base_url = "http://flow.test/api"

    def __init__(self, held: int) -> None:
        self.held = held
        self.stored = b""
        self.expired: list[int] = []
        self.gave_up = anyio.Event()

    async def request(self, method: str, url: str, **kwargs: Any) -> Any:
        body = kwargs["body"]
        offset = int(body.fields["expected_file_size"])
        received = []
        try:
            async for piece in body:
                received.append(piece)
        except HoldEnded:
            self.expired.append(offset)
            if len(self.expired) == self.held:
                self.gave_up.set()
            raise
        if offset == 0:
            await self.gave_up.wait()
        assert offset == len(self.stored), "a chunk out of order"
        _, blob = _parse_form(body.content_type, b"".join(received))
        self.stored += blob

        class Answer:
            status_code = 200

            def json(self) -> Any:
                return {"id": "5"}

        return Answer()


@pytest.mark.anyio
@pytest.mark.timing
async def test_a_hold_that_runs_out_stops_the_pipeline_without_a_failure(tmp_path: Path) -> None:
    # Four chunks: the first three on the wire at once, the last one kept back until every
    # chunk before it is acknowledged (it always goes alone).
    content = os.urandom(4 * MIN_JUDGED)
    path = tmp_path / "f.bin"
    path.write_bytes(content)
    server = _LateAnswers(held=2)
    acknowledged: list[int] = []
    # request_timeout=0.2: a held chunk waits 0.1 s at most for the one before.
    settings = config(tmp_path, request_timeout=0.2, chunk_size=MIN_JUDGED)
    sizer = ChunkSizer(initial=MIN_JUDGED, maximum=MIN_JUDGED)

    def acknowledge(length: int, elapsed: float, answer: Mapping[str, Any]) -> str:
        acknowledged.append(length)
        return "5"

    fd = os.open(path, os.O_RDONLY)
    try:
        pipeline = Pipeline(
            server,  # type: ignore[arg-type]
            settings,
            "upload",
            "f.bin",
            fd,
            len(content),
            sizer,
            form=lambda offset, last, data_id: {"expected_file_size": str(offset)},
            acknowledge=acknowledge,
        )
        with anyio.fail_after(BOUND):
            outcome = await pipeline.run(0, "5")
    finally:
        os.close(fd)
    assert outcome == Stop(None)  # nothing failed: the engine sends the chunk again alone
    assert acknowledged == [MIN_JUDGED] and server.stored == content[:MIN_JUDGED]
    assert sorted(server.expired) == [MIN_JUDGED, 2 * MIN_JUDGED]


# -- over the emulated network -----------------------------------------------------------------
@pytest.fixture(scope="module")
def shaped() -> Iterator[FlowServer]:
    with FlowServer(emulate_network=True) as server:
        yield server


@pytest.fixture
def link(shaped: FlowServer) -> Iterator[FlowServer]:
    """A far link: 20 ms of round trip, 4 MB/s per connection (each way)."""
    shaped.reset()
    shaped.set(rtt_ms=20, connection_rate=4_000_000, link_rate=0)
    yield shaped
    shaped.set(rtt_ms=0, connection_rate=0, link_rate=0)
    shaped.reset()


class Recorder:
    """The engine's HTTP layer, counting chunk requests: offsets, overlap, outcomes."""

    def __init__(self, http: Any) -> None:
        self._http = http
        self.base_url: str = http.base_url
        self.sent: list[int] = []
        self.acknowledged: list[int] = []
        self.failed: list[tuple[int, str]] = []
        self.abandoned: list[int] = []
        self.alone: list[bool] = []
        """Per request sent: whether no other was in flight when it started."""
        self.open = 0
        self.peak = 0
        self.overlap = anyio.Event()
        """Set once two requests are in flight together after a chunk was acknowledged."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        body: bytes | AsyncIterable[bytes] | None = None,
    ) -> Any:
        offset = int(getattr(body, "fields")["expected_file_size"])  # noqa: B009
        self.sent.append(offset)
        self.alone.append(self.open == 0)
        self.open += 1
        self.peak = max(self.peak, self.open)
        if self.open >= 2 and self.acknowledged:
            self.overlap.set()
        try:
            response = await self._http.request(
                method, url, headers=headers, retry=retry, body=body
            )
        except anyio.get_cancelled_exc_class():
            self.abandoned.append(offset)
            raise
        except Exception as exc:
            self.failed.append((offset, type(exc).__name__))
            raise
        finally:
            self.open -= 1
        self.acknowledged.append(offset)
        return response


async def _upload(
    client: AsyncClient, path: Path, recorder: Recorder | None = None, **kwargs: Any
) -> tuple[dict[str, Any], Recorder]:
    recorder = recorder or Recorder(client._ctx.http)
    ctx = client._ctx
    uploader = ChunkedUploader(
        recorder, ctx.config, ctx.limiter, streams=ctx.streams, memory=ctx.upload_memory
    )
    job = UploadJob("upload", path, path.name, {})
    return await uploader.upload(job, **kwargs), recorder


def _client(server: FlowServer, state: Path, **changes: Any) -> AsyncClient:
    # 1 MiB chunks at most: a 12 MiB file is a dozen chunks, most of them pipelined.
    return AsyncClient(server.url, config(state, max_chunk_size=MiB, **changes))


def _in_order(recorder: Recorder, size: int) -> None:
    """Acknowledged chunks went strictly forward, from 0, and ended the file."""
    acked = recorder.acknowledged
    assert acked == sorted(set(acked)) and acked[0] == 0
    assert acked[-1] < size


def _session_offset(server: FlowServer, data_id: str) -> int:
    (session,) = rows(
        server, "SELECT offset FROM upload_sessions WHERE data_id = ?", (int(data_id),)
    )
    return int(session["offset"])


@pytest.mark.anyio
@pytest.mark.timing
async def test_a_slow_link_pipelines_and_the_server_gets_chunks_in_order(
    link: FlowServer, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "far.bin", 12 * MiB + 5)
    async with _client(link, tmp_path / "state") as client:
        await client.log_in(DEMO)
        link.reset_counters()
        final, recorder = await _upload(client, path)
    assert data_row(link, final["id"])["md5"] == md5(path)
    assert recorder.peak >= 2 and link.max_in_flight()["upload"] >= 2
    # Every request the engine made was accepted the first time: none refused, none
    # abandoned, none sent twice, and the server counted exactly these.
    assert (recorder.failed, recorder.abandoned) == ([], [])
    assert recorder.sent == sorted(set(recorder.sent)) == recorder.acknowledged
    assert link.counters()["upload"] == len(recorder.sent)
    _in_order(recorder, path.stat().st_size)
    # The last chunk (the one whose answer may create a sample) started with none in flight.
    assert recorder.alone[-1] and not all(recorder.alone)


@pytest.mark.anyio
@pytest.mark.timing
async def test_a_short_memory_budget_pipelines_on_fewer_connections(
    link: FlowServer, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "far.bin", 12 * MiB + 5)
    # Room for two connections' shares: the pipeline takes two, not upload_streams (4).
    budget = 2 * PIPELINE_MEMORY
    async with _client(link, tmp_path / "state", upload_memory=budget) as client:
        await client.log_in(DEMO)
        link.reset_counters()
        final, recorder = await _upload(client, path)
        memory = client._ctx.upload_memory
        assert memory is not None and memory.free == memory.total  # every share came back
        assert memory.peak <= budget
    assert data_row(link, final["id"])["md5"] == md5(path)
    # The client's own count: the shared server may still be finishing others' requests.
    assert recorder.peak == 2
    _in_order(recorder, path.stat().st_size)


@pytest.mark.anyio
async def test_one_stream_and_a_fast_link_stay_sequential(tmp_path: Path) -> None:
    path = random_file(tmp_path / "near.bin", 8 * MiB)
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        # One stream allowed, over the far link.
        ({"rtt_ms": 20, "connection_rate": 4_000_000}, {"upload_streams": 1}),
        # Plain loopback: below 1 MB/s counts as slow, which no machine's loopback is.
        ({}, {"upload_below_rate": 1_000_000}),
    ]
    for number, (network, changes) in enumerate(cases):
        # Servers of their own: a shared one may still be finishing requests others left.
        with FlowServer(**network) as server:
            async with _client(server, tmp_path / str(number), **changes) as client:
                await client.log_in(DEMO)
                server.reset_counters()
                final, recorder = await _upload(client, path)
            assert data_row(server, final["id"])["md5"] == md5(path)
            assert (recorder.peak, server.max_in_flight()["upload"]) == (1, 1)
            assert len(recorder.sent) >= 4  # several chunks, each alone


@pytest.mark.anyio
@pytest.mark.timing
async def test_pipelining_that_does_not_pay_stops_for_good(
    link: FlowServer, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "capped.bin", 16 * MiB)
    # The whole link carries 4 MB/s: one connection nearly fills it, four cannot do better.
    link.set(link_rate=4_000_000)
    async with _client(link, tmp_path / "state") as client:
        await client.log_in(DEMO)
        recorder = Recorder(client._ctx.http)
        final, _ = await _upload(client, path, recorder)
    assert data_row(link, final["id"])["md5"] == md5(path)
    assert recorder.peak >= 2 and recorder.abandoned  # it was tried, then given up...
    last_abandoned = recorder.sent.index(max(recorder.abandoned))
    after = recorder.alone[last_abandoned + 1 :]
    assert after and all(after)  # ...and every later chunk went alone
    _in_order(recorder, path.stat().st_size)


@pytest.mark.anyio
@pytest.mark.timing
async def test_a_chunk_refused_mid_pipeline_is_retried_and_later_chunks_resent(
    link: FlowServer, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "flaky.bin", 12 * MiB + 3)
    # Requests 1-3 are the chunks sent alone; from the 4th on four are on the wire at once.
    link.add_fault(
        "status", route="upload", nth=6, count=1, status=503, headers={"Retry-After": "0"}
    )
    async with _client(link, tmp_path / "state") as client:
        await client.log_in(DEMO)
        final, recorder = await _upload(client, path)
    assert [rule["applied"] for rule in link.faults()] == [1]
    assert data_row(link, final["id"])["md5"] == md5(path)
    # The answer to the refused chunk may be the 503 or the reset after it.
    ((refused, _),) = recorder.failed
    assert refused in recorder.acknowledged  # retried
    # The chunks behind it were abandoned before their last bytes, then sent again.
    assert recorder.abandoned and all(o > refused for o in recorder.abandoned)
    assert set(recorder.abandoned) <= set(recorder.acknowledged)
    _in_order(recorder, path.stat().st_size)


@pytest.mark.anyio
@pytest.mark.timing
async def test_a_permanent_failure_keeps_only_acknowledged_chunks_and_resumes(
    link: FlowServer, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "stubborn.bin", 12 * MiB)
    state = tmp_path / "state"
    link.add_fault("status", route="upload", nth=6, count=0, status=503)
    async with _client(link, state, upload_retries=1) as client:
        await client.log_in(DEMO)
        with pytest.raises((ServerError, FlowConnectionError)):
            await _upload(client, path)
        (record_file,) = state.rglob("*.json")
        record = json.loads(record_file.read_text())
        assert 0 < record["offset"] < path.stat().st_size
        # The server holds exactly what was acknowledged: nothing past it was stored.
        assert _session_offset(link, record["data_id"]) == record["offset"]
        part = link.data_dir / "uploads" / f"{record['data_id']}.part"
        assert part.stat().st_size == record["offset"]
        link.clear_faults()
        final, recorder = await _upload(client, path)
    assert final["id"] == record["data_id"]  # the same upload, continued
    assert recorder.acknowledged[0] == record["offset"]
    assert data_row(link, final["id"])["md5"] == md5(path)
    assert not list(state.rglob("*.json"))


@pytest.mark.anyio
@pytest.mark.timing
async def test_cancelling_mid_pipeline_leaves_an_upload_that_resumes(
    link: FlowServer, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "big.bin", 12 * MiB)
    state = tmp_path / "state"
    async with _client(link, state) as client:
        await client.log_in(DEMO)
        recorder = Recorder(client._ctx.http)
        async with anyio.create_task_group() as group:
            group.start_soon(_upload, client, path, recorder)
            with anyio.fail_after(BOUND):
                await recorder.overlap.wait()  # chunks on the wire together
            group.cancel_scope.cancel()
        (record_file,) = state.rglob("*.json")
        record = json.loads(record_file.read_text())
        assert 0 < record["offset"] < path.stat().st_size
        # Acknowledged chunks only, contiguous: the server may hold more (a chunk whose last
        # bytes had gone out), never less.
        assert record["offset"] <= _session_offset(link, record["data_id"])
        final, again = await _upload(client, path)
    assert final["id"] == record["data_id"]
    assert again.acknowledged[0] == record["offset"]
    assert data_row(link, final["id"])["md5"] == md5(path)


@pytest.mark.anyio
@pytest.mark.timing
async def test_a_sample_uploads_pipelined(link: FlowServer, tmp_path: Path) -> None:
    reads = [random_file(tmp_path / f"s_R{i}.fastq.gz", 3 * MiB + i) for i in (1, 2)]
    async with _client(link, tmp_path / "state", upload_below_rate=None) as client:
        await client.log_in(DEMO)
        link.reset_counters()
        sample = await client.samples.upload_sample(
            "pipelined", "RNA-Seq", {"reads1": reads[0], "reads2": reads[1]}, METADATA
        )
    assert link.max_in_flight()["upload_sample"] >= 2
    stored = rows(
        link, "SELECT filename, md5 FROM data WHERE sample = ? ORDER BY id", (int(sample.id),)
    )
    assert stored == [{"filename": p.name, "md5": md5(p)} for p in reads]
