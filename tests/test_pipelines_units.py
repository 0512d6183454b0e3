"""Pieces of #11 that need no server: the run-body builder, the log cursor, poll timing,
status handling, error messages and the status line."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowbio_async import (
    Data,
    Execution,
    ExecutionFailedError,
    InvalidRunError,
    PipelineVersion,
    RunProblem,
    Sample,
)
from flowbio_async._resources._log_cursor import LogCursor, next_interval, poll_delay
from flowbio_async._resources._run_body import RunBuilder
from flowbio_async._status_line import describe

SCHEMA: dict[str, Any] = {
    "inputs": [
        {
            "name": "Samples",
            "params": {
                "sheet": {
                    "type": "csv",
                    "param": "input",
                    "required": True,
                    "takes_samples": True,
                    "sample_types": ["RNA-Seq"],
                    "columns": [
                        {"name": "sample", "from_sample": "name"},
                        {"name": "replicate", "default": "1"},
                    ],
                }
            },
        },
        {
            "name": "Options",
            "params": {
                "genome": {"type": "string", "required": True, "valid": ["GRCh38", "GRCm39"]},
                "depth": {"type": "number", "default": 10, "valid": [5, 10, 20]},
                "fast": {"type": "boolean", "default": False},
                "keep": {"type": "boolean"},
                "config": {"type": "hidden", "default": "/etc/flow"},
                "fasta": {"type": "data", "pattern": r"\.fa$", "category": 1},
                "contrasts": {"type": "csv"},
            },
        },
    ]
}


def _version(**changes: Any) -> PipelineVersion:
    raw = {
        "id": "2",
        "name": "1.0",
        "nextflow_versions": ["24.04.4", "23.10.1"],
        "schema": SCHEMA,
        "pipeline": {"id": "1", "name": "Demo"},
        **changes,
    }
    return PipelineVersion.model_validate(raw)


RNA = Sample.model_validate({"id": "7", "name": "s7", "sample_type": "RNA-Seq"})
CHIP = Sample.model_validate({"id": "8", "name": "s8", "sample_type": {"identifier": "ChIP-Seq"}})
FASTA = Data.model_validate({"id": "3", "filename": "genome.fa", "category": 1})


def test_a_minimal_run_gets_every_default_and_the_four_keys() -> None:
    builder = RunBuilder(_version(), samples=[RNA], params={"genome": "GRCh38"})
    assert builder.sample_ids() == {"7"} and builder.data_ids() == set()
    body = builder.body(data={}, samples={"7": RNA})
    assert body == {
        "params": {"genome": "GRCh38", "depth": "10", "fast": "false", "config": "/etc/flow"},
        "data_params": {},
        "csv_params": {"input": {"rows": [{"sample": "7", "values": {"replicate": "1"}}]}},
        "nextflow_version": "24.04.4",
    }


def test_values_objects_ids_and_raw_rows() -> None:
    builder = RunBuilder(
        _version(),
        params={"genome": "GRCm39", "depth": 5.0, "fast": "TRUE", "keep": False},
        data_params={"fasta": FASTA},
        csv_params={
            "sheet": {"rows": [{"sample": 7, "values": {"replicate": "2"}}], "paired": "first"},
            "contrasts": [{"values": {"a": "b"}}],
        },
        nextflow_version="23.10.1",
    )
    assert builder.data_ids() == {"3"} and builder.sample_ids() == {"7"}
    body = builder.body(data={"3": FASTA}, samples={"7": RNA})
    assert body["params"] == {
        "genome": "GRCm39",
        "depth": "5.0",
        "fast": "true",
        "keep": "false",
        "config": "/etc/flow",
    }
    assert body["data_params"] == {"fasta": "3"}
    assert body["csv_params"]["input"] == {
        "rows": [{"sample": "7", "values": {"replicate": "2"}}],
        "paired": "first",
    }
    assert body["csv_params"]["contrasts"] == {"rows": [{"values": {"a": "b"}}]}
    assert body["nextflow_version"] == "23.10.1"


def test_every_problem_is_collected_with_valid_values() -> None:
    builder = RunBuilder(
        _version(),
        params={"genome": 38, "depth": "7", "fast": 1, "nope": "x", "input": [RNA]},
        data_params={"fasta": "99"},
        samples=[CHIP],
        nextflow_version="1.0",
    )
    with pytest.raises(InvalidRunError) as refused:
        builder.body(data={"99": None}, samples={"8": CHIP, "7": RNA})
    fields = [p.field for p in refused.value.problems]
    assert fields == [
        "params.nope",
        "csv_params.input",  # given twice: samples= and params["input"]
        "params.genome",
        "params.depth",
        "params.fast",
        "data_params.fasta",
        "nextflow_version",
    ]
    problems = {p.field: p for p in refused.value.problems}
    assert problems["params.genome"].valid == ("GRCh38", "GRCm39")
    assert problems["params.depth"].valid == (5, 10, 20)
    assert problems["nextflow_version"].valid == ("24.04.4", "23.10.1")
    assert "does not exist" in problems["data_params.fasta"].message
    assert str(refused.value).startswith("cannot run Demo 1.0 (version 2): 7 problems")


def test_missing_required_inputs_and_sample_rules() -> None:
    with pytest.raises(InvalidRunError) as missing:
        RunBuilder(_version()).body(data={}, samples={})
    assert [p.field for p in missing.value.problems] == ["csv_params.input", "params.genome"]
    assert "give samples=" in missing.value.problems[0].message

    wrong_type = RunBuilder(_version(), samples=[CHIP], params={"genome": "GRCh38"})
    with pytest.raises(InvalidRunError) as typed:
        wrong_type.body(data={}, samples={"8": CHIP})
    assert typed.value.problems[0].valid == ("RNA-Seq",)

    pattern = Data.model_validate({"id": "4", "filename": "genes.gtf", "category": 2})
    builder = RunBuilder(
        _version(), samples=["7"], params={"genome": "GRCh38"}, data_params={"fasta": "4"}
    )
    with pytest.raises(InvalidRunError) as unfit:
        builder.body(data={"4": pattern}, samples={"7": RNA})
    messages = [p.message for p in unfit.value.problems]
    assert any("category 2" in m for m in messages) and any("does not match" in m for m in messages)


def test_samples_need_exactly_one_param_that_takes_them() -> None:
    two = _version(
        schema={
            "inputs": [
                {
                    "params": {
                        "a": {"type": "csv", "takes_samples": True},
                        "b": {"type": "csv", "takes_samples": True},
                    }
                }
            ]
        }
    )
    with pytest.raises(InvalidRunError) as ambiguous:
        RunBuilder(two, samples=["1"]).body(data={}, samples={})
    assert ambiguous.value.problems[0].field == "samples"
    assert ambiguous.value.problems[0].valid == ("a", "b")
    none = _version(schema={"inputs": []}, nextflow_versions=[])
    with pytest.raises(InvalidRunError) as refused:
        RunBuilder(none, samples=["1"]).body(data={}, samples={})
    assert [p.field for p in refused.value.problems] == ["samples", "nextflow_version"]


# -- log cursor ---------------------------------------------------------------------------
def test_the_cursor_hands_out_new_text_only() -> None:
    honours = LogCursor()
    assert honours.feed("a\n", asked=0) == "a\n" and honours.needs_probe
    honours.probed("")  # nothing past the end: the server honours offsets
    assert honours.feed("a\n", asked=2) == "a\n"  # new text that repeats old text is kept
    assert honours.offset == 4 and not honours.needs_probe

    ignores = LogCursor()
    assert ignores.feed("line 1\n", asked=0) == "line 1\n"
    ignores.probed("line 1\n")  # the whole log again: offsets are ignored
    assert ignores.feed("line 1\nline 2\n", asked=7) == "line 2\n"
    assert ignores.feed("line 1\nline 2\n", asked=14) == ""
    assert ignores.tail(1) == "line 2\n"


@given(st.lists(st.text(min_size=1, max_size=40), max_size=12), st.booleans())
def test_concatenated_output_is_the_log_whatever_the_server_does(
    pieces: list[str], ignores_offsets: bool
) -> None:
    # Each poll the log grew by one piece; the server answers from the offset or whole.
    def answer(log: str, offset: int) -> str:
        return log if ignores_offsets else log.encode()[offset:].decode()

    cursor = LogCursor()
    log = ""
    seen = ""
    for piece in [*pieces, "a", "a"]:  # text repeating earlier text, explicitly
        log += piece
        if cursor.needs_probe:
            cursor.probed(answer(log, cursor.offset + (1 << 40)))
        asked = cursor.offset
        seen += cursor.feed(answer(log, asked), asked=asked)
    assert seen == log


def test_a_cursor_started_mid_log_probes_first() -> None:
    cursor = LogCursor(offset=5)
    assert cursor.needs_probe
    cursor.probed("")
    assert cursor.feed("abcdefgh", asked=5) == "abcdefgh"
    assert cursor.offset == 13


def test_poll_timing_backs_off_with_jitter_and_resets_on_change() -> None:
    rng = random.Random(1)
    delays = [poll_delay(4.0, rng) for _ in range(200)]
    assert all(3.0 <= d <= 5.0 for d in delays) and len(set(delays)) > 100
    interval = 1.0
    for _ in range(20):
        interval = next_interval(interval, changed=False, initial=1.0, maximum=60.0)
    assert interval == 60.0
    assert next_interval(interval, changed=True, initial=1.0, maximum=60.0) == 1.0


# -- statuses and errors ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "terminal", "succeeded"),
    [
        ("", False, False),
        ("-", False, False),
        ("RUNNING", False, False),
        ("OK", True, True),
        ("ok", True, True),
        ("Error", True, False),
        ("canceled", True, False),
        ("CANCELLED", True, False),
        (None, False, False),
    ],
)
def test_terminal_statuses_are_case_insensitive(
    status: str | None, terminal: bool, succeeded: bool
) -> None:
    execution = Execution.model_validate({"id": "1", "status": status})
    assert execution.is_terminal is terminal
    assert execution.succeeded is succeeded


def test_the_failure_message_names_the_step_stderr_and_log_tail() -> None:
    execution = Execution.model_validate(
        {
            "id": "9",
            "status": "ERROR",
            "stderr": "Out of memory\n",
            "pipeline": {"id": "2", "name": "1.0", "pipeline": {"id": "1", "name": "Demo"}},
            "process_executions": [
                {"name": "ALIGN (s1)", "status": "FAILED", "exit_code": 137},
                {"name": "QC (s1)", "status": "COMPLETED", "exit_code": 0},
            ],
        }
    )
    assert (execution.pipeline_name, execution.pipeline_version) == ("Demo", "1.0")
    error = ExecutionFailedError(execution, log_tail="last line\n")
    text = str(error)
    assert text.splitlines()[0] == "execution 9 (Demo 1.0) ended with ERROR"
    assert "failed process: ALIGN (s1) (exit 137)" in text
    assert "  Out of memory" in text and "  last line" in text
    assert str(RunProblem("params.x", "bad", ("a", "b"))) == "params.x: bad (valid: a, b)"


def test_the_status_line_text() -> None:
    running = Execution.model_validate(
        {
            "id": "1",
            "status": "-",
            "process_executions": [
                {"name": "QC", "status": "COMPLETED"},
                {"name": "ALIGN", "status": "RUNNING"},
            ],
        }
    )
    assert describe(running) == "running · 1/2 steps done · ALIGN"
    assert describe(Execution.model_validate({"id": "1", "status": ""})) == "queued"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "options",
    [{"poll_interval": 0}, {"poll_interval": 5, "max_poll_interval": 1}, {"timeout": -1}],
)
async def test_intervals_that_would_spin_are_refused_before_any_request(
    options: dict[str, float],
) -> None:
    from flowbio_async import AsyncClient, ConfigurationError

    # Port 9 refuses connections: a request would raise a transport error instead.
    async with AsyncClient("http://127.0.0.1:9/api") as client:
        with pytest.raises(ConfigurationError):
            await client.executions.wait("1", **options)
