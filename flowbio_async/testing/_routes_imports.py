"""``/v2/sample-imports``: start a batch import, read a job (docs/protocol.md §3.7; Problem
Details)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flowbio_async.testing._problems import Problem, problem_route
from flowbio_async.testing._routes_projects_v2 import json_object
from flowbio_async.testing._sample_imports import (
    check_batch,
    ensure_table,
    get_job,
    job_view,
    start_job,
)
from flowbio_async.testing._security import require_user, settings_of, store_of


@problem_route
async def create(request: Request) -> Response:
    """``POST /v2/sample-imports``: 201 with the RUNNING job, or 422 and no job."""
    user = require_user(request)
    store = store_of(request)
    ensure_table(store)
    specs = check_batch(store, user, await json_object(request))
    job_id = start_job(store, user, specs, float(settings_of(request).execution_speed))
    job = get_job(store, job_id, user)
    assert job is not None
    return JSONResponse(job_view(job), status_code=201)


@problem_route
async def detail(request: Request) -> Response:
    """``GET /v2/sample-imports/<id>``: 404 when unknown or another user's."""
    user = require_user(request)
    store = store_of(request)
    ensure_table(store)
    job = get_job(store, request.path_params["job_id"], user)
    if job is None:
        raise Problem(404, "Sample import job not found.")
    return JSONResponse(job_view(job))


routes: list[BaseRoute] = [
    Route("/v2/sample-imports", create, methods=["POST"], name="sample_imports"),
    Route("/v2/sample-imports/{job_id}", detail, methods=["GET"], name="sample_import"),
]
