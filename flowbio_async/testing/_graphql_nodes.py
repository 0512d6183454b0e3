"""GraphQL objects built from the store's rows: what each type's fields resolve to (#11).

Every object is a dict whose keys are the schema's field names; related objects are
callables (graphql-core's default resolver calls them with ``info``) so only what a query
selects is read. The same visibility rules as the REST reads apply (``_views``): an object
the caller may not read resolves to ``null``. Values come from the REST views where there
is one (the execution detail, the sample detail), so both APIs show one picture.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request

from flowbio_async.testing import _views as v
from flowbio_async.testing._execution_views import execution_detail
from flowbio_async.testing._graphql_schema import json_text
from flowbio_async.testing._paging import like
from flowbio_async.testing._pipeline_store import catalogue, decoded, version_visible, versions_of
from flowbio_async.testing._routes_reads import _head, is_binary
from flowbio_async.testing._settings import ServerSettings
from flowbio_async.testing._store import Row, Store

Node = dict[str, Any]
DEFAULT_PAGE = 10
MAX_PAGE = 100


@dataclass
class Context:
    """What every resolver of one request sees."""

    request: Request
    store: Store
    settings: ServerSettings
    user: Row | None
    #: Refresh tokens to set as the ``flow_refresh_token`` cookie (the login mutation).
    refresh_tokens: list[tuple[int, str]] = field(default_factory=list)

    @property
    def viewer(self) -> int:
        return v.uid(self.user)


def lazy(make: Callable[[], Any]) -> Callable[..., Any]:
    """A field resolved on demand (the default resolver calls it with ``info``)."""
    return lambda *_info, **_args: make()


# -- lookups that honour visibility -------------------------------------------------------------
def _one(ctx: Context, select: str, visible: str, alias: str, key: Any) -> Row | None:
    try:
        number = int(key)
    except (TypeError, ValueError):
        return None
    where = f"WHERE {alias}.id = ? AND {visible}"
    return ctx.store.row(f"{select} {where}", (number, ctx.viewer))


def data_row(ctx: Context, key: Any) -> Row | None:
    return _one(ctx, v.DATA_SELECT, v.DATA_VISIBLE, "d", key)


def sample_row(ctx: Context, key: Any) -> Row | None:
    return _one(ctx, v.SAMPLE_SELECT, v.SAMPLE_VISIBLE, "s", key)


def project_row(ctx: Context, key: Any) -> Row | None:
    return _one(ctx, v.PROJECT_SELECT, v.PROJECT_VISIBLE, "p", key)


def execution_row(ctx: Context, key: Any) -> Row | None:
    return _one(ctx, v.EXECUTION_SELECT, v.EXECUTION_VISIBLE, "e", key)


def _rows_by_id(
    ctx: Context, select: str, visible: str, alias: str, keys: Sequence[Any]
) -> list[Row]:
    numbers = []
    for key in keys:
        try:
            numbers.append(int(key))
        except (TypeError, ValueError):
            continue
    if not numbers:
        return []
    marks = ",".join("?" for _ in numbers)
    found = ctx.store.rows(
        f"{select} WHERE {alias}.id IN ({marks}) AND {visible}", [*numbers, ctx.viewer]
    )
    order = {number: index for index, number in enumerate(numbers)}
    return sorted(found, key=lambda row: order[int(row["id"])])


# -- users, organisms, projects -------------------------------------------------------------------
def user_node(user: Row) -> Node:
    return {"id": v.sid(user["id"]), "username": user["username"], "name": user["name"]}


def owner_node(row: Row) -> Node:
    """The owner of a row selected with ``owner_name``/``owner_username``."""
    return {"id": v.sid(row["owner"]), "username": row["owner_username"], "name": row["owner_name"]}


def organism_node(ctx: Context, organism_id: Any) -> Node | None:
    if organism_id is None:
        return None
    row = ctx.store.row("SELECT * FROM organisms WHERE id = ?", (organism_id,))
    if row is None:
        return None
    return {"id": row["id"], "name": row["name"], "latinName": row["latin_name"]}


def project_node(ctx: Context, row: Row | None) -> Node | None:
    if row is None:
        return None
    return {
        "id": v.sid(row["id"]),
        "name": row["name"],
        "description": row["description"],
        "private": bool(row["private"]),
        "created": row["created"],
        "owner": owner_node(row),
        "samples": lambda _info, first=None, after=None: sample_connection(
            ctx, first, after, project=int(row["id"])
        ),
    }


# -- data -----------------------------------------------------------------------------------------
def data_node(ctx: Context, row: Row | None) -> Node | None:
    if row is None:
        return None
    return {
        "id": v.sid(row["id"]),
        "filename": row["filename"],
        "filetype": v.filetype(row["filename"]),
        "size": row["size"],
        "category": row["category"],
        "created": row["created"],
        "isDirectory": bool(row["is_directory"]),
        "isBinary": lazy(lambda: is_binary(_head(ctx.request, row))),
        "isRemoved": False,
        "private": bool(row["private"]) and not v.public_parent(row),
        "md5": row["md5"],
        "upstreamProcessExecution": lazy(lambda: _producer(ctx, row)),
        "sample": lazy(lambda: sample_node(ctx, sample_row(ctx, row["sample_id"]))),
        "project": lazy(lambda: project_node(ctx, project_row(ctx, row["project_id"]))),
        "owner": owner_node(row),
        "genome": None,
        "genomeFasta": None,
        "genomeGtf": None,
    }


def data_nodes(ctx: Context, keys: Sequence[Any]) -> list[Node]:
    rows = _rows_by_id(ctx, v.DATA_SELECT, v.DATA_VISIBLE, "d", keys)
    return [node for node in (data_node(ctx, row) for row in rows) if node is not None]


def _producer(ctx: Context, row: Row) -> Node | None:
    """The step that wrote a data file (from the execution detail's steps)."""
    execution = execution_row(ctx, row["execution"])
    if execution is None:
        return None
    node = execution_node(ctx, execution)
    steps: list[Node] = node["processExecutions"](None)
    wanted = v.sid(row["id"])
    return next((s for s in steps if any(o["id"] == wanted for o in s["_outputs"])), None)


# -- samples --------------------------------------------------------------------------------------
def sample_node(ctx: Context, row: Row | None) -> Node | None:
    if row is None:
        return None
    detail = functools.cache(lambda: v.sample_detail(ctx.store, row, ctx.user))

    def metadata_value(identifier: str) -> Callable[..., Any]:
        return lazy(lambda: (detail()["metadata"].get(identifier) or {}).get("value"))

    def initial_data() -> list[Node]:
        inputs = [d for fileset in detail()["filesets"] for d in fileset["data"]]
        nodes = data_nodes(ctx, [d["id"] for d in inputs])
        return [{"id": n["id"], "created": n["created"], "data": n} for n in nodes]

    return {
        "id": v.sid(row["id"]),
        "name": row["name"],
        "private": lazy(lambda: detail()["private"]),
        "created": row["created"],
        "sampleType": row["sample_type_name"] or row["sample_type"],
        "owner": owner_node(row),
        "initialData": lazy(initial_data),
        "organism": lazy(lambda: organism_node(ctx, row["organism"])),
        "project": lazy(lambda: project_node(ctx, project_row(ctx, row["project"]))),
        "strandedness": metadata_value("strandedness"),
        "rnaSelectionMethod": metadata_value("rna_selection_method"),
        "pubmed": row["pubmed"] or "",
        "metadata": lazy(
            lambda: json_text({k: m["value"] for k, m in detail()["metadata"].items()})
        ),
        "data": lazy(lambda: data_nodes(ctx, [d["id"] for d in ctx.store.sample_data(row["id"])])),
        "executions": lazy(lambda: _sample_executions(ctx, row["id"])),
    }


def _sample_executions(ctx: Context, sample_id: Any) -> list[Node]:
    rows = ctx.store.rows(
        f"{v.EXECUTION_SELECT} WHERE e.sample = ? AND {v.EXECUTION_VISIBLE} "
        "ORDER BY e.created DESC, e.id DESC",
        (sample_id, ctx.viewer),
    )
    return [execution_node(ctx, row) for row in rows]


# -- executions -----------------------------------------------------------------------------------
def _step_node(ctx: Context, execution: Node, step: dict[str, Any]) -> Node:
    outputs: list[dict[str, Any]] = step.get("downstream_data") or []
    return {
        "id": v.sid(step["id"]),
        "identifier": step.get("identifier"),
        "name": step.get("name") or step.get("process_name") or "",
        "processName": step.get("process_name") or step.get("name") or "",
        "started": step.get("started"),
        "finished": step.get("finished"),
        "stdout": step.get("stdout", ""),
        "stderr": step.get("stderr", ""),
        "bash": step.get("bash", ""),
        "status": step.get("status"),
        "exitCode": step.get("exit_code"),
        "execution": execution,
        "upstreamData": [],
        "upstreamSamples": [],
        "downstreamData": lazy(lambda: data_nodes(ctx, [item["id"] for item in outputs])),
        "_outputs": outputs,  # not a schema field: how a data file finds its step
    }


def _csv_samples(csv_params: Any) -> list[Any]:
    keys: list[Any] = []
    for value in (csv_params or {}).values():
        rows = value.get("rows") if isinstance(value, dict) else None
        for row in rows or []:
            if isinstance(row, dict) and row.get("sample") is not None:
                keys.append(row["sample"])
    return keys


def execution_node(ctx: Context, row: Row) -> Node:
    outputs = ctx.store.execution_outputs(row["id"])
    detail = execution_detail(ctx.store, row, outputs, ctx.user)
    owned = row["owner"] == ctx.viewer
    steps: list[dict[str, Any]] = detail["process_executions"]
    started = [s["started"] for s in steps if s.get("started") is not None]
    finished = [s["finished"] for s in steps if s.get("finished") is not None]
    sample_keys = _csv_samples(detail["csv_params"]) or (
        [row["sample"]] if row["sample"] is not None else []
    )
    node: Node = {
        "id": v.sid(row["id"]),
        "identifier": row["identifier"],
        "pipelineVersion": lazy(lambda: version_node(ctx, detail["pipeline"].get("id"))),
        "nextflowVersion": detail["nextflow_version"],
        "forcedPublicProjectId": None,
        "forcedPublicSampleId": None,
        "canEdit": owned,
        "canShare": owned,
        "created": row["created"],
        "started": row["started"],
        "finished": row["finished"],
        "taskStarted": min(started) if started else None,
        "taskFinished": max(finished) if finished and len(finished) == len(steps) else None,
        "private": bool(row["private"]),
        "hasReport": any(str(o["filename"]).endswith(".html") for o in outputs),
        "params": json_text(detail["params"]),
        "dataParams": json_text(detail["data_params"]),
        "sampleParams": json_text(detail["csv_params"]),
        "stdout": detail["stdout"],
        "stderr": detail["stderr"],
        "status": row["status"],
        "dependent": False,
        "command": detail["command"],
        "log": detail["log"],
        "upstreamData": lazy(lambda: data_nodes(ctx, list(detail["data_params"].values()))),
        "owner": owner_node(row),
        "upstreamSamples": lazy(
            lambda: [
                n
                for n in (
                    sample_node(ctx, r)
                    for r in _rows_by_id(ctx, v.SAMPLE_SELECT, v.SAMPLE_VISIBLE, "s", sample_keys)
                )
                if n is not None
            ]
        ),
        "genome": None,
        "sample": lazy(lambda: sample_node(ctx, sample_row(ctx, row["sample"]))),
        "project": lazy(lambda: project_node(ctx, project_row(ctx, row["project"]))),
    }
    step_nodes = [_step_node(ctx, node, step) for step in steps]
    node["processExecutions"] = lazy(lambda: step_nodes)
    return node


# -- pipelines ------------------------------------------------------------------------------------
def version_node(ctx: Context, version_id: Any) -> Node | None:
    try:
        key = int(version_id)
    except (TypeError, ValueError):
        return None
    row = decoded(
        ctx.store.row(
            "SELECT v.*, p.name AS pipeline_name FROM pipeline_versions v "
            "JOIN pipelines p ON p.id = v.pipeline WHERE v.id = ?",
            (key,),
        )
    )
    if row is None or not version_visible(row, ctx.user):
        return None
    return _version(ctx, row)


def _version(ctx: Context, row: Row) -> Node:
    return {
        "id": v.sid(row["id"]),
        "name": row["name"],
        "description": row["long_description"],
        "schema": json_text(row["schema"]),
        "nextflowVersions": row["nextflow_versions"],
        "pipeline": lazy(lambda: pipeline_node(ctx, int(row["pipeline"]))),
    }


def pipeline_node(ctx: Context, pipeline_id: int) -> Node | None:
    row = ctx.store.row("SELECT * FROM pipelines WHERE id = ?", (pipeline_id,))
    versions = versions_of(ctx.store, pipeline_id, ctx.user) if row is not None else []
    if row is None or not versions:
        return None
    nodes = [_version(ctx, version) for version in versions]  # newest first
    return {
        "id": v.sid(row["id"]),
        "name": row["name"],
        "description": row["description"],
        "version": nodes[0],
        "versions": nodes,
    }


def categories(ctx: Context) -> list[Node]:
    """The catalogue tree; pipelines without a readable version are left out (as REST)."""

    def named(row: Row) -> Node:
        return {"id": v.sid(row["id"]), "name": row["name"], "description": row["description"]}

    return [
        {
            **named(category),
            "subcategories": [
                {**named(sub), "pipelines": [pipeline_node(ctx, int(r["id"])) for r in rows]}
                for sub, rows in branches
            ],
        }
        for category, branches in catalogue(ctx.store, ctx.user)
    ]


# -- connections (seed 003: first/after, edges { node }, pageInfo { hasNextPage endCursor }) ----
def encode_cursor(kind: str, index: int) -> str:
    """An opaque cursor: the position of an item in one connection."""
    return base64.urlsafe_b64encode(f"{kind}:{index}".encode()).decode()


def decode_cursor(kind: str, cursor: str) -> int:
    """The position a cursor names; a cursor of another connection or garbage is an error."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != kind:
            raise ValueError(prefix)
        index = int(number)
    except (ValueError, UnicodeError):
        raise _not_a_cursor(cursor) from None
    if index < 0:
        raise _not_a_cursor(cursor)
    return index


def _not_a_cursor(cursor: str) -> GraphQLError:
    return GraphQLError(
        f"after: {cursor!r} is not a cursor of this connection; valid: a cursor it handed "
        "out (edges.cursor, pageInfo.endCursor), or none to start at the first item",
        extensions={"code": "BAD_USER_INPUT", "field": "after"},
    )


def past_the_end(kind: str, total: int) -> GraphQLError:
    """A cursor beyond the last item: the error names ``after`` and what it may be instead."""
    if total:
        last = encode_cursor(kind, total - 1)
        valid = f"the cursor of one of its items (the last is {last!r}), or none to start over"
    else:
        last = None
        valid = "none: the connection is empty, leave after out"
    return GraphQLError(
        f"after: the cursor is past the end of the connection ({total} items); valid: {valid}",
        extensions={
            "code": "BAD_USER_INPUT",
            "field": "after",
            "total": total,
            "last_cursor": last,
        },
    )


def _page(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise GraphQLError(f"first: must be between 0 and {MAX_PAGE}, got {first}")
    return first


def connection(
    kind: str,
    rows_for: Callable[[int, int], list[Row]],
    total: int,
    node: Callable[[Row], Node | None],
    first: int | None,
    after: str | None,
) -> Node:
    """One page of a connection; ``after`` names the last item already seen."""
    size = _page(first)
    start = 0
    if after is not None:
        seen = decode_cursor(kind, after)
        if seen >= total:
            # An item that is not there: a cursor from a longer listing, or made up.
            raise past_the_end(kind, total)
        start = seen + 1
    rows = rows_for(start, size) if size else []
    edges = [
        {"cursor": encode_cursor(kind, start + index), "node": node(row)}
        for index, row in enumerate(rows)
    ]
    return {
        "edges": edges,
        "totalCount": total,
        "pageInfo": {
            "hasNextPage": start + len(rows) < total,
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _listing(
    ctx: Context, select: str, where: list[str], params: list[Any], order: str
) -> tuple[Callable[[int, int], list[Row]], int]:
    clause = " AND ".join(where)
    counted = f"SELECT COUNT(*) FROM ({select} WHERE {clause})"  # noqa: S608 - trusted parts
    total = int(ctx.store.scalar(counted, params) or 0)

    def rows_for(start: int, size: int) -> list[Row]:
        sql = f"{select} WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?"
        return ctx.store.rows(sql, [*params, size, start])

    return rows_for, total


def sample_connection(
    ctx: Context,
    first: int | None,
    after: str | None,
    *,
    name: str | None = None,
    owned: bool | None = None,
    project: int | None = None,
) -> Node:
    where: list[str] = [v.SAMPLE_VISIBLE]
    params: list[Any] = [ctx.viewer]
    if name:
        where.append("s.name LIKE ? ESCAPE '\\'")
        params.append(like(name))
    if owned:
        where.append("s.owner = ?")
        params.append(ctx.viewer)
    if project is not None:
        where.append("s.project = ?")
        params.append(project)
    rows_for, total = _listing(ctx, v.SAMPLE_SELECT, where, params, "s.created DESC, s.id DESC")
    return connection("samples", rows_for, total, lambda r: sample_node(ctx, r), first, after)


def execution_connection(
    ctx: Context, first: int | None, after: str | None, *, status: str | None = None
) -> Node:
    where: list[str] = [v.EXECUTION_VISIBLE]
    params: list[Any] = [ctx.viewer]
    if status is not None:
        where.append("e.status = ?")
        params.append(status)
    rows_for, total = _listing(ctx, v.EXECUTION_SELECT, where, params, "e.created DESC, e.id DESC")
    return connection("executions", rows_for, total, lambda r: execution_node(ctx, r), first, after)
