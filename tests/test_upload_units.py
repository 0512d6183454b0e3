"""Pure pieces of the upload engine: chunk sizing, resume records, run_many, input checks."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from flowbio_async import ConfigurationError, ItemResult, NotStartedError
from flowbio_async._transfers._chunks import ChunkSizer
from flowbio_async._transfers._many import run_many
from flowbio_async._transfers._resume import ResumeRecord, ResumeStore, upload_key
from flowbio_async._transfers._sources import check_source, ordered_reads

MiB = 1024 * 1024


def test_sizer_grows_when_fast_and_shrinks_on_trouble() -> None:
    sizer = ChunkSizer(initial=MiB, maximum=16 * MiB)
    for expected in (2, 4, 8, 16, 16):
        sizer.record_success(sizer.size, elapsed=0.01)
        assert sizer.size == expected * MiB
    sizer.record_success(16 * MiB, elapsed=10.0)  # slow: stays
    assert sizer.size == 16 * MiB
    assert sizer.shrink()
    assert sizer.size == 8 * MiB
    sizer.record_success(8 * MiB, elapsed=0.01)
    assert sizer.size == 16 * MiB  # a timeout does not cap growth for good
    assert sizer.shrink(too_large=True)
    sizer.record_success(8 * MiB, elapsed=0.01)
    assert sizer.size == 8 * MiB  # ...but a 413 does
    sizer.record_success(1, elapsed=0.01)  # a short last chunk never counts
    assert sizer.size == 8 * MiB


def test_sizer_stops_at_its_minimum() -> None:
    sizer = ChunkSizer(initial=100, maximum=100)
    assert not sizer.shrink()
    with pytest.raises(ValueError):
        ChunkSizer(initial=0, maximum=10)
    with pytest.raises(ValueError):
        ChunkSizer(initial=20, maximum=10)


def test_a_refused_stretched_chunk_drops_its_tail_even_at_the_minimum() -> None:
    # Found by test_fuzz_chunks: 513 bytes at 512-byte chunks went as one stretched chunk;
    # a 512-byte body limit refused it and the sizer, already at its minimum, gave up.
    sizer = ChunkSizer(initial=512, maximum=2048)
    assert sizer.span(513) == 513
    assert sizer.shrink(too_large=True, sent=513)
    assert sizer.span(513) == 512 and not sizer.fits(513)
    assert not sizer.shrink(too_large=True, sent=512)  # a 413 at the minimum itself is final


def test_resume_record_round_trip_and_invalidation(tmp_path: Path) -> None:
    path = tmp_path / "reads.fq"
    path.write_bytes(b"x" * 100)
    stat = path.stat()
    store = ResumeStore(tmp_path / "state")
    key = upload_key(
        server="http://s/api", endpoint="upload", path=path, filename="reads.fq", fields={}
    )
    assert key != upload_key(
        server="http://s/api",
        endpoint="upload",
        path=path,
        filename="reads.fq",
        fields={"data_type": "fastq"},
    )
    record = ResumeRecord("upload", str(path), 100, stat.st_mtime_ns, "reads.fq", "d1", 40)
    store.save(key, record)
    assert store.load(key, path) == record
    assert store.load(key, path) == record.advanced("d1", 40)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert store.load(key, path) is None  # edited since: the server copy is stale
    assert not list((tmp_path / "state").rglob("*.json"))
    (tmp_path / "state" / "uploads" / f"{key}.json").write_text("{not json")
    assert store.load(key, path) is None
    store.forget(key)
    store.forget(key)  # forgetting twice is fine


@pytest.mark.anyio
async def test_run_many_bounds_orders_and_collects() -> None:
    running = peak = 0

    async def work(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.01 * (5 - n % 5))
        running -= 1
        if n == 3:
            raise ValueError("three")
        return n * 10

    results = await run_many(range(10), work, concurrency=3)
    assert peak == 3
    assert [r.item for r in results] == list(range(10))
    assert [r.value for r in results if r.ok] == [0, 10, 20, 40, 50, 60, 70, 80, 90]
    (failed,) = [r for r in results if not r.ok]
    assert isinstance(failed.error, ValueError)
    with pytest.raises(ValueError, match="three"):
        failed.unwrap()
    with pytest.raises(ValueError, match="three"):
        await run_many(range(10), work, concurrency=2, fail_fast=True)
    assert await run_many([], work, concurrency=2) == []
    assert ItemResult(1, value=2).unwrap() == 2
    with pytest.raises(ValueError):
        await run_many([1], work, concurrency=0)


@pytest.mark.anyio
async def test_run_many_stop_on_error_starts_nothing_after_a_failure() -> None:
    # Item 0 is uploading when item 1 fails: 0 finishes (never cut halfway), 2 and 3 never
    # start and say so. Events, not sleeps, decide the order.
    failed = anyio.Event()
    started: list[int] = []

    async def work(n: int) -> int:
        started.append(n)
        if n == 0:
            with anyio.fail_after(30):
                await failed.wait()
            return 0
        if n == 1:
            failed.set()
            raise ValueError("one")
        return n

    with anyio.fail_after(30):
        results = await run_many(range(4), work, concurrency=2, stop_on_error=True)
    assert sorted(started) == [0, 1]
    assert [r.item for r in results] == [0, 1, 2, 3]
    assert results[0].value == 0 and isinstance(results[1].error, ValueError)
    for unstarted in results[2:]:
        assert isinstance(unstarted.error, NotStartedError) and not unstarted.ok
        assert "stop_on_error=True" in str(unstarted.error)
    everything = await run_many(range(3), lambda n: anyio.sleep(0), concurrency=1)
    assert all(r.ok for r in everything)  # nothing fails: nothing is skipped
    with pytest.raises(ConfigurationError, match="not both"):
        await run_many([1], work, concurrency=1, fail_fast=True, stop_on_error=True)


def test_ordered_reads_and_sources(tmp_path: Path) -> None:
    r1, r2 = tmp_path / "r1.fq", tmp_path / "r2.fq"
    r1.write_bytes(b"a")
    r2.write_bytes(b"b")
    assert [k for k, _ in ordered_reads({"reads2": r2, "reads1": r1})] == ["reads1", "reads2"]
    assert [k for k, _ in ordered_reads({"z": r2, "a": r1})] == ["z", "a"]  # order given
    with pytest.raises(ConfigurationError, match="reads3"):
        ordered_reads({"reads1": r1, "reads3": r2})
    with pytest.raises(ConfigurationError, match="reads1 is required"):
        ordered_reads({"reads2": r2})
    source = check_source(r1, "stored.fq")
    assert (source.filename, source.size, source.path) == ("stored.fq", 1, r1.resolve())
    tarball = tmp_path / "x.tar"
    tarball.write_bytes(b"\0" * 257 + b"ustar" + b"\0" * 250)
    assert check_source(tarball, archive=True).filename == "x.tar"


def test_a_short_tail_rides_with_the_previous_chunk() -> None:
    sizer = ChunkSizer(initial=1_000_000, maximum=16 * MiB)
    assert sizer.span(2 * MiB) == 1_000_000  # 2 MiB: one chunk, then the 1.097 MB rest
    assert sizer.span(2 * MiB - 1_000_000) == 2 * MiB - 1_000_000
    assert sizer.span(1_300_000) == 1_000_000  # a tail over a quarter chunk stays separate
    assert sizer.fits(1_250_000) and not sizer.fits(1_250_001)
    capped = ChunkSizer(initial=MiB, maximum=MiB)
    assert capped.span(MiB + 10) == MiB  # never past the maximum (the server's limit)


@pytest.mark.anyio
async def test_chunk_body_is_replayable_and_releasable() -> None:
    from flowbio_async._transfers._multipart import ChunkBody

    data = bytes(range(256)) * 10_000  # 2.5 MB: several pieces
    body = ChunkBody({"filename": 'a"b.fq', "previous_data": ["1", "2"]}, "blob", "a.fq", data)
    first = [piece async for piece in body]
    second = b"".join([piece async for piece in body])  # a 401 resend iterates again
    assert len(first) == 5 and b"".join(first) == second and len(second) == len(body)
    assert second.count(b'name="previous_data"') == 2
    assert b'name="filename"\r\n\r\na"b.fq\r\n' in second
    assert b'name="blob"; filename="a.fq"\r\nContent-Type: application/octet-stream' in second
    assert second.endswith(f"\r\n--{body.boundary}--\r\n".encode())
    small = ChunkBody({"a": "b"}, "blob", 'q"x', b"tiny")
    assert len([p async for p in small]) == 1  # one write for a small chunk
    assert b'filename="q%22x"' in b"".join([p async for p in small])
    body.close()
    assert b"".join([p async for p in body]).count(b"\x00\x01\x02") == 0
