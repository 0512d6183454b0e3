"""``client.data.upload_data`` / ``upload_many`` against the local server (issue #3)."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from upload_helpers import data_row, logged_in, md5, random_file, rows, upload_requests

from flowbio_async import BadRequestError, ConfigurationError, Data, NotStartedError
from flowbio_async.testing import FlowServer

CHUNK = 64 * 1024


@pytest.mark.anyio
@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK, 4 * CHUNK, 5 * CHUNK + 17, 3 * 1024 * 1024 + 5],
    ids=["empty", "one-byte", "one-chunk", "exact-multiple", "odd", "grows-past-max"],
)
async def test_upload_is_byte_exact(flow_server: FlowServer, tmp_path: Path, size: int) -> None:
    path = random_file(tmp_path / "reads.bin", size)
    # max_chunk_size above chunk_size lets the adaptive sizer grow mid-file.
    async with logged_in(
        flow_server, tmp_path / "state", chunk_size=CHUNK, max_chunk_size=4 * CHUNK
    ) as client:
        data = await client.data.upload_data(path)
    assert isinstance(data, Data)
    row = data_row(flow_server, data.id)
    assert (row["size"], row["md5"], row["ready"]) == (size, md5(path), 1)
    assert row["filename"] == "reads.bin"
    assert not list((tmp_path / "state").rglob("*.json")), "a finished upload leaves no record"


@pytest.mark.anyio
async def test_chunks_grow_so_big_files_take_few_requests(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "big.bin", 40 * CHUNK)
    flow_server.reset_counters()
    async with logged_in(
        flow_server, tmp_path / "state", chunk_size=CHUNK, max_chunk_size=16 * CHUNK
    ) as client:
        data = await client.data.upload_data(path)
    # 64 KiB doubling to 1 MiB: 64+128+256+512+1024 KiB, then the rest: far fewer than 40.
    assert flow_server.counters()["upload"] <= 8
    assert data_row(flow_server, data.id)["md5"] == md5(path)


@pytest.mark.anyio
async def test_filename_override_and_data_type(flow_server: FlowServer, tmp_path: Path) -> None:
    path = random_file(tmp_path / "local name.bam", 1000)
    async with logged_in(flow_server, tmp_path / "state") as client:
        data = await client.data.upload_data(path, filename="aligned.bam", data_type="bam")
        assert data.filename == "aligned.bam"
        with pytest.raises(BadRequestError) as info:
            await client.data.upload_data(path, filename="x.bam", data_type="no-such-type")
    row = data_row(flow_server, data.id)
    assert (row["filename"], row["data_type"]) == ("aligned.bam", "bam")
    assert "data_type" in str(info.value)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
async def test_archive_is_unpacked_server_side(
    flow_server: FlowServer, tmp_path: Path, kind: str
) -> None:
    archive = tmp_path / f"results.{kind}"
    members = {"a.txt": b"alpha", "sub/b.txt": b"beta"}
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as bundle:
            for name, content in members.items():
                bundle.writestr(name, content)
    else:
        with tarfile.open(archive, "w:gz") as bundle:
            for name, content in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(content)
                bundle.addfile(info, io.BytesIO(content))
    async with logged_in(flow_server, tmp_path / "state") as client:
        data = await client.data.upload_data(archive, is_directory=True)
    assert data_row(flow_server, data.id)["is_directory"] == 1
    unpacked = flow_server.data_dir / "blobs" / f"{data.id}.contents"
    assert (unpacked / "a.txt").read_bytes() == b"alpha"
    assert (unpacked / "sub" / "b.txt").read_bytes() == b"beta"


@pytest.mark.anyio
async def test_bad_input_is_refused_before_any_byte(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    good = random_file(tmp_path / "good.txt", 10)
    spaced = random_file(tmp_path / "has space.txt", 10)
    unreadable = random_file(tmp_path / "secret.txt", 10)
    unreadable.chmod(0)
    fake_zip = random_file(tmp_path / "fake.zip", 600)
    not_archive = random_file(tmp_path / "notes.txt", 10)
    flow_server.reset_counters()
    async with logged_in(flow_server, tmp_path / "state") as client:
        cases = [
            (client.data.upload_data(tmp_path / "missing.txt"), "does not exist"),
            (client.data.upload_data(tmp_path), "is a directory"),
            (client.data.upload_data(spaced), "spaces"),
            (client.data.upload_data(good, filename="with space.txt"), "spaces"),
            (client.data.upload_data(good, filename="a/b.txt"), "separators"),
            (client.data.upload_data(not_archive, is_directory=True), "archive"),
            (client.data.upload_data(fake_zip, is_directory=True), "archive"),
            (client.data.upload_many([good, tmp_path / "missing.txt"]), "does not exist"),
            (client.data.upload_many([good, tmp_path / "." / "good.txt"]), "more than once"),
        ]
        if os.geteuid() != 0:  # root reads anything; the check is meaningful for users only
            cases.append((client.data.upload_data(unreadable), "cannot read"))
        for call, message in cases:
            with pytest.raises(ConfigurationError, match=message):
                await call
    assert upload_requests(flow_server) == 0


def test_chunk_size_bounds_are_refused() -> None:
    from flowbio_async import ClientConfig

    with pytest.raises(ConfigurationError):
        ClientConfig(chunk_size=0)
    with pytest.raises(ConfigurationError):
        ClientConfig(chunk_size=32 * 1024 * 1024, max_chunk_size=16 * 1024 * 1024)


@pytest.mark.anyio
async def test_upload_many_returns_one_result_per_file(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    paths = [random_file(tmp_path / f"f{i}.bin", 1000 + i) for i in range(5)]
    async with logged_in(flow_server, tmp_path / "state") as client:
        results = await client.data.upload_many(paths, data_type="fastq")
        assert [r.item for r in results] == paths
        for path, result in zip(paths, results, strict=True):
            assert result.ok
            row = data_row(flow_server, result.unwrap().id)
            assert (row["md5"], row["data_type"]) == (md5(path), "fastq")
        failing = await client.data.upload_many(paths[:2], data_type="nope")
        assert all(isinstance(r.error, BadRequestError) for r in failing)
        with pytest.raises(BadRequestError):
            await client.data.upload_many(paths[:2], data_type="nope", fail_fast=True)


@pytest.mark.anyio
async def test_upload_many_stop_on_error_starts_no_file_after_a_failure(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    paths = [random_file(tmp_path / f"stopmany_{tag}.bin", 500) for tag in "abc"]
    async with logged_in(flow_server, tmp_path / "state") as client:
        # Every path passes the local checks: only the server refuses the second file.
        flow_server.add_fault("status", route="upload", nth=2, status=400, body={"error": "no"})
        try:
            results = await client.data.upload_many(paths, max_concurrency=1, stop_on_error=True)
        finally:
            flow_server.clear_faults()
        first, failed, unstarted = results
        assert first.ok and isinstance(failed.error, BadRequestError)
        assert isinstance(unstarted.error, NotStartedError)
        assert "stop_on_error=True" in str(unstarted.error)
        stored = [row["filename"] for row in rows(flow_server, "SELECT filename FROM data")]
        assert [name for name in stored if name.startswith("stopmany_")] == ["stopmany_a.bin"]
        with pytest.raises(ConfigurationError, match="not both"):
            await client.data.upload_many(paths, fail_fast=True, stop_on_error=True)


@pytest.mark.anyio
async def test_progress_callback_sees_every_byte(flow_server: FlowServer, tmp_path: Path) -> None:
    from flowbio_async import ProgressEvent

    path = random_file(tmp_path / "p.bin", 5 * CHUNK + 3)
    events: list[ProgressEvent] = []
    async with logged_in(flow_server, tmp_path / "state", chunk_size=CHUNK) as client:
        await client.data.upload_data(path, progress=events.append)
    assert events[0].kind == "start"
    assert events[-1].kind == "finish" and events[-1].ok
    assert events[-1].completed == events[-1].total == path.stat().st_size


@pytest.mark.anyio
async def test_upload_data_returns_the_data_as_get_shows_it(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    # Seen (#17): md5=None, data_type=None, is_directory=None on the result of upload_data.
    path = random_file(tmp_path / "aligned.bam", 5000)
    async with logged_in(flow_server, tmp_path / "state") as client:
        data = await client.data.upload_data(path, data_type="bam")
        shown = await client.data.get(data.id)
    assert (data.md5, data.is_directory) == (md5(path), False)
    assert isinstance(data.data_type, dict) and data.data_type["identifier"] == "bam"
    assert data.size == 5000
    assert data.model_dump() == shown.model_dump()


@pytest.mark.anyio
async def test_many_uploads_announce_every_size_before_the_first_byte(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    # Seen (#17): the aggregate bar of many uploads started at "0/0 bytes" and grew.
    from flowbio_async import ProgressEvent

    paths = [random_file(tmp_path / f"u{i}.bin", 1000 * (i + 1)) for i in range(4)]
    events: list[ProgressEvent] = []
    async with logged_in(flow_server, tmp_path / "state") as client:
        await client.data.upload_many(paths, progress=events.append)
    assert (events[0].kind, events[0].files, events[0].total) == ("plan", 4, 10_000)
    assert [e.kind for e in events].count("plan") == 1
    finished = [e for e in events if e.kind == "finish"]
    assert len(finished) == 4 and sum(e.completed for e in finished) == 10_000
