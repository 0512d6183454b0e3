"""Uploads side by side (issue #3): flowbio-async vs the official ``flowbio`` v2 client.

Both clients talk to the same local Flow server (granian, loopback), each run in its own
fresh process so that its peak RSS can be reported next to its time:

1. one 256 MiB file with 20 ms added latency per request (target: ≥ 3× faster);
2. the same file with no added latency (target: never slower);
3. 64 files × 2 MiB with 20 ms latency: ``upload_many`` vs the official client one file at
   a time (target: ≥ 5× faster);
4. peak RSS of our client uploading 1 GiB (target: ≤ 100 MiB);
5. peak RSS of our client uploading 16 × 64 MiB at once with ``upload_many`` (the chunks in
   memory are bounded by ``ClientConfig.upload_memory``, 64 MiB; RSS reported).

The official client runs with its defaults (1 MB chunks, one request at a time) and
``show_progress=False``; ours runs with its defaults. Needs ``flowbio==0.14.1`` (the
``bench`` extra; ``make bench`` installs it). It installs nothing itself.

Example:
    ```bash
    .venv/bin/python benchmarks/bench_uploads.py --quick
    ```
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from contextlib import closing
from pathlib import Path
from typing import Any

from flowbio_async.testing import FlowServer

MiB = 1024 * 1024

# One child process per measurement: it logs in, uploads, and prints seconds, peak RSS and
# the data ids as JSON. Time covers the uploads only (not interpreter start or login).
CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path

    which, url, paths = sys.argv[1], sys.argv[2], [Path(p) for p in sys.argv[3:]]

    def rss_mib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if which == "ours":
        import anyio, tempfile
        from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials

        async def run():
            config = ClientConfig(show_progress=False, state_dir=Path(tempfile.mkdtemp()))
            async with AsyncClient(url, config) as client:
                await client.log_in(UsernamePasswordCredentials("demo", "demo-password"))
                start = time.perf_counter()
                if len(paths) == 1:
                    ids = [(await client.data.upload_data(paths[0])).id]
                else:
                    ids = [r.unwrap().id for r in await client.data.upload_many(paths)]
                return time.perf_counter() - start, ids

        seconds, ids = anyio.run(run)
    else:
        from flowbio.v2 import Client, ClientConfig, UsernamePasswordCredentials

        client = Client(url, ClientConfig(show_progress=False))
        client.log_in(UsernamePasswordCredentials("demo", "demo-password"))
        start = time.perf_counter()
        ids = [client.data.upload_data(p).id for p in paths]
        seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rss_mib": rss_mib(), "ids": ids}))
    """
)


def make_file(path: Path, size: int) -> str:
    """Write ``size`` pseudo-random bytes (urandom blocks, repeated); return their md5."""
    block = os.urandom(4 * MiB)
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            piece = block[: min(len(block), remaining)]
            handle.write(piece)
            digest.update(piece)
            remaining -= len(piece)
    return digest.hexdigest()


def run_child(which: str, server: FlowServer, paths: list[Path]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, which, server.url, *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def check_stored(server: FlowServer, ids: list[str], md5s: list[str]) -> None:
    """Every upload must be byte-exact on the server: a fast wrong answer is no answer."""
    with closing(sqlite3.connect(server.data_dir / "flow.sqlite3")) as db:
        for data_id, expected in zip(ids, md5s, strict=True):
            (stored,) = db.execute("SELECT md5 FROM data WHERE id = ?", (int(data_id),)).fetchone()
            if stored != expected:
                raise SystemExit(f"data {data_id}: server md5 {stored} != local {expected}")


def compare(
    name: str, server: FlowServer, paths: list[Path], md5s: list[str], target: str, repeat: int
) -> list[str]:
    """Best of ``repeat`` runs for each client; one table row."""
    ours = min((run_child("ours", server, paths) for _ in range(repeat)), key=_seconds)
    theirs = min((run_child("theirs", server, paths) for _ in range(repeat)), key=_seconds)
    check_stored(server, ours["ids"], md5s)
    check_stored(server, theirs["ids"], md5s)
    total = sum(p.stat().st_size for p in paths) / MiB
    ratio = theirs["seconds"] / ours["seconds"]
    return [
        f"| {name} | {ours['seconds']:.2f} s ({total / ours['seconds']:.0f} MiB/s) "
        f"| {theirs['seconds']:.2f} s ({total / theirs['seconds']:.0f} MiB/s) "
        f"| {ratio:.1f}× | {ours['rss_mib']:.0f} / {theirs['rss_mib']:.0f} MiB | {target} |"
    ]


def _seconds(result: dict[str, Any]) -> float:
    return float(result["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per client (best kept)")
    parser.add_argument(
        "--only", choices=["one", "one0", "many", "rss", "many-rss"], action="append"
    )
    args = parser.parse_args()
    only = set(args.only or ["one", "one0", "many", "rss", "many-rss"])
    try:
        import flowbio  # noqa: F401
    except ImportError:
        raise SystemExit("needs the official client: pip install 'flowbio==0.14.1'") from None
    big = (32 if args.quick else 256) * MiB
    count, small = (16, 1 * MiB) if args.quick else (64, 2 * MiB)
    rss_size = (256 if args.quick else 1024) * MiB
    wide = (16, (16 if args.quick else 64) * MiB)
    rows = [
        "| workload | ours | theirs (flowbio 0.14.1) | speed-up | peak RSS ours / theirs "
        "| target |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-up-") as tmp, FlowServer() as server:
        work = Path(tmp)
        one = work / "one.bin"
        one_md5 = make_file(one, big)
        if "one" in only:
            server.set(latency_ms=20)
            rows += compare(
                f"1 × {big // MiB} MiB, 20 ms", server, [one], [one_md5], "≥ 3×", args.repeat
            )
        if "one0" in only:
            server.set(latency_ms=0)
            rows += compare(
                f"1 × {big // MiB} MiB, 0 ms", server, [one], [one_md5], "≥ 1×", args.repeat
            )
        if "many" in only:
            paths = [work / f"many_{i:03d}.bin" for i in range(count)]
            md5s = [make_file(p, small) for p in paths]
            server.set(latency_ms=20)
            rows += compare(
                f"{count} × {small // MiB} MiB, 20 ms", server, paths, md5s, "≥ 5×", args.repeat
            )
        if "rss" in only:
            server.set(latency_ms=0)
            large = work / "rss.bin"
            large_md5 = make_file(large, rss_size)
            result = run_child("ours", server, [large])
            check_stored(server, result["ids"], [large_md5])
            rows.append(
                f"| peak RSS, 1 × {rss_size // MiB} MiB (ours only) | "
                f"{result['seconds']:.2f} s | – | – | {result['rss_mib']:.0f} MiB | ≤ 100 MiB |"
            )
        if "many-rss" in only:
            server.set(latency_ms=0)
            files, size = wide
            paths = [work / f"wide_{i:02d}.bin" for i in range(files)]
            md5s = [make_file(p, size) for p in paths]
            result = run_child("ours", server, paths)
            check_stored(server, result["ids"], md5s)
            rows.append(
                f"| peak RSS, {files} × {size // MiB} MiB at once (ours only) | "
                f"{result['seconds']:.2f} s | – | – | {result['rss_mib']:.0f} MiB | – |"
            )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
