"""Uploads through faults: 503s, dropped connections, 413, a killed process, a concurrency cap.

Each test starts its own server so its faults and settings touch nobody else.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from upload_helpers import data_row, logged_in, md5, random_file, rows

from flowbio_async import FlowConnectionError, ServerError
from flowbio_async.testing import FlowServer

CHUNK = 64 * 1024


@pytest.fixture
def server() -> Iterator[FlowServer]:
    with FlowServer() as flow:
        yield flow


@pytest.mark.anyio
async def test_retries_through_503s_dropped_and_cut_connections(
    server: FlowServer, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "flaky.bin", 6 * CHUNK + 11)
    server.add_fault(
        "status", route="upload", nth=2, count=2, status=503, headers={"Retry-After": "0"}
    )
    server.add_fault("drop", route="upload", nth=5, count=1)
    # The server stores half a chunk, then the connection goes: the resend must truncate.
    server.add_fault("cut_request", route="upload", nth=7, count=1, bytes=CHUNK // 2)
    async with logged_in(
        server, tmp_path / "state", chunk_size=CHUNK, max_chunk_size=CHUNK, upload_retries=3
    ) as client:
        data = await client.data.upload_data(path)
    assert data_row(server, data.id)["md5"] == md5(path)
    assert [rule["applied"] for rule in server.faults()] == [2, 1, 1]


@pytest.mark.anyio
async def test_exhausted_retries_leave_a_record_that_resumes(
    server: FlowServer, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "stubborn.bin", 8 * CHUNK)
    state = tmp_path / "state"
    # Every chunk from the 4th on fails: 1 try + 2 retries, then the upload gives up.
    server.add_fault("status", route="upload", nth=4, count=3, status=503)
    async with logged_in(
        server, state, chunk_size=CHUNK, max_chunk_size=CHUNK, upload_retries=2
    ) as client:
        # The fault answers 503 without reading the body, so the client may see the 503 or
        # the connection reset that follows it: either way the retries run out.
        with pytest.raises((ServerError, FlowConnectionError)):
            await client.data.upload_data(path)
        (record_file,) = state.rglob("*.json")
        record = json.loads(record_file.read_text())
        assert record["offset"] == 3 * CHUNK  # three chunks were acknowledged
        server.reset_counters()
        data = await client.data.upload_data(path)
    assert data.id == record["data_id"]  # same server upload, continued
    assert server.counters()["upload"] == 5  # only the five missing chunks
    assert data_row(server, data.id)["md5"] == md5(path)
    assert not list(state.rglob("*.json"))


@pytest.mark.anyio
async def test_413_shrinks_the_chunk(tmp_path: Path) -> None:
    path = random_file(tmp_path / "large.bin", 40 * CHUNK)
    with FlowServer(max_body_size=5 * CHUNK) as server:
        async with logged_in(
            server, tmp_path / "state", chunk_size=16 * CHUNK, max_chunk_size=16 * CHUNK
        ) as client:
            data = await client.data.upload_data(path)
        assert data_row(server, data.id)["md5"] == md5(path)


@pytest.mark.timing
@pytest.mark.anyio
async def test_concurrency_cap_is_what_the_server_sees(tmp_path: Path) -> None:
    paths = [random_file(tmp_path / f"f{i}.bin", 3 * CHUNK) for i in range(8)]
    with FlowServer() as server:
        async with logged_in(
            server, tmp_path / "state", chunk_size=CHUNK, max_chunk_size=CHUNK, max_concurrency=3
        ) as client:
            server.reset_counters()
            # The first chunks are held until three are in flight: they overlap on any
            # machine (#12); a latency only made overlap likely.
            server.add_fault("gate", route="upload", count=0, params={"together": 3})
            results = await client.data.upload_many(paths)
        assert all(r.ok for r in results)
        peak = server.max_in_flight()["upload"]
    assert peak == 3


_CHILD = """
import sys, anyio
from pathlib import Path
from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials

async def main() -> None:
    url, path, state = sys.argv[1:4]
    config = ClientConfig(show_progress=False, state_dir=Path(state), chunk_size=65536,
                          max_chunk_size=65536)
    async with AsyncClient(url, config) as client:
        await client.log_in(UsernamePasswordCredentials("demo", "demo-password"))
        await client.data.upload_data(path)

anyio.run(main)
"""


@pytest.mark.timing
@pytest.mark.anyio
async def test_resume_after_the_process_is_killed(tmp_path: Path) -> None:
    path = random_file(tmp_path / "run.fastq", 48 * CHUNK + 5)
    state = tmp_path / "state"
    with FlowServer(latency_ms=40) as server:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, server.url, str(path), str(state)],
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            offset = 0
            while offset < 4 * CHUNK:
                assert child.poll() is None, "the upload finished before it could be killed"
                assert time.monotonic() < deadline, "no resume record appeared"
                records = list(state.rglob("*.json"))
                if records:
                    with contextlib.suppress(ValueError):  # a record being replaced
                        offset = json.loads(records[0].read_text())["offset"]
                time.sleep(0.02)
            child.send_signal(signal.SIGKILL)  # no cleanup, like a crash or power loss
        finally:
            child.wait(30)
        record = json.loads(next(state.rglob("*.json")).read_text())
        server.reset_counters()
        async with logged_in(server, state, chunk_size=CHUNK, max_chunk_size=CHUNK) as client:
            data = await client.data.upload_data(path)
        sent_again = server.counters()["upload"]
        assert data.id == record["data_id"]
        assert sent_again <= 49 - record["offset"] // CHUNK
        assert data_row(server, data.id)["md5"] == md5(path)


@pytest.mark.anyio
async def test_an_interrupted_sample_does_not_resend_finished_files(
    server: FlowServer, tmp_path: Path
) -> None:
    r1 = random_file(tmp_path / "s_R1.fq", 3 * CHUNK)
    r2 = random_file(tmp_path / "s_R2.fq", 3 * CHUNK - 7)
    state = tmp_path / "state"
    metadata = {"scientist": "Ada", "strandedness": "forward"}
    # reads1 takes chunks 1-3; every attempt at reads2's first chunk fails.
    server.add_fault("status", route="upload_sample", nth=4, count=3, status=503)
    async with logged_in(
        server, state, chunk_size=CHUNK, max_chunk_size=CHUNK, upload_retries=2
    ) as client:
        with pytest.raises((ServerError, FlowConnectionError)):
            await client.samples.upload_sample(
                "s", "RNA-Seq", {"reads1": r1, "reads2": r2}, metadata
            )
        server.reset_counters()
        sample = await client.samples.upload_sample(
            "s", "RNA-Seq", {"reads1": r1, "reads2": r2}, metadata
        )
    assert server.counters()["upload_sample"] == 3  # reads2 only
    files = rows(server, "SELECT * FROM data WHERE sample = ? ORDER BY id", (int(sample.id),))
    assert [f["md5"] for f in files] == [md5(r1), md5(r2)]
    assert not list(state.rglob("*.json"))
