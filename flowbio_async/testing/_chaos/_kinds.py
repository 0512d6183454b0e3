"""One transfer of each kind, run under a fault plan and checked on both ends (issue #7).

Each kind returns an :class:`Outcome`. A transfer that raised is re-run once without faults
(resume), which must complete byte-exact: an interrupted transfer is only acceptable if it
can be finished. The server side is read straight from its store (blob bytes and the md5
column), never through the API under test.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from flowbio_async import AsyncClient, ClientConfig, FlowError, UsernamePasswordCredentials
from flowbio_async.testing._chaos._checks import describe, md5_bytes, md5_file, stray_files
from flowbio_async.testing._chaos._plan import Plan, Timing, download_plan, upload_plan
from flowbio_async.testing._process import FlowServer
from flowbio_async.testing._store import Store

# The local server's seeded demo account (docs/local-server.md), not a secret.
DEMO = UsernamePasswordCredentials(username="demo", password="demo-password")  # noqa: S106
KiB = 1024
SEGMENT_PIECE = 16 * KiB
"""Piece size of segmented downloads in the matrix (``chaos.main`` sets the engine floor)."""

COMPLETED = "completed"
FAILED_TYPED = "failed-typed"
CORRUPTED = "corrupted"
UNTYPED = "untyped-error"


@dataclass
class Outcome:
    """What happened to one transfer (a many-file transfer counts its files)."""

    kind: str
    files: int
    faults: list[str]
    status: str = COMPLETED
    detail: str = ""
    resumed: bool | None = None
    """After a typed failure: whether running it again without faults completed it."""
    strays: list[str] = field(default_factory=list)
    injected: int = 0
    """Fault rules that actually fired (the server's ``applied`` counts)."""

    @property
    def settled(self) -> bool:
        """Finished byte-exact, first time or after the resume."""
        return self.status == COMPLETED or bool(self.resumed)


@dataclass
class Env:
    """Everything one transfer needs: the server, its store, a scratch dir, the config."""

    server: FlowServer
    store: Store
    root: Path
    config: ClientConfig
    timing: Timing
    owner: int
    counter: int = 0

    def scratch(self, kind: str) -> Path:
        self.counter += 1
        path = self.root / f"{self.counter:04d}-{kind}"
        path.mkdir(parents=True)
        return path


def payload(rng: random.Random, size: int) -> bytes:
    """Seeded bytes (random, so a misplaced range can never look right by accident)."""
    return rng.randbytes(size)


def pick_size(rng: random.Random) -> int:
    """Small files with awkward sizes: empty, one byte, chunk edges, a few chunks."""
    chunk = 32 * KiB
    edges = [0, 1, chunk - 1, chunk, chunk + 1]
    return rng.choice([*edges, rng.randint(2, 4 * chunk), rng.randint(chunk, 8 * chunk)])


def server_file(env: Env, rng: random.Random, size: int) -> tuple[str, str, int]:
    """A ready data row with seeded content; returns ``(id, md5, size)``."""
    content = payload(rng, size)
    row = env.store.create_data(filename=f"chaos_{rng.getrandbits(32):08x}.bin", owner=env.owner)
    env.store.write_blob(row["id"], content)
    return str(row["id"]), md5_bytes(content), size


def server_md5(env: Env, data_id: str) -> tuple[str | None, str | None]:
    """``(md5 of the stored blob, md5 the server recorded)`` for an uploaded data id."""
    row = env.store.get_data(data_id)
    blob = env.store.blob_path(data_id)
    on_disk = md5_file(blob) if blob.is_file() else None
    return on_disk, (row or {}).get("md5")


def _apply(env: Env, plan: Plan) -> None:
    env.server.clear_faults()
    for fault in plan.faults:
        env.server.add_fault(**fault.rule)


def _lift(env: Env) -> int:
    """Remove the faults; return how many times they fired."""
    fired = sum(int(rule.get("applied", 0)) for rule in env.server.faults())
    env.server.clear_faults()
    return fired


Attempt = Callable[[AsyncClient], Awaitable[list[str]]]
"""Runs the transfer; returns one problem string per corrupted file (empty: all exact)."""


async def run_with_resume(env: Env, state: Path, plan: Plan, attempt: Attempt) -> Outcome:
    """Run ``attempt`` under ``plan``; after a typed failure run it once more without faults."""
    config = replace(env.config, state_dir=state)
    outcome = Outcome(kind="", files=0, faults=plan.names)
    async with AsyncClient(env.server.url, config) as client:
        await client.log_in(DEMO)
        _apply(env, plan)
        try:
            problems = await attempt(client)
        except FlowError as exc:
            outcome.status, outcome.detail = FAILED_TYPED, describe(exc)
        except Exception as exc:  # the invariant under test: nothing untyped escapes
            outcome.status, outcome.detail = UNTYPED, describe(exc)
        else:
            if problems:
                outcome.status, outcome.detail = CORRUPTED, "; ".join(problems)
        finally:
            outcome.injected = _lift(env)
        if outcome.status != FAILED_TYPED:
            return outcome
        try:
            problems = await attempt(client)
        except Exception as exc:
            outcome.resumed = False
            outcome.detail += f" | resume: {describe(exc)}"
            return outcome
        outcome.resumed = not problems
        if problems:
            outcome.status, outcome.detail = CORRUPTED, "; ".join(problems)
    return outcome


def _check_upload(env: Env, data_id: str, expected: str, label: str) -> list[str]:
    on_disk, recorded = server_md5(env, data_id)
    if on_disk == expected and recorded == expected:
        return []
    return [f"{label}: sent md5 {expected}, server blob {on_disk}, server row {recorded}"]


async def upload(env: Env, rng: random.Random, *, files: int = 1) -> Outcome:
    """``data.upload_data`` (one file) or ``data.upload_many`` (several)."""
    work = env.scratch("upload" if files == 1 else "upload-many")
    sources: list[tuple[Path, str]] = []
    for index in range(files):
        path = work / "src" / f"file_{index}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload(rng, pick_size(rng)))
        sources.append((path, md5_file(path)))
    chunk = env.config.chunk_size
    chunks = sum(max(1, -(-p.stat().st_size // chunk)) for p, _ in sources)
    plan = upload_plan(rng, env.timing, chunk, chunks)
    pending = dict(sources)

    async def attempt(client: AsyncClient) -> list[str]:
        problems: list[str] = []
        if files == 1:
            ((path, md5),) = pending.items()
            data = await client.data.upload_data(path)
            pending.clear()
            return _check_upload(env, data.id, md5, path.name)
        results = await client.data.upload_many(list(pending))
        failure: Exception | None = None
        for result in results:
            if result.error is not None:
                failure = failure or result.error
                continue
            assert result.value is not None
            problems += _check_upload(
                env, result.value.id, pending.pop(result.item), result.item.name
            )
        if failure is not None and not problems:
            raise failure  # retried once without faults, for the files still pending
        return problems

    outcome = await run_with_resume(env, work / "state", plan, attempt)
    outcome.kind, outcome.files = ("upload" if files == 1 else "upload-many"), files
    outcome.strays = stray_files(work, [p for p, _ in sources], resumable=not outcome.settled)
    return outcome


async def download(
    env: Env, rng: random.Random, *, files: int = 1, segmented: bool = False
) -> Outcome:
    """``data.download`` (one file, streamed or segmented) or ``data.download_many``."""
    kind = "segmented" if segmented else ("download" if files == 1 else "download-many")
    work = env.scratch(kind)
    dest = work / "out"
    dest.mkdir()
    size_of = (lambda r: r.randint(96 * KiB, 320 * KiB)) if segmented else pick_size
    wanted = [server_file(env, rng, size_of(rng)) for _ in range(files)]
    plan = Plan()
    for data_id, _, size in wanted:
        piece = SEGMENT_PIECE if segmented else None
        faults = download_plan(rng, env.timing, data_id, size, piece=piece).faults
        plan.faults += faults[: 2 if files == 1 else 1]
    expected = {data_id: md5 for data_id, md5, _ in wanted}
    finals: list[Path] = []

    async def attempt(client: AsyncClient) -> list[str]:
        problems: list[str] = []
        if files == 1:
            result = await client.data.download(wanted[0][0], dest)
            results: list[tuple[str, Any]] = [(wanted[0][0], result)]
        else:
            report = await client.data.download_many(list(expected), dest)
            failure = next((item.error for item in report.failed), None)
            results = [(str(item.item), item.value) for item in report if item.value is not None]
            if failure is not None:
                problems += _verify(results, expected, finals)
                if not problems:
                    raise failure
                return problems
        return problems + _verify(results, expected, finals)

    outcome = await run_with_resume(env, work / "state", plan, attempt)
    outcome.kind, outcome.files = kind, files
    outcome.strays = stray_files(dest, finals, resumable=not outcome.settled)
    return outcome


def _verify(
    results: list[tuple[str, Any]], expected: dict[str, str], finals: list[Path]
) -> list[str]:
    problems = []
    for data_id, result in results:
        finals.append(result.path)
        got = md5_file(result.path)
        if got != expected[data_id]:
            problems.append(f"data {data_id}: expected md5 {expected[data_id]}, file has {got}")
    return problems
