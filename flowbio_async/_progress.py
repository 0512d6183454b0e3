"""Progress reporting behind a small protocol, so engines never know who is watching.

Transfer engines call :class:`Progress` (``start``/``advance``/``reset``/``finish``). Each call
becomes a :class:`ProgressEvent` delivered to every user callback and, when
``config.show_progress`` is set and stderr is a terminal, to a rich renderer drawing one
aggregate bar plus a bar per active file (design/transfers.md "Many transfers").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

    from flowbio_async._config import ClientConfig

ProgressKind = Literal["start", "advance", "reset", "finish"]


@dataclass(frozen=True)
class ProgressEvent:
    """One change of one transfer's progress; ``completed``/``total`` are bytes.

    Example:
        ```python
        def on_progress(event: ProgressEvent) -> None:
            if event.kind == "finish":
                print(event.description, "ok" if event.ok else "failed")
        ```
    """

    task_id: str
    description: str
    kind: ProgressKind
    completed: int
    total: int | None
    ok: bool = True


ProgressCallback = Callable[[ProgressEvent], None]


class Progress(Protocol):
    """What transfer engines call; all calls happen on the event loop."""

    def start(self, task_id: str, description: str, total: int | None) -> None: ...
    def advance(self, task_id: str, nbytes: int) -> None: ...
    def reset(self, task_id: str, completed: int) -> None: ...  # roll back after a restart
    def finish(self, task_id: str, ok: bool = True) -> None: ...


@dataclass
class _Task:
    description: str
    total: int | None
    completed: int = 0


class _Reporter:
    """Keeps per-task state and fans each event out to every sink."""

    def __init__(self, sinks: Sequence[ProgressCallback]) -> None:
        self._sinks = list(sinks)
        self._tasks: dict[str, _Task] = {}

    def _emit(self, task_id: str, kind: ProgressKind, ok: bool = True) -> None:
        task = self._tasks[task_id]
        event = ProgressEvent(task_id, task.description, kind, task.completed, task.total, ok)
        for sink in self._sinks:
            sink(event)

    def start(self, task_id: str, description: str, total: int | None) -> None:
        self._tasks[task_id] = _Task(description, total)
        self._emit(task_id, "start")

    def advance(self, task_id: str, nbytes: int) -> None:
        self._tasks[task_id].completed += nbytes
        self._emit(task_id, "advance")

    def reset(self, task_id: str, completed: int) -> None:
        self._tasks[task_id].completed = completed
        self._emit(task_id, "reset")

    def finish(self, task_id: str, ok: bool = True) -> None:
        self._emit(task_id, "finish", ok)
        del self._tasks[task_id]


class _RichRenderer:
    """Draws bars on stderr: an optional aggregate bar plus one bar per active task."""

    def __init__(self, aggregate_label: str | None, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress: RichProgress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._aggregate_label = aggregate_label
        self._aggregate: TaskID | None = None
        self._aggregate_total = 0
        self._rows: dict[str, tuple[TaskID, int]] = {}  # task id -> (row, bytes shown)

    @property
    def is_terminal(self) -> bool:
        return self._progress.console.is_terminal

    def __enter__(self) -> _RichRenderer:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def _bump_aggregate(self, completed_delta: int, total_delta: int = 0) -> None:
        if self._aggregate_label is None:
            return
        if self._aggregate is None:
            self._aggregate = self._progress.add_task(self._aggregate_label, total=0)
        self._aggregate_total += total_delta
        self._progress.update(self._aggregate, advance=completed_delta, total=self._aggregate_total)

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "start":
            row = self._progress.add_task(event.description, total=event.total)
            self._rows[event.task_id] = (row, 0)
            self._bump_aggregate(0, event.total or 0)
            return
        row, shown = self._rows[event.task_id]
        delta = event.completed - shown
        self._rows[event.task_id] = (row, event.completed)
        self._progress.update(row, completed=event.completed)
        self._bump_aggregate(delta)
        if event.kind == "finish":
            self._progress.remove_task(row)
            del self._rows[event.task_id]


def _callbacks(
    callback: ProgressCallback | Sequence[ProgressCallback] | None,
) -> list[ProgressCallback]:
    if callback is None:
        return []
    if callable(callback):
        return [callback]
    return list(callback)


@contextmanager
def _progress(
    config: ClientConfig,
    callback: ProgressCallback | Sequence[ProgressCallback] | None,
    aggregate_label: str | None,
) -> Iterator[Progress]:
    sinks = _callbacks(callback)
    renderer = _RichRenderer(aggregate_label) if config.show_progress else None
    if renderer is None or not renderer.is_terminal:
        yield _Reporter(sinks)  # the null renderer: callbacks only
        return
    with renderer:
        yield _Reporter([*sinks, renderer])


def make_progress(
    config: ClientConfig,
    callback: ProgressCallback | Sequence[ProgressCallback] | None,
    *,
    aggregate_label: str | None = None,
) -> AbstractContextManager[Progress]:
    """A progress reporter for one operation: callbacks plus, on a terminal, rich bars.

    Example:
        ```python
        with make_progress(config, print, aggregate_label="3 files") as progress:
            progress.start("a", "a.fastq", total=10)
            progress.advance("a", 10)
            progress.finish("a")
        ```
    """
    return _progress(config, callback, aggregate_label)
