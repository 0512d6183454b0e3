"""Transfers cancelled at random points, then resumed (issue #7 "Cancellation").

Half are cancelled through an anyio task group (what an outer deadline or a sibling's
failure does), half through the sync facade's Ctrl-C path (``_thread.interrupt_main`` from a
progress callback, exactly what a terminal's SIGINT does to the main thread). After each
interruption no final file may be corrupt (a download's destination is absent or exact; every
finished upload on the server is exact), and calling the same method again must complete it.
"""

from __future__ import annotations

import _thread
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio

import flowbio_sync
from flowbio_async import AsyncClient, ProgressEvent
from flowbio_async.testing._chaos._checks import PART_SUFFIXES, md5_file, other_tasks, stray_files
from flowbio_async.testing._chaos._kinds import DEMO, Env, payload, server_file
from flowbio_async.testing._chaos._matrix import Summary
from flowbio_async.testing._chaos._plan import UPLOAD_PATH

KiB = 1024
KINDS = ("upload", "download", "segmented")


class _Case:
    """One transfer to interrupt: its source or server file, its destination, its checks."""

    def __init__(self, env: Env, rng: random.Random, index: int) -> None:
        self.env = env
        self.kind = rng.choice(KINDS)
        self.work = env.scratch(f"cancel-{self.kind}")
        self.dest = self.work / "out"
        self.dest.mkdir()
        size = rng.randint(96 * KiB, 512 * KiB)
        if self.kind == "upload":
            self.source = self.work / f"cancel_{index}_{rng.getrandbits(32):08x}.bin"
            self.source.write_bytes(payload(rng, size))
            self.md5 = md5_file(self.source)
            self.data_id = ""
        else:
            self.data_id, self.md5, size = server_file(self.env, rng, size)
        self.threshold = rng.randrange(0, size)
        # Upload progress arrives when a chunk is acknowledged: a short delay makes the
        # cancel land inside the next request rather than between two (what Ctrl-C does).
        self.delay = rng.choice([0.0, rng.uniform(0.0, 0.02)])
        self.interrupted = False
        self.finals: list[Path] = [self.source] if self.kind == "upload" else []

    def slow_down(self) -> None:
        # A little latency per chunk so the cancel lands mid-transfer, not after the end.
        path = UPLOAD_PATH if self.kind == "upload" else f"^/(api|files)/downloads/{self.data_id}/"
        self.env.server.add_fault("latency", path=path, seconds=0.01, count=0)

    def should_interrupt(self, event: ProgressEvent) -> bool:
        if self.interrupted or event.kind != "advance" or event.completed < self.threshold:
            return False
        self.interrupted = True
        return True

    def call(self, client: Any, progress: Callable[[ProgressEvent], None] | None) -> Any:
        """Start the transfer on an async or sync client (the same method names)."""
        if self.kind == "upload":
            return client.data.upload_data(self.source, progress=progress)
        return client.data.download(self.data_id, self.dest, progress=progress)

    def corrupt_finals(self) -> list[str]:
        """Final files that exist but are not exact (must be none, whenever we look)."""
        if self.kind == "upload":
            rows = self.env.store.rows(
                "SELECT id FROM data WHERE filename = ? AND ready = 1", (self.source.name,)
            )
            paths = [self.env.store.blob_path(row["id"]) for row in rows]
        else:
            paths = [p for p in self.dest.iterdir() if not p.name.endswith(PART_SUFFIXES)]
        return [str(p) for p in paths if p.is_file() and md5_file(p) != self.md5]

    def check_result(self, result: Any) -> bool:
        if self.kind == "upload":
            return md5_file(self.env.store.blob_path(result.id)) == self.md5
        self.finals.append(Path(result.path))
        return md5_file(Path(result.path)) == self.md5


def _record(summary: Summary, case: _Case, corrupt: list[str], resumed: bool, note: str) -> None:
    summary.cancelled += 1
    summary.cancel_corrupt += len(corrupt)
    # Once resumed, nothing but the final file may remain (no part file, no resume record).
    strays = stray_files(case.work, case.finals, resumable=not resumed)
    summary.stray_files += len(strays)
    if resumed:
        summary.cancel_resumed += 1
    else:
        summary.cancel_not_resumed += 1
    if corrupt or strays or not resumed:
        summary.problems.append(
            f"cancel {case.kind}: corrupt={corrupt} strays={strays} resumed={resumed} {note}"
        )


async def _cancel_async(env: Env, summary: Summary, count: int, rng: random.Random) -> None:
    for index in range(count):
        await _cancel_one_async(env, summary, _Case(env, rng, index))
        summary.leaked_tasks = max(summary.leaked_tasks, other_tasks())


async def _cancel_one_async(env: Env, summary: Summary, case: _Case) -> None:
    config = replace(env.config, state_dir=case.work / "state")
    async with AsyncClient(env.server.url, config) as client:
        await client.log_in(DEMO)
        env.server.clear_faults()
        case.slow_down()
        async with anyio.create_task_group() as group:

            async def cancel_soon() -> None:
                await anyio.sleep(case.delay)
                group.cancel_scope.cancel()

            def progress(event: ProgressEvent) -> None:
                if case.should_interrupt(event):
                    group.start_soon(cancel_soon)

            async def transfer() -> None:
                await case.call(client, progress)

            group.start_soon(transfer)
        env.server.clear_faults()
        corrupt = case.corrupt_finals()
        note = ""
        try:
            resumed = case.check_result(await case.call(client, None))
        except Exception as exc:
            resumed, note = False, f"{type(exc).__name__}: {exc}"
        corrupt += case.corrupt_finals()
    _record(summary, case, corrupt, resumed, note)


def _cancel_sync(env: Env, summary: Summary, count: int, rng: random.Random) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("the Ctrl-C path needs the main thread")
    threads = {thread.ident for thread in threading.enumerate()}
    for index in range(count):
        case = _Case(env, rng, count + index)
        config = replace(env.config, state_dir=case.work / "state")
        with flowbio_sync.Client(env.server.url, config) as client:
            client.log_in(DEMO)
            env.server.clear_faults()
            case.slow_down()

            def progress(event: ProgressEvent, case: _Case = case) -> None:
                if case.should_interrupt(event):
                    _thread.interrupt_main()  # what Ctrl-C does to the main thread

            try:
                case.call(client, progress)
                time.sleep(0.2)  # an interrupt that raced the end of the call lands here
            except KeyboardInterrupt:
                pass
            env.server.clear_faults()
            corrupt = case.corrupt_finals()
            note = ""
            try:
                resumed = case.check_result(case.call(client, None))
            except Exception as exc:
                resumed, note = False, f"{type(exc).__name__}: {exc}"
            corrupt += case.corrupt_finals()
        _record(summary, case, corrupt, resumed, note)
        # Each sync client runs its own event-loop thread; closing it must end the thread.
        # Worker threads are told to stop when the client's loop ends; give them a moment.
        for thread in threading.enumerate():
            if thread.ident not in threads:
                thread.join(timeout=2.0)
        extra = [t.name for t in threading.enumerate() if t.ident not in threads and t.is_alive()]
        if extra:
            summary.problems.append(f"cancel {case.kind}: threads left running {extra}")
        summary.leaked_threads = max(summary.leaked_threads, len(extra))


def run_cancellations(env: Env, summary: Summary, count: int, rng: random.Random) -> None:
    """Interrupt ``count`` transfers (half async, half through the sync facade) and resume."""
    asynchronous = count - count // 2
    anyio.run(_cancel_async, env, summary, asynchronous, rng)
    _cancel_sync(env, summary, count // 2, rng)
