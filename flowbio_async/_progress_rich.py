"""The rich renderer of progress events: an aggregate bar, a bar per file, a summary line.

The aggregate bar of an operation on many files shows files done / total (and failures),
bytes against the total announced by the plan before the first byte, a rate averaged over
the last ``RATE_WINDOW`` seconds and the time left at that rate. Finished file bars make
room for the next ones; the last frame stays on screen, followed by one summary line
(#17 item 7). For one file, its bar is the last frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console, RenderableType
from rich.filesize import decimal
from rich.progress import BarColumn, DownloadColumn, ProgressColumn, Task, TaskID, TextColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

from flowbio_async._progress import RATE_WINDOW, ProgressEvent, WindowRate


@dataclass
class _Aggregate:
    """The whole operation: what the plan announced and what happened so far."""

    files: int | None = None
    total: int | None = None
    done: int = 0
    failed: int = 0
    skipped: int = 0
    completed: int = 0  # bytes towards ``total`` (resumed bytes count, re-sent ones do not)
    transferred: int = 0  # bytes moved in this run (what the rate measures)


def _size(nbytes: float) -> str:
    return decimal(int(nbytes))


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class RichRenderer:
    """Draws bars on stderr: an aggregate bar (with a plan) plus one bar per active task."""

    def __init__(
        self,
        aggregate_label: str | None,
        console: Console | None = None,
        *,
        get_time: Callable[[], float] = time.monotonic,
        rate_window: float = RATE_WINDOW,
    ) -> None:
        self._clock = get_time
        self._progress = RichProgress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(),
            _FilesColumn(),
            DownloadColumn(),
            _RateColumn(),
            _EtaColumn(),
            console=console or Console(stderr=True),
            transient=False,
            get_time=get_time,
            speed_estimate_period=rate_window,
        )
        self._aggregate_label = aggregate_label
        self._aggregate: TaskID | None = None
        self._state = _Aggregate()
        self._rate = WindowRate(rate_window)
        self._started_at: float | None = None
        self._grow = True  # without a plan the total grows as files start
        self._rows: dict[str, tuple[TaskID, int, int | None]] = {}  # id -> (row, shown, total)

    @property
    def is_terminal(self) -> bool:
        return self._progress.console.is_terminal

    def __enter__(self) -> RichRenderer:
        self._started_at = self._clock()
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._refresh_aggregate()
        self._progress.stop()  # the last frame stays (transient=False)
        summary = self.summary()
        if summary is not None:
            self._progress.console.print(summary, highlight=False)

    # -- the aggregate -----------------------------------------------------------------------
    def _ensure_aggregate(self) -> TaskID | None:
        if self._aggregate_label is None:
            return None
        if self._aggregate is None:
            total = self._state.total
            self._aggregate = self._progress.add_task(self._aggregate_label, total=total)
            self._rate.add(self._clock(), 0)
        return self._aggregate

    def _refresh_aggregate(self) -> None:
        row = self._ensure_aggregate()
        if row is None:
            return
        state = self._state
        self._rate.add(self._clock(), state.transferred)
        rate = self._rate.per_second()
        remaining = None if state.total is None else max(0, state.total - state.completed)
        self._progress.update(
            row,
            completed=state.completed,
            total=state.total,
            files_done=state.done,
            files_total=state.files,
            files_failed=state.failed,
            rate=rate,
            eta=None if rate in (None, 0.0) or remaining is None else remaining / rate,
        )

    def summary(self) -> str | None:
        """The line printed under the last frame of an operation on many files."""
        if self._aggregate_label is None:
            return None
        state = self._state
        now = self._clock()
        elapsed = now - (now if self._started_at is None else self._started_at)
        files = state.files if state.files is not None else state.done
        parts = [f"{self._aggregate_label}: {state.done}/{files} files"]
        parts.append(f"{_size(state.transferred)} in {_duration(elapsed)}")
        if elapsed > 0 and state.transferred:
            parts[-1] += f" ({_size(state.transferred / elapsed)}/s)"
        extra = [f"{state.failed} failed"] if state.failed else []
        extra += [f"{state.skipped} already complete"] if state.skipped else []
        line = ", ".join(parts)
        return f"{line}; {', '.join(extra)}" if extra else line

    # -- events ------------------------------------------------------------------------------
    def __call__(self, event: ProgressEvent) -> None:
        state = self._state
        if event.kind == "plan":
            state.files, state.total = event.files, event.total
            self._grow = event.total is None
        elif event.kind == "skip":
            state.done += 1
            if event.ok:
                state.skipped += 1
            else:
                state.failed += 1
            if state.total is not None and event.total is not None:
                state.total -= event.total  # bytes that will not move in this run
        elif event.kind == "start":
            row = self._progress.add_task(event.description, total=event.total)
            self._rows[event.task_id] = (row, 0, event.total)
            if self._grow:
                state.total = (state.total or 0) + (event.total or 0)
        else:
            self._on_transfer(event)
        self._refresh_aggregate()

    def _on_transfer(self, event: ProgressEvent) -> None:
        state = self._state
        row, shown, total = self._rows[event.task_id]
        delta = event.completed - shown
        state.completed += delta
        if event.kind == "advance":
            state.transferred += max(0, delta)
        self._rows[event.task_id] = (row, event.completed, total)
        self._progress.update(row, completed=event.completed)
        if event.kind != "finish":
            return
        state.done += 1
        if not event.ok:
            state.failed += 1
            if state.total is not None and total is not None:
                state.total -= max(0, total - event.completed)  # what it will never send
        if self._aggregate_label is not None:
            # Many files: finished bars make room; one file: its bar stays as the last frame.
            self._progress.remove_task(row)
            del self._rows[event.task_id]


def _field(task: Task, name: str) -> object:
    return task.fields.get(name)


class _FilesColumn(ProgressColumn):
    """``12/30 files`` (and how many failed) on the aggregate bar; empty on file bars."""

    def render(self, task: Task) -> RenderableType:
        total = _field(task, "files_total")
        if total is None and "files_done" not in task.fields:
            return Text("")
        failed = _field(task, "files_failed") or 0
        text = f"{_field(task, 'files_done')}/{total if total is not None else '?'} files"
        return Text(text + (f" ({failed} failed)" if failed else ""), style="progress.download")


class _RateColumn(ProgressColumn):
    """Bytes per second: the aggregate's windowed rate, or rich's estimate for one file."""

    def render(self, task: Task) -> RenderableType:
        rate = _field(task, "rate") if "rate" in task.fields else task.speed
        if not isinstance(rate, int | float) or task.finished:
            return Text("", style="progress.data.speed")
        return Text(f"{_size(rate)}/s", style="progress.data.speed")


class _EtaColumn(ProgressColumn):
    """Time left at the current rate (``-:--`` until a rate is known)."""

    def render(self, task: Task) -> RenderableType:
        if task.finished:
            return Text("done", style="progress.elapsed")
        eta = _field(task, "eta") if "eta" in task.fields else task.time_remaining
        if not isinstance(eta, int | float):
            return Text("-:--", style="progress.remaining")
        return Text(_duration(eta), style="progress.remaining")
