"""client.data.download against the local server: the whole path, resume, faults, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import pytest
from download_helpers import (
    MiB,
    add_file,
    client_for,
    md5_of,
    part_files,
    payload,
    server_fixtures,
)

from flowbio_async import (
    Data,
    DestinationExistsError,
    DestinationNotWritableError,
    FlowConnectionError,
    InsufficientSpaceError,
    IntegrityError,
    NotFoundError,
)
from flowbio_async._transfers import _download
from flowbio_async._transfers._partfile import part_path, sidecar_path
from flowbio_async.testing import FlowServer

pytestmark = pytest.mark.anyio


server, _clean = server_fixtures()


async def test_download_to_directory_verifies_and_names_the_file(
    server: FlowServer, tmp_path: Path
) -> None:
    content = payload(3 * MiB + 17)
    data_id = add_file(server, content, "sample_R1.fastq.gz")
    async with client_for(server, tmp_path) as client:
        result = await client.data.download(data_id, f"{tmp_path}/out/")
    assert result.path == tmp_path / "out" / "sample_R1.fastq.gz"
    assert result.path.read_bytes() == content
    assert (result.size, result.md5, result.status) == (len(content), md5_of(content), "downloaded")
    assert part_files(tmp_path / "out") == []


async def test_download_to_a_file_path_and_skip_when_complete(
    server: FlowServer, tmp_path: Path
) -> None:
    content = payload(100_000, seed=1)
    data_id = add_file(server, content, "table.tsv")
    target = tmp_path / "renamed.tsv"
    async with client_for(server, tmp_path) as client:
        first = await client.data.download(data_id, target)
        server.reset_counters()
        second = await client.data.download(data_id, target)
    assert first.path == target and target.read_bytes() == content
    assert second.status == "skipped" and second.md5 == md5_of(content)
    assert server.counters().get("download", 0) == 0  # nothing transferred


async def test_existing_different_file_is_kept_unless_overwrite(
    server: FlowServer, tmp_path: Path
) -> None:
    content = payload(50_000, seed=2)
    data_id = add_file(server, content, "keep.txt")
    target = tmp_path / "keep.txt"
    target.write_bytes(b"my own notes")
    async with client_for(server, tmp_path) as client:
        with pytest.raises(DestinationExistsError):
            await client.data.download(data_id, tmp_path)
        assert target.read_bytes() == b"my own notes"
        result = await client.data.download(data_id, tmp_path, overwrite=True)
    assert result.status == "downloaded" and target.read_bytes() == content


async def test_public_file_downloads_anonymously_private_one_is_404(
    server: FlowServer, tmp_path: Path
) -> None:
    public = add_file(server, b"public bytes", "public.txt", private=False)
    private = add_file(server, b"private bytes", "private.txt")
    async with client_for(server, tmp_path, login=False) as client:
        # Listing items carry id and filename; anonymous callers cannot read /data/<id>
        # of private data, so build the records the way a search result would.
        got = await client.data.download(Data(id=public, filename="public.txt"), tmp_path / "a")
        assert got.path.read_bytes() == b"public bytes"
        with pytest.raises(NotFoundError):
            await client.data.download(Data(id=private, filename="private.txt"), tmp_path)
    assert not (tmp_path / "private.txt").exists()


async def test_unknown_id_is_a_typed_404(server: FlowServer, tmp_path: Path) -> None:
    async with client_for(server, tmp_path) as client:
        with pytest.raises(NotFoundError):
            await client.data.download("999999", tmp_path)


async def test_resume_across_two_calls_after_a_cut(server: FlowServer, tmp_path: Path) -> None:
    content = payload(6 * MiB, seed=3)
    data_id = add_file(server, content, "cut.bin")
    # The first answer is cut after 2 MiB, then the server drops every connection.
    server.add_fault("cut", route="download", bytes=2 * MiB, count=1)
    server.add_fault("drop", route="download", nth=2, count=0)
    async with client_for(server, tmp_path, download_retries=0) as client:
        with pytest.raises(FlowConnectionError):
            await client.data.download(data_id, tmp_path)
    assert not (tmp_path / "cut.bin").exists()
    sidecar = json.loads(sidecar_path(tmp_path / "cut.bin").read_text())
    saved = sum(hi - lo for lo, hi in sidecar["done"])
    assert 0 < saved <= 2 * MiB
    server.clear_faults()
    async with client_for(server, tmp_path) as client:
        result = await client.data.download(data_id, tmp_path)
    assert result.resumed_from == saved
    assert result.path.read_bytes() == content
    assert part_files(tmp_path) == []


async def test_resume_within_one_call_after_repeated_cuts(
    server: FlowServer, tmp_path: Path
) -> None:
    content = payload(5 * MiB, seed=4)
    data_id = add_file(server, content, "flaky.bin")
    # Every answer is cut after 1 MiB: only Range resume can finish (budget resets on bytes).
    server.add_fault("cut", route="download", bytes=MiB, count=0)
    async with client_for(server, tmp_path, download_retries=1) as client:
        result = await client.data.download(data_id, tmp_path)
    assert result.path.read_bytes() == content and result.md5 == md5_of(content)
    assert server.counters()["download"] >= 5


async def test_server_ignoring_range_restarts_cleanly(server: FlowServer, tmp_path: Path) -> None:
    content = payload(4 * MiB, seed=5)
    data_id = add_file(server, content, "norange.bin")
    server.add_fault("cut", route="download", bytes=MiB, count=1)
    server.add_fault("ignore_range", route="download", nth=1, count=0)
    events: list[tuple[str, int]] = []
    async with client_for(server, tmp_path) as client:
        result = await client.data.download(
            data_id, tmp_path, progress=lambda e: events.append((e.kind, e.completed))
        )
    assert result.path.read_bytes() == content
    assert ("reset", 0) in events  # progress rolled back when the 200 came
    assert events[-1] == ("finish", len(content))


async def test_503_burst_is_retried(server: FlowServer, tmp_path: Path) -> None:
    content = payload(MiB, seed=14)
    data_id = add_file(server, content, "busy.bin")
    server.add_fault("status", route="download", status=503, count=3)
    async with client_for(server, tmp_path) as client:
        result = await client.data.download(data_id, tmp_path)
    assert result.path.read_bytes() == content
    assert server.counters()["download"] == 4


async def test_md5_mismatch_raises_and_leaves_no_file(server: FlowServer, tmp_path: Path) -> None:
    content = payload(MiB, seed=6)
    data_id = add_file(server, content, "bad.bin", md5="0" * 32)
    async with client_for(server, tmp_path) as client:
        with pytest.raises(IntegrityError, match="md5"):
            await client.data.download(data_id, tmp_path)
    assert list(tmp_path.glob("bad.bin*")) == []


@pytest.mark.parametrize("segmented", [False, True])
async def test_size_mismatch_raises_and_leaves_no_part(
    server: FlowServer, tmp_path: Path, segmented: bool
) -> None:
    data_id = add_file(server, payload(3 * MiB, seed=13), "stale.bin", size=3 * MiB + 1)
    changes = {"segment_threshold": MiB, "segment_below_rate": None} if segmented else {}
    async with client_for(server, tmp_path, **changes) as client:
        with pytest.raises(IntegrityError, match="bytes"):
            await client.data.download(data_id, tmp_path)
    assert list(tmp_path.glob("stale.bin*")) == []


async def test_corrupted_byte_is_caught_by_md5(server: FlowServer, tmp_path: Path) -> None:
    content = payload(2 * MiB, seed=7)
    data_id = add_file(server, content, "flip.bin")
    server.add_fault("corrupt", route="download", bytes=12345, count=1)
    async with client_for(server, tmp_path) as client:
        with pytest.raises(IntegrityError):
            await client.data.download(data_id, tmp_path)
        assert list(tmp_path.glob("flip.bin*")) == []
        result = await client.data.download(data_id, tmp_path)  # fault used up
    assert result.path.read_bytes() == content


async def test_not_enough_free_space(
    server: FlowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_id = add_file(server, payload(MiB, seed=8), "big.bin")
    monkeypatch.setattr(_download, "disk_free", lambda directory: 1000)
    async with client_for(server, tmp_path) as client:
        server.reset_counters()
        with pytest.raises(InsufficientSpaceError, match="needed"):
            await client.data.download(data_id, tmp_path)
    assert server.counters().get("download", 0) == 0  # refused before the first byte
    assert list(tmp_path.glob("big.bin*")) == []


async def test_destination_not_writable(server: FlowServer, tmp_path: Path) -> None:
    data_id = add_file(server, b"x" * 10, "x.txt")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        async with client_for(server, tmp_path) as client:
            with pytest.raises(DestinationNotWritableError):
                await client.data.download(data_id, blocker / "sub/")
            if os.geteuid() != 0:  # root writes anywhere; permissions cannot block it
                with pytest.raises(DestinationNotWritableError):
                    await client.data.download(data_id, locked)
    finally:
        locked.chmod(0o700)


@pytest.mark.timing
async def test_cancellation_leaves_a_resumable_part_file(
    server: FlowServer, tmp_path: Path
) -> None:
    content = payload(8 * MiB, seed=9)
    data_id = add_file(server, content, "cancel.bin")
    server.add_fault("latency", route="download", seconds=0.0, count=0)
    seen = anyio.Event()

    def on_progress(event: object) -> None:
        if getattr(event, "completed", 0) >= MiB:
            seen.set()

    async with (
        client_for(server, tmp_path, download_buffer_size=256 * 1024) as client,
        anyio.create_task_group() as group,
    ):
        group.start_soon(lambda: client.data.download(data_id, tmp_path, progress=on_progress))
        await seen.wait()
        group.cancel_scope.cancel()
    assert not (tmp_path / "cancel.bin").exists()
    assert part_path(tmp_path / "cancel.bin").exists()
    async with client_for(server, tmp_path) as client:
        result = await client.data.download(data_id, tmp_path)
    assert result.resumed_from > 0 and result.path.read_bytes() == content
