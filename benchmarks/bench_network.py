"""Over an emulated network (issue #13): curl, aria2c, the seed loop, the official client, ours.

The local server runs behind its emulated network (``--rtt-ms``, ``--connection-rate``; see
docs/local-server.md): 40 ms of round trip and 10 MB/s per connection and direction, as a
files server behind nginx's ``limit_rate`` on the other side of a continent. Rounds are
interleaved and ratios taken per round; every client of ours runs in a fresh process, so
its peak RSS is its own.

1. one 64 MiB file: ``curl -o`` (one stream), ``aria2c -x8 -s8`` (its default 20 MiB
   minimum split: three ranges for this file) and ``aria2c -x8 -s8 -k1M`` (eight), ours by
   default (adaptive ranges) and as one stream; targets: ≥ 6× ``curl -o`` and at least as
   fast as ``aria2c -x8 -s8``;
2. the same file on plain loopback, ours default against one stream (never slower, ±5 %);
3. 200 × 256 KiB: the seed 002 sequential ``requests`` loop against ``download_many(ids)``
   and ``download_many(listing)``; target ≥ 10×;
4. one 256 MiB upload: the official ``flowbio.v2`` client (1 MB chunks, one at a time)
   against ``upload_data``; target ≥ 3×;
5. 8 × 32 MiB uploads: the official client's loop against ``upload_many`` (many files in
   flight fill the link).

Every stored upload, theirs and ours, is checked against its source's md5.

Needs ``curl``, ``aria2c`` (``make bench`` installs the system's ``aria2`` package when it is
missing), and the ``bench`` extra (``flowbio==0.14.1``, ``requests``).

Example:
    ```bash
    .venv/bin/python benchmarks/bench_network.py --quick --only large
    ```
"""

from __future__ import annotations

import argparse
import json
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_downloads import (
    PEAK_MIB,
    add_blob_file,
    add_small_files,
    download_streaming,
    load_line,
    make_blob,
    token_for,
)
from bench_uploads import check_stored, make_file

from flowbio_async.testing import FlowServer

MiB = 1024 * 1024
RTT_MS = 40.0
RATE = 10_000_000.0

# One fresh process per run of ours: it logs in, runs one operation and prints seconds
# (transfer only: login and start-up are outside, as for curl's and the seed's token) and
# its peak RSS.
OURS = textwrap.dedent(
    """
    import json, resource, sys, tempfile, time, anyio
    from pathlib import Path
    from flowbio_async import AsyncClient, ClientConfig, Data, UsernamePasswordCredentials

    {peak}
    async def main(what, url, dest, options, *items):
        config = ClientConfig(show_progress=False, state_dir=Path(tempfile.mkdtemp()),
                              **json.loads(options))
        async with AsyncClient(url, config) as client:
            await client.log_in(UsernamePasswordCredentials(username="demo",
                                                            password="demo-password"))
            started = time.perf_counter()
            uploaded = []
            if what == "download":
                await client.data.download(items[0], dest)
            elif what == "ids":
                (await client.data.download_many(list(items), dest)).raise_for_failures()
            elif what == "listing":
                listing = [Data(id=i, filename=n, size=int(s)) for i, n, s in
                           (item.split(":") for item in items)]
                (await client.data.download_many(listing, dest)).raise_for_failures()
            elif what == "upload":
                uploaded = [await client.data.upload_data(items[0])]
            else:
                results = await client.data.upload_many(list(items))
                uploaded = [result.unwrap() for result in results]
            seconds = time.perf_counter() - started
        # The ids follow, so the caller can check every stored md5.
        print(seconds, peak_mib(), *(data.id for data in uploaded))

    anyio.run(main, *sys.argv[1:])
    """
).replace("{peak}", PEAK_MIB)

THEIRS_UPLOAD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from flowbio.v2 import Client, ClientConfig, UsernamePasswordCredentials

    url, paths = sys.argv[1], [Path(p) for p in sys.argv[2:]]
    client = Client(url, ClientConfig(show_progress=False))
    client.log_in(UsernamePasswordCredentials("demo", "demo-password"))
    started = time.perf_counter()
    ids = [client.data.upload_data(path).id for path in paths]  # the official way: a loop
    print(time.perf_counter() - started, *(json.dumps(i) for i in ids))
    """
)


def ours(
    what: str, url: str, dest: Path, *items: str, ids: list[str] | None = None, **options: Any
) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of one operation of ours in a fresh process.

    Uploads append the stored data ids to ``ids`` (their md5s are checked afterwards).
    """
    done = subprocess.run(
        [sys.executable, "-c", OURS, what, url, str(dest), json.dumps(options), *items],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, peak, *uploaded = done.stdout.split()
    if ids is not None:
        ids.extend(uploaded)
    return float(seconds), float(peak)


class Rounds:
    """Interleaved rounds: every contender once per round; ratios are taken per round."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.peaks: dict[str, float] = {}

    def run(
        self, contenders: dict[str, Callable[[], Any]], rounds: int, clean: Callable[[], None]
    ) -> None:
        for _ in range(rounds):
            for name, func in contenders.items():
                clean()
                started = time.perf_counter()
                result = func()
                elapsed = time.perf_counter() - started
                if isinstance(result, tuple):  # (seconds, peak RSS) from a child of ours
                    elapsed = result[0]
                    self.peaks[name] = max(self.peaks.get(name, 0.0), result[1])
                self.times.setdefault(name, []).append(elapsed)
        clean()

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratio(self, slow: str, fast: str) -> float:
        """Median over rounds of ``slow / fast`` (how many times faster ``fast`` is)."""
        pairs = zip(self.times[slow], self.times[fast], strict=True)
        return statistics.median(s / f for s, f in pairs)

    def line(self, label: str, name: str, extra: str = "") -> str:
        peak = f", peak RSS {self.peaks[name]:.0f} MiB" if name in self.peaks else ""
        spread = f"{min(self.times[name]):.2f}-{max(self.times[name]):.2f}"
        return f"  {label:<36}{self.median(name):6.2f} s median ({spread}){peak}{extra}"


def curl(url: str, token: str, dest: Path) -> None:
    subprocess.run(
        ["curl", "-sf", "-H", f"Authorization: Bearer {token}", "-o", str(dest), url], check=True
    )


def aria2c(url: str, token: str, dest: Path, *extra: str) -> None:
    subprocess.run(
        [
            "aria2c", "-q", "-x8", "-s8", *extra, "--allow-overwrite=true",
            "--auto-file-renaming=false", "--header", f"Authorization: Bearer {token}",
            "-d", str(dest.parent), "-o", dest.name, url,
        ],
        check=True,
    )  # fmt: skip


def _large_file(server: FlowServer, work: Path, size: int) -> tuple[str, str, str]:
    """A ``size`` file on ``server``: its id, its download URL and a token for it."""
    source = work / "large.src"
    make_blob(source, size)
    data_id = add_blob_file(server, source, "large.bin")
    token = anyio.run(token_for, server)
    return data_id, f"{server.files_url}/downloads/{data_id}/large.bin", token


ONE_STREAM = {"segment_threshold": 1 << 62}


def bench_large(
    shaped: FlowServer, plain: FlowServer, work: Path, size: int, rounds: int
) -> list[str]:
    out = work / "large"

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

    data_id, url, token = _large_file(shaped, work, size)
    results = Rounds()
    results.run(
        {
            "curl": lambda: curl(url, token, out / "c"),
            "aria2c": lambda: aria2c(url, token, out / "a"),
            "aria2c-k1M": lambda: aria2c(url, token, out / "k", "-k1M"),
            "default": lambda: ours("download", shaped.url, out, data_id),
            "single": lambda: ours("download", shaped.url, out, data_id, **ONE_STREAM),
        },
        rounds,
        clean,
    )
    lines = [
        f"{size // MiB} MiB over {RTT_MS:.0f} ms round trip, {RATE / 1e6:.0f} MB/s per "
        f"connection, {rounds} interleaved rounds (targets: >= 6x curl, <= aria2c):",
        results.line("curl -o", "curl"),
        results.line("aria2c -x8 -s8", "aria2c", f"  {results.ratio('curl', 'aria2c'):.2f}x curl"),
        results.line(
            "aria2c -x8 -s8 -k1M",
            "aria2c-k1M",
            f"  {results.ratio('curl', 'aria2c-k1M'):.2f}x curl",
        ),
        results.line(
            "flowbio-async, default",
            "default",
            f"  {results.ratio('curl', 'default'):.2f}x curl, "
            f"{results.ratio('aria2c', 'default'):.2f}x aria2c, "
            f"{results.ratio('aria2c-k1M', 'default'):.2f}x aria2c -k1M",
        ),
        results.line(
            "flowbio-async, one stream", "single", f"  {results.ratio('curl', 'single'):.2f}x curl"
        ),
    ]
    loop_id = _large_file(plain, work, size)[0]
    loopback = Rounds()
    loopback.run(
        {
            "single": lambda: ours("download", plain.url, out, loop_id, **ONE_STREAM),
            "default": lambda: ours("download", plain.url, out, loop_id),
        },
        rounds * 2,
        clean,
    )
    return [
        *lines,
        f"{size // MiB} MiB on plain loopback, {rounds * 2} interleaved rounds "
        "(target: default within 5 % of one stream):",
        loopback.line("flowbio-async, one stream", "single"),
        loopback.line(
            "flowbio-async, default",
            "default",
            f"  {loopback.ratio('default', 'single'):.3f}x one stream's time",
        ),
    ]


def bench_many(server: FlowServer, work: Path, count: int, size: int, rounds: int) -> list[str]:
    import requests  # noqa: F401 - imported here, untimed: the seed loop's first call would pay it

    ids = add_small_files(server, count, size)
    names = [f"small_{index:04d}.bin" for index in range(count)]
    token = anyio.run(token_for, server)
    out = work / "many"

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

    def seed() -> None:
        for data_id, name in zip(ids, names, strict=True):
            download_streaming(f"{server.url}/downloads/{data_id}/{name}", str(out / name), token)

    listing = [f"{i}:{n}:{size}" for i, n in zip(ids, names, strict=True)]
    results = Rounds()
    results.run(
        {
            "seed": seed,
            "ids": lambda: ours("ids", server.url, out, *ids),
            "listing": lambda: ours("listing", server.url, out, *listing),
        },
        rounds,
        clean,
    )
    return [
        f"{count} x {size // 1024} KiB over {RTT_MS:.0f} ms, {RATE / 1e6:.0f} MB/s per connection, "
        f"{rounds} interleaved rounds (target >= 10x the seed loop):",
        results.line("seed 002 sequential requests", "seed"),
        results.line(
            "flowbio-async download_many(ids)", "ids", f"  {results.ratio('seed', 'ids'):.1f}x seed"
        ),
        results.line(
            "flowbio-async download_many(listing)",
            "listing",
            f"  {results.ratio('seed', 'listing'):.1f}x seed",
        ),
    ]


def bench_upload(server: FlowServer, work: Path, files: int, size: int, rounds: int) -> list[str]:
    """``files`` files of ``size`` bytes: the official client's loop against ours.

    One file goes through ``upload_data``, several through ``upload_many``. Every stored
    copy, theirs and ours, is checked against the source's md5.
    """
    paths = [work / f"upload-{index}.bin" for index in range(files)]
    md5s = [make_file(path, size) for path in paths]
    theirs_ids: list[str] = []
    ours_ids: list[str] = []
    what = "upload" if files == 1 else "upload-many"

    def theirs() -> float:
        done = subprocess.run(
            [sys.executable, "-c", THEIRS_UPLOAD, server.url, *map(str, paths)],
            check=True,
            capture_output=True,
            text=True,
        )
        seconds, *stored = done.stdout.split()
        theirs_ids.extend(str(json.loads(data_id)) for data_id in stored)
        return float(seconds)

    def mine() -> tuple[float, float]:
        return ours(what, server.url, work, *map(str, paths), ids=ours_ids)

    results = Rounds()
    results.run({"theirs": theirs, "ours": mine}, rounds, lambda: None)
    check_stored(server, theirs_ids, md5s * rounds)
    check_stored(server, ours_ids, md5s * rounds)
    label = f"{size // MiB} MiB" if files == 1 else f"{files} x {size // MiB} MiB"
    call = "upload_data" if files == 1 else "upload_many"
    return [
        f"upload {label} over {RTT_MS:.0f} ms, {RATE / 1e6:.0f} MB/s per connection, "
        f"{rounds} interleaved rounds, md5 of every stored copy checked "
        "(target >= 3x the official client):",
        results.line("official flowbio 0.14.1 (1 MB chunks, a loop)", "theirs"),
        results.line(
            f"flowbio-async {call}", "ours", f"  {results.ratio('theirs', 'ours'):.2f}x theirs"
        ),
        f"  (one connection at a time cannot beat {files * size / RATE:.1f} s)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument(
        "--only", choices=["large", "many", "upload", "upload-many"], action="append"
    )
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    quick = args.quick
    only = set(args.only or ["large", "many", "upload", "upload-many"])
    rounds = args.rounds or (1 if quick else 3)
    for tool in ("curl", "aria2c"):
        if "large" in only and shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (make bench installs it: apt-get install aria2)")
    lines = [load_line("before")]
    shape = {"rtt_ms": RTT_MS, "connection_rate": RATE}
    with (
        tempfile.TemporaryDirectory(prefix="bench-net-") as tmp,
        FlowServer(**shape) as shaped,
        FlowServer() as plain,
    ):
        work = Path(tmp)
        if "large" in only:
            lines += bench_large(shaped, plain, work, 64 * MiB, rounds)
        if "many" in only:
            lines += bench_many(shaped, work, 40 if quick else 200, 256 * 1024, rounds)
        if "upload" in only:
            lines += bench_upload(shaped, work, 1, (64 if quick else 256) * MiB, 1 if quick else 2)
        if "upload-many" in only:
            lines += bench_upload(shaped, work, 4 if quick else 8, 32 * MiB, 1 if quick else 2)
    lines.append(load_line("after"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
