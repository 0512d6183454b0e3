"""A one-line rich status for ``executions.wait`` (#11): shown only when progress is on and
stderr is a terminal, like the transfer bars of ``_progress``.

Example:
    ```python
    with execution_status_line(True, "execution 7") as show:
        show(update)  # "execution 7 · running · 3/6 steps done · STAR_ALIGN (liver_1)"
    ```
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flowbio_async._models._executions import Execution
from flowbio_async._models._monitoring import ExecutionUpdate

StatusSink = Callable[[ExecutionUpdate], None]


def describe(execution: Execution) -> str:
    """``running · 3/6 steps done · STAR_ALIGN (liver_1)`` for one execution state."""
    status = (execution.status or "").strip()
    shown = {"": "queued", "-": "running"}.get(status, status)
    processes = execution.process_executions
    parts = [shown]
    if processes:
        done = sum(1 for p in processes if p.is_finished)
        parts.append(f"{done}/{len(processes)} steps done")
        running = [p.name or p.process_name for p in processes if not p.is_finished]
        if running and not execution.is_terminal:
            parts.append(str(running[-1]))
    return " · ".join(parts)


@contextmanager
def execution_status_line(enabled: bool, label: str) -> Iterator[StatusSink]:
    """A sink for updates that redraws one status line on stderr (a no-op when disabled)."""
    if not enabled:
        yield _ignore
        return
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield _ignore
        return
    with console.status(f"{label} · waiting") as status:

        def show(update: ExecutionUpdate) -> None:
            status.update(f"{label} · {describe(update.execution)}")

        yield show


def _ignore(update: ExecutionUpdate) -> None:
    return None
