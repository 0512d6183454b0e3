"""Per-call cost of a small ``GET /me`` (issue #16): our client beside plain HTTP clients.

Contenders, all against the same local Flow server in one run, calls sequential: ours
(``client.me()``: request loop, typed errors, pydantic model) on the default aiohttp engine
and on ``http_engine="httpx"``, plain aiohttp, plain httpx and httpx over httpx-aiohttp's
transport (each reading and JSON-decoding the body), and our request loop alone on our
aiohttp transport and on httpx-aiohttp's; then one large body streamed through our loop on
each transport (event-loop CPU: why ``_http/_aiohttp.py`` exists). Rounds are interleaved and each
round's ratio to plain aiohttp is kept; the table shows medians (target: ours ≤ 1.8× plain
aiohttp; the sync facade's own ratio is ``bench_sync.py``).

Example:
    ```bash
    .venv/bin/python benchmarks/bench_http.py --quick
    ```
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials
from flowbio_async._http import HttpClient
from flowbio_async.testing import FlowServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _plain import per_call
from bench_downloads import MiB, add_blob_file, make_blob
from bench_sync import run_async

DEMO = UsernamePasswordCredentials(username="demo", password="demo-password")


def ours(url: str, calls: int, engine: str) -> float:
    config = ClientConfig(show_progress=False, http_engine=engine)  # type: ignore[arg-type]
    return run_async(url, calls, config)


def _http_client(url: str, token: str, transport: str) -> HttpClient:
    """Our ``HttpClient`` with the bearer set, on our transport or on httpx-aiohttp's."""
    custom = None
    if transport == "httpx-aiohttp":
        import aiohttp
        from httpx_aiohttp import AiohttpTransport

        custom = AiohttpTransport(
            client=lambda: aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        )
    http = HttpClient(url, ClientConfig(show_progress=False), transport=custom)
    http.auth.set(token, refreshable=False)
    return http


def loop_only(url: str, token: str, calls: int, transport: str) -> float:
    """Our request loop alone (``HttpClient.request`` + JSON), on our aiohttp transport or on
    httpx-aiohttp's: the measurement behind choosing our own (``_http/_aiohttp.py``)."""

    async def main() -> float:
        http = _http_client(url, token, transport)
        try:
            for index in range(20 + calls):
                if index == 20:
                    started = time.perf_counter()
                (await http.request("GET", "me")).json()
            return (time.perf_counter() - started) / calls
        finally:
            await http.aclose()

    return anyio.run(main)


def stream_cost(url: str, token: str, target: str, transport: str) -> tuple[float, float, int]:
    """Stream one large body through ``HttpClient`` on our transport or httpx-aiohttp's:
    (event-loop CPU seconds, wall seconds, pieces). Reading in large pieces is where our
    transport differs most (``iter_any`` against fixed 16 KiB chunks)."""

    async def main() -> tuple[float, float, int]:
        http = _http_client(url, token, transport)
        try:
            cpu, started, pieces = time.thread_time(), time.perf_counter(), 0
            async with http.stream("GET", target, headers={"Accept-Encoding": "identity"}) as r:
                async for _ in r.aiter_raw():
                    pieces += 1
            return time.thread_time() - cpu, time.perf_counter() - started, pieces
        finally:
            await http.aclose()

    return anyio.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    args = parser.parse_args()
    calls, rounds = (200, 3) if args.quick else (500, 7)
    size_mib = 64 if args.quick else 512
    one, five, _ = os.getloadavg()
    print(f"load average before: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs")
    with FlowServer() as server:

        async def token() -> str:
            async with AsyncClient(server.url, ClientConfig(show_progress=False)) as client:
                await client.log_in(DEMO)
                value = client._http.auth.token  # the plain clients send the same token
                assert value is not None
                return value

        bearer = anyio.run(token)
        me = f"{server.url}/me"
        contenders = {
            "ours (aiohttp engine)": lambda: ours(server.url, calls, "aiohttp"),
            "ours (httpx engine)": lambda: ours(server.url, calls, "httpx"),
            "plain aiohttp": lambda: anyio.run(per_call, "aiohttp", me, bearer, calls),
            "plain httpx": lambda: anyio.run(per_call, "httpx", me, bearer, calls),
            "httpx over httpx-aiohttp": lambda: anyio.run(
                per_call, "httpx-aiohttp", me, bearer, calls
            ),
            "our loop, our transport": lambda: loop_only(server.url, bearer, calls, "ours"),
            "our loop, httpx-aiohttp's": lambda: loop_only(
                server.url, bearer, calls, "httpx-aiohttp"
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(rounds):
            for name, run in contenders.items():
                times[name].append(run())
        source = Path(tempfile.mkdtemp(prefix="bench-http-")) / "large.src"
        make_blob(source, size_mib * MiB)
        data_id = add_blob_file(server, source, "large.bin")
        target = f"{server.files_url}/downloads/{data_id}/large.bin"
        costs: dict[str, list[tuple[float, float, int]]] = {"ours": [], "httpx-aiohttp": []}
        for _ in range(rounds):
            for name, values in costs.items():
                values.append(stream_cost(server.url, bearer, target, name))
    reference = times["plain aiohttp"]
    print(f"GET /me, {rounds} interleaved rounds x {calls} sequential calls (target: ours <= 1.8x)")
    for name, values in times.items():
        ratio = statistics.median(v / r for v, r in zip(values, reference, strict=True))
        print(f"  {name:<28}{statistics.median(values) * 1e6:8.0f} µs/call  {ratio:5.2f}x aiohttp")
    print(f"one {size_mib} MiB body streamed through our request loop, {rounds} rounds:")
    for name, body in costs.items():
        cpu = statistics.median(v[0] for v in body)
        wall = statistics.median(v[1] for v in body)
        label = f"on {name} transport"
        print(f"  {label:<28}{cpu:6.3f} s loop CPU, {wall:6.3f} s wall, {body[0][2]} pieces")
    one, five, _ = os.getloadavg()
    print(f"load average after: {one:.2f} (1 min), {five:.2f} (5 min)")


if __name__ == "__main__":
    main()
