"""Progress protocol: callbacks receive every event; the rich renderer only draws on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from flowbio_async import ClientConfig, ProgressEvent
from flowbio_async._progress import _RichRenderer, make_progress


def _run(progress_cm: object) -> None:
    with progress_cm as progress:  # type: ignore[attr-defined]
        progress.start("a", "a.fastq", 100)
        progress.advance("a", 60)
        progress.reset("a", 10)  # a restart rolled the file back
        progress.advance("a", 90)
        progress.finish("a")
        progress.start("b", "b.fastq", None)
        progress.finish("b", ok=False)


def test_every_event_reaches_every_callback() -> None:
    first: list[ProgressEvent] = []
    second: list[ProgressEvent] = []
    _run(make_progress(ClientConfig(show_progress=False), [first.append, second.append]))
    assert first == second
    assert [(e.task_id, e.kind, e.completed, e.total, e.ok) for e in first] == [
        ("a", "start", 0, 100, True),
        ("a", "advance", 60, 100, True),
        ("a", "reset", 10, 100, True),
        ("a", "advance", 100, 100, True),
        ("a", "finish", 100, 100, True),
        ("b", "start", 0, None, True),
        ("b", "finish", 0, None, False),
    ]
    assert first[0].description == "a.fastq"


def test_null_renderer_when_stderr_is_not_a_terminal(capsys: object) -> None:
    events: list[ProgressEvent] = []
    _run(make_progress(ClientConfig(show_progress=True), events.append))  # pytest captures stderr
    assert len(events) == 7


def test_rich_renderer_tracks_aggregate_bytes() -> None:
    renderer = _RichRenderer("2 files", Console(file=io.StringIO(), force_terminal=True))
    assert renderer.is_terminal
    events: list[ProgressEvent] = []
    with renderer:
        _run(make_progress(ClientConfig(show_progress=False), [events.append, renderer]))
    assert renderer._aggregate is not None
    aggregate = renderer._progress.tasks[0]
    assert (aggregate.completed, aggregate.total) == (100, 100)
    assert renderer._rows == {}  # finished files leave no bar behind
