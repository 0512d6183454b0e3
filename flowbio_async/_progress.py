"""Progress reporting behind a small protocol, so engines never know who is watching.

Transfer engines call :class:`Progress` (``start``/``advance``/``reset``/``finish``); the
resources running many transfers also announce the whole operation first (``plan``: files
and bytes, known before the first byte) and items that end without a transfer of their own
(``skip``: already complete on disk, or refused before starting). Each call becomes a
:class:`ProgressEvent` delivered to every user callback and, when ``config.show_progress``
is set and stderr is a terminal, to a rich renderer drawing one aggregate bar (files done /
total, bytes, a rate and ETA smoothed over a window) plus a bar per active file, and a
summary line that stays on screen (design/transfers.md "Many transfers", #17 item 7).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from flowbio_async._config import ClientConfig

ProgressKind = Literal["plan", "start", "advance", "reset", "finish", "skip"]

RATE_WINDOW = 15.0
"""Seconds of recent transfer the aggregate rate (and so the ETA) is averaged over."""


@dataclass(frozen=True)
class ProgressEvent:
    """One change of one transfer's progress; ``completed``/``total`` are bytes.

    ``plan`` comes first for an operation on many files: ``files`` and ``total`` (bytes,
    ``None`` when a size is unknown) of the whole operation. ``skip`` is an item that ended
    without a transfer of its own: ``ok=True`` already complete on disk, ``ok=False``
    refused before it started; ``total`` is its size when known.

    Example:
        ```python
        def on_progress(event: ProgressEvent) -> None:
            if event.kind == "plan":
                print(f"{event.files} files, {event.total} bytes")
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
    files: int | None = None


ProgressCallback = Callable[[ProgressEvent], None]


class Progress(Protocol):
    """What transfer engines (and the resources driving them) call; all on the event loop."""

    def start(self, task_id: str, description: str, total: int | None) -> None: ...
    def advance(self, task_id: str, nbytes: int) -> None: ...
    def reset(self, task_id: str, completed: int) -> None: ...  # roll back after a restart
    def finish(self, task_id: str, ok: bool = True) -> None: ...
    def plan(self, files: int, total: int | None) -> None: ...
    def skip(self, nbytes: int | None, *, ok: bool = True, task_id: str | None = None) -> None:
        """An item of the plan ended without a transfer; ignored when ``task_id`` started."""
        ...


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
        self._started: set[str] = set()

    def _send(self, event: ProgressEvent) -> None:
        for sink in self._sinks:
            sink(event)

    def _emit(self, task_id: str, kind: ProgressKind, ok: bool = True) -> None:
        task = self._tasks[task_id]
        self._send(ProgressEvent(task_id, task.description, kind, task.completed, task.total, ok))

    def plan(self, files: int, total: int | None) -> None:
        self._send(ProgressEvent("", "", "plan", 0, total, files=files))

    def skip(self, nbytes: int | None, *, ok: bool = True, task_id: str | None = None) -> None:
        if task_id is not None and task_id in self._started:
            return  # it ran as a transfer: its own finish already counted it
        self._send(ProgressEvent(task_id or "", "", "skip", 0, nbytes, ok))

    def start(self, task_id: str, description: str, total: int | None) -> None:
        self._tasks[task_id] = _Task(description, total)
        self._started.add(task_id)
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


class WindowRate:
    """Bytes per second over the last ``window`` seconds (``None`` until it means something).

    Example:
        ```python
        rate = WindowRate(15.0)
        rate.add(0.0, 0); rate.add(2.0, 4_000_000)
        rate.per_second()  # 2_000_000.0
        ```
    """

    def __init__(self, window: float = RATE_WINDOW, minimum_span: float = 1.0) -> None:
        self.window = window
        self.minimum_span = minimum_span
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, transferred: int) -> None:
        """Record the running total of bytes moved at time ``now``."""
        self._samples.append((now, transferred))
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def per_second(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (first_time, first_bytes), (last_time, last_bytes) = self._samples[0], self._samples[-1]
        span = last_time - first_time
        if span < self.minimum_span:
            return None  # a burst in the first instant says nothing about the rate
        return (last_bytes - first_bytes) / span


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
    renderer = None
    if config.show_progress:
        from flowbio_async._progress_rich import RichRenderer  # rich only when drawing

        renderer = RichRenderer(aggregate_label)
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
