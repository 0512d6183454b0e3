"""Downloads side by side (issues #4, #16): curl, the seed's loop, plain clients, and ours.

Measurements against a local Flow server (granian, loopback), rounds interleaved:

1. one large file to disk with md5: ``curl -o``, ``curl -o && md5sum``, plain aiohttp hashing
   as it writes, ``client.data.download`` by default (parallel pieces) and as one stream;
   target: default ≤ 0.8× ``curl -o && md5sum`` and never slower than one stream (#16);
2. 200 files × 256 KiB with 20 ms added latency per download: the seed 002 sequential
   ``requests`` loop, ``download_many(ids)`` (md5 verified) and ``download_many(listing)``,
   plain httpx, httpx over httpx-aiohttp and plain aiohttp (16 in flight; with names, and
   doing our work for ids: metadata GET, body, md5); targets: ids ≥ 7× the seed loop,
   listing ≥ 10×, each within 1.15× of plain aiohttp doing the same requests (#16);
3. 400 files × 16 KiB, no added latency: ms per file for ids next to plain aiohttp doing the
   same, flat from 200 to 2000 files, peak RSS of a fresh process for 2000 (targets:
   ≤ 2.5 ms per file, ≤ 150 MiB);
4. 256 MiB whose connection is cut every 64 MiB: byte-exact result, bytes re-sent ≤ 5 %;
5. peak RSS of a fresh process downloading 2 GiB; target ≤ 80 MiB.

Example:
    ```bash
    .venv/bin/python benchmarks/bench_downloads.py --quick
    ```
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from flowbio_async import (
    AsyncClient,
    ClientConfig,
    Data,
    ProgressEvent,
    UsernamePasswordCredentials,
)
from flowbio_async.testing import FlowServer
from flowbio_async.testing._store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _plain import Job, aiohttp_large, plain_many

MiB = 1024 * 1024
DEMO = UsernamePasswordCredentials(username="demo", password="demo-password")


def make_blob(path: Path, size: int) -> None:
    """Write ``size`` pseudo-random bytes (urandom blocks, repeated) without holding them."""
    block = os.urandom(4 * MiB)
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            piece = block[: min(len(block), remaining)]
            handle.write(piece)
            remaining -= len(piece)


def add_blob_file(server: FlowServer, source: Path, filename: str) -> str:
    """Register ``source`` as a data file of user demo (bytes moved into the blob dir)."""
    store = Store(server.data_dir)
    try:
        user = store.get_user_by_username("demo")
        assert user is not None
        row = store.create_data(filename=filename, owner=user["id"], private=1)
        digest = hashlib.md5(usedforsecurity=False)
        with source.open("rb") as handle:
            while block := handle.read(8 * MiB):
                digest.update(block)
        shutil.move(source, store.blob_path(row["id"]))
        store.update_data(
            row["id"],
            size=store.blob_path(row["id"]).stat().st_size,
            md5=digest.hexdigest(),
            blob=str(row["id"]),
        )
        return str(row["id"])
    finally:
        store.close()


def add_small_files(server: FlowServer, count: int, size: int) -> list[str]:
    store = Store(server.data_dir)
    try:
        user = store.get_user_by_username("demo")
        assert user is not None
        ids = []
        for index in range(count):
            row = store.create_data(filename=f"small_{index:04d}.bin", owner=user["id"], private=1)
            store.write_blob(row["id"], os.urandom(size))
            ids.append(str(row["id"]))
        return ids
    finally:
        store.close()


def config(**changes: Any) -> ClientConfig:
    return ClientConfig(show_progress=False, **changes)


async def token_for(server: FlowServer) -> str:
    async with AsyncClient(server.url, config()) as client:
        await client.log_in(DEMO)
        token = client._http.auth.token  # the bench drives curl/requests with the same token
        assert token is not None
        return token


def timed(func: Callable[[], Any], runs: int, cleanup: Callable[[], None]) -> float:
    """Median wall time; a function may return its own measured seconds (e.g. to leave
    client start-up and login out of a transfer's time)."""
    times = []
    for _ in range(runs):
        cleanup()
        started = time.perf_counter()
        measured = func()
        elapsed = time.perf_counter() - started
        times.append(measured if isinstance(measured, float) else elapsed)
    cleanup()
    return statistics.median(times)


def bench_large(server: FlowServer, work: Path, size: int, runs: int) -> list[str]:
    source = work / "large.src"
    make_blob(source, size)
    data_id = add_blob_file(server, source, "large.bin")
    expected = Store(server.data_dir).get_data(data_id)
    assert expected is not None
    token = anyio.run(token_for, server)
    url = f"{server.files_url}/downloads/{data_id}/large.bin"
    out = work / "out"
    out.mkdir()

    def clean() -> None:
        for path in out.iterdir():
            path.unlink()
        os.sync()  # start each run with the page cache's dirty pages written

    def curl() -> None:
        subprocess.run(
            ["curl", "-sf", "-H", f"Authorization: Bearer {token}", "-o", str(out / "c"), url],
            check=True,
        )

    def curl_md5sum() -> None:
        curl()
        done = subprocess.run(["md5sum", str(out / "c")], check=True, capture_output=True)
        assert done.stdout.split()[0].decode() == expected["md5"]

    def plain() -> float:
        seconds, digest = anyio.run(aiohttp_large, url, out / "a", token)
        assert digest == expected["md5"]
        return seconds

    def ours(**changes: Any) -> Callable[[], float]:
        async def go() -> float:
            async with AsyncClient(server.url, config(**changes)) as client:
                await client.log_in(DEMO)
                started = time.perf_counter()  # curl's time has no login either
                await client.data.download(data_id, out / "ours")
                return time.perf_counter() - started

        return lambda: anyio.run(go)

    # Interleaved rounds so that the machine's changing load hits every contender alike; the
    # ratio is taken per round. One untimed curl first: whoever runs first otherwise pays for
    # the page cache's first growth (a fresh VM's first 512 MiB written is up to 2x slower).
    contenders = {
        "curl": curl,
        "curl+md5sum": curl_md5sum,
        "aiohttp": plain,
        "default": ours(),
        "single": ours(segment_threshold=1 << 62),
    }
    timed(curl, 1, clean)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, func in contenders.items():
            times[name].append(timed(func, 1, clean))

    def ratio(name: str, reference: str) -> float:
        pairs = zip(times[name], times[reference], strict=True)
        return statistics.median(t / r for t, r in pairs)

    mb = size / MiB

    def row(label: str, name: str, extra: str = "") -> str:
        best, middle = min(times[name]), statistics.median(times[name])
        return f"  {label:<34}{middle:6.2f} s median, {best:6.2f} s best ({mb / best:5.0f} MiB/s){extra}"

    return [
        f"large file {mb:.0f} MiB, {runs} interleaved rounds "
        "(targets: default <= 0.8x curl && md5sum, default <= one stream):",
        row("curl -o (no verification)", "curl"),
        row("curl -o && md5sum", "curl+md5sum"),
        row(
            "plain aiohttp, md5 as it writes",
            "aiohttp",
            f"  {ratio('aiohttp', 'curl+md5sum'):.2f}x",
        ),
        row(
            "flowbio-async, md5, default",
            "default",
            f"  {ratio('default', 'curl+md5sum'):.2f}x"
            f" curl && md5sum, {ratio('default', 'single'):.2f}x one stream",
        ),
        row("flowbio-async, md5, 1 stream", "single", f"  {ratio('single', 'curl+md5sum'):.2f}x"),
    ]


def download_streaming(url: str, output_path: str, token: str, chunk_size: int = 8192) -> None:
    """Seed 002 "Streaming Downloads", as published (progress printing left out)."""
    import requests  # the seeds' client (bench extra)

    headers = {"Authorization": f"Bearer {token}"}
    with requests.get(url, headers=headers, stream=True) as r:
        r.raise_for_status()
        with open(output_path, "wb") as f:
            for chunk in r.iter_content(chunk_size=chunk_size):
                f.write(chunk)


def _ours_many(server: FlowServer, items: list[Any], out: Path) -> float:
    async def go() -> float:
        async with AsyncClient(server.url, config()) as client:
            await client.log_in(DEMO)
            started = time.perf_counter()  # the seed loop gets its token for free too
            report = await client.data.download_many(items, out)
            report.raise_for_failures()
            return time.perf_counter() - started

    return anyio.run(go)


def bench_many(server: FlowServer, work: Path, count: int, size: int, runs: int) -> list[str]:
    import requests  # noqa: F401 - imported here, untimed: the seed loop's first call would pay it

    ids = add_small_files(server, count, size)
    names = [f"small_{index:04d}.bin" for index in range(count)]
    jobs = [Job(data_id, name) for data_id, name in zip(ids, names, strict=True)]
    token = anyio.run(token_for, server)
    out = work / "many"
    server.add_fault("latency", route="download", seconds=0.02, count=0)
    try:

        def clean() -> None:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()

        def seed() -> None:
            for job in jobs:
                url = f"{server.url}/downloads/{job.data_id}/{job.filename}"
                download_streaming(url, str(out / job.filename), token)

        # A listing gives (id, name, size) and no md5; bare ids need GET /data/<id> each.
        listing = [Data(id=job.data_id, filename=job.filename, size=size) for job in jobs]

        def plain(kind: str, **options: Any) -> Callable[[], float]:
            def run() -> float:
                seconds: float = anyio.run(
                    lambda: plain_many(
                        kind, server.url, server.files_url, jobs, out, token, **options
                    )
                )
                return seconds

            return run

        contenders: dict[str, Callable[[], Any]] = {
            "seed": seed,
            "ids": lambda: _ours_many(server, list(ids), out),
            "listing": lambda: _ours_many(server, listing, out),
            "httpx": plain("httpx"),
            "httpx-aiohttp": plain("httpx-aiohttp"),
            "aiohttp": plain("aiohttp"),
            "aiohttp-ids": plain("aiohttp", with_metadata=True),
        }
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(runs):
            for name, func in contenders.items():
                times[name].append(timed(func, 1, clean))
    finally:
        server.clear_faults()

    def ratio(name: str, reference: str) -> float:
        pairs = zip(times[name], times[reference], strict=True)
        return statistics.median(t / r for t, r in pairs)

    rows = [
        ("seed", "seed 002 sequential requests", ""),
        (
            "ids",
            "flowbio-async download_many(ids)",
            "  (md5 verified; target >= 7x, <= 1.15x aiohttp for ids)",
        ),
        ("listing", "flowbio-async download_many(listing)", "  (target >= 10x, <= 1.15x aiohttp)"),
        ("httpx", "plain httpx, 16 in flight", ""),
        ("httpx-aiohttp", "httpx over httpx-aiohttp", ""),
        ("aiohttp", "plain aiohttp, names known", ""),
        ("aiohttp-ids", "plain aiohttp, our work for ids", "  (metadata GET, body, md5)"),
    ]
    lines = [
        f"{count} files x {size // 1024} KiB, 20 ms added latency each, {runs} interleaved rounds:"
    ]
    for name, label, note in rows:
        speedup = ratio("seed", name)
        lines.append(
            f"  {label:<38}{statistics.median(times[name]):6.2f} s median  {speedup:5.1f}x seed{note}"
        )
    lines.append(
        f"  ours vs plain aiohttp doing the same: ids {ratio('ids', 'aiohttp-ids'):.2f}x, "
        f"listing {ratio('listing', 'aiohttp'):.2f}x (target <= 1.15)"
    )
    return lines


PEAK_MIB = textwrap.dedent(
    """
    def peak_mib():
        # VmHWM belongs to this process image; ru_maxrss may carry the parent's peak
        # over exec.
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    """
)
"""A child's peak RSS in MiB (shared by the fresh-process scripts below)."""

SMALL_SCRIPT = textwrap.dedent(
    """
    import resource, sys, time, anyio
    from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials

    {peak}
    async def main(url, dest, *ids):
        async with AsyncClient(url, ClientConfig(show_progress=False)) as client:
            await client.log_in(UsernamePasswordCredentials(username="demo",
                                                            password="demo-password"))
            started = time.perf_counter()
            report = await client.data.download_many(list(ids), dest)
            report.raise_for_failures()
            print(time.perf_counter() - started, peak_mib())

    anyio.run(main, *sys.argv[1:])
    """
).replace("{peak}", PEAK_MIB)


def bench_small(
    server: FlowServer, work: Path, counts: list[int], size: int, runs: int
) -> list[str]:
    """Many tiny files, no added latency: the per-file CPU of ``download_many(ids)``."""
    ids = add_small_files(server, max(counts), size)
    token = anyio.run(token_for, server)
    out = work / "small"

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

    lines = [
        f"files x {size // 1024} KiB, no added latency, ids (metadata GET + body + md5), {runs} rounds:"
    ]
    for count in counts:
        subset = ids[:count]
        jobs = [Job(data_id, "") for data_id in subset]
        ours_t: list[float] = []
        plain_t: list[float] = []
        rss = 0.0
        for _ in range(runs):
            clean()
            done = subprocess.run(
                [sys.executable, "-c", SMALL_SCRIPT, server.url, str(out), *subset],
                check=True,
                capture_output=True,
                text=True,
            )
            seconds, peak = (float(v) for v in done.stdout.split())
            ours_t.append(seconds)
            rss = max(rss, peak)
            clean()
            plain_t.append(
                anyio.run(
                    functools.partial(
                        plain_many,
                        "aiohttp",
                        server.url,
                        server.files_url,
                        jobs,
                        out,
                        token,
                        with_metadata=True,
                    )
                )
            )
        ours_ms = statistics.median(ours_t) / count * 1000
        plain_ms = statistics.median(plain_t) / count * 1000
        lines.append(
            f"  {count:>5} files: ours {ours_ms:5.2f} ms/file, plain aiohttp {plain_ms:5.2f} ms/file "
            f"({ours_ms / plain_ms:.2f}x), peak RSS ours {rss:.0f} MiB "
            "(targets <= 2.5 ms/file, flat, <= 150 MiB)"
        )
    shutil.rmtree(out, ignore_errors=True)
    return lines


def bench_cuts(server: FlowServer, work: Path, size: int, every: int) -> list[str]:
    source = work / "cut.src"
    make_blob(source, size)
    data_id = add_blob_file(server, source, "cut.bin")
    received = 0
    shown: dict[str, int] = {}

    def on_progress(event: ProgressEvent) -> None:
        nonlocal received
        previous = shown.get(event.task_id, 0)
        if event.completed > previous:
            received += event.completed - previous
        shown[event.task_id] = event.completed

    async def go() -> str | None:
        async with AsyncClient(server.url, config(backoff_initial=0.01)) as client:
            await client.log_in(DEMO)
            result = await client.data.download(data_id, work / "cut.out", progress=on_progress)
            return result.md5

    server.add_fault("cut", route="download", bytes=every, count=0)
    try:
        digest = anyio.run(go)
    finally:
        server.clear_faults()
    expected = Store(server.data_dir).get_data(data_id)
    exact = expected is not None and digest == expected["md5"]
    resent = (received - size) / size * 100
    (work / "cut.out").unlink()
    return [
        f"{size // MiB} MiB cut every {every // MiB} MiB:",
        f"  byte-exact {exact}, bytes re-sent {resent:.2f} % (target <= 5 %)",
    ]


RSS_SCRIPT = textwrap.dedent(
    """
    import resource, sys, anyio
    from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials

    {peak}
    async def main(url, data_id, dest):
        async with AsyncClient(url, ClientConfig(show_progress=False)) as client:
            await client.log_in(UsernamePasswordCredentials(username="demo",
                                                            password="demo-password"))
            before = peak_mib()
            await client.data.download(data_id, dest)
        print(before, peak_mib())

    anyio.run(main, *sys.argv[1:])
    """
).replace("{peak}", PEAK_MIB)


def bench_rss(server: FlowServer, work: Path, size: int) -> list[str]:
    source = work / "rss.src"
    make_blob(source, size)
    data_id = add_blob_file(server, source, "rss.bin")
    done = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, server.url, data_id, str(work / "rss.out")],
        check=True,
        capture_output=True,
        text=True,
    )
    before, after = (float(v) for v in done.stdout.split())
    (work / "rss.out").unlink()
    return [
        f"peak RSS downloading {size // MiB} MiB in a fresh process:",
        f"  {after:.0f} MiB peak ({before:.0f} MiB after imports and login; target <= 80 MiB)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument(
        "--only", choices=["large", "many", "small", "cuts", "rss"], action="append"
    )
    args = parser.parse_args()
    quick = args.quick
    only = set(args.only or ["large", "many", "small", "cuts", "rss"])
    lines: list[str] = [load_line("before")]
    with tempfile.TemporaryDirectory(prefix="bench-dl-") as tmp, FlowServer() as server:
        work = Path(tmp)
        if "large" in only:
            lines += bench_large(server, work, (64 if quick else 512) * MiB, 1 if quick else 5)
        if "many" in only:
            lines += bench_many(server, work, 40 if quick else 200, 256 * 1024, 1 if quick else 3)
        if "small" in only:
            counts = [100] if quick else [200, 400, 2000]
            lines += bench_small(server, work, counts, 16 * 1024, 1 if quick else 3)
        if "cuts" in only:
            size = (64 if quick else 256) * MiB
            lines += bench_cuts(server, work, size, size // 4)
        if "rss" in only:
            lines += bench_rss(server, work, (256 if quick else 2048) * MiB)
    lines.append(load_line("after"))
    print("\n".join(lines))


def load_line(when: str) -> str:
    """The machine's load average (the numbers mean little without it)."""
    one, five, _ = os.getloadavg()
    return f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


if __name__ == "__main__":
    main()
