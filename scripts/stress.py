"""Run the timing-sensitive tests many times beside a CPU, disk and network load (issue #12).

``make stress`` runs this. A load generator (busy loops, a disk writer that writes and fsyncs,
and a second local Flow server with a client uploading and downloading through it) runs for a
bounded time while pytest runs the tests marked ``timing`` ``--repeat`` times each. The load
stops by itself at its deadline, when this script exits, and when this script is killed (each
load process watches its parent), so nothing is left running.

Example:
    ```bash
    python scripts/stress.py --repeat 20                      # what `make stress` runs
    python scripts/stress.py --repeat 5 -- tests/test_sync_client.py -k ctrl_c
    python scripts/stress.py --load-only --duration 600       # load beside another command
    ```
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

MiB = 1024 * 1024
DEFAULT_DURATION = 3600.0
"""Seconds the load runs at most (it also stops when the tests end)."""
DISK_FILE = 32 * MiB
TRANSFER_FILE = 8 * MiB
TRANSFER_ROUNDS = 32
"""Uploads per local server before the transfer load starts a fresh one."""
_Running = Callable[[], bool]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        return _worker(args.worker, args.until, args.parent)
    deadline = time.time() + args.duration
    with _load(args, deadline) as workers:
        print(f"stress: load running ({', '.join(workers)}) for at most {args.duration:.0f} s")
        if args.load_only:
            return _wait_until(deadline)
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            f"--count={args.repeat}",
            *(args.pytest or ["-m", "timing"]),
        ]
        print("stress:", " ".join(command[2:]), flush=True)
        started = time.monotonic()
        code = subprocess.call(command)
        print(f"stress: pytest exited {code} after {time.monotonic() - started:.0f} s")
        return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--repeat",
        type=int,
        default=int(os.environ.get("STRESS_REPEAT", "20")),
        help="times each test runs (default $STRESS_REPEAT or 20)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=float(os.environ.get("STRESS_DURATION", DEFAULT_DURATION)),
        help="seconds after which the load stops by itself (default $STRESS_DURATION or 3600)",
    )
    parser.add_argument(
        "--cpu",
        type=int,
        default=os.cpu_count() or 2,
        help="busy-loop processes (default: one per core)",
    )
    parser.add_argument("--disk", type=int, default=1, help="disk writer processes (default 1)")
    parser.add_argument(
        "--transfers",
        type=int,
        default=1,
        help="clients uploading and downloading through a second local server (default 1)",
    )
    parser.add_argument("--load-only", action="store_true", help="only run the load")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--parent", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("pytest", nargs="*", help="pytest arguments (default: -m timing)")
    return parser


@contextlib.contextmanager
def _load(args: argparse.Namespace, deadline: float) -> Iterator[list[str]]:
    kinds = ["cpu"] * args.cpu + ["disk"] * args.disk + ["transfers"] * args.transfers
    processes: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        for kind in kinds:
            command = [sys.executable, __file__, "--worker", kind]
            command += ["--until", str(deadline), "--parent", str(os.getpid())]
            processes.append(subprocess.Popen(command, stdin=subprocess.DEVNULL))
        yield kinds
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        signal.signal(signal.SIGTERM, previous)


def _wait_until(deadline: float) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        while time.time() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.time())))
    return 0


# -- load processes ---------------------------------------------------------------------------


def _worker(kind: str, until: float, parent: int) -> int:
    _die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    def running() -> bool:
        # Stop at the deadline, and when the parent is gone (killed with SIGKILL).
        return time.time() < until and os.getppid() == parent

    with contextlib.suppress(KeyboardInterrupt):
        {"cpu": _spin, "disk": _write, "transfers": _transfer}[kind](running)
    return 0


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _spin(running: _Running) -> None:
    digest = hashlib.sha256()
    block = os.urandom(64 * 1024)
    while running():
        for _ in range(200):
            digest.update(block)


def _write(running: _Running) -> None:
    folder = Path(tempfile.mkdtemp(prefix="flowbio-stress-disk-"))
    block = os.urandom(MiB)
    try:
        while running():
            path = folder / "load.bin"
            with path.open("wb") as handle:
                for _ in range(DISK_FILE // MiB):
                    handle.write(block)
                    if not running():
                        break
                handle.flush()
                os.fsync(handle.fileno())
            path.read_bytes()
            path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _transfer(running: _Running) -> None:
    """Upload and download one file through a second local server, over and over."""
    from flowbio_async.testing import FlowServer
    from flowbio_sync import Client, ClientConfig, UsernamePasswordCredentials

    folder = Path(tempfile.mkdtemp(prefix="flowbio-stress-net-"))
    try:
        source = folder / "load.bin"
        source.write_bytes(os.urandom(TRANSFER_FILE))
        config = ClientConfig(show_progress=False, state_dir=folder / "state")
        while running():
            # A fresh server every TRANSFER_ROUNDS uploads: each one is stored, and an hour
            # of them on one server filled the disk (17 GB) under the tests being stressed.
            store = folder / "server"
            with FlowServer(data_dir=store) as server, Client(server.url, config) as c:
                c.log_in(UsernamePasswordCredentials(username="demo", password="demo-password"))
                for _ in range(TRANSFER_ROUNDS):
                    if not running():
                        break
                    data = c.data.upload_data(source)
                    out = folder / "out"
                    c.data.download(data.id, out, overwrite=True)
                    shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(store, ignore_errors=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
