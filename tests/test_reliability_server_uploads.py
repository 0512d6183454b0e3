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


def test_a_resent_last_chunk_of_a_sample_gets_the_same_answer(server: FlowServer) -> None:
    """The last chunk of a sample's last file, sent again because its answer was lost (a
    stalled or late first copy), gets the first answer again, not "Invalid data id" for
    reads that now belong to the sample the first copy created (full `make chaos`)."""
    sample = {
        "sample_name": "resent_last",
        "sample_type": "generic",
        "scientist": "Rosalind Franklin",
        "organism": "Hs",
    }

    def post(client: httpx.Client, name: str, offset: int, data_id: str, **more: str) -> dict:
        fields = {"filename": name, "expected_file_size": str(offset), "data": data_id}
        response = client.post(
            "upload/sample",
            data={**fields, **sample, **more},
            files={"blob": (name, os.urandom(CHUNK))},
        )
        assert response.status_code == 200, response.text
        answer: dict = response.json()
        return answer

    with api(server) as client:
        r1 = post(client, "resent_R1.fq", 0, "", is_last="true", is_last_sample="false")
        r2 = post(
            client,
            "resent_R2.fq",
            0,
            "",
            is_last="false",
            is_last_sample="false",
            previous_data=r1["data_id"],
        )
        last = {"is_last": "true", "is_last_sample": "true", "previous_data": r1["data_id"]}
        first = post(client, "resent_R2.fq", CHUNK, r2["data_id"], **last)
        again = post(client, "resent_R2.fq", CHUNK, r2["data_id"], **last)
        assert first["sample_id"] is not None and again == first
        names = [s["name"] for s in client.get("samples/owned").json()["samples"]]
        assert names.count("resent_last") == 1
