"""The seeded transfer matrix and its summary (``make chaos``, issue #7)."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from flowbio_async.testing._chaos._bulk import bulk
from flowbio_async.testing._chaos._checks import open_sockets, other_tasks
from flowbio_async.testing._chaos._kinds import (
    COMPLETED,
    CORRUPTED,
    FAILED_TYPED,
    UNTYPED,
    Env,
    Outcome,
    download,
    upload,
)
from flowbio_async.testing._chaos._samples import sample

#: Share of each transfer kind in the matrix (many-file transfers move 3 files each).
KIND_WEIGHTS: dict[str, int] = {
    "upload": 30,
    "download": 30,
    "segmented": 16,
    "upload-many": 12,
    "download-many": 12,
    "bulk": 8,
    "sample": 8,
}


async def run_kind(kind: str, env: Env, rng: random.Random) -> Outcome:
    """Run one transfer of ``kind``."""
    if kind == "upload":
        return await upload(env, rng)
    if kind == "upload-many":
        return await upload(env, rng, files=3)
    if kind == "download":
        return await download(env, rng)
    if kind == "segmented":
        return await download(env, rng, segmented=True)
    if kind == "download-many":
        return await download(env, rng, files=3)
    if kind == "bulk":
        return await bulk(env, rng)
    if kind == "sample":
        return await sample(env, rng)
    raise ValueError(f"unknown transfer kind {kind!r}")


@dataclass
class Summary:
    """Counts printed at the end of a run; :meth:`zeros_hold` decides the exit status."""

    seed: int
    transfers: int = 0
    files: int = 0
    faults_planned: int = 0
    faults_injected: int = 0
    completed: int = 0
    failed_typed: int = 0
    resumed: int = 0
    not_resumed: int = 0
    corrupted: int = 0
    untyped: int = 0
    stray_files: int = 0
    leaked_tasks: int = 0
    leaked_sockets: int = 0
    leaked_threads: int = 0
    resource_warnings: int = 0
    cancelled: int = 0
    cancel_corrupt: int = 0
    cancel_resumed: int = 0
    cancel_not_resumed: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_fault: Counter[str] = field(default_factory=Counter)
    by_error: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.transfers += 1
        self.files += outcome.files
        self.by_kind[outcome.kind] += 1
        self.faults_planned += len(outcome.faults)
        self.faults_injected += outcome.injected
        self.by_fault.update(fault_type(name) for name in outcome.faults)
        if outcome.status == COMPLETED:
            self.completed += 1
        elif outcome.status == FAILED_TYPED:
            self.failed_typed += 1
            self.by_error[outcome.detail.split(":")[0]] += 1
            if outcome.resumed:
                self.resumed += 1
            else:
                self.not_resumed += 1
        elif outcome.status == CORRUPTED:
            self.corrupted += 1
        elif outcome.status == UNTYPED:
            self.untyped += 1
        self.stray_files += len(outcome.strays)
        bad = outcome.status in {CORRUPTED, UNTYPED} or outcome.strays
        if bad or (outcome.status == FAILED_TYPED and not outcome.resumed):
            self.problems.append(
                f"#{self.transfers} {outcome.kind} faults={outcome.faults} {outcome.status} "
                f"{outcome.detail} strays={outcome.strays}"
            )

    def zeros(self) -> dict[str, int]:
        """The counts that must be zero."""
        return {
            "corrupted": self.corrupted,
            "untyped errors": self.untyped,
            "failed and not resumable": self.not_resumed,
            "stray temp files": self.stray_files,
            "leaked tasks": self.leaked_tasks,
            "leaked sockets": self.leaked_sockets,
            "leaked threads": self.leaked_threads,
            "ResourceWarnings": self.resource_warnings,
            "corrupt after cancel": self.cancel_corrupt,
            "cancelled and not resumable": self.cancel_not_resumed,
        }

    def zeros_hold(self) -> bool:
        return not any(self.zeros().values())

    def render(self, out: TextIO) -> None:
        """Print the summary block pasted into docs/reliability.md."""
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items()))
        faults = ", ".join(f"{k} {n}" for k, n in sorted(self.by_fault.items()))
        errors = ", ".join(f"{k} {n}" for k, n in self.by_error.most_common())
        lines = [
            f"chaos summary (seed {self.seed})",
            f"  transfers            {self.transfers}  ({self.files} files: {kinds})",
            f"  faults injected      {self.faults_injected}"
            f"  ({self.faults_planned} planned: {faults})",
            f"  completed            {self.completed}",
            f"  failed-typed         {self.failed_typed}  ({errors})",
            f"    then resumed       {self.resumed}  (byte-exact, on a second call without faults)",
            f"  cancelled            {self.cancelled}  (task-group cancel and sync Ctrl-C)",
            f"    then resumed       {self.cancel_resumed}  (byte-exact)",
        ]
        lines += [f"  {name:<20} {value}" for name, value in self.zeros().items()]
        lines.append("  RESULT               " + ("OK" if self.zeros_hold() else "FAILED"))
        out.write("\n".join(lines) + "\n")
        for problem in self.problems[:50]:
            out.write(f"  ! {problem}\n")


async def run_matrix(
    env: Env,
    summary: Summary,
    count: int,
    rng: random.Random,
    on_outcome: Callable[[Outcome], None] | None = None,
    only: Sequence[str] = (),
) -> None:
    """Run ``count`` seeded transfers one after another, checking leaks after each."""
    baseline = open_sockets()
    chosen = {k: w for k, w in KIND_WEIGHTS.items() if not only or k in only}
    kinds, weights = zip(*chosen.items(), strict=True)
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        outcome = await run_kind(kind, env, rng)
        summary.add(outcome)
        summary.leaked_tasks = max(summary.leaked_tasks, other_tasks())
        summary.leaked_sockets = max(summary.leaked_sockets, open_sockets() - baseline)
        if on_outcome is not None:
            on_outcome(outcome)


def fault_type(name: str) -> str:
    """``archive:503x7`` -> ``503``; ``cut@120`` -> ``cut``; ``429(retry-after=1)`` -> ``429``."""
    base = name.split(":")[-1]
    return re.sub(r"(@\d+|x\d+|\(.*\))$", "", base)
