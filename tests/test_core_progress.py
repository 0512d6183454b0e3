"""Progress protocol: callbacks receive every event; the rich renderer only draws on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from flowbio_async import ClientConfig, ProgressEvent
from flowbio_async._progress import WindowRate, _Reporter, make_progress
from flowbio_async._progress_rich import RichRenderer


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
    renderer = RichRenderer("2 files", Console(file=io.StringIO(), force_terminal=True))
    assert renderer.is_terminal
    events: list[ProgressEvent] = []
    with renderer:
        _run(make_progress(ClientConfig(show_progress=False), [events.append, renderer]))
    assert renderer._aggregate is not None
    aggregate = renderer._progress.tasks[0]
    assert (aggregate.completed, aggregate.total) == (100, 100)
    assert renderer._rows == {}  # finished files leave no bar behind


class Clock:
    """A clock the test moves by hand: rates and ETAs never depend on the machine's speed."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _recording() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=120, record=True)


def _frame(renderer: RichRenderer) -> list[str]:
    """The rows the renderer would draw now, as plain text."""
    console = Console(file=io.StringIO(), width=120, record=True)
    console.print(renderer._progress.make_tasks_table(renderer._progress.tasks))
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_aggregate_totals_are_known_before_the_first_byte() -> None:
    # Seen (#17): "58.0/58.0 MB" with 2 of 30 files to go; uploads started at "0/0 bytes".
    clock = Clock()
    renderer = RichRenderer("30 files", _recording(), get_time=clock)
    with renderer:
        reporter = _Reporter([renderer])
        reporter.plan(30, 150_000_000)
        (aggregate,) = _frame(renderer)
        assert "0/30 files" in aggregate and "0.0/150.0 MB" in aggregate
        reporter.start("a", "a.fq", 5_000_000)
        clock.now += 1
        reporter.advance("a", 5_000_000)
        reporter.finish("a")
        (aggregate,) = _frame(renderer)  # the finished file's bar made room
        assert "1/30 files" in aggregate and "5.0/150.0 MB" in aggregate


def test_rate_and_eta_are_averaged_over_a_window() -> None:
    clock = Clock()
    renderer = RichRenderer("2 files", _recording(), get_time=clock, rate_window=10.0)
    with renderer:
        reporter = _Reporter([renderer])
        reporter.plan(2, 2_000_000)
        reporter.start("a", "a.fq", 1_000_000)
        reporter.start("b", "b.fq", 1_000_000)
        assert "-:--" in _frame(renderer)[0]  # no rate yet: no made-up ETA
        for _ in range(10):  # 100 kB/s for 10 s, split over two files
            clock.now += 1
            reporter.advance("a", 50_000)
            reporter.advance("b", 50_000)
        aggregate = _frame(renderer)[0]
        assert "100.0 kB/s" in aggregate
        assert "0:10" in aggregate  # 1 MB left at 100 kB/s
        clock.now += 30  # a 30 s stall: the window forgets the fast part
        reporter.advance("a", 10_000)
        stalled = _frame(renderer)[0]
        assert "333 bytes/s" in stalled and "49:30" in stalled  # 10 kB over the last 30 s
    rate = WindowRate(window=10.0)
    rate.add(0.0, 0)
    assert rate.per_second() is None
    rate.add(0.5, 1_000)
    assert rate.per_second() is None  # half a second says nothing yet
    rate.add(2.0, 4_000)
    assert rate.per_second() == 2_000.0


def test_the_last_frame_and_a_summary_stay_on_screen() -> None:
    # Seen (#17): the bars vanished at the end; the last frame read 132.7/150.0 MB.
    clock = Clock()
    console = _recording()
    renderer = RichRenderer("3 files", console, get_time=clock)
    with renderer:
        reporter = _Reporter([renderer])
        reporter.plan(3, 3_000)
        reporter.start("a", "a.fq", 1_000)
        clock.now += 5
        reporter.advance("a", 1_000)
        reporter.finish("a")
        reporter.skip(1_000, task_id="b")  # already complete on disk
        reporter.start("c", "c.fq", 1_000)
        clock.now += 5
        reporter.advance("c", 400)
        reporter.finish("c", ok=False)
    shown = console.export_text()
    last_frame, summary = shown.rstrip("\n").splitlines()[-2:]
    assert "3/3 files (1 failed)" in last_frame and "1.4/1.4 kB" in last_frame
    assert "done" in last_frame
    assert (
        summary == "3 files: 3/3 files, 1.4 kB in 0:10 (140 bytes/s); 1 failed, 1 already complete"
    )


def test_one_file_keeps_its_bar_as_the_last_frame() -> None:
    clock = Clock()
    console = _recording()
    renderer = RichRenderer(None, console, get_time=clock)
    with renderer:
        reporter = _Reporter([renderer])
        reporter.start("a", "reads.fq", 2_000)
        clock.now += 2
        reporter.advance("a", 2_000)
        reporter.finish("a")
        assert _frame(renderer) and "reads.fq" in _frame(renderer)[0]
    last = console.export_text().rstrip("\n").splitlines()[-1]
    assert "reads.fq" in last and "2.0/2.0 kB" in last
    assert renderer.summary() is None


def test_plan_and_skip_reach_callbacks() -> None:
    events: list[ProgressEvent] = []
    with make_progress(ClientConfig(show_progress=False), events.append) as progress:
        progress.plan(2, 300)
        progress.start("a", "a.fq", 100)
        progress.finish("a")
        progress.skip(200, task_id="a")  # it ran: its finish already counted it
        progress.skip(200, task_id="b")
    assert [(e.kind, e.files, e.total, e.ok) for e in events] == [
        ("plan", 2, 300, True),
        ("start", None, 100, True),
        ("finish", None, 100, True),
        ("skip", None, 200, True),
    ]
