"""``/v2/projects``: create, read, update, replace and delete a project (Problem Details).

The official 0.14.1 CLI names ``/v2/projects`` as the path its ``api post`` sends JSON bodies
to (``flowbio/cli/_api.py``); no source documents the bodies, so these follow the read
shapes (docs/protocol.md §4.4) and a careful server's rules: ``POST`` creates (201), ``PATCH``
changes the fields given, ``PUT`` replaces them all (every field required, so repeating it
changes nothing: idempotent), ``DELETE`` answers 204 and a second one 404. Only the owner may
change a project; another user's private project is a 404, a public one a 403. A project that
still holds samples or executions is not deleted (409). Every refusal is a Problem Details
answer naming the fields, and changes nothing.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flowbio_async.testing import _views as v
from flowbio_async.testing._problems import Problem, issue, problem_route, refused
from flowbio_async.testing._security import current_user, require_user, store_of
from flowbio_async.testing._store import Row, Store

FIELDS: dict[str, type] = {"name": str, "description": str, "private": bool}
MAX_NAME = 250


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 Problem."""
    try:
        body = await request.json()
    except ValueError:
        raise Problem(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Problem(400, "The request body must be a JSON object.")
    return body


def _checked(body: dict[str, Any], *, every: bool) -> dict[str, Any]:
    """The fields to store; ``every``: all are required (POST needs only ``name``)."""
    issues = [
        issue(f"/{name}", "unknown_field", "This field is not known.")
        for name in body
        if name not in FIELDS
    ]
    values: dict[str, Any] = {}
    for name, kind in FIELDS.items():
        if name not in body:
            if every:
                issues.append(issue(f"/{name}", "required", "This field is required."))
            continue
        value = body[name]
        if not isinstance(value, kind) or (kind is str and isinstance(value, bool)):
            expected = "true or false" if kind is bool else "a string"
            issues.append(issue(f"/{name}", "invalid_type", f"Expected {expected}."))
            continue
        values[name] = int(bool(value)) if kind is bool else value
    title = values.get("name")
    if isinstance(title, str) and not title.strip():
        issues.append(issue("/name", "blank", "This field may not be blank."))
    elif isinstance(title, str) and len(title) > MAX_NAME:
        issues.append(issue("/name", "max_length", f"At most {MAX_NAME} characters."))
    if issues:
        raise refused(issues)
    return values


def _render(store: Store, project_id: int) -> dict[str, Any]:
    row = store.row(f"{v.PROJECT_SELECT} WHERE p.id = ?", (project_id,))
    assert row is not None
    return {
        **v.project_item(row),
        "owner": v.owner_object(row),
    }


def _owned(request: Request, user: Row) -> int:
    """The id of the project in the path, which ``user`` must own."""
    store = store_of(request)
    try:
        key = int(request.path_params["project_id"])
    except ValueError:
        raise Problem(404, "Project not found.") from None
    row = store.get_project(key)
    if row is None or (row["private"] and row["owner"] != user["id"]):
        raise Problem(404, "Project not found.")
    if row["owner"] != user["id"]:
        raise Problem(403, "You do not own this project.")
    return key


@problem_route
async def create(request: Request) -> Response:
    """``POST /v2/projects``."""
    user = require_user(request)
    body = await json_object(request)
    values = _checked(body, every=False)
    if "name" not in values:
        raise refused([issue("/name", "required", "This field is required.")])
    store = store_of(request)
    project_id = store.insert(
        "projects",
        {
            "name": values["name"],
            "description": values.get("description", ""),
            "private": values.get("private", 1),
            "owner": user["id"],
            "created": int(time.time()),
        },
    )
    return JSONResponse(_render(store, project_id), status_code=201)


@problem_route
async def detail(request: Request) -> Response:
    """``GET /v2/projects/<id>``: what the caller may read."""
    user = current_user(request)
    store = store_of(request)
    try:
        key = int(request.path_params["project_id"])
    except ValueError:
        raise Problem(404, "Project not found.") from None
    where = f"WHERE p.id = ? AND {v.PROJECT_VISIBLE}"
    row = store.row(f"{v.PROJECT_SELECT} {where}", (key, v.uid(user)))
    if row is None:
        raise Problem(404, "Project not found.")
    return JSONResponse(_render(store, key))


@problem_route
async def change(request: Request) -> Response:
    """``PATCH`` (the fields given) and ``PUT`` (every field) ``/v2/projects/<id>``."""
    user = require_user(request)
    key = _owned(request, user)
    body = await json_object(request)
    values = _checked(body, every=request.method == "PUT")
    store = store_of(request)
    store.update("projects", "id", key, values)
    return JSONResponse(_render(store, key))


@problem_route
async def delete(request: Request) -> Response:
    """``DELETE /v2/projects/<id>``: 204; 409 while samples or executions refer to it."""
    user = require_user(request)
    key = _owned(request, user)
    store = store_of(request)
    held = store.scalar("SELECT COUNT(*) FROM samples WHERE project = ?", (key,)) or 0
    held += store.scalar("SELECT COUNT(*) FROM executions WHERE project = ?", (key,)) or 0
    if held:
        raise Problem(409, "The project still holds samples or executions; move them first.")
    store.execute("DELETE FROM projects WHERE id = ?", (key,))
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route("/v2/projects", create, methods=["POST"], name="v2_projects"),
    Route("/v2/projects/{project_id}", detail, methods=["GET"], name="v2_project"),
    Route("/v2/projects/{project_id}", change, methods=["PATCH", "PUT"], name="v2_project_change"),
    Route("/v2/projects/{project_id}", delete, methods=["DELETE"], name="v2_project_delete"),
]
