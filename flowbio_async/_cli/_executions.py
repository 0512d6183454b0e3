"""``executions list|show|watch|logs`` (#11).

``watch`` prints the log as it grows on stdout and status and step changes on stderr; under
``--json`` it prints only the final execution. ``watch`` and ``logs --follow`` exit 0 only
when the run ends OK (1 for ERROR or CANCELED, with its stderr and log tail).
"""

from __future__ import annotations

import sys

from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._credentials import Auth
from flowbio_async._cli._output import jsonable
from flowbio_async._cli._pipelines import add_wait_options, report_execution
from flowbio_async._models._monitoring import ExecutionUpdate

EXECUTION_COLUMNS = [
    ("id", "ID"),
    ("identifier", "Identifier"),
    ("pipeline_name", "Pipeline"),
    ("pipeline_version", "Version"),
    ("status_text", "Status"),
    ("created", "Created"),
]
PROCESS_COLUMNS = [("name", "Step"), ("status", "Status"), ("exit_code", "Exit")]


def status_text(status: str | None) -> str:
    """``""`` and ``-`` (in flight, per the notes) shown as words."""
    text = (status or "").strip()
    return {"": "queued", "-": "running"}.get(text, text)


def register(verbs: Verbs) -> None:
    """Add the ``executions`` group."""
    group = verbs.group("executions", "pipeline runs: list, show, watch, logs")
    listing = group.add("list", _list, "list your executions, newest first", auth=Auth.OPTIONAL)
    listing.add_argument("--status", help="only this status (OK, ERROR, CANCELED)")
    listing.add_argument("--pipeline", metavar="ID", help="only runs of this pipeline id")
    listing.add_argument(
        "--all", action="store_true", help="every execution you can see, not only yours"
    )
    listing.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")

    show = group.add("show", _show, "show one execution", auth=Auth.OPTIONAL)
    show.add_argument("execution", metavar="ID")

    watch = group.add(
        "watch",
        _watch,
        "follow an execution to its end",
        "Follow an execution: its log on stdout as it grows (never repeated), status and "
        "step changes on stderr. Exit 0 only when it ends OK.",
    )
    watch.add_argument("execution", metavar="ID")
    add_wait_options(watch)

    logs = group.add("logs", _logs, "print an execution's log", auth=Auth.OPTIONAL)
    logs.add_argument("execution", metavar="ID")
    logs.add_argument("--offset", type=int, default=0, metavar="BYTES", help="start here")
    logs.add_argument("--follow", action="store_true", help="keep printing until it ends")
    add_wait_options(logs)


async def _list(inv: Invocation) -> int:
    args = inv.args
    if args.limit < 1:
        from flowbio_async._cli._exit import CliUsageError

        raise CliUsageError("--limit must be at least 1")
    pager = inv.client.executions.search(
        status=args.status,
        pipeline=args.pipeline,
        owned=None if args.all else True,
        page_size=min(args.limit, 100),
    )
    rows = []
    async for execution in pager:
        row = execution.model_dump(mode="json")
        row["status_text"] = status_text(execution.status)
        rows.append(row)
        if len(rows) >= args.limit:
            break
    inv.output.table(rows, EXECUTION_COLUMNS)
    return 0


async def _show(inv: Invocation) -> int:
    client = inv.client
    execution = await client.executions.get(inv.args.execution)
    url = client.executions.web_url(execution)
    if inv.output.json_mode:
        inv.output.result({**jsonable(execution), "web_url": url})
        return 0
    what = " ".join(x for x in (execution.pipeline_name, execution.pipeline_version) if x)
    lines = [
        f"execution {execution.id} ({execution.identifier or '-'}): {what}",
        f"status: {status_text(execution.status)}",
        f"sample: {execution.sample.name if execution.sample else '-'}",
        f"created: {execution.created}  started: {execution.started}  "
        f"finished: {execution.finished}",
        url,
    ]
    if execution.stderr and execution.stderr.strip():
        lines.append("stderr:\n" + execution.stderr.rstrip())
    lines.append(f"outputs: {len(execution.outputs)} files")
    lines.append("")
    inv.output.result(None, "\n".join(lines))
    rows = [p.model_dump(mode="json") for p in execution.process_executions]
    inv.output.table(rows, PROCESS_COLUMNS)
    return 0


def _describe(update: ExecutionUpdate) -> str | None:
    if update.kind == "process" and update.process is not None:
        step = update.process
        code = f" (exit {step.exit_code})" if step.exit_code not in (None, 0) else ""
        return f"[step] {step.name or step.process_name}: {step.status}{code}"
    if update.kind == "status":
        return f"[status] {status_text(update.status)}"
    return None


async def _watch(inv: Invocation) -> int:
    client = inv.client
    args = inv.args
    final = None
    async for update in client.executions.watch(
        args.execution, poll_interval=args.poll_interval, timeout=args.timeout
    ):
        final = update.execution
        if inv.output.json_mode:
            continue
        if update.kind == "log":
            sys.stdout.write(update.text)
            sys.stdout.flush()
        elif (line := _describe(update)) is not None:
            inv.output.advisory(line)
    assert final is not None
    if inv.output.json_mode:
        report_execution(inv.output, final, client.executions.web_url(final))
    return 0


async def _logs(inv: Invocation) -> int:
    client = inv.client
    args = inv.args
    if not args.follow:
        chunk = await client.executions.get_log(args.execution, offset=args.offset)
        inv.output.result(chunk, chunk.text.rstrip("\n"))
        return 0
    text: list[str] = []
    final = None
    async for update in client.executions.watch(
        args.execution,
        poll_interval=args.poll_interval,
        timeout=args.timeout,
        log_offset=args.offset,
    ):
        final = update.execution
        if update.kind != "log":
            continue
        if inv.output.json_mode:
            text.append(update.text)
        else:
            sys.stdout.write(update.text)
            sys.stdout.flush()
    if inv.output.json_mode:
        joined = "".join(text)
        status = final.status if final is not None else None
        document = {"text": joined, "offset": args.offset, "status": status}
        document["next_offset"] = args.offset + len(joined.encode("utf-8"))
        inv.output.result(document)
    return 0
