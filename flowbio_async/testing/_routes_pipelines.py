"""Pipeline and execution-detail endpoints (#11; issue #15 items 12 and 16).

- ``GET /pipelines``: the bare tree categories → subcategories → pipelines; ignores params.
- ``GET /pipelines/<id>``: versions newest first; 404 when none is readable.
- ``GET /pipelines/versions/<id>``: ``schema`` and ``nextflow_versions``; 404 when inactive
  or private to admins.
- ``POST /pipelines/versions/<id>/run``: 401 without a user, 403 ``User cannot run
  pipelines``, 404, 500 when a dict is missing, 400 field errors; else the execution.
- ``GET /executions/<id>``: ``log=<byte offset>`` tails the log (non-integer → 400),
  repeatable ``include``/``exclude`` trim top-level fields (both → 400).

Control routes (``--testing-control`` only): ``GET /_testing/executions`` (how many
executions exist); ``POST /_testing/executions/<id>`` with ``{"action": "cancel"}``,
``{"action": "fail", "stderr": ...}`` or ``{"action": "step", "seconds": 30}``;
``POST /_testing/users/<username>`` with ``{"can_run_pipelines": false}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from flowbio_async.testing import _executions_sim as sim
from flowbio_async.testing import _views as v
from flowbio_async.testing._execution_views import (
    execution_detail,
    pipeline_detail,
    pipeline_item,
    version_detail,
)
from flowbio_async.testing._pipeline_runs import start_run
from flowbio_async.testing._pipeline_store import catalogue, get_version, versions_of
from flowbio_async.testing._routes_reads import visible_row
from flowbio_async.testing._security import (
    bad_request,
    current_user,
    error,
    not_found,
    require_user,
    settings_of,
    store_of,
)


async def pipelines(request: Request) -> JSONResponse:
    """``/pipelines``: empty subcategories and categories are dropped (notes)."""
    store = store_of(request)
    tree = [
        {
            "name": category["name"],
            "description": category["description"],
            "subcategories": [
                {
                    "name": sub["name"],
                    "description": sub["description"],
                    "pipelines": [pipeline_item(store, row) for row in rows],
                }
                for sub, rows in branches
            ],
        }
        for category, branches in catalogue(store, current_user(request))
    ]
    return JSONResponse(tree)


async def pipeline(request: Request) -> JSONResponse:
    """``/pipelines/<id>``."""
    user = current_user(request)
    store = store_of(request)
    try:
        key = int(request.path_params["pipeline_id"])
    except ValueError:
        raise not_found() from None
    row = store.row("SELECT * FROM pipelines WHERE id = ?", (key,))
    versions = versions_of(store, key, user) if row is not None else []
    if row is None or not versions:
        raise not_found()
    return JSONResponse(pipeline_detail(row, versions))


async def pipeline_version(request: Request) -> JSONResponse:
    """``/pipelines/versions/<id>``."""
    user = current_user(request)
    version = get_version(store_of(request), request.path_params["version_id"], user)
    if version is None:
        raise not_found()
    return JSONResponse(version_detail(version))


async def run_pipeline(request: Request) -> JSONResponse:
    """``POST /pipelines/versions/<id>/run``: a new execution, or errors before any starts."""
    user = require_user(request)
    if not user["can_run_pipelines"]:
        raise error(403, "User cannot run pipelines")
    store = store_of(request)
    version = get_version(store, request.path_params["version_id"], user)
    if version is None:
        raise not_found()
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("Invalid JSON body") from None
    execution_id = start_run(store, version, user, body)
    row = store.row(f"{v.EXECUTION_SELECT} WHERE e.id = ?", (execution_id,))
    assert row is not None
    return JSONResponse(execution_detail(store, row, [], user))


def _log_offset(request: Request) -> int:
    raw = request.query_params.get("log")
    if raw is None or raw == "":
        return 0
    try:
        offset = int(raw)
    except ValueError:
        raise bad_request("log must be an integer byte offset") from None
    if offset < 0:
        raise bad_request("log must be an integer byte offset")
    return offset


async def execution(request: Request) -> JSONResponse:
    """``/executions/<id>`` with ``log``, ``include`` and ``exclude`` (notes)."""
    include = request.query_params.getlist("include")
    exclude = request.query_params.getlist("exclude")
    if include and exclude:
        raise bad_request("Cannot use both include and exclude")
    offset = _log_offset(request)
    if not settings_of(request).execution_log_offsets:
        offset = 0  # a server that ignores ?log= (the client must not repeat text)
    user = current_user(request)
    row = visible_row(request, user, v.EXECUTION_SELECT, v.EXECUTION_VISIBLE, "e", "execution_id")
    store = store_of(request)
    detail = execution_detail(
        store, row, store.execution_outputs(row["id"]), user, log_offset=offset
    )
    if include:
        detail = {key: value for key, value in detail.items() if key in include}
    for key in exclude:
        detail.pop(key, None)
    return JSONResponse(detail)


# -- control ------------------------------------------------------------------------------
async def _executions_count(request: Request) -> JSONResponse:
    store = store_of(request)
    return JSONResponse(
        {
            "count": store.scalar("SELECT COUNT(*) FROM executions"),
            "runs": store.scalar("SELECT COUNT(*) FROM execution_runs"),
        }
    )


async def _execution_knob(request: Request) -> JSONResponse:
    store = store_of(request)
    try:
        key = int(request.path_params["execution_id"])
    except ValueError:
        return JSONResponse({"error": "Not found"}, status_code=404)
    body: dict[str, Any] = await request.json()
    speed = float(settings_of(request).execution_speed)
    action = body.get("action")
    if action == "cancel":
        changed = sim.cancel(store, key, speed)
    elif action == "step":
        changed = sim.step(store, key, speed, float(body.get("seconds") or 0))
    elif action == "fail":
        stderr = str(body.get("stderr") or "Process terminated by the test server")
        changed = sim.fail(store, key, speed, stderr)
    else:
        return JSONResponse({"error": "action must be cancel, fail or step"}, status_code=400)
    row = store.get_execution(key)
    if row is None:
        return JSONResponse({"error": "Not found"}, status_code=404)
    if not changed:
        return JSONResponse({"error": "execution already finished"}, status_code=409)
    return JSONResponse({"id": str(key), "status": row["status"]})


async def _user_knob(request: Request) -> JSONResponse:
    store = store_of(request)
    user = store.get_user_by_username(request.path_params["username"])
    if user is None:
        return JSONResponse({"error": "Not found"}, status_code=404)
    body: dict[str, Any] = await request.json()
    flags = ("can_run_pipelines", "is_admin")
    values: dict[str, Any] = {k: int(bool(body[k])) for k in flags if k in body}
    store.update("users", "id", user["id"], values)
    fresh = store.get_user(user["id"]) or {}
    return JSONResponse(
        {
            "username": fresh.get("username"),
            "can_run_pipelines": bool(fresh.get("can_run_pipelines")),
            "is_admin": bool(fresh.get("is_admin")),
        }
    )


routes: list[BaseRoute] = [
    Route("/pipelines", pipelines, name="pipelines"),
    Route("/pipelines/versions/{version_id}", pipeline_version, name="pipeline_version"),
    Route(
        "/pipelines/versions/{version_id}/run",
        run_pipeline,
        methods=["POST"],
        name="run_pipeline",
    ),
    Route("/pipelines/{pipeline_id}", pipeline, name="pipeline"),
    Route("/executions/{execution_id}", execution, name="execution"),
]

control_routes: list[BaseRoute] = [
    Route("/_testing/executions", _executions_count, methods=["GET"]),
    Route("/_testing/executions/{execution_id}", _execution_knob, methods=["POST"]),
    Route("/_testing/users/{username}", _user_knob, methods=["POST"]),
]
