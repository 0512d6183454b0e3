"""Issue #14 items 1, 2 and 6: part files that cannot hurt other files, honest workspace downloads.

1. A download's part file used to be ``<name>.part``: downloading ``reads.fq`` deleted a
   finished file named ``reads.fq.part``.
2. Part files, sidecars and their temporaries followed symbolic links: another user of a
   shared folder could plant one and make a download write anywhere the victim can write.
6. ``files.download`` kept truncated or inflated bodies under the final name.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from download_helpers import add_file, client_for, md5_of, payload
from hostile_helpers import Answer, Hostile, Seen, hostile_server

from flowbio_async import (
    AsyncClient,
    ClientConfig,
    DestinationExistsError,
    DestinationNotWritableError,
    FlowError,
    IntegrityError,
    TokenCredentials,
    UnsafePathError,
)
from flowbio_async._transfers._partfile import PartState, part_path, save_state, sidecar_path
from flowbio_async._transfers._privatefs import open_ours, read_ours
from flowbio_async.testing import FlowServer

pytestmark = pytest.mark.anyio


def _files_in(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


# -- item 1 -----------------------------------------------------------------------------------
async def test_a_download_never_deletes_a_finished_file_named_like_its_part_file(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    reads = payload(300_000, seed=1)
    named_part = payload(200_000, seed=2)
    a = add_file(flow_server, reads, "reads.fq", md5=md5_of(reads))
    b = add_file(flow_server, named_part, "reads.fq.part", md5=md5_of(named_part))
    out = tmp_path / "out"
    out.mkdir()
    async with client_for(flow_server, tmp_path / "client") as client:
        await client.data.download(b, out)
        await client.data.download(a, out)
        assert _files_in(out) == {"reads.fq": reads, "reads.fq.part": named_part}

        both = tmp_path / "both"
        report = await client.data.download_many([a, b], f"{both}/")
    assert not report.failed, [str(item.error) for item in report.failed]
    assert _files_in(both) == {"reads.fq": reads, "reads.fq.part": named_part}


async def test_server_names_in_the_temporary_namespace_are_refused(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    # The namespace is the SDK's: a server name inside it could otherwise be a part file.
    target = tmp_path / "out"
    name = part_path(target / "x.bin").name
    data_id = add_file(flow_server, b"payload", name)
    async with client_for(flow_server, tmp_path / "client") as client:
        with pytest.raises(UnsafePathError, match="reserved"):
            await client.data.download(data_id, f"{target}/")
    assert not target.exists() or not any(target.iterdir())


# -- item 2 -----------------------------------------------------------------------------------
@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Path]:
    """A file of the victim's that the attacker wants overwritten."""
    victim = tmp_path / "victim" / "precious.txt"
    victim.parent.mkdir()
    victim.write_bytes(b"precious")
    yield victim
    assert victim.read_bytes() == b"precious", "the victim's file was written through a link"


def _planted(
    server: FlowServer, tmp_path: Path, plant: Callable[[Path], object]
) -> tuple[bytes, str, Path, Path]:
    """A server file, a shared folder, and ``plant`` at its part file with a matching sidecar
    (which makes the engine want to resume into whatever was planted)."""
    content = payload(100_000, seed=3)
    data_id = add_file(server, content, "reads.fq", md5=md5_of(content))
    out = tmp_path / "shared"
    out.mkdir()
    dest = out / "reads.fq"
    plant(part_path(dest))
    save_state(dest, PartState(size=len(content), md5=md5_of(content), done=[(0, 8)]))
    return content, data_id, out, dest


async def test_a_symlink_planted_as_the_part_file_is_refused_and_left_alone(
    flow_server: FlowServer, tmp_path: Path, outside: Path
) -> None:
    content, data_id, out, dest = _planted(
        flow_server, tmp_path, lambda part: part.symlink_to(outside)
    )
    async with client_for(flow_server, tmp_path / "client") as client:
        with pytest.raises(DestinationNotWritableError, match="not created by flowbio-async"):
            await client.data.download(data_id, out)
        assert part_path(dest).is_symlink()  # refused, not deleted: it is not ours
        assert not dest.exists()
        part_path(dest).unlink()  # the owner of the folder cleans up; then all is well
        result = await client.data.download(data_id, out)
    assert result.path == dest and dest.read_bytes() == content and not dest.is_symlink()


async def test_a_hard_link_planted_as_the_part_file_is_refused(
    flow_server: FlowServer, tmp_path: Path, outside: Path
) -> None:
    _, data_id, out, dest = _planted(flow_server, tmp_path, lambda part: os.link(outside, part))
    async with client_for(flow_server, tmp_path / "client") as client:
        with pytest.raises(DestinationNotWritableError):
            await client.data.download(data_id, out)
    assert part_path(dest).stat().st_nlink == 2  # still both links: nothing deleted


async def test_a_symlinked_sidecar_or_sidecar_temporary_is_never_written_through(
    flow_server: FlowServer, tmp_path: Path, outside: Path
) -> None:
    content = payload(3 * 1024 * 1024, seed=5)
    data_id = add_file(flow_server, content, "cut.bin", md5=md5_of(content))
    out = tmp_path / "shared"
    out.mkdir()
    dest = out / "cut.bin"
    # The old fixed temporary name, and the sidecar itself.
    (out / (sidecar_path(dest).name + ".tmp")).symlink_to(outside)
    (out / "cut.bin.part.json.tmp").symlink_to(outside)
    flow_server.add_fault("cut", route="download", bytes=1024 * 1024, count=1)
    flow_server.add_fault("drop", route="download", nth=2, count=0)
    try:
        async with client_for(flow_server, tmp_path / "client", download_retries=0) as client:
            with pytest.raises(FlowError):
                await client.data.download(data_id, out)
            # The failure saved a sidecar (randomly named temporary, then a rename).
            assert json.loads(sidecar_path(dest).read_bytes())["done"]
            sidecar = sidecar_path(dest)
            sidecar.unlink()
            sidecar.symlink_to(outside)
            with pytest.raises(DestinationNotWritableError):
                await client.data.download(data_id, out)
    finally:
        flow_server.clear_faults()


def test_temporary_files_are_opened_without_following_links(tmp_path: Path, outside: Path) -> None:
    """The open itself refuses a link (``O_NOFOLLOW``), not only the ``lstat`` before it: a
    link swapped in between the two would otherwise pass, as its target is our own file."""
    link = tmp_path / "shared" / "reads.fq.flowbio-part"
    link.parent.mkdir()
    link.symlink_to(outside)
    with pytest.raises(DestinationNotWritableError, match="not created by flowbio-async"):
        open_ours(link)
    with pytest.raises(DestinationNotWritableError):
        read_ours(link)
    assert link.is_symlink()


async def test_results_are_not_written_through_a_symlinked_folder(
    flow_server: FlowServer, tmp_path: Path, outside: Path
) -> None:
    async with client_for(flow_server, tmp_path / "client") as client:
        finished = [e async for e in client.executions.search(owned=True) if e.status == "OK"]
        execution = finished[0]
        dest = tmp_path / "shared"
        dest.mkdir()
        (dest / "results").symlink_to(outside.parent, target_is_directory=True)
        report = await client.executions.download_outputs(execution.id, dest)
    refused = [item for item in report.failed if isinstance(item.error, UnsafePathError)]
    assert refused and all("symbolic link" in str(item.error) for item in refused)
    assert sorted(p.name for p in outside.parent.iterdir()) == ["precious.txt"]


async def test_workspace_download_refuses_a_planted_part_file(
    flow_server: FlowServer, tmp_path: Path, outside: Path
) -> None:
    source = tmp_path / "a.txt"
    source.write_bytes(b"workspace bytes")
    out = tmp_path / "shared"
    out.mkdir()
    part_path(out / "a.txt").symlink_to(outside)  # no sidecar needed, as in the report
    async with client_for(flow_server, tmp_path / "client") as client:
        await client.files.upload(source, workspace_id="ws_links")
        with pytest.raises(DestinationNotWritableError):
            await client.files.download("a.txt", workspace_id="ws_links", dest=out)
        assert not (out / "a.txt").exists()
        part_path(out / "a.txt").unlink()
        local = await client.files.download("a.txt", workspace_id="ws_links", dest=out)
    assert local.read_bytes() == b"workspace bytes"


async def test_a_300_character_name_is_a_typed_refusal(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    data_id = add_file(flow_server, b"long", "n" * 300 + ".txt")
    async with client_for(flow_server, tmp_path / "client") as client:
        with pytest.raises(UnsafePathError, match="longer than 255 bytes"):
            await client.data.download(data_id, f"{tmp_path}/out/")
        # 240 characters fit the file system but not with the part suffixes: hashed names.
        fits = "m" * 240
        ok_id = add_file(flow_server, b"fits", fits)
        result = await client.data.download(ok_id, f"{tmp_path}/out/")
    assert result.path.name == fits and result.path.read_bytes() == b"fits"


# -- item 6 -----------------------------------------------------------------------------------
def _workspace(hostile: Hostile, size: int, storage: Answer) -> None:
    """A Files API whose listing says ``size`` and whose storage answers ``storage``."""
    hostile.routes["/api/v1/files/download"] = lambda seen: Answer.json(
        {"url": f"{hostile.base}/storage/obj?sig=1", "expires_in": 3600}
    )
    hostile.routes["/api/v1/files"] = lambda seen: Answer.json(
        [{"key": "raw/a.bin", "name": "a.bin", "size": size, "workspace_id": "ws"}]
    )
    hostile.routes["/storage/"] = lambda seen: storage


async def _download(hostile: Hostile, tmp_path: Path) -> Path:
    config = ClientConfig(
        show_progress=False, backoff_initial=0.01, backoff_max=0.02, download_retries=1
    )
    async with AsyncClient(hostile.api, config) as client:
        await client.log_in(TokenCredentials("hostile-test-token"), verify=False)
        return await client.files.download("raw/a.bin", workspace_id="ws", dest=f"{tmp_path}/out/")


@pytest.mark.parametrize(
    "storage",
    [
        Answer(body=b"x" * 300, length=None),  # 300 of 1000 bytes, then the connection closes
        Answer(body=b"x" * 300, length=1000),  # Content-Length says 1000, 300 arrive
        Answer(body=b"x" * 2000),  # more than the listing says
        Answer(
            body=gzip.compress(b"\0" * (20 * 1024 * 1024)),  # ~20 KB inflating to 20 MiB
            headers={"Content-Encoding": "gzip"},
        ),
    ],
    ids=["short-close", "short-length", "long", "gzip"],
)
async def test_workspace_download_refuses_truncated_or_inflated_bodies(
    tmp_path: Path, storage: Answer
) -> None:
    with hostile_server() as hostile:
        _workspace(hostile, 1000, storage)
        with pytest.raises(FlowError) as caught:
            await _download(hostile, tmp_path)
        storage_requests = [s for s in hostile.seen if s.path.startswith("/storage/")]
    assert isinstance(caught.value, IntegrityError | FlowError)
    assert not (tmp_path / "out" / "a.bin").exists()  # nothing kept under the final name
    assert all(s.headers.get("accept-encoding") == "identity" for s in storage_requests)
    assert all("authorization" not in s.headers for s in storage_requests)


GZIPPED = Answer(body=gzip.compress(b"r" * 100_000), headers={"Content-Encoding": "gzip"})


@pytest.mark.parametrize(
    ("kind", "storage"),
    [
        ("asset", GZIPPED),
        ("asset", Answer(body=b"r" * 300, length=1000)),  # Content-Length is all that is known
        ("archive", GZIPPED),
        ("archive", Answer(body=b"r" * 300, length=None)),  # the job says 1000: 300, then close
        ("archive", Answer(body=b"r" * 2000)),  # more than the job says
    ],
    ids=["asset-gzip", "asset-short", "archive-gzip", "archive-short", "archive-long"],
)
async def test_assets_and_archives_refuse_encoded_or_wrongly_sized_bodies(
    tmp_path: Path, kind: str, storage: Answer
) -> None:
    """#14 scope: downloads "of any kind (data, workspace files, assets, archives)" check the
    size against what is known and refuse an encoding that changes the bytes."""
    job = {"id": "j1", "status": "completed", "name": "bundle.zip", "size": 1000}
    out = tmp_path / "out"
    with hostile_server() as hostile:
        job["download_url"] = f"{hostile.base}/storage/bundle.zip"
        hostile.routes["/api/downloads/j1"] = lambda seen: Answer.json(job)
        for prefix in ("/storage/", "/files/downloads/7/", "/api/downloads/7/"):
            hostile.routes[prefix] = lambda seen: storage
        config = ClientConfig(show_progress=False, backoff_initial=0.01, download_retries=1)
        async with AsyncClient(hostile.api, config) as client:
            await client.log_in(TokenCredentials("hostile-test-token"), verify=False)
            with pytest.raises(FlowError) as caught:
                if kind == "asset":
                    await client.data.download_asset("7", "qc_data/a.txt", f"{out}/")
                else:
                    await client.downloads.fetch("j1", f"{out}/")
    if storage is GZIPPED:
        assert isinstance(caught.value, IntegrityError) and "Content-Encoding" in str(caught.value)
    final = out / ("qc_data/a.txt" if kind == "asset" else "bundle.zip")
    assert not final.exists()  # nothing kept under the final name


async def test_workspace_download_checks_the_body_even_without_a_listed_size(
    tmp_path: Path,
) -> None:
    def storage(seen: Seen) -> Answer:
        return Answer(body=b"y" * 300, length=1000)

    with hostile_server() as hostile:
        _workspace(hostile, 0, Answer())
        hostile.routes["/api/v1/files"] = lambda seen: Answer.json([])  # unlisted
        hostile.routes["/storage/"] = storage
        with pytest.raises(FlowError):
            await _download(hostile, tmp_path)
        hostile.routes["/storage/"] = lambda seen: Answer(body=b"z" * 1000)
        local = await _download(hostile, tmp_path)
    assert local.read_bytes() == b"z" * 1000


async def test_a_fifo_planted_as_the_destination_is_refused_not_read(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    data_id = add_file(flow_server, b"", "empty.txt", md5=md5_of(b""))
    out = tmp_path / "shared"
    out.mkdir()
    os.mkfifo(out / "empty.txt")  # hashing it for the skip check would block for ever
    async with client_for(flow_server, tmp_path / "client") as client:
        with pytest.raises(DestinationExistsError, match="not a regular file"):
            await client.data.download(data_id, out)
