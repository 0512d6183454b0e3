"""Server under load: 100 concurrent clients uploading and downloading (issue #7).

Each client logs in, uploads files whose bytes name the client and the round, downloads
them back and downloads files of other clients, for a bounded number of rounds. Afterwards
every stored blob and every downloaded copy must hold exactly the bytes meant for it: no
lost, truncated or mixed-up data, judged from the server's own store.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from upload_helpers import DEMO, config, data_row

from flowbio_async import AsyncClient
from flowbio_async.testing import FlowServer

CLIENTS = 100
ROUNDS = 2
KiB = 1024


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer() as running:
        yield running


def _content(client: int, round_: int) -> bytes:
    rng = random.Random(client * 1000 + round_)
    header = f"client {client} round {round_}\n".encode()
    return header + rng.randbytes(rng.randint(1, 96 * KiB))


@pytest.mark.anyio
async def test_hundred_clients_never_lose_or_mix_up_bytes(
    server: FlowServer, tmp_path: Path
) -> None:
    uploaded: dict[str, bytes] = {}  # data id -> the bytes its client sent
    problems: list[str] = []

    async def one_client(index: int) -> None:
        work = tmp_path / f"c{index}"
        (work / "in").mkdir(parents=True)
        settings = config(work / "state", chunk_size=32 * KiB, max_chunk_size=64 * KiB)
        async with AsyncClient(server.url, settings) as client:
            await client.log_in(DEMO)
            for round_ in range(ROUNDS):
                content = _content(index, round_)
                source = work / "in" / f"c{index}_r{round_}.bin"
                source.write_bytes(content)
                data = await client.data.upload_data(source)
                uploaded[data.id] = content
                copy = await client.data.download(data.id, work / f"out{round_}/")
                if copy.path.read_bytes() != content:
                    problems.append(f"client {index} round {round_}: own copy differs")
                # Someone else's finished upload, if any: the same bytes must come back.
                others = [i for i in uploaded if i != data.id]
                if others:
                    other = random.Random(index + round_).choice(others)
                    theirs = await client.data.download(other, work / f"other{round_}/")
                    if theirs.path.read_bytes() != uploaded[other]:
                        problems.append(f"client {index}: data {other} came back different")

    async with anyio.create_task_group() as group:
        for index in range(CLIENTS):
            group.start_soon(one_client, index)

    assert problems == []
    assert len(uploaded) == CLIENTS * ROUNDS  # every upload got its own data id
    for data_id, content in uploaded.items():
        row = data_row(server, data_id)
        blob = (server.data_dir / "blobs" / data_id).read_bytes()
        assert blob == content, f"data {data_id} holds other bytes than its client sent"
        assert row["size"] == len(content)
        assert row["md5"] == hashlib.md5(content).hexdigest()
    assert server.max_in_flight().get("upload", 0) > 1  # the uploads really overlapped
