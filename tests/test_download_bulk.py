"""Bulk download jobs against the local server: lifecycle, archive, extraction, errors."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from download_helpers import add_file, client_for, payload

from flowbio_async import (
    BulkDownloadFailedError,
    DestinationExistsError,
    GoneError,
    NotFoundError,
    ProgressEvent,
    UnsafePathError,
)
from flowbio_async._models._downloads import BulkDownloadJob
from flowbio_async._transfers._extract import extract_archive
from flowbio_async.testing import FlowServer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(bulk_job_delay=0.05) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(server: FlowServer) -> Iterator[None]:
    server.reset()
    yield
    server.set(bulk_job_lifetime=24 * 3600.0)


async def test_create_wait_fetch_and_extract(server: FlowServer, tmp_path: Path) -> None:
    first, second = payload(300_000, seed=1), payload(123_456, seed=2)
    ids = [add_file(server, first, "one.bin"), add_file(server, second, "two.bin")]
    events: list[ProgressEvent] = []
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        job = await client.downloads.create(ids, name="bundle.zip")
        assert job.status == "pending" and job.data == ids
        done = await client.downloads.finish(
            job, tmp_path / "out", extract=True, progress=events.append
        )
    assert done.job.is_completed and done.job.progress == 100
    assert sorted(p.name for p in done.files) == ["one.bin", "two.bin"]
    assert (tmp_path / "out" / "one.bin").read_bytes() == first
    assert (tmp_path / "out" / "two.bin").read_bytes() == second
    assert not done.archive.path.exists()  # the archive is removed once extracted
    percents = [e.completed for e in events if e.task_id == f"bulk-{job.id}"]
    assert percents[-1] == 100 and percents == sorted(percents)


async def test_archive_kept_when_not_extracting(server: FlowServer, tmp_path: Path) -> None:
    data_id = add_file(server, b"hello bulk", "hello.txt")
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        done = await client.downloads.download([data_id], f"{tmp_path}/", name="hello.zip")
    assert done.archive.path == tmp_path / "hello.zip"
    with zipfile.ZipFile(done.archive.path) as archive:
        assert archive.read("hello.txt") == b"hello bulk"


async def test_status_has_every_field_of_row_24(server: FlowServer, tmp_path: Path) -> None:
    data_id = add_file(server, b"x", "x.txt")
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        job = await client.downloads.wait(await client.downloads.create([data_id]))
        raw = (await client._ctx.http.request("GET", f"downloads/{job.id}/status")).json()
    for name in (
        "id",
        "status",
        "progress",
        "created",
        "started",
        "finished",
        "by_execution",
        "data",
        "user",
        "download_url",
        "error",
        "expires",
    ):
        assert name in raw, name
    assert job.download_url and job.expires is not None and job.finished is not None


async def test_expired_job_raises_gone(server: FlowServer, tmp_path: Path) -> None:
    data_id = add_file(server, b"soon gone", "gone.txt")
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        job = await client.downloads.wait(await client.downloads.create([data_id]))
        server.set(bulk_job_lifetime=0)
        with pytest.raises(GoneError) as caught:
            await client.downloads.fetch(job, tmp_path)
        assert caught.value.status_code == 410
        assert (await client.downloads.status(job)).is_expired
        with pytest.raises(GoneError):
            await client.downloads.wait(job)
    assert list(tmp_path.glob("*.zip*")) == []


async def test_failed_job_raises_with_the_server_message(
    server: FlowServer, tmp_path: Path
) -> None:
    data_id = add_file(server, b"will vanish", "vanish.txt")
    (server.data_dir / "blobs" / data_id).unlink()  # the file disappears from storage
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        job = await client.downloads.create([data_id])
        with pytest.raises(BulkDownloadFailedError, match="no longer available"):
            await client.downloads.wait(job)


async def test_unknown_ids(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        with pytest.raises(NotFoundError):
            await client.downloads.create(["999999"])
        with pytest.raises(NotFoundError):
            await client.downloads.status("00000000-0000-4000-8000-000000000000")


async def test_execution_and_sample_jobs(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        executions = [e async for e in client.executions.search(owned=True)]
        finished = [e for e in executions if e.status == "OK"]
        job = await client.downloads.create_for_executions([finished[0].id])
        done = await client.downloads.finish(job, tmp_path / "ex", extract=True)
        names = {p.relative_to(tmp_path / "ex").as_posix() for p in done.files}
        assert f"{finished[0].id}/results/counts/all.gene_counts.tsv" in names
        sample = (await client.samples.search(name="liver_1"))[0]
        job = await client.downloads.create_for_samples([sample.id])
        done = await client.downloads.finish(job, tmp_path / "s", extract=True)
        assert {"liver_1_R1.fastq.gz", "liver_1_R2.fastq.gz"} <= {p.name for p in done.files}


def test_model_derives_status_from_timestamps() -> None:
    assert BulkDownloadJob.model_validate({"id": 1}).status == "pending"
    assert BulkDownloadJob.model_validate({"id": 1, "started": 5}).status == "processing"
    job = BulkDownloadJob.model_validate({"id": 1, "started": 5, "finished": 9})
    assert job.is_completed and job.id == "1"
    assert BulkDownloadJob.model_validate({"id": 1, "status": "CANCELLED"}).is_failed


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil"])
def test_zip_slip_is_refused_before_writing(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "bad.zip"
    archive.write_bytes(_zip({"good.txt": b"ok", name: b"evil"}))
    target = tmp_path / "target"
    with pytest.raises(UnsafePathError):
        extract_archive(archive, target)
    assert not target.exists() or list(target.rglob("*")) == []
    assert not (tmp_path / "evil.txt").exists()


async def test_extracting_again_skips_identical_files_and_removes_the_archive(
    server: FlowServer, tmp_path: Path
) -> None:
    """#17 item 4, through the API: the second ``download(..., extract=True)`` succeeds."""
    contents = {"r1.bin": payload(50_000, seed=7), "r2.bin": payload(40_000, seed=8)}
    ids = [add_file(server, content, name) for name, content in contents.items()]
    out = tmp_path / "out"
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        first = await client.downloads.download(ids, out, extract=True)
        again = await client.downloads.download(ids, out, extract=True)
        assert first.skipped == [] and sorted(again.skipped) == sorted(again.files)
        assert sorted(p.name for p in out.iterdir()) == ["r1.bin", "r2.bin"]
        (out / "r2.bin").write_bytes(b"changed")
        job = await client.downloads.create(ids)
        with pytest.raises(DestinationExistsError, match="the archive is kept at") as info:
            await client.downloads.finish(job, out, extract=True)
        kept = out / f"flow-download-{job.id}.zip"
        assert str(kept) in str(info.value) and kept.is_file()
        assert (out / "r2.bin").read_bytes() == b"changed"
        replaced = await client.downloads.finish(job, out, extract=True, overwrite=True)
    assert [p.name for p in replaced.skipped] == ["r1.bin"]
    assert sorted(p.name for p in out.iterdir()) == ["r1.bin", "r2.bin"]
    assert all((out / name).read_bytes() == content for name, content in contents.items())
