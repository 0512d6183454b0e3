"""The workspace Files API (seed 004, docs/protocol.md §7) against the local server."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from upload_helpers import logged_in, random_file

from flowbio_async import (
    AsyncClient,
    BadRequestError,
    ConfigurationError,
    DestinationExistsError,
    NotFoundError,
    PermissionDeniedError,
    UnexpectedResponseError,
)
from flowbio_async._resources import _files
from flowbio_async.testing import FlowServer


@pytest.mark.anyio
async def test_upload_list_download_delete(flow_server: FlowServer, tmp_path: Path) -> None:
    path = random_file(tmp_path / "sample.vcf", 300_000)
    async with logged_in(flow_server, tmp_path / "state") as client:
        stored = await client.files.upload(
            path, workspace_id="ws_test", path="raw/", description="calls"
        )
        assert stored["key"] == stored.key == "raw/sample.vcf"
        assert (stored.size, stored.description) == (300_000, "calls")
        await client.files.upload(random_file(tmp_path / "other.txt", 5), workspace_id="ws_test")
        listed = await client.files.list("ws_test")
        assert sorted(f.key for f in listed) == ["other.txt", "raw/sample.vcf"]
        assert [f.key for f in await client.files.list("ws_test", prefix="raw/")] == [
            "raw/sample.vcf"
        ]
        assert len(await client.files.list("ws_test", limit=1)) == 1
        local = await client.files.download(
            "raw/sample.vcf", workspace_id="ws_test", dest=f"{tmp_path}/out/"
        )
        assert local == tmp_path / "out" / "sample.vcf"
        assert local.read_bytes() == path.read_bytes()
        await client.files.delete("raw/sample.vcf", workspace_id="ws_test")
        assert [f.key for f in await client.files.list("ws_test")] == ["other.txt"]
        with pytest.raises(NotFoundError):
            await client.files.download_url("raw/sample.vcf", workspace_id="ws_test")


@pytest.mark.anyio
async def test_large_files_take_the_presigned_path(
    flow_server: FlowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shrink the 500 MB threshold so a small file exercises upload-url → PUT → confirm.
    monkeypatch.setattr(_files, "DIRECT_UPLOAD_LIMIT", 1000)
    path = random_file(tmp_path / "genome.bam", 2_000_001)
    async with logged_in(flow_server, tmp_path / "state") as client:
        flow_server.reset_counters()
        stored = await client.files.upload(path, workspace_id="ws_big", path="bam/")
        counts = flow_server.counters()
        assert counts.get("files_upload_url") == 1 and counts.get("files_object") == 1
        assert counts.get("files_confirm") == 1 and "files_upload" not in counts
        assert (stored.key, stored.size) == ("bam/genome.bam", 2_000_001)
        # The source itself is tmp_path/genome.bam: fetched elsewhere (a file already there is
        # no longer replaced unasked, #17 item 3).
        local = await client.files.download(stored.key, workspace_id="ws_big", dest=tmp_path / "o")
        assert local.read_bytes() == path.read_bytes()


@pytest.mark.anyio
async def test_presigned_steps_by_hand(flow_server: FlowServer, tmp_path: Path) -> None:
    path = random_file(tmp_path / "big.bin", 12345)
    async with logged_in(flow_server, tmp_path / "state") as client:
        ticket = await client.files.upload_large(
            filename="big.bin", workspace_id="ws_steps", size=12345, path="x/"
        )
        assert ticket["uploadUrl"] == ticket.upload_url and ticket["fileKey"] == "x/big.bin"
        # Not visible before it is confirmed (seed 004 step 3).
        with pytest.raises(BadRequestError):
            await client.files.upload_confirm(
                file_key=ticket.file_key, workspace_id="ws_steps", filename="big.bin", size=12345
            )
        await client.files.put_presigned(ticket.upload_url, path)
        assert await client.files.list("ws_steps") == []
        with pytest.raises(BadRequestError, match="size"):
            await client.files.upload_confirm(
                file_key=ticket.file_key, workspace_id="ws_steps", filename="big.bin", size=1
            )
        done = await client.files.upload_confirm(
            file_key=ticket.file_key, workspace_id="ws_steps", filename="big.bin", size=12345
        )
        assert [f.key for f in await client.files.list("ws_steps")] == [done.key]
        with pytest.raises(ConfigurationError, match="spaces"):
            await client.files.upload_large(filename="a b", workspace_id="ws_steps", size=1)


@pytest.mark.anyio
async def test_presigned_urls_are_signed_and_refuse_credentials(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "s.txt", 10)
    async with logged_in(flow_server, tmp_path / "state") as client:
        await client.files.upload(path, workspace_id="ws_sig")
        link = await client.files.download_url("s.txt", workspace_id="ws_sig")
        http = client._http
        # The same URL with our bearer token: refused, like S3 (two auth mechanisms).
        with pytest.raises(BadRequestError, match="auth"):
            await http.request("GET", link.url)
        ok = await http.request("GET", link.url, authenticated=False)
        assert ok.content == path.read_bytes()
        with pytest.raises(PermissionDeniedError, match="Signature"):
            await http.request("GET", link.url.replace("s.txt", "t.txt"), authenticated=False)
        short = await http.request(
            "GET",
            "v1/files/download",
            params={"workspace_id": "ws_sig", "key": "s.txt", "expires_in": 1},
        )
        await anyio.sleep(2.1)  # let the one-second link expire
        with pytest.raises(PermissionDeniedError, match="expired"):
            await http.request("GET", short.json()["url"], authenticated=False)


async def _fill(
    client: AsyncClient, folder: Path, workspace: str, count: int, **where: str
) -> None:
    """Upload ``count`` small files named ``f000.txt``... into ``workspace``."""
    folder.mkdir(exist_ok=True)
    for number in range(count):
        source = folder / f"f{number:03}.txt"
        source.write_bytes(b"%d" % number)
        await client.files.upload(source, workspace_id=workspace, **where)


@pytest.mark.anyio
async def test_a_listing_of_105_files_gives_all_105_and_limit_caps_it(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    """#17 item 3: ``files.list`` stopped silently at 100 of 105 files."""
    async with logged_in(flow_server, tmp_path / "state") as client:
        await _fill(client, tmp_path / "src", "ws_105", 105, path="many/")
        flow_server.reset_counters()
        listed = await client.files.list("ws_105")
        assert [f.key for f in listed] == [f"many/f{n:03}.txt" for n in range(105)]
        assert flow_server.counters()["files"] == 2  # 100, then the short page of 5
        assert len(await client.files.list("ws_105", limit=101)) == 101
        assert len(await client.files.list("ws_105", limit=7)) == 7
        assert await client.files.list("ws_105", limit=0) == []
        streamed = [f.key async for f in client.files.list("ws_105", prefix="many/f10")]
        assert streamed == [f"many/f{n:03}.txt" for n in range(100, 105)]
        pager = client.files.list("ws_105")
        assert await pager.count() == 105  # no total from the server: counted by listing
        assert (await pager.at(-1)).key == "many/f104.txt"
        with pytest.raises(ConfigurationError, match="limit"):
            client.files.list("ws_105", limit=-1)


@pytest.mark.anyio
async def test_a_server_ignoring_offset_is_a_typed_error_not_a_loop(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    """A Files server without the ``offset`` continuation answers the first page again."""
    async with logged_in(flow_server, tmp_path / "state") as client:
        await _fill(client, tmp_path / "src", "ws_no_offset", 100)
        flow_server.add_fault(
            "drop_query", path="^/api/v1/files$", count=0, params={"names": ["offset"]}
        )
        try:
            with pytest.raises(UnexpectedResponseError, match="does not page with offset"):
                await client.files.list("ws_no_offset")
        finally:
            flow_server.clear_faults()


@pytest.mark.anyio
async def test_download_keeps_an_existing_file_unless_overwrite(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    """#17 item 3: ``files.download`` replaced an existing local file without asking."""
    source = random_file(tmp_path / "calls.vcf", 1000)
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "calls.vcf"
    mine.write_bytes(b"my own edits")
    async with logged_in(flow_server, tmp_path / "state") as client:
        await client.files.upload(source, workspace_id="ws_keep", path="raw/")
        flow_server.reset_counters()
        with pytest.raises(DestinationExistsError) as info:
            await client.files.download("raw/calls.vcf", workspace_id="ws_keep", dest=out)
        assert str(mine) in str(info.value)
        assert "overwrite=True" in str(info.value) and "--overwrite" in str(info.value)
        assert mine.read_bytes() == b"my own edits"
        assert "files_download" not in flow_server.counters()  # refused before any link
        local = await client.files.download(
            "raw/calls.vcf", workspace_id="ws_keep", dest=out, overwrite=True
        )
    assert local == mine and mine.read_bytes() == source.read_bytes()
