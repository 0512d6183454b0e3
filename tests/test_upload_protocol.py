"""The chunk protocol on the wire (docs/protocol.md §3.2-3.6), checked with respx.

respx is used where exact request bodies matter or for answers the local server does not
give (ids only as ``data_id``, 429 with ``Retry-After``).
"""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from flowbio_async import (
    AnnotationWarningsError,
    AsyncClient,
    BadRequestError,
    ClientConfig,
    TokenCredentials,
    UsernamePasswordCredentials,
)

BASE = "https://flow.test/api"
MiB = 1024 * 1024


async def _form(request: httpx.Request) -> dict[str, list[Any]]:
    """Decode a multipart body: text fields as str, the blob as (filename, type, bytes)."""
    content = await request.aread()
    assert len(content) == int(request.headers["content-length"])
    raw = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(raw + content)
    fields: dict[str, list[Any]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        value: Any = (filename, part.get_content_type(), payload) if filename else payload.decode()
        fields.setdefault(str(name), []).append(value)
    return fields


def _config(tmp_path: Path, **changes: Any) -> ClientConfig:
    values: dict[str, Any] = {
        "show_progress": False,
        "state_dir": tmp_path / "state",
        "chunk_size": 4,
        "max_chunk_size": 4,
        "backoff_initial": 0.001,
        "backoff_max": 0.002,
        "http_engine": "httpx",  # respx mocks httpx's own transport
        **changes,
    }
    return ClientConfig(**values)


async def _client(tmp_path: Path, **changes: Any) -> AsyncClient:
    client = AsyncClient(BASE, _config(tmp_path, **changes))
    await client.log_in(TokenCredentials("tok"), verify=False)  # respx has no /me route
    return client


def _read_backs(mock: respx.MockRouter) -> None:
    """What an upload reads besides its chunks: the catalogue before, the record after (#17)."""
    mock.get(f"{BASE}/samples/types").mock(
        return_value=httpx.Response(200, json=[{"identifier": "RNA-Seq", "name": "RNA-Seq"}])
    )
    strandedness = {"identifier": "strandedness", "name": "Strandedness", "has_options": False}
    mock.get(f"{BASE}/samples/metadata").mock(return_value=httpx.Response(200, json=[strandedness]))
    mock.get(url__regex=rf"^{BASE}/data/(?P<data_id>[^/]+)$").mock(
        side_effect=lambda request, data_id: httpx.Response(
            200, json={"id": data_id, "filename": "as-stored", "md5": "0" * 32}
        )
    )
    mock.get(url__regex=rf"^{BASE}/samples/(?P<sample_id>[^/]+)$").mock(
        side_effect=lambda request, sample_id: httpx.Response(
            200, json={"id": sample_id, "name": "a", "sample_type": "RNA-Seq"}
        )
    )


@pytest.mark.anyio
async def test_chunk_fields_and_id_threading(tmp_path: Path) -> None:
    path = tmp_path / "local.txt"
    path.write_bytes(b"0123456789")
    seen: list[dict[str, list[Any]]] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        seen.append(await _form(request))
        # only data_id (docs/protocol.md §8 row 8)
        return httpx.Response(200, json={"data_id": "d1"})

    with respx.mock(assert_all_called=False) as mock:  # not every upload reads everything
        _read_backs(mock)
        mock.post(f"{BASE}/upload").mock(side_effect=answer)
        client = await _client(tmp_path)
        async with client:
            data = await client.data.upload_data(path, filename="stored.txt", data_type="txt")
    assert data.id == "d1"
    assert [f["expected_file_size"] for f in seen] == [["0"], ["4"], ["8"]]
    assert [f["is_last"] for f in seen] == [["false"], ["false"], ["true"]]
    assert [f["data"] for f in seen] == [[""], ["d1"], ["d1"]]
    assert all(f["filename"] == ["stored.txt"] and f["data_type"] == ["txt"] for f in seen)
    assert "is_directory" not in seen[0]
    blobs = [f["blob"][0] for f in seen]
    assert [b[2] for b in blobs] == [b"0123", b"4567", b"89"]
    assert {(b[0], b[1]) for b in blobs} == {("stored.txt", "application/octet-stream")}


@pytest.mark.anyio
async def test_empty_file_is_one_empty_last_chunk(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    seen: list[dict[str, list[Any]]] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        seen.append(await _form(request))
        return httpx.Response(200, json={"id": "e1"})

    with respx.mock(assert_all_called=False) as mock:  # not every upload reads everything
        _read_backs(mock)
        mock.post(f"{BASE}/upload").mock(side_effect=answer)
        client = await _client(tmp_path)
        async with client:
            await client.data.upload_data(path)
    assert len(seen) == 1
    assert (seen[0]["expected_file_size"], seen[0]["is_last"]) == (["0"], ["true"])
    assert seen[0]["blob"][0][2] == b""


@pytest.mark.anyio
async def test_sample_threads_previous_data(tmp_path: Path) -> None:
    r1, r2 = tmp_path / "a_R1.fq", tmp_path / "a_R2.fq"
    r1.write_bytes(b"AAAAAA")
    r2.write_bytes(b"CC")
    seen: list[dict[str, list[Any]]] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        form = await _form(request)
        seen.append(form)
        last_file = form["is_last_sample"] == ["true"]
        done = last_file and form["is_last"] == ["true"]
        data_id = "r2" if last_file else "r1"
        return httpx.Response(200, json={"sample_id": "s9" if done else None, "data_id": data_id})

    with respx.mock(assert_all_called=False) as mock:  # not every upload reads everything
        _read_backs(mock)
        mock.post(f"{BASE}/upload/sample").mock(side_effect=answer)
        client = await _client(tmp_path)
        async with client:
            sample = await client.samples.upload_sample(
                "a",
                "RNA-Seq",
                {"reads1": r1, "reads2": r2},
                {"strandedness": "reverse"},
                "p1",
                "Hs",
            )
    assert (sample.id, sample.sample_type and sample.sample_type.identifier) == ("s9", "RNA-Seq")
    assert [f["filename"][0] for f in seen] == ["a_R1.fq", "a_R1.fq", "a_R2.fq"]
    assert [f.get("previous_data") for f in seen] == [None, None, ["r1"]]
    assert [f["is_last_sample"][0] for f in seen] == ["false", "false", "true"]
    for form in seen:
        assert form["sample_name"] == ["a"] and form["sample_type"] == ["RNA-Seq"]
        assert form["strandedness"] == ["reverse"]
        assert form["project"] == ["p1"] and form["organism"] == ["Hs"]
        # keys are never sent (docs/protocol.md §3.4)
        assert "reads1" not in form and "reads2" not in form


@pytest.mark.anyio
async def test_429_and_502_are_retried_400_is_not(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"abcdefgh")
    with respx.mock(assert_all_called=False) as mock:  # not every upload reads everything
        _read_backs(mock)
        route = mock.post(f"{BASE}/upload").mock(
            side_effect=[
                httpx.Response(429, json={"error": "slow down"}, headers={"Retry-After": "0"}),
                httpx.Response(200, json={"id": "x"}),
                httpx.Response(502, text="<html>bad gateway</html>"),
                httpx.Response(200, json={"id": "x"}),
            ]
        )
        client = await _client(tmp_path)
        async with client:
            assert (await client.data.upload_data(path)).id == "x"
            assert route.call_count == 4
            route.side_effect = [httpx.Response(400, json={"error": "nope"})]
            with pytest.raises(BadRequestError, match="nope"):
                await client.data.upload_data(path)
    assert not list((tmp_path / "state").rglob("*.json")), "a refusal leaves no resume record"


@pytest.mark.anyio
async def test_annotation_warnings_resend_from_zero(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_bytes(b"Sample Name,File\nx,y\n")
    seen: list[dict[str, list[Any]]] = []
    warnings = [{"row": 2, "message": "odd"}]

    async def answer(request: httpx.Request) -> httpx.Response:
        form = await _form(request)
        seen.append(form)
        if form["is_last"] == ["true"] and "ignore_warnings" not in form:
            return httpx.Response(400, json={"warnings": warnings})
        return httpx.Response(200, json={"id": "an1"})

    with respx.mock() as mock:
        mock.post(f"{BASE}/upload/annotation").mock(side_effect=answer)
        client = await _client(tmp_path, chunk_size=16, max_chunk_size=16)
        async with client:
            uploaded = await client.samples.upload_annotation(sheet)
            with pytest.raises(AnnotationWarningsError):
                await client.samples.upload_annotation(sheet, ignore_warnings=False)
    assert (uploaded.id, uploaded.warnings) == ("an1", warnings)
    # Second series: new upload (data ""), offset 0, ignore_warnings on every chunk
    # (docs/protocol.md §3.6).
    retry = [f for f in seen if "ignore_warnings" in f]
    assert retry[0]["data"] == [""] and retry[0]["expected_file_size"] == ["0"]
    assert all(f["ignore_warnings"] == ["true"] for f in retry)


@pytest.mark.anyio
async def test_presigned_put_never_carries_the_token(tmp_path: Path) -> None:
    path = tmp_path / "big.bam"
    path.write_bytes(b"x" * 100)
    put_url = "https://flow.test/api/v1/files/object?op=put&signature=abc"
    with respx.mock() as mock:
        mock.post(f"{BASE}/v1/files/upload-url").mock(
            return_value=httpx.Response(200, json={"uploadUrl": put_url, "fileKey": "k/big.bam"})
        )
        put = mock.put(put_url).mock(return_value=httpx.Response(200))
        confirm = mock.post(f"{BASE}/v1/files/upload-confirm").mock(
            return_value=httpx.Response(200, json={"key": "k/big.bam", "size": 100})
        )
        client = await _client(tmp_path)
        async with client:
            ticket = await client.files.upload_large(
                filename="big.bam", workspace_id="w", size=100, path="k/"
            )
            await client.files.put_presigned(ticket.upload_url, path)
            await client.files.upload_confirm(
                file_key=ticket.file_key, workspace_id="w", filename="big.bam", size=100
            )
    sent = put.calls.last.request
    assert "authorization" not in sent.headers  # same host as the API, still no token
    assert sent.headers["content-type"] == "application/octet-stream"
    assert sent.content == b"x" * 100
    assert json.loads(confirm.calls.last.request.content)["file_key"] == "k/big.bam"


@pytest.mark.anyio
async def test_retried_bodies_are_sent_whole_again(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(bytes(range(256)) * 9000)  # above one 1 MiB piece
    put_url = "https://storage.test/bucket/w.bin?sig=abc"
    bodies: list[bytes] = []

    async def flaky(request: httpx.Request) -> httpx.Response:
        bodies.append(await request.aread())
        return httpx.Response(503 if len(bodies) == 1 else 200)

    with respx.mock(assert_all_called=False) as mock:  # not every upload reads everything
        _read_backs(mock)
        mock.put(put_url).mock(side_effect=flaky)
        chunk_route = mock.post(f"{BASE}/upload").mock(
            side_effect=[httpx.Response(502), httpx.Response(200, json={"id": "1"})]
        )
        client = await _client(tmp_path, chunk_size=4 * MiB, max_chunk_size=4 * MiB)
        async with client:
            await client.files.put_presigned(put_url, path)
            await client.data.upload_data(path)
    assert bodies == [path.read_bytes(), path.read_bytes()]
    first, second = (call.request for call in chunk_route.calls)
    assert (await first.aread()).count(path.read_bytes()) == 1
    assert (await second.aread()).count(path.read_bytes()) == 1


@pytest.mark.anyio
async def test_a_401_mid_upload_refreshes_and_resends_the_same_chunk(tmp_path: Path) -> None:
    path = tmp_path / "r.bin"
    path.write_bytes(b"abcdefghij")
    sent: list[tuple[str, bytes]] = []

    async def chunk(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        sent.append((request.headers["authorization"], body))
        if len(sent) == 2:  # the second chunk meets an expired token once
            return httpx.Response(401, json={"error": "Not authorized"})
        return httpx.Response(200, json={"id": "d7"})

    with respx.mock(assert_all_called=False) as mock:  # not every upload reads everything
        _read_backs(mock)
        mock.post(f"{BASE}/login").mock(
            return_value=httpx.Response(
                200,
                json={"token": "old"},
                headers={"Set-Cookie": "flow_refresh_token=r1; HttpOnly; Path=/"},
            )
        )
        mock.get(f"{BASE}/token").mock(return_value=httpx.Response(200, json={"token": "new"}))
        mock.post(f"{BASE}/upload").mock(side_effect=chunk)
        async with AsyncClient(BASE, _config(tmp_path)) as client:
            await client.log_in(UsernamePasswordCredentials("demo", "pw"))
            assert (await client.data.upload_data(path)).id == "d7"
    assert [auth for auth, _ in sent] == ["Bearer old", "Bearer old", "Bearer new", "Bearer new"]
    assert sent[1][1] == sent[2][1]  # byte-identical resend of the refused chunk


@pytest.mark.anyio
async def test_without_a_catalogue_or_a_read_back_the_upload_still_succeeds(
    tmp_path: Path,
) -> None:
    # A server that publishes no /samples/types or /samples/metadata (404) leaves those checks
    # to itself; a record that cannot be read back after the final chunk does not turn a
    # finished upload into a failure (a re-run would upload it twice).
    reads = tmp_path / "x_R1.fq"
    reads.write_bytes(b"ACGT")
    with respx.mock() as mock:
        types = mock.get(f"{BASE}/samples/types").mock(return_value=httpx.Response(404))
        mock.get(f"{BASE}/samples/metadata").mock(return_value=httpx.Response(404))
        mock.post(f"{BASE}/upload/sample").mock(
            return_value=httpx.Response(200, json={"sample_id": "s1", "data_id": "d1"})
        )
        read_back = mock.get(f"{BASE}/samples/s1").mock(return_value=httpx.Response(500))
        client = await _client(tmp_path, max_retries=0)
        async with client:
            sample = await client.samples.upload_sample("x", "Any-Type", {"reads1": reads})
    assert types.called and read_back.called
    assert (sample.id, sample.name) == ("s1", "x")
    assert sample.sample_type is not None and sample.sample_type.name == "Any-Type"
