"""The local server under duplicate chunks in flight at once (found by `make chaos`, #7).

A client that loses an answer (timeout, Ctrl-C mid-request) re-sends the same chunk while
the server may still be processing the first copy: the protocol is idempotent on the byte
offset (docs/protocol.md §3.8), so both copies must succeed or be refused cleanly, and the stored
file must stay byte-exact. Raw HTTP from threads, so the two copies really overlap.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator

import httpx
import pytest
from server_helpers import api
from upload_helpers import data_row

from flowbio_async.testing import FlowServer

CHUNK = 256 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer() as running:
        yield running


def _post(
    client: httpx.Client, offset: int, data_id: str, blob: bytes, last: bool
) -> httpx.Response:
    fields = {
        "filename": "dup.bin",
        "expected_file_size": str(offset),
        "is_last": "true" if last else "false",
        "data": data_id,
    }
    return client.post("upload", data=fields, files={"blob": ("dup.bin", blob)})


@pytest.mark.parametrize("last", [False, True], ids=["middle-chunk", "last-chunk"])
def test_the_same_chunk_twice_at_once_stays_byte_exact(server: FlowServer, last: bool) -> None:
    content = os.urandom(3 * CHUNK)
    with api(server) as client:
        first = _post(client, 0, "", content[:CHUNK], False).json()["id"]
        second = content[CHUNK : 2 * CHUNK] if not last else content[CHUNK:]
        answers: list[httpx.Response] = []
        barrier = threading.Barrier(3)

        def send() -> None:
            with api(server) as own:
                barrier.wait()
                answers.append(_post(own, CHUNK, first, second, last))

        threads = [threading.Thread(target=send) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        if not last:
            _post(client, 2 * CHUNK, first, content[2 * CHUNK :], True).raise_for_status()
    row = data_row(server, first)
    blob = (server.data_dir / "blobs" / first).read_bytes()
    assert blob == content
    assert (row["size"], row["md5"]) == (len(content), hashlib.md5(content).hexdigest())
