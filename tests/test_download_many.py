"""Many files, segmented downloads, execution results, sample and project helpers."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from download_helpers import (
    DEMO,
    MiB,
    add_file,
    client_for,
    md5_of,
    part_files,
    payload,
    quiet_config,
    server_fixtures,
)

from flowbio_async import (
    AsyncClient,
    ConfigurationError,
    Execution,
    NotFoundError,
    UnsafePathError,
)
from flowbio_async._transfers._partfile import PartState, part_path, save_state
from flowbio_async.testing import FlowServer

pytestmark = pytest.mark.anyio


server, _clean = server_fixtures(bulk_job_delay=0.01)


async def test_many_reports_done_skipped_failed_and_logs(
    server: FlowServer, tmp_path: Path
) -> None:
    contents = [payload(200_000 + i, seed=i) for i in range(3)]
    ids = [add_file(server, c, f"m{i}.bin") for i, c in enumerate(contents)]
    log = tmp_path / "log.jsonl"
    async with client_for(server, tmp_path) as client:
        report = await client.data.download_many([*ids, "999999"], tmp_path / "out", log=log)
        assert [i.item for i in report.done] == ids
        assert [i.item for i in report.failed] == ["999999"]
        assert isinstance(report.failed[0].error, NotFoundError)
        again = await client.data.download_many(ids, tmp_path / "out", log=log)
    assert len(again.skipped) == 3 and again.ok
    for index, content in enumerate(contents):
        assert (tmp_path / "out" / f"m{index}.bin").read_bytes() == content
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["status"] for line in lines].count("downloaded") == 3
    assert [line["status"] for line in lines].count("skipped") == 3
    failed = [line for line in lines if line["status"] == "failed"]
    assert failed[0]["file_id"] == "999999" and "NotFoundError" in failed[0]["error"]
    done = next(line for line in lines if line["status"] == "downloaded")
    assert {"action", "file_id", "filename", "size", "md5", "path", "timestamp"} <= set(done)


def _slow_files(server: FlowServer, prefix: str, count: int, seconds: float) -> list[str]:
    """``count`` small files whose downloads each take ``seconds`` (so transfers overlap)."""
    ids = [add_file(server, payload(10_000, seed=i), f"{prefix}{i}.bin") for i in range(count)]
    server.add_fault("latency", route="download", seconds=seconds, count=0)
    return ids


@pytest.mark.timing
async def test_concurrency_is_bounded_by_the_client_limiter(
    server: FlowServer, tmp_path: Path
) -> None:
    ids = [add_file(server, payload(10_000, seed=i), f"c{i}.bin") for i in range(8)]
    # Held until three are in flight (events, not latency, #12); a fourth would also get in
    # if the limiter let it, since the held three never finish before the gate opens.
    server.add_fault("gate", route="download", count=0, params={"together": 3})
    async with client_for(server, tmp_path, max_concurrency=3) as client:
        report = await client.data.download_many(ids, tmp_path)
    assert report.ok
    assert server.max_in_flight()["download"] == 3


async def test_max_concurrency_per_call_within_the_client_limit(
    server: FlowServer, tmp_path: Path
) -> None:
    """#17 item 10: ``download_many`` had no per-call concurrency (and ``upload_many`` none)."""
    ids = _slow_files(server, "k", 6, 0.1)
    async with client_for(server, tmp_path, max_concurrency=8) as client:
        report = await client.data.download_many(ids, tmp_path / "two", max_concurrency=2)
        assert report.ok and len(report.done) == 6
        assert 1 <= server.max_in_flight()["download"] <= 2
        for bad in (0, -1, 1.5, True):
            with pytest.raises(ConfigurationError, match="max_concurrency"):
                await client.data.download_many(ids, tmp_path / "bad", max_concurrency=bad)
        assert not (tmp_path / "bad").exists()
        server.reset_counters()
        paths = []
        for index in range(4):
            path = tmp_path / "up" / f"u{index}.txt"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(payload(2_000, seed=index))
            paths.append(path)
        server.add_fault("latency", route="upload", seconds=0.1, count=0)
        results = await client.data.upload_many(paths, max_concurrency=1)
        assert all(r.ok for r in results)
        assert server.max_in_flight()["upload"] == 1
    async with client_for(server, tmp_path, max_concurrency=1) as client:
        server.reset_counters()
        # Asking a call for more than the client allows runs no more than the client's limit.
        again = await client.data.download_many(ids, tmp_path / "one", max_concurrency=50)
        assert again.ok and server.max_in_flight()["download"] == 1


async def _liver_project(client: AsyncClient) -> str:
    found = (await client.samples.search(name="liver_1"))[0]
    sample = await client.samples.get(found.id)  # the detail names the project
    assert sample.project is not None
    return sample.project.id


@pytest.mark.timing
@pytest.mark.parametrize(
    "method", ["executions.download_outputs", "samples.download", "projects.download"]
)
async def test_max_concurrency_per_call_on_every_many_file_download(
    server: FlowServer, tmp_path: Path, method: str
) -> None:
    """#17 item 10: only ``download_many`` and ``upload_many`` took ``max_concurrency``.
    Two downloads are held until both are in flight (the ``gate``, events not speed, #12),
    so the peak is exactly the call's cap, under a client limit of 8."""
    async with client_for(server, tmp_path, max_concurrency=8) as client:
        if method == "executions.download_outputs":
            target, call = (await finished_execution(client)).id, client.executions.download_outputs
        elif method == "samples.download":
            target, call = (
                (await client.samples.search(name="liver_1"))[0].id,
                client.samples.download,
            )
        else:
            target, call = await _liver_project(client), client.projects.download
        server.reset_counters()
        for bad in (0, -1, 1.5, True, "2"):
            with pytest.raises(ConfigurationError, match="max_concurrency"):
                await call(target, tmp_path / "bad", max_concurrency=bad)
        assert server.counters() == {}  # refused before the first request
        assert not (tmp_path / "bad").exists()
        server.add_fault("gate", route="download", count=0, seconds=30, params={"together": 2})
        result = await call(target, tmp_path / "two", max_concurrency=2)
    report = getattr(result, "report", result)
    assert report.ok and len(report.done) >= 3
    assert server.max_in_flight()["download"] == 2


async def test_same_name_twice_lands_in_separate_folders(
    server: FlowServer, tmp_path: Path
) -> None:
    first = add_file(server, b"first", "same.txt")
    second = add_file(server, b"second", "same.txt")
    async with client_for(server, tmp_path) as client:
        report = await client.data.download_many([first, second], tmp_path)
    # Whichever finishes planning first keeps the name; the other goes under its id.
    paths = {i.item: i.value.path.relative_to(tmp_path).as_posix() for i in report if i.value}
    assert sorted(paths.values()) in (
        sorted(["same.txt", f"{second}/same.txt"]),
        sorted(["same.txt", f"{first}/same.txt"]),
    )
    assert {(tmp_path / p).read_bytes() for p in paths.values()} == {b"first", b"second"}


@pytest.mark.timing
async def test_segmented_download_with_cuts_is_exact(server: FlowServer, tmp_path: Path) -> None:
    content = payload(24 * MiB + 5, seed=11)
    data_id = add_file(server, content, "seg.bin")
    # The first answer tells the engine that ranges work; the two piece requests after it
    # are held until both are in flight (overlap by an event, not by luck, #12). Every
    # other request is cut after 3 MiB and resumed.
    server.add_fault("gate", route="download", nth=2, count=2, params={"together": 2})
    server.add_fault("cut", route="download", bytes=3 * MiB, count=0)
    async with client_for(
        server, tmp_path, segment_threshold=4 * MiB, segments_per_file=4, segment_below_rate=None
    ) as client:
        result = await client.data.download(data_id, tmp_path)
    assert result.md5 == md5_of(content) and result.path.read_bytes() == content
    assert server.max_in_flight()["download"] >= 2  # pieces really ran in parallel
    assert part_files(tmp_path) == []


@pytest.mark.parametrize("cuts", [False, True], ids=["clean", "cut-every-3MiB"])
@pytest.mark.parametrize("below_rate", [1, 1 << 62], ids=["lead-goes-on", "lead-stops"])
async def test_more_streams_join_only_when_the_first_piece_is_slow(
    server: FlowServer,
    tmp_path: Path,
    below_rate: int,
    cuts: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    content = payload(24 * MiB + 5, seed=14)
    data_id = add_file(server, content, "adaptive.bin")
    if cuts:
        server.add_fault("cut", route="download", bytes=3 * MiB, count=0)
    server.reset_counters()
    with caplog.at_level(logging.DEBUG, logger="flowbio_async"):
        async with client_for(
            server, tmp_path, segment_threshold=4 * MiB, segment_below_rate=below_rate
        ) as client:
            result = await client.data.download(data_id, tmp_path)
    assert result.md5 == md5_of(content) and result.path.read_bytes() == content
    assert part_files(tmp_path) == []
    if cuts:
        return  # resumed requests make the counts below depend on where the cuts fell
    # The ramp's own decisions (DEBUG), not the machine's speed: on loopback 24 MiB may all
    # arrive inside the first 50 ms window, and then there is nothing to decide. The join
    # itself, on a link slow enough to be sure, is in test_download_segments.py.
    decisions = [
        match[1] for record in caplog.records if (match := _DECISION.search(record.getMessage()))
    ]
    if below_rate == 1:
        # Any loopback stream beats 1 B/s: the lead goes on to the end, one request in all.
        assert decisions in ([], ["no more"])
        assert server.counters()["download"] == 1 and server.max_in_flight()["download"] == 1
    elif decisions:
        # Nothing beats 2**62 B/s: a measured window always asks for more streams (whether
        # one more follows depends on what is left to split, and whether loopback's
        # aggregate grew, #13).
        assert decisions[0] != "no more"
    else:
        assert server.counters()["download"] == 1  # the lead ended before the first window


_DECISION = re.compile(r"adaptive\.bin: \d+ stream\(s\) at .*: (\d+ more|no more)$")


async def test_segmented_falls_back_when_ranges_are_ignored(
    server: FlowServer, tmp_path: Path
) -> None:
    content = payload(12 * MiB, seed=12)
    data_id = add_file(server, content, "noseg.bin")
    server.add_fault("ignore_range", route="download", count=0)
    async with client_for(
        server, tmp_path, segment_threshold=MiB, segment_below_rate=None
    ) as client:
        result = await client.data.download(data_id, tmp_path)
    assert result.path.read_bytes() == content


async def finished_execution(client: AsyncClient) -> Execution:
    """The demo's execution that has outputs (status OK)."""
    finished = [e async for e in client.executions.search(owned=True) if e.status == "OK"]
    return finished[0]


async def test_execution_outputs_with_include_and_single_result(
    server: FlowServer, tmp_path: Path
) -> None:
    async with client_for(server, tmp_path) as client:
        execution = await finished_execution(client)
        report = await client.executions.download_outputs(
            execution.id, tmp_path / "ex", include=["*.tsv", "*.html"], log=tmp_path / "ex.jsonl"
        )
        got = sorted(str(i.value.path.relative_to(tmp_path / "ex")) for i in report if i.value)
        assert got == ["multiqc_report.html", "results/counts/all.gene_counts.tsv"]
        # The log says which execution each file came from (#17 item 5).
        lines = [json.loads(line) for line in (tmp_path / "ex.jsonl").read_text().splitlines()]
        assert [line["execution_id"] for line in lines] == [execution.id, execution.id]
        single = await client.executions.download_result(
            execution.id, "results/counts/all.gene_counts.tsv", f"{tmp_path}/one/"
        )
        assert single.path.read_bytes() == (tmp_path / "ex" / got[1]).read_bytes()
        with pytest.raises(NotFoundError):
            await client.executions.download_result(execution.id, "nope.txt", tmp_path)
        with pytest.raises(UnsafePathError):
            await client.executions.download_result(execution.id, "../x", tmp_path)


async def test_server_names_cannot_escape_the_destination(
    server: FlowServer, tmp_path: Path
) -> None:
    async with client_for(server, tmp_path) as client:
        execution = await finished_execution(client)
        add_file(server, b"evil", "evil.txt", execution=int(execution.id), path="../../evil.txt")
        report = await client.executions.download_outputs(execution.id, tmp_path / "a" / "b")
    failed = [i for i in report.failed if isinstance(i.error, UnsafePathError)]
    assert len(failed) == 1 and failed[0].item.filename == "evil.txt"
    assert not list(tmp_path.rglob("evil.txt"))


async def test_sample_download_layout(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        sample = (await client.samples.search(name="liver_1"))[0]
        report = await client.samples.download(
            sample.id, tmp_path, include="*.fastq.gz", log=tmp_path / "s.jsonl"
        )
    assert report.ok
    lines = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert {(line["sample_id"], line["sample_name"]) for line in lines} == {(sample.id, "liver_1")}
    folder = tmp_path / "samples" / "liver_1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "liver_1_R1.fastq.gz",
        "liver_1_R2.fastq.gz",
    ]


async def test_project_download_per_file_and_bulk(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        found = (await client.samples.search(name="liver_1"))[0]
        sample = await client.samples.get(found.id)  # the detail names the project
        assert sample.project is not None
        project = await client.projects.get(sample.project.id)
        small = await client.projects.download(project.id, tmp_path / "a", include="*.fastq.gz")
        assert small.report is not None and small.report.ok and small.bulk is None
        names = sorted(p.name for p in small.files)
        big = await client.projects.download(
            project.id, tmp_path / "b", include="*.fastq.gz", bulk_threshold=1
        )
    assert big.bulk is not None and big.bulk.job.is_completed
    assert sorted(p.name for p in big.files) == names
    for path in small.files:
        assert path.relative_to(small.folder).parts[0] == "samples"


async def test_complete_part_of_unknown_size_finishes_on_416(
    server: FlowServer, tmp_path: Path
) -> None:
    # A crash after the last byte but before the rename: the part holds the whole file and
    # the record does not know the size (result files have none). Resuming asks for the
    # bytes after the end; the 416 says the server has exactly that many, so we are done.
    async with client_for(server, tmp_path) as client:
        execution = await finished_execution(client)
        first = await client.executions.download_result(
            execution.id, "multiqc_report.html", tmp_path / "first.html"
        )
        content = first.path.read_bytes()
        dest = tmp_path / "again.html"
        part_path(dest).write_bytes(content)
        save_state(dest, PartState(size=None, done=[(0, len(content))]))
        server.reset_counters()
        result = await client.executions.download_result(execution.id, "multiqc_report.html", dest)
    assert result.resumed_from == len(content) and result.md5 == md5_of(content)
    assert dest.read_bytes() == content and part_files(tmp_path) == []
    assert server.counters()["execution_file"] == 1


async def test_files_server_404_falls_back_to_the_api_base(
    server: FlowServer, tmp_path: Path
) -> None:
    # docs/protocol.md §8 row 20: a private instance may have no files server; the API base serves
    # the same /downloads route.
    data_id = add_file(server, b"fallback bytes", "fb.txt")
    async with client_for(server, tmp_path, files_url=f"{server.root_url}/nowhere") as client:
        result = await client.data.download(data_id, tmp_path)
    assert result.path.read_bytes() == b"fallback bytes"


def test_sync_facade_downloads(server: FlowServer, tmp_path: Path) -> None:
    from flowbio_sync import Client

    data_id = add_file(server, b"sync bytes", "sync.txt")
    with Client(server.url, quiet_config(tmp_path)) as client:
        client.log_in(DEMO)
        result = client.data.download(data_id, tmp_path)
        report = client.data.download_many([data_id], tmp_path)
    assert result.path.read_bytes() == b"sync bytes"
    assert [item.value.status for item in report if item.value] == ["skipped"]


async def test_many_downloads_announce_files_and_bytes_before_the_first_byte(
    server: FlowServer, tmp_path: Path
) -> None:
    # Seen (#17): the aggregate total grew as files started ("58.0/58.0 MB", 2 of 30 to go).
    from flowbio_async import ProgressEvent

    sizes = [20_000, 30_000, 40_000]
    ids = [add_file(server, payload(n, seed=n), f"p{n}.bin") for n in sizes]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "p40000.bin").write_bytes(payload(40_000, seed=40_000))  # complete
    events: list[ProgressEvent] = []
    async with client_for(server, tmp_path) as client:
        report = await client.data.download_many(
            [*ids, "999999"], tmp_path / "out", progress=events.append
        )
    assert [len(report.done), len(report.skipped), len(report.failed)] == [2, 1, 1]
    first = events[0]
    assert (first.kind, first.files, first.total) == ("plan", 4, sum(sizes))
    assert all(e.kind != "start" for e in events[: events.index(first) + 1])
    skips = [(e.ok, e.total) for e in events if e.kind == "skip"]
    assert sorted(skips, key=str) == sorted([(False, None), (True, 40_000)], key=str)
    assert sum(e.completed for e in events if e.kind == "finish") == 50_000
