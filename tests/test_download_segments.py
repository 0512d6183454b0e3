"""Adaptive segmented downloads (#13): the ramp's rule, and the engine over a shaped link.

The integration tests drive the ramp with the local server's emulated network: a
per-connection cap makes each added stream add to the aggregate, a link cap makes it stop
growing. Verdicts are on counts (streams open at once, requests, bytes), never on time.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from download_helpers import add_file, client_for, md5_of, payload

from flowbio_async import ProgressEvent
from flowbio_async._progress import make_progress
from flowbio_async._resources._download_support import opener
from flowbio_async._retry import RetryBudget
from flowbio_async._transfers._download import Downloader, DownloadSpec, StreamLike
from flowbio_async._transfers._segments import ALIGN, Ramp, min_split, split_point, window_for
from flowbio_async.testing import FlowServer

MiB = 1024 * 1024


# -- the rule (no I/O) -----------------------------------------------------------------------
def test_ramp_grows_while_the_aggregate_grows() -> None:
    ramp = Ramp(ceiling=16, below_rate=64 * MiB)
    assert ramp.next_step(10e6) == 3  # one slow stream: four
    ramp.opened(3)
    assert ramp.next_step(39e6) == 12  # nearly four times as fast: on to the ceiling
    ramp.opened(12)
    assert ramp.next_step(150e6) == 0  # at the ceiling


def test_ramp_stops_when_the_aggregate_stops_growing() -> None:
    ramp = Ramp(ceiling=16, below_rate=64 * MiB)
    assert ramp.next_step(10e6) == 3
    ramp.opened(3)
    assert ramp.next_step(24e6) == 0  # 2.4x for 4x the streams: below half the linear gain


def test_ramp_leaves_a_fast_stream_alone_and_respects_the_ceiling() -> None:
    assert Ramp(ceiling=16, below_rate=64 * MiB).next_step(100 * MiB) == 0
    small = Ramp(ceiling=6, below_rate=None)
    assert small.next_step(1e6) == 3
    small.opened(3)
    assert small.next_step(4e6) == 2  # the last two up to the ceiling
    small.opened(2)
    assert small.next_step(6e6) == 0


def test_ramp_counts_streams_it_could_not_open() -> None:
    ramp = Ramp(ceiling=16, below_rate=None)
    assert ramp.next_step(1e6) == 3
    ramp.opened(1)  # only one range was worth splitting
    assert ramp.streams == 2
    assert ramp.next_step(1.4e6) == 0  # 1.4x for 2x: not enough
    assert Ramp(ceiling=16, below_rate=None, streams=2, rate=1e6, added=1).next_step(2e6) == 6


def test_split_points() -> None:
    assert split_point(0, 64 * MiB, MiB) == 32 * MiB
    assert split_point(0, 2 * MiB - 1, MiB) is None  # a half would be under the minimum
    point = split_point(100, 10 * MiB, MiB, head_start=2 * MiB)
    assert point is not None and point % ALIGN == 0
    assert point - 100 > 10 * MiB - point  # the running stream keeps its head start
    assert split_point(0, 3 * MiB, MiB, head_start=4 * MiB) is None  # nothing left to give
    assert min_split(MiB, 10e6, 0.1) == 2_000_000
    assert min_split(MiB, 1e6, 0.01) == MiB
    assert window_for(0.0) == 0.05 and window_for(10.0) == 0.5 and window_for(0.2) == 0.2


# -- over the emulated network -----------------------------------------------------------------
@pytest.fixture(scope="module")
def shaped() -> Iterator[FlowServer]:
    with FlowServer(emulate_network=True) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset(shaped: FlowServer) -> Iterator[None]:
    shaped.set(rtt_ms=20, connection_rate=0, link_rate=0)
    shaped.reset()
    yield
    shaped.set(rtt_ms=0, connection_rate=0, link_rate=0)
    shaped.reset()


class Streams:
    """Counts the engine's streams open at once, around the client's real opener."""

    def __init__(self) -> None:
        self.open = 0
        self.peak = 0
        self.requests = 0

    def around(self, inner: object) -> object:
        @asynccontextmanager
        async def counted(
            headers: Mapping[str, str], budget: RetryBudget
        ) -> AsyncIterator[StreamLike]:
            self.requests += 1
            async with inner(headers, budget) as response:  # type: ignore[operator]
                self.open += 1
                self.peak = max(self.peak, self.open)
                try:
                    yield response
                finally:
                    self.open -= 1

        return counted


async def _download(
    server: FlowServer,
    tmp_path: Path,
    data_id: str,
    content: bytes,
    streams: Streams,
    progress: list[ProgressEvent] | None = None,
    **config: object,
) -> None:
    async with client_for(server, tmp_path, segment_piece_min=64 * 1024, **config) as client:
        ctx = client._ctx
        url = f"{server.files_url}/downloads/{data_id}/seg.bin"
        spec = DownloadSpec(
            open=streams.around(opener(ctx, [url], label="seg.bin")),  # type: ignore[arg-type]
            dest=tmp_path / "seg.bin",
            label="seg.bin",
            size=len(content),
            md5=md5_of(content),
        )
        with make_progress(ctx.config, progress.append if progress is not None else None) as bar:
            downloader = Downloader(ctx.config, bar, streams=ctx.streams)
            result = await downloader.download(spec, task_id="seg")
    assert result.md5 == md5_of(content)
    assert (tmp_path / "seg.bin").read_bytes() == content
    assert not list(tmp_path.glob("seg.bin.flowbio-*"))


_DECISION = re.compile(r"seg\.bin: (\d+) stream\(s\) at ([\d.]+) MB/s .*: (\d+ more|no more)$")


@pytest.mark.anyio
@pytest.mark.timing
async def test_streams_grow_then_stop_when_the_link_is_full(
    shaped: FlowServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    content = payload(6 * MiB, seed=51)
    data_id = add_file(shaped, content, "seg.bin")
    # One stream gets 1 MB/s; the link as a whole 2 MB/s, so four streams are already past
    # what the link can carry and sixteen cannot add anything. The verdict is read from the
    # ramp's own decisions (its DEBUG lines), not from how fast this machine is: a busy
    # machine moves the measured rates, and with them where the ramp stops, but a ramp
    # that grows past a full link up to its ceiling of 64 would need sixteen streams to
    # measure 2.5x four streams' rate on a link that caps both at 2 MB/s.
    shaped.set(rtt_ms=100, connection_rate=1_000_000, link_rate=2_000_000)
    streams = Streams()
    with caplog.at_level(logging.DEBUG, logger="flowbio_async"):
        await _download(shaped, tmp_path, data_id, content, streams, segments_per_file=64)
    decisions = [
        (int(m[1]), float(m[2]), m[3])
        for record in caplog.records
        if (m := _DECISION.search(record.getMessage()))
    ]
    assert decisions, "the ramp logged no decision"
    assert decisions[0][0::2] == (1, "3 more")  # 1 MB/s is far below segment_below_rate
    *growing, (last_streams, _, last) = decisions
    assert all(decision != "no more" for *_, decision in growing)
    assert last == "no more"  # it stopped growing ...
    assert 4 <= last_streams < 64  # ... on its own, short of its ceiling
    assert 2 <= streams.peak <= last_streams, decisions


@pytest.mark.anyio
@pytest.mark.timing
async def test_streams_stop_at_the_ceiling(shaped: FlowServer, tmp_path: Path) -> None:
    content = payload(6 * MiB, seed=52)
    data_id = add_file(shaped, content, "seg.bin")
    shaped.set(connection_rate=2_000_000)  # every stream adds as much again
    streams = Streams()
    await _download(shaped, tmp_path, data_id, content, streams, segments_per_file=3)
    assert streams.peak == 3


@pytest.mark.anyio
async def test_a_fast_stream_stays_alone(shaped: FlowServer, tmp_path: Path) -> None:
    content = payload(6 * MiB, seed=53)
    data_id = add_file(shaped, content, "seg.bin")
    shaped.set(rtt_ms=0, connection_rate=2_000_000)
    streams = Streams()
    # Below 1 KB/s counts as slow: 2 MB/s is fast, so one request does it all.
    await _download(shaped, tmp_path, data_id, content, streams, segment_below_rate=1000)
    assert (streams.requests, streams.peak) == (1, 1)


@pytest.mark.anyio
async def test_files_below_the_threshold_take_one_stream(
    shaped: FlowServer, tmp_path: Path
) -> None:
    content = payload(2 * MiB, seed=54)
    data_id = add_file(shaped, content, "seg.bin")
    shaped.set(connection_rate=1_000_000)
    streams = Streams()
    await _download(shaped, tmp_path, data_id, content, streams, segment_threshold=4 * MiB)
    assert (streams.requests, streams.peak) == (1, 1)


@pytest.mark.anyio
@pytest.mark.timing
async def test_a_cut_range_resumes_at_the_exact_byte(shaped: FlowServer, tmp_path: Path) -> None:
    content = payload(6 * MiB + 3, seed=55)
    data_id = add_file(shaped, content, "seg.bin")
    shaped.set(connection_rate=2_000_000)
    # The second request is a range that a new stream asked for: cut it 300 KB in.
    shaped.add_fault("cut", route="download", nth=2, bytes=300_000)
    streams = Streams()
    events: list[ProgressEvent] = []
    await _download(shaped, tmp_path, data_id, content, streams, events, segments_per_file=4)
    assert [f["applied"] for f in shaped.faults()] == [1]
    assert streams.peak >= 2
    # Every byte arrived exactly once: nothing was fetched again after the cut.
    finished = [e for e in events if e.kind == "finish"]
    assert [(e.completed, e.ok) for e in finished] == [(len(content), True)]
    assert not [e for e in events if e.kind == "reset"]
    assert streams.requests >= 3  # the cut range was asked for again, from where it stopped


@pytest.mark.anyio
async def test_the_client_stream_budget_bounds_extra_streams(
    shaped: FlowServer, tmp_path: Path
) -> None:
    content = payload(6 * MiB, seed=56)
    data_id = add_file(shaped, content, "seg.bin")
    shaped.set(connection_rate=2_000_000)
    streams = Streams()
    # 3 connections for 2 transfers: one extra stream for the whole client.
    await _download(
        shaped,
        tmp_path,
        data_id,
        content,
        streams,
        segments_per_file=16,
        segment_below_rate=None,
        max_concurrency=2,
        max_connections=3,
    )
    assert streams.peak == 2
