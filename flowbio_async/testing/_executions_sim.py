"""Simulated pipeline runs: an execution moves through its statuses in simulated time (#11).

A run is planned when it is created: every step (one per process, per sample where the
process runs per sample) gets a start and an end on a simulated clock, and each moment
becomes an *event* (launch, step start, progress note, step end or failure, completion).
Nothing runs in the background: before each request the server advances every unfinished
run's clock by the real time elapsed times ``ServerSettings.execution_speed`` (simulated
seconds per real second; 0 pauses) and applies the events that came due, in order. So the
log only ever grows (``?log=<offset>`` stays valid), timestamps are exact, and a test that
sets a high speed sees a whole run in milliseconds while ``make demo`` watches it for seconds.

Knobs for tests: :func:`fail` ends a run in ERROR with a given stderr, :func:`cancel` ends it
CANCELED, :func:`step` moves it a given number of simulated seconds on. Status values follow
the notes: ``""`` queued, ``"-"`` running, then ``OK``, ``ERROR`` or ``CANCELED``
(flow-skills ``endpoints/executions.md``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from flowbio_async.testing._demo import REPORT_ASSETS, fastq_bytes
from flowbio_async.testing._pipeline_store import get_run
from flowbio_async.testing._store import Row, Store

QUEUED, RUNNING = "", "-"
QUEUE_SECONDS = 5.0  # simulated time a new run waits before Nextflow starts
_LOCK = threading.Lock()  # advancing is read-modify-write; one advance at a time
_ADJECTIVES = ("small", "brave", "quiet", "eager", "lucid", "nimble", "sunny", "witty")
_SCIENTISTS = ("meucci", "franklin", "mcclintock", "sanger", "crick", "hodgkin", "curie")


def identifier_for(execution_id: int) -> str:
    """A human-readable slug like Flow's (``small_meucci``), unique per id."""
    adjective = _ADJECTIVES[execution_id % len(_ADJECTIVES)]
    scientist = _SCIENTISTS[(execution_id // len(_ADJECTIVES)) % len(_SCIENTISTS)]
    return f"{adjective}_{scientist}_{execution_id}"


def short_name(process_name: str) -> str:
    """``NFCORE_RNASEQ:RNASEQ:FASTQC`` → ``FASTQC``."""
    return process_name.rsplit(":", 1)[-1]


# -- planning ---------------------------------------------------------------------------------
def plan_events(version: Row, samples: Sequence[Row]) -> list[dict[str, Any]]:
    """Every event of a run in simulated-time order (steps run one after another)."""
    launch = {"workflow": version["workflow"], "revision": version["name"]}
    events: list[dict[str, Any]] = [{"at": QUEUE_SECONDS, "kind": "launch", **launch}]
    plan: Sequence[dict[str, Any]] = version["plan"]
    clock = QUEUE_SECONDS
    step = 0
    for process in plan:
        targets: Sequence[Row | None] = samples if process["per_sample"] and samples else [None]
        for sample in targets:
            seconds = float(process["seconds"])
            base = {
                "step": step,
                "process": process["process"],
                "sample": None if sample is None else int(sample["id"]),
                "tag": None if sample is None else str(sample["name"]),
            }
            events.append({**base, "at": clock, "kind": "start"})
            events.append({**base, "at": clock + seconds / 2, "kind": "note"})
            failure = process.get("fails")
            if failure:
                events.append({**base, "at": clock + seconds * 0.75, "kind": "fail", **failure})
                return events
            events.append(
                {**base, "at": clock + seconds, "kind": "end", "outputs": process["outputs"]}
            )
            clock += seconds
            step += 1
    events.append({"at": clock, "kind": "complete", "steps": step})
    return events


def create_run(
    store: Store,
    *,
    version: Row,
    owner: int,
    params: dict[str, Any],
    data_params: dict[str, Any],
    csv_params: dict[str, Any],
    nextflow_version: str,
    samples: Sequence[Row],
    fileset: int | None,
    retries: int | None,
    command: str,
) -> int:
    """Create a queued execution (status ``""``) and its run record; returns its id."""
    now = time.time()
    only = samples[0] if len(samples) == 1 else None
    execution_id = store.insert(
        "executions",
        {
            "identifier": "",
            "pipeline_name": version["pipeline_name"],
            "pipeline_version": version["name"],
            "status": QUEUED,
            "owner": owner,
            "sample": None if only is None else only["id"],
            "project": None if only is None else only["project"],
            "private": 1,
            "created": int(now),
        },
    )
    store.update("executions", "id", execution_id, {"identifier": identifier_for(execution_id)})
    store.insert(
        "execution_runs",
        {
            "execution": execution_id,
            "pipeline_version": version["id"],
            "uuid": str(uuid.uuid4()),
            "nextflow_version": nextflow_version,
            "command": command,
            "params": json.dumps(params),
            "data_params": json.dumps(data_params),
            "csv_params": json.dumps(csv_params),
            "fileset": fileset,
            "retries": retries,
            "events": json.dumps(plan_events(version, samples)),
            "ticked": now,
        },
    )
    return execution_id


# -- advancing --------------------------------------------------------------------------------
class _Run:
    """One run being advanced: its rows and the text it appends to."""

    def __init__(self, store: Store, run: Row, now: float, speed: float) -> None:
        self.store = store
        self.run = run
        self.id = int(run["execution"])
        self.execution = store.get_execution(self.id) or {}
        self.start_progress = float(run["progress"])
        self.ticked = float(run["ticked"])
        self.speed = speed
        self.now = now
        self.log: list[str] = []
        self.stdout: list[str] = []
        self.changes: dict[str, Any] = {}

    def real_time(self, at: float) -> float:
        """When the simulated moment ``at`` happened in real time."""
        if self.speed <= 0 or at <= self.start_progress:
            return self.ticked
        return min(self.now, self.ticked + (at - self.start_progress) / self.speed)

    def line(self, when: float, logger: str, text: str) -> None:
        stamp = time.strftime("%b-%d %H:%M:%S", time.gmtime(when))
        millis = int((when % 1) * 1000)
        self.log.append(f"{stamp}.{millis:03d} [{logger}] INFO  {text}\n")

    def save(self, progress: float, *, done: bool = False) -> None:
        values: dict[str, Any] = {"progress": progress, "ticked": self.now}
        if self.log:
            values["log"] = self.run["log"] + "".join(self.log)
        if self.stdout:
            values["stdout"] = self.run["stdout"] + "".join(self.stdout)
        if "stderr" in self.changes:
            values["stderr"] = self.changes.pop("stderr")
        if "events_done" in self.changes:
            values["events_done"] = self.changes.pop("events_done")
        if done:
            values["done"] = 1
        self.store.update("execution_runs", "execution", self.id, values)
        if self.changes:
            self.store.update("executions", "id", self.id, self.changes)


def advance(store: Store, execution_id: int, speed: float, now: float | None = None) -> None:
    """Apply every event of one run that is due by ``now`` (no-op for finished runs)."""
    with _LOCK:
        run = get_run(store, execution_id)
        if run is not None and not run["done"]:
            _advance(store, run, speed, time.time() if now is None else now)


def advance_active(store: Store, speed: float) -> None:
    """Advance every unfinished run (called before each request)."""
    active = store.rows("SELECT execution FROM execution_runs WHERE done = 0")
    now = time.time()
    for row in active:
        advance(store, int(row["execution"]), speed, now)


def step(store: Store, execution_id: int, speed: float, seconds: float) -> bool:
    """Move one unfinished run ``seconds`` of simulated time forward (tests: with speed 0
    every intermediate state can be observed); False when it had already finished."""
    with _LOCK:
        run = get_run(store, execution_id)
        if run is None or run["done"]:
            return False
        _advance(store, run, speed, time.time(), extra=max(0.0, seconds))
        return True


def _advance(store: Store, run: Row, speed: float, now: float, extra: float = 0.0) -> None:
    sim = _Run(store, run, now, speed)
    events: list[dict[str, Any]] = run["events"]
    elapsed = max(0.0, now - sim.ticked)
    progress = sim.start_progress + elapsed * max(0.0, speed) + extra
    done = int(run["events_done"])
    finished = False
    while done < len(events) and events[done]["at"] <= progress:
        event = events[done]
        finished = _HANDLERS[event["kind"]](sim, event, sim.real_time(event["at"]))
        done += 1
        if finished:
            break
    sim.changes["events_done"] = done
    sim.save(progress, done=finished)


def _task_hash(execution_id: int, step: int) -> str:
    digest = hashlib.sha1(f"{execution_id}:{step}".encode(), usedforsecurity=False).hexdigest()
    return f"{digest[:2]}/{digest[2:8]}"


def _label(event: dict[str, Any]) -> str:
    tag = f" ({event['tag']})" if event.get("tag") else ""
    return f"{event['process']}{tag}"


def _launch(sim: _Run, event: dict[str, Any], when: float) -> bool:
    version = sim.run["nextflow_version"] or "24.04.4"
    sim.line(when, "main", f"nextflow.cli.Launcher - N E X T F L O W  ~  version {version}")
    sim.line(when, "main", f"nextflow.cli.CmdRun - Launching `{sim.run['command']}`")
    sim.stdout.append(f"N E X T F L O W  ~  version {version}\n")
    workflow = event.get("workflow") or sim.execution.get("pipeline_name")
    revision = event.get("revision") or sim.execution.get("pipeline_version")
    launching = f"Launching `{workflow}` [{_identifier(sim)}] DSL2 - revision: {revision}\n"
    sim.stdout.append(launching)
    sim.changes.update(status=RUNNING, started=when)
    return False


def _identifier(sim: _Run) -> str:
    return str(sim.execution.get("identifier") or sim.id)


def _start(sim: _Run, event: dict[str, Any], when: float) -> bool:
    task = _task_hash(sim.id, event["step"])
    sim.store.insert(
        "process_executions",
        {
            "execution": sim.id,
            "step": event["step"],
            "identifier": task,
            "name": _label({**event, "process": short_name(event["process"])}),
            "process_name": event["process"],
            "sample": event["sample"],
            "status": "RUNNING",
            "started": when,
            "bash": f"# {short_name(event['process'])} for {event.get('tag') or 'all samples'}",
        },
    )
    sim.line(
        when, "Task submitter", f"nextflow.Session - [{task}] Submitted process > {_label(event)}"
    )
    return False


def _note(sim: _Run, event: dict[str, Any], when: float) -> bool:
    task = _task_hash(sim.id, event["step"])
    sim.line(when, "Task monitor", f"nextflow.processor.TaskProcessor - [{task}] still running")
    return False


def _process_row(sim: _Run, event: dict[str, Any]) -> Row:
    row = sim.store.row(
        "SELECT * FROM process_executions WHERE execution = ? AND step = ?",
        (sim.id, event["step"]),
    )
    assert row is not None, "a step ends only after it started"
    return row


def _end(sim: _Run, event: dict[str, Any], when: float) -> bool:
    row = _process_row(sim, event)
    sim.store.update(
        "process_executions",
        "id",
        row["id"],
        {"status": "COMPLETED", "finished": when, "exit_code": 0, "stdout": "done\n"},
    )
    for output in event["outputs"]:
        _register_output(sim, row, event, output, when)
    task = _task_hash(sim.id, event["step"])
    sim.line(
        when,
        "Task monitor",
        f"nextflow.processor.TaskProcessor - [{task}] Task completed > {_label(event)}; "
        "status: COMPLETED; exit: 0",
    )
    sim.stdout.append(f"[{task}] process > {_label(event)} [100%] 1 of 1, done\n")
    return False


def _fail(sim: _Run, event: dict[str, Any], when: float) -> bool:
    return _end_in_error(
        sim, _process_row(sim, event), int(event["exit_code"]), event["stderr"], when
    )


def _end_in_error(sim: _Run, row: Row, exit_code: int, stderr: str, when: float) -> bool:
    sim.store.update(
        "process_executions",
        "id",
        row["id"],
        {"status": "FAILED", "finished": when, "exit_code": exit_code, "stderr": stderr + "\n"},
    )
    short = short_name(row["process_name"])
    name = row["process_name"] + str(row["name"]).removeprefix(short)  # full name plus tag
    message = (
        f"Error executing process > '{name}'\n\nCaused by:\n  Process `{name}` terminated with "
        f"an error exit status ({exit_code})\n\nCommand error:\n  {stderr}\n"
    )
    sim.line(
        when,
        "Task monitor",
        f"nextflow.processor.TaskProcessor - [{row['identifier']}] {message.splitlines()[0]}",
    )
    sim.line(when, "main", "nextflow.Session - Execution aborted -- Goodbye")
    sim.stdout.append(f"ERROR ~ {message}")
    sim.changes.update(status="ERROR", finished=when, stderr=message)
    return True


def _complete(sim: _Run, event: dict[str, Any], when: float) -> bool:
    sim.line(when, "main", "nextflow.Session - Execution complete -- Goodbye")
    sim.stdout.append(f"Completed at: {time.strftime('%d-%b-%Y %H:%M:%S', time.gmtime(when))}\n")
    sim.stdout.append(f"Succeeded   : {event['steps']}\n")
    sim.changes.update(status="OK", finished=when)
    return True


_HANDLERS: dict[str, Callable[[_Run, dict[str, Any], float], bool]] = {
    "launch": _launch,
    "start": _start,
    "note": _note,
    "end": _end,
    "fail": _fail,
    "complete": _complete,
}


# -- outputs ----------------------------------------------------------------------------------
def _register_output(
    sim: _Run, process: Row, event: dict[str, Any], output: dict[str, Any], when: float
) -> None:
    path = str(output["path"]).format(sample=event.get("tag") or "all")
    kind = str(output["kind"])
    sample = event["sample"] if event["sample"] is not None else sim.execution.get("sample")
    if kind.startswith("multiqc_"):
        sample = None  # report assets belong to the run, not to a sample (like the seeded run)
    data = sim.store.create_data(
        filename=path.rsplit("/", 1)[-1],
        owner=int(sim.execution["owner"]),
        sample=sample,
        project=sim.execution.get("project"),
        execution=sim.id,
        process_name=short_name(event["process"]),
        path=path,
        category=1,
        data_type=output.get("type"),
        created=int(when),
    )
    sim.store.write_blob(data["id"], output_bytes(kind, f"{sim.id}:{path}", event.get("tag")))
    sim.store.insert("process_outputs", {"process_execution": process["id"], "data": data["id"]})


def output_bytes(kind: str, seed: str, sample: str | None) -> bytes:
    """Deterministic, plausible contents for one output file."""
    rng = random.Random(seed)  # noqa: S311 - test data
    name = sample or "all"
    if kind == "fastqc":
        return f"<!doctype html><html><body><h1>FastQC: {name}</h1></body></html>\n".encode()
    if kind in {"bam", "index"}:
        return gzip.compress(rng.randbytes(4096), mtime=0)
    if kind == "quant":
        rows = "".join(
            f"ENST{i:011d}\t1500\t1300.5\t{rng.uniform(0, 90):.3f}\t{rng.randint(0, 900)}\n"
            for i in range(1, 60)
        )
        return ("Name\tLength\tEffectiveLength\tTPM\tNumReads\n" + rows).encode()
    if kind in {"counts", "tpm"}:
        rows = "".join(f"ENSG{i:011d}\tGENE{i}\t{rng.randint(0, 5000)}\n" for i in range(1, 200))
        return ("gene_id\tgene_name\tcount\n" + rows).encode()
    if kind == "multiqc":
        return (
            b"<!doctype html><html><head><title>MultiQC report</title></head>"
            b"<body><h1>MultiQC</h1><p>All samples passed.</p>"
            b'<a href="multiqc_report_data/multiqc_general_stats.txt">General statistics</a>'
            b"</body></html>\n"
        )
    if kind == "multiqc_log":
        return REPORT_ASSETS["multiqc_report_data/multiqc.log"]
    if kind == "multiqc_stats":
        return REPORT_ASSETS["multiqc_report_data/multiqc_general_stats.txt"]
    if kind == "peaks":
        return "".join(f"chr1\t{p}\t{p + 300}\tpeak_{p}\n" for p in range(1000, 9000, 700)).encode()
    if kind == "fastq":
        return fastq_bytes(seed, reads=50)
    return f"<!doctype html><html><body><h1>{kind}: {name}</h1></body></html>\n".encode()


# -- knobs (``/_testing/executions/<id>``) ----------------------------------------------------
def _present(store: Store, execution_id: int, speed: float) -> _Run | None:
    """The run brought up to now, or None when it is unknown or already finished."""
    run = get_run(store, execution_id)
    if run is None or run["done"]:
        return None
    now = time.time()
    _advance(store, run, speed, now)
    run = get_run(store, execution_id)
    if run is None or run["done"]:
        return None
    return _Run(store, run, now, speed)


def cancel(store: Store, execution_id: int, speed: float) -> bool:
    """End an unfinished run as CANCELED; False when it had already finished."""
    with _LOCK:
        sim = _present(store, execution_id, speed)
        if sim is None:
            return False
        for row in store.rows(
            "SELECT * FROM process_executions WHERE execution = ? AND status = 'RUNNING'",
            (execution_id,),
        ):
            aborted = {"status": "ABORTED", "finished": sim.now}
            store.update("process_executions", "id", row["id"], aborted)
        sim.line(sim.now, "main", "nextflow.Session - Execution cancelled -- Killing pending tasks")
        sim.changes.update(status="CANCELED", finished=sim.now)
        sim.save(sim.start_progress, done=True)
        return True


def fail(store: Store, execution_id: int, speed: float, stderr: str) -> bool:
    """End an unfinished run in ERROR: its running step (or a new one) fails with ``stderr``."""
    with _LOCK:
        sim = _present(store, execution_id, speed)
        if sim is None:
            return False
        now = sim.now
        if sim.execution.get("status") == QUEUED:
            _launch(sim, {}, now)
        row = store.row(
            "SELECT * FROM process_executions WHERE execution = ? AND status = 'RUNNING' "
            "ORDER BY step DESC LIMIT 1",
            (execution_id,),
        )
        if row is None:
            pending = sim.run["events"][sim.run["events_done"] :]
            upcoming = [e for e in pending if e["kind"] == "start"]
            event = upcoming[0] if upcoming else {"step": 10_000, "process": "MAIN", "sample": None}
            _start(sim, event, now)
            row = _process_row(sim, event)
        _end_in_error(sim, row, 1, stderr, now)
        sim.save(sim.start_progress, done=True)
        return True


class AdvanceMiddleware:
    """Before each request, advance every unfinished run to the present (ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = scope["app"].state
            advance_active(state.store, float(state.settings.execution_speed))
        await self.app(scope, receive, send)
