"""Tokens never reach logs (DEBUG, every logger), reprs or exception messages (issue #7).

Covers what the core test does not: transfers, a token expiring in the middle of an upload
and of a download (so refreshed tokens are in play), the refresh cookie value, failed
transfers' errors, and a download URL carrying ``?token=`` (docs/protocol.md §5.1).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from download_helpers import add_file, client_for, payload

from flowbio_async import Data, FlowError
from flowbio_async.testing import FlowServer

UPLOAD = "^/api/upload$"


@pytest.mark.anyio
async def test_no_secret_in_debug_logs_reprs_or_errors_across_transfers(
    flow_server: FlowServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # root: httpx, httpcore, anyio and ours
    flow_server.reset()
    source = tmp_path / "reads.bin"
    source.write_bytes(os.urandom(300_000))
    data_id = add_file(flow_server, payload(200_000, seed=3), "stored.bin")
    secrets: set[str] = set()
    texts: list[str] = []
    async with client_for(flow_server, tmp_path, chunk_size=64 * 1024) as client:
        secrets |= {client._http.auth.token or "", client._http.refresh_cookie() or ""}
        # Tokens expire mid-upload and mid-download: the refreshes happen inside transfers.
        flow_server.add_fault("expire_token", path=UPLOAD, nth=2)
        flow_server.add_fault("expire_token", path="/downloads/", nth=1)
        uploaded = await client.data.upload_data(source)
        secrets |= {client._http.auth.token or "", client._http.refresh_cookie() or ""}
        result = await client.data.download(data_id, tmp_path / "out/")
        secrets |= {client._http.auth.token or "", client._http.refresh_cookie() or ""}
        assert flow_server.counters().get("token", 0) >= 2  # both faults forced a refresh
        # A failing transfer whose URL carries the token as a query parameter.
        token = client._http.auth.token or ""
        missing = Data.model_validate(
            {
                "id": "999999",
                "filename": "gone.bin",
                "size": 10,
                "download_url": f"{client.files_url}/downloads/999999/gone.bin?token={token}",
            }
        )
        with pytest.raises(FlowError) as failed:
            await client.data.download(missing, tmp_path / "out/")
        texts += [str(failed.value), repr(failed.value), repr(client), repr(client._http)]
        texts += [repr(client._http.auth), repr(uploaded), repr(result), repr(client.data)]
    secrets.discard("")
    assert len(secrets) >= 4  # two logins' worth of tokens and cookies were really captured
    texts += [caplog.text, *(repr(record.args) for record in caplog.records)]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert "upload" in caplog.text  # the requests were logged, just without credentials
