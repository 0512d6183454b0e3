"""Fuzzing chunk arithmetic: the adaptive sizer and the chunk engine under random faults.

The engine talks to a narrow ``ChunkPoster`` (issue #3); here it is an in-memory server that
decodes the engine's multipart bodies with the stdlib parser, follows docs/protocol.md §3.8 (same
offset: append; a repeated offset: truncate and append; an offset beyond what it holds: 400)
and misbehaves on a seeded schedule: 413s, 503s, dropped connections and timeouts, some
*after* the bytes were stored (the answer was lost). Whatever
the file size, chunk size and schedule, the server ends with exactly the file's bytes, or the
upload raises a typed error and a second call completes it (issue #7 "chunk arithmetic").
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterable, Mapping
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowbio_async import ClientConfig, FlowError
from flowbio_async._errors import (
    BadRequestError,
    FlowConnectionError,
    FlowTimeoutError,
    PayloadTooLargeError,
    ServerError,
)
from flowbio_async._transfers._chunks import ChunkSizer
from flowbio_async._transfers._upload import ChunkedUploader, UploadJob

KiB = 1024


@settings(deadline=None)  # no timing under a loaded CI machine
@given(
    initial=st.integers(1, 4096),
    extra=st.integers(0, 8192),
    steps=st.lists(
        st.tuples(st.sampled_from(["ok", "slow", "shrink", "413"]), st.integers(0, 9000)),
        max_size=40,
    ),
)
def test_sizer_stays_within_its_bounds(initial: int, extra: int, steps: list[Any]) -> None:
    sizer = ChunkSizer(initial=initial, maximum=initial + extra, minimum=64)
    for step, sent in steps:
        if step == "ok":
            sizer.record_success(sent, elapsed=0.0)
        elif step == "slow":
            sizer.record_success(sent, elapsed=60.0)
        else:
            sizer.shrink(too_large=step == "413")
        assert sizer.minimum <= sizer.size <= sizer.ceiling <= sizer.maximum
        assert sizer.size >= 1


class _Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        self.status_code = 200
        self._body = body

    def json(self) -> Any:
        return self._body


class FlakyChunkServer:
    """In-memory chunk endpoint (docs/protocol.md §3.8) with a seeded fault schedule."""

    base_url = "http://fuzz.test/api"

    def __init__(self, rng: random.Random, fault_rate: float, body_limit: int) -> None:
        self.rng = rng
        self.fault_rate = fault_rate
        self.body_limit = body_limit
        self.files: dict[str, bytearray] = {}
        self.finished: dict[str, bytes] = {}
        self.requests = 0

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        body: bytes | AsyncIterable[bytes] | None = None,
    ) -> _Answer:
        assert headers is not None and body is not None
        self.requests += 1
        raw = body if isinstance(body, bytes) else b"".join([piece async for piece in body])
        data, blob = _parse_form(headers["Content-Type"], raw)
        if len(blob) > self.body_limit:
            raise PayloadTooLargeError("too large", status_code=413)
        fault = self.rng.random() < self.fault_rate
        lost_answer = fault and self.rng.random() < 0.5
        if fault and not lost_answer:
            raise self.rng.choice(
                [
                    ServerError("busy", status_code=503),
                    FlowConnectionError("dropped"),
                    FlowTimeoutError("read timeout"),
                ]
            )
        data_id = str(data["data"]) or str(len(self.files) + 1)
        held = self.files.setdefault(data_id, bytearray())
        offset = int(str(data["expected_file_size"]))
        if offset > len(held):
            raise BadRequestError("offset beyond the stored bytes", status_code=400)
        del held[offset:]  # a retried chunk replaces what the lost attempt stored
        held += blob
        if data["is_last"] == "true":
            self.finished[data_id] = bytes(held)
        if lost_answer:  # stored, but the client never hears it (the hard case)
            raise FlowConnectionError("connection reset after the body was stored")
        return _Answer({"id": data_id})


def _parse_form(content_type: str, raw: bytes) -> tuple[dict[str, str], bytes]:
    """Decode the engine's multipart body (stdlib parser, so the encoder is checked too)."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields: dict[str, str] = {}
    blob = b""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        if name == "blob":
            blob = payload
        else:
            fields[name] = payload.decode()
    return fields, blob


def _config(tmp: Path, chunk: int, retries: int) -> ClientConfig:
    return ClientConfig(
        chunk_size=chunk,
        max_chunk_size=max(chunk, 4 * chunk),
        upload_retries=retries,
        backoff_initial=0.0,
        backoff_max=0.0,
        show_progress=False,
        state_dir=tmp / "state",
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(0, 24 * KiB),
    chunk=st.integers(512, 6 * KiB),
    limit=st.integers(256, 16 * KiB),
    fault_rate=st.sampled_from([0.0, 0.1, 0.3]),
    retries=st.integers(0, 4),
    seed=st.integers(0, 2**32),
)
def test_any_schedule_ends_byte_exact_or_typed_then_resumes(
    tmp_path_factory: Any,
    size: int,
    chunk: int,
    limit: int,
    fault_rate: float,
    retries: int,
    seed: int,
) -> None:
    tmp = tmp_path_factory.mktemp("chunks")
    rng = random.Random(seed)
    content = rng.randbytes(size)
    path = tmp / "reads.bin"
    path.write_bytes(content)
    server = FlakyChunkServer(rng, fault_rate, limit)
    job = UploadJob("upload", path, "reads.bin", {})
    progress: list[int] = []

    async def run() -> dict[str, Any]:
        uploader = ChunkedUploader(server, _config(tmp, chunk, retries))
        for _ in range(50):  # each call resumes the last; faults are bounded by the rate
            progress.clear()  # each call reports from 0 (resumed bytes first)
            try:
                return await uploader.upload(job, on_progress=progress.append)
            except PayloadTooLargeError:
                assert limit < min(chunk, 64 * KiB)  # only when the limit is below the floor
                server.body_limit = 16 * KiB
            except FlowError:
                continue
        raise AssertionError("50 resumed attempts did not finish")

    final = anyio.run(run)
    assert server.finished[str(final["id"])] == content
    assert sum(progress) == size  # the successful call accounts for every byte once
