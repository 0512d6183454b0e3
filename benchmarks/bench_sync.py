"""Per-call cost of a small GET through the sync facade vs the async client (issue #5).

Both clients talk to the same local Flow server in the same run; calls are sequential so the
difference is the facade's thread hop (target: sync ≤ 1.2× async). Rounds alternate between
the two clients and the median per-call time of each is compared.

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


def run_async(url: str, calls: int) -> float:
    async def main() -> float:
        async with AsyncClient(url, CONFIG) as client:
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


def main() -> None:
    parser = argparse.ArgumentParser(description="sync facade overhead per small GET")
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    args = parser.parse_args()
    calls, rounds = (200, 3) if args.quick else (1000, 7)
    with FlowServer() as server:
        async_times, sync_times = [], []
        for _ in range(rounds):
            async_times.append(run_async(server.url, calls))
            sync_times.append(run_sync(server.url, calls))
    ours = statistics.median(sync_times)
    theirs = statistics.median(async_times)
    print(f"{'workload':<28}{'sync':>12}{'async':>12}{'ratio':>8}")
    print(
        f"{'GET /me, sequential':<28}{ours * 1e6:>10.0f}µs{theirs * 1e6:>10.0f}µs{ours / theirs:>8.2f}"
    )
    print(f"(median of {rounds} rounds x {calls} calls; target ratio <= 1.20)")


if __name__ == "__main__":
    main()
