"""Per-call cost of a small GET through the sync facade vs the async client (issue #5).

Both clients talk to the same local Flow server in the same run; calls are sequential so the
difference is the facade's thread hop (target: sync ≤ 1.2× async). Rounds alternate between
the two clients; the reported ratio is the median of the per-round ratios.

Example:
    ```bash
    .venv/bin/python benchmarks/bench_sync.py --quick
    ```
"""

from __future__ import annotations

import argparse
import statistics
import time

import anyio

from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials
from flowbio_async.testing import FlowServer
from flowbio_sync import Client

DEMO = UsernamePasswordCredentials(username="demo", password="demo-password")
CONFIG = ClientConfig(show_progress=False)


def run_async(url: str, calls: int, config: ClientConfig = CONFIG) -> float:
    """Seconds per sequential ``client.me()`` after 20 warm-up calls."""

    async def main() -> float:
        async with AsyncClient(url, config) as client:
            await client.log_in(DEMO)
            for _ in range(20):
                await client.me()
            started = time.perf_counter()
            for _ in range(calls):
                await client.me()
            return (time.perf_counter() - started) / calls

    return anyio.run(main)


def run_sync(url: str, calls: int) -> float:
    with Client(url, CONFIG) as client:
        client.log_in(DEMO)
        for _ in range(20):
            client.me()
        started = time.perf_counter()
        for _ in range(calls):
            client.me()
        return (time.perf_counter() - started) / calls


def run_paired(url: str, calls: int) -> tuple[float, float]:
    """Median (sync, async) time of the SAME calls: each sync call is timed by the caller and
    the coroutine inside it is timed on the loop, so load drift cannot skew the ratio."""
    inner: list[float] = []
    outer: list[float] = []
    with Client(url, CONFIG) as client:
        client.log_in(DEMO)
        me = client._async.me

        async def timed() -> None:
            started = time.perf_counter()
            await me()
            inner.append(time.perf_counter() - started)

        for _ in range(20 + calls):
            started = time.perf_counter()
            client._portal.call(timed)
            outer.append(time.perf_counter() - started)
    return statistics.median(outer[20:]), statistics.median(inner[20:])


def main() -> None:
    parser = argparse.ArgumentParser(description="sync facade overhead per small GET")
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    args = parser.parse_args()
    calls, rounds = (200, 4) if args.quick else (500, 10)
    with FlowServer() as server:
        paired_sync, paired_async = run_paired(server.url, calls * rounds)
        async_times, sync_times, ratios = [], [], []
        for index in range(rounds):
            # Alternate which client goes first so load drift on a shared machine cancels out;
            # each round's ratio compares two runs made back to back.
            if index % 2:
                sync_time, async_time = run_sync(server.url, calls), run_async(server.url, calls)
            else:
                async_time, sync_time = run_async(server.url, calls), run_sync(server.url, calls)
            async_times.append(async_time)
            sync_times.append(sync_time)
            ratios.append(sync_time / async_time)
    ours = statistics.median(sync_times)
    theirs = statistics.median(async_times)
    ratio = statistics.median(ratios)
    print(f"{'workload':<28}{'sync':>12}{'async':>12}{'ratio':>8}")
    print(f"{'GET /me, sequential':<28}{ours * 1e6:>10.0f}µs{theirs * 1e6:>10.0f}µs{ratio:>8.2f}")
    paired = paired_sync / paired_async
    print(
        f"{'GET /me, same calls':<28}{paired_sync * 1e6:>10.0f}µs{paired_async * 1e6:>10.0f}µs"
        f"{paired:>8.2f}"
    )
    print(f"(side by side: medians of {rounds} rounds x {calls} calls, ratio per round;")
    print(" same calls: each sync call vs the coroutine inside it, timed on the loop;")
    print(" target <= 1.20)")


if __name__ == "__main__":
    main()
