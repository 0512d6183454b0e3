"""Credentials stay with Flow: presigned URLs and cross-host redirects get no token or cookie.

Real sockets on loopback (issue #7): the Flow API is the local server on ``127.0.0.1``; the
"other host" is a recording server reached as ``localhost`` (another host name, so cookies
scoped to ``127.0.0.1`` must not follow either).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from download_helpers import client_for
from security_helpers import Recorded, recording_server

from flowbio_async import Data
from flowbio_async.testing import FlowServer


def _data(size: int, **fields: object) -> tuple[Data, bytes]:
    body = os.urandom(size)
    md5 = hashlib.md5(body).hexdigest()
    record = {"id": "901", "filename": "x.bin", "size": size, "md5": md5, **fields}
    return Data.model_validate(record), body


def _no_credentials_reached(state: Recorded, prefix: str) -> None:
    seen = state.headers_for(prefix)
    assert seen, f"nothing was asked under {prefix}"
    for headers in seen:
        assert "authorization" not in headers
        assert "flow_refresh_token" not in headers.get("cookie", "")


@pytest.mark.anyio
async def test_presigned_download_url_gets_no_token_and_no_cookie(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    state = Recorded()
    with recording_server(state) as port:
        data, state.body = _data(50_000)
        data.download_url = f"http://localhost:{port}/bucket/x.bin?X-Amz-Signature=abc"
        async with client_for(flow_server, tmp_path) as client:
            assert client._http.refresh_cookie()  # there is a cookie that could leak
            result = await client.data.download(data, tmp_path / "out/")
    assert result.path.read_bytes() == state.body
    _no_credentials_reached(state, "/bucket/")


@pytest.mark.anyio
async def test_redirect_from_the_files_server_to_another_host_drops_the_token(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    state = Recorded()
    with recording_server(state) as port:
        data, state.body = _data(30_000)
        # The configured files server (127.0.0.1:port) redirects to the same socket under
        # another host name, as a files server redirecting to object storage would.
        data.download_url = f"http://127.0.0.1:{port}/redirect/x.bin"
        state.redirect_to = f"http://localhost:{port}/storage/x.bin?sig=1"
        files_url = f"http://127.0.0.1:{port}"
        async with client_for(flow_server, tmp_path, files_url=files_url) as client:
            result = await client.data.download(data, tmp_path / "out/")
    assert result.path.read_bytes() == state.body
    first = state.headers_for("/redirect/")
    assert first and first[0].get("authorization", "").startswith("Bearer ")  # trusted host
    _no_credentials_reached(state, "/storage/")


@pytest.mark.anyio
async def test_presigned_upload_put_gets_no_token_and_no_cookie(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    state = Recorded()
    source = tmp_path / "genome.bin"
    source.write_bytes(os.urandom(70_000))
    with recording_server(state) as port:
        url = f"http://localhost:{port}/bucket/genome.bin?X-Amz-Signature=abc"
        async with client_for(flow_server, tmp_path) as client:
            await client.files.put_presigned(url, source)
    assert state.uploads["/bucket/genome.bin?X-Amz-Signature=abc"] == source.read_bytes()
    _no_credentials_reached(state, "/bucket/")
