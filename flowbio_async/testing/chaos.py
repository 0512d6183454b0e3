"""``python -m flowbio_async.testing.chaos``: the seeded fault matrix behind ``make chaos``.

Starts a local Flow server, runs ``--transfers`` uploads, downloads, segmented and many-file
transfers under random server faults (5xx bursts, 429 with ``Retry-After``, connections cut
in both directions, stalls past the read timeout, tokens expiring mid-transfer, corrupted
bytes, ``Range`` ignored), then ``--cancellations`` transfers interrupted at random points
(task-group cancel and the sync facade's Ctrl-C) and resumed. Prints a summary and exits 1
unless every must-be-zero count is zero (issue #7; docs/reliability.md).

Example:
    ```bash
    python -m flowbio_async.testing.chaos --transfers 500 --cancellations 100 --seed 7
    ```
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import anyio

from flowbio_async import ClientConfig
from flowbio_async.testing._chaos._cancel import run_cancellations
from flowbio_async.testing._chaos._checks import Unraisables, open_sockets
from flowbio_async.testing._chaos._kinds import SEGMENT_PIECE, Env, Outcome
from flowbio_async.testing._chaos._matrix import KIND_WEIGHTS, Summary, run_matrix
from flowbio_async.testing._chaos._plan import Timing
from flowbio_async.testing._process import FlowServer
from flowbio_async.testing._store import Store

KiB = 1024
READ_TIMEOUT = 1.0
"""Short, so a stall fault outlasts it quickly; loopback answers take milliseconds."""
INLINE_MAX = 16 * KiB
"""Bodies above this size take the engine's writer/md5 threads (512 KiB outside chaos), so
the matrix drives both body paths through every fault and cancellation."""


def chaos_config(state_dir: Path) -> ClientConfig:
    """Small chunks and pieces so small files still take many requests; fast backoff."""
    return ClientConfig(
        show_progress=False,
        chunk_size=32 * KiB,
        max_chunk_size=64 * KiB,
        backoff_initial=0.01,
        backoff_max=0.05,
        max_retry_after=2.0,
        request_timeout=timedelta(seconds=READ_TIMEOUT),
        connect_timeout=timedelta(seconds=5),
        download_buffer_size=64 * KiB,
        segment_threshold=64 * KiB,
        segments_per_file=4,
        # Pieces are at least 8 MiB outside chaos; the matrix keeps files small, so shrink
        # the floor (same code path, many pieces per small file).
        segment_piece_min=SEGMENT_PIECE,
        segment_below_rate=None,  # always split: loopback is fast enough for one stream
        download_inline_max=INLINE_MAX,
        max_concurrency=3,
        bulk_poll_interval=0.02,
        bulk_poll_max=0.1,
        state_dir=state_dir,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m flowbio_async.testing.chaos")
    parser.add_argument("--transfers", type=int, default=500, help="transfers in the matrix")
    parser.add_argument(
        "--cancellations", type=int, default=None, help="cancelled transfers (default: 1/5)"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of every random choice")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory")
    parser.add_argument(
        "--only", action="append", choices=sorted(KIND_WEIGHTS), help="run only these kinds"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per transfer")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the matrix and the cancellations; print the summary; 0 only if the zeros hold."""
    args = parse_args(argv)
    cancellations = args.transfers // 5 if args.cancellations is None else args.cancellations
    summary = Summary(seed=args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="flowbio-chaos-", dir=args.workdir) as tmp:
        root = Path(tmp)
        with FlowServer(root / "server") as server, Unraisables().installed() as unraisables:
            store = Store(server.data_dir)
            sockets = open_sockets()
            try:
                user = store.get_user_by_username("demo")
                assert user is not None, "the demo user is missing"
                env = Env(
                    server=server,
                    store=store,
                    root=root / "work",
                    config=chaos_config(root / "state"),
                    timing=Timing(read_timeout=READ_TIMEOUT),
                    owner=int(user["id"]),
                )
                rng = random.Random(args.seed)  # noqa: S311 - reproducible test plan
                log = _printer(args.verbose)
                anyio.run(run_matrix, env, summary, args.transfers, rng, log, args.only or ())
                run_cancellations(env, summary, cancellations, rng)
            finally:
                store.close()
            gc.collect()
            summary.leaked_sockets = max(summary.leaked_sockets, open_sockets() - sockets)
        summary.resource_warnings = len(unraisables.seen)
        summary.problems += unraisables.seen
    summary.render(sys.stdout)
    print(f"  elapsed              {time.monotonic() - started:.0f} s")
    return 0 if summary.zeros_hold() else 1


def _printer(verbose: bool) -> Callable[[Outcome], None] | None:
    if not verbose:
        return None

    def show(outcome: Outcome) -> None:
        resumed = "" if outcome.resumed is None else f" resumed={outcome.resumed}"
        print(
            f"{outcome.kind:<14} {outcome.status:<13}{resumed} fired={outcome.injected} "
            f"{outcome.faults} {outcome.detail}"
        )

    return show


if __name__ == "__main__":
    sys.exit(main())
