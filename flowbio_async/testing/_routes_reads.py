"""Read endpoints (docs/protocol.md §4): identity, discovery lists, projects, samples, data,
executions search and global search. Lists page with ``page``/``count`` or ``limit``/``offset``.
Pipelines and the execution detail live in ``_routes_pipelines`` (#11)."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from flowbio_async.testing import _views as v
from flowbio_async.testing._paging import (
    Query,
    add_created_filters,
    comma_list,
    like,
    paged,
    sort_order,
)
from flowbio_async.testing._security import (
    ApiError,
    bad_request,
    current_user,
    not_authorized,
    not_found,
    read_bool,
    read_int,
    require_user,
    settings_of,
    store_of,
)
from flowbio_async.testing._store import Row

CONTENTS_CHUNK = 10_240  # docs/protocol.md §4.6: fixed 10,240-byte chunks


# -- identity ---------------------------------------------------------------------------------
async def me(request: Request) -> JSONResponse:
    """``/me``: the user; 401 without a valid token (users.md, #15 item 2), or all-null
    fields with the ``anonymous_downgrade`` setting (older Flow, docs/protocol.md §4.1)."""
    user = current_user(request)
    if user is None:
        if not settings_of(request).anonymous_downgrade:
            raise not_authorized()
        keys = ("id", "username", "name", "email", "image", "is_admin", "can_run_pipelines")
        return JSONResponse({**dict.fromkeys(keys), "memberships": [], "features": {}})
    first, _, last = str(user["name"]).partition(" ")
    return JSONResponse(
        {
            "id": str(user["id"]),
            "username": user["username"],
            "name": user["name"],
            "first_name": first,
            "last_name": last,
            "email": user["email"],
            "image": user["image"],
            "is_admin": bool(user["is_admin"]),
            "can_run_pipelines": bool(user["can_run_pipelines"]),
            "can_impersonate": False,
            "has_ssh_key": False,
            "impersonator": None,
            "features": {},
            "groups": [],
            "memberships": [],
            "notifications": {"count": 0, "unread_count": 0, "notifications": []},
        }
    )


async def users_search(request: Request) -> JSONResponse:
    """``/users/search``: no ids in the items; ``image`` a URL or ``""`` (users.md)."""
    current_user(request, search=True)
    query = Query("SELECT * FROM users", order="username")
    name = request.query_params.get("name")
    if name:
        query.add(
            "(name LIKE ? ESCAPE '\\' OR username LIKE ? ESCAPE '\\')", like(name), like(name)
        )

    def render(rows: Sequence[Row]) -> list[dict[str, Any]]:
        return [
            {"username": r["username"], "name": r["name"], "image": r["image"] or "", "groups": []}
            for r in rows
        ]

    return paged(request, query, "users", render)


# -- discovery lists (bare arrays, docs/protocol.md §4.2)
# --------------------------------------------- Counts cover only samples the caller may see,
# ``(private = 0 OR owner = ?)``: a count of private samples would tell strangers they exist (#2;
# the contract does not say).


def _viewer(user: Row | None) -> int:
    return -1 if user is None else int(user["id"])


def _sample_type(store: Any, row: Row, viewer: int) -> dict[str, Any]:
    # Attributes with options AND a value on a sample of this type (samples.md: "a dynamic
    # intersection, not a static schema declaration"), over the samples the caller sees.
    attributes = store.rows(
        "SELECT a.identifier FROM metadata_attributes a WHERE a.has_options = 1 AND EXISTS "
        "(SELECT 1 FROM sample_metadata m JOIN samples s ON s.id = m.sample "
        "WHERE m.attribute = a.identifier AND s.sample_type = ? "
        "AND (s.private = 0 OR s.owner = ?)) ORDER BY a.ordering",
        (row["identifier"], viewer),
    )
    return {
        "identifier": row["identifier"],
        "name": row["name"],
        "description": row["description"],
        "sample_count": store.scalar(
            "SELECT COUNT(*) FROM samples WHERE sample_type = ? AND (private = 0 OR owner = ?)",
            (row["identifier"], viewer),
        ),
        "attributes": [a["identifier"] for a in attributes],
    }


async def sample_types(request: Request) -> JSONResponse:
    """``/samples/types`` ordered by name."""
    viewer = _viewer(current_user(request))
    store = store_of(request)
    rows = store.rows("SELECT * FROM sample_types ORDER BY name COLLATE NOCASE")
    return JSONResponse([_sample_type(store, row, viewer) for row in rows])


async def sample_type(request: Request) -> JSONResponse:
    """``/samples/types/<identifier>``; 404 when unknown."""
    viewer = _viewer(current_user(request))
    store = store_of(request)
    row = store.row(
        "SELECT * FROM sample_types WHERE identifier = ?", (request.path_params["identifier"],)
    )
    if row is None:
        raise not_found()
    return JSONResponse(_sample_type(store, row, viewer))


async def metadata_attributes(request: Request) -> JSONResponse:
    """``/samples/metadata`` with sample-type links (docs/protocol.md §4.2)."""
    viewer = _viewer(current_user(request))
    store = store_of(request)
    links = store.rows(
        "SELECT l.*, st.name AS sample_type_name FROM metadata_links l "
        "JOIN sample_types st ON st.identifier = l.sample_type"
    )
    items = []
    for row in store.rows("SELECT * FROM metadata_attributes ORDER BY ordering"):
        items.append(
            {
                "identifier": row["identifier"],
                "name": row["name"],
                "description": row["description"],
                "required": bool(row["required"]),
                "required_for_public": bool(row["required"]),
                "all_sample_types": bool(row["all_sample_types"]),
                "allow_user_terms": bool(row["allow_user_terms"]),
                "regex_validator": row["regex_validator"],
                "has_options": bool(row["has_options"]),
                "allow_annotation": False,
                "in_table": bool(row["in_table"]),
                "is_list": bool(row["is_list"]),
                "url_pattern": row["url_pattern"],
                "order": row["ordering"],
                "sample_count": store.scalar(
                    "SELECT COUNT(*) FROM sample_metadata m JOIN samples s ON s.id = m.sample "
                    "WHERE m.attribute = ? AND (s.private = 0 OR s.owner = ?)",
                    (row["identifier"], viewer),
                ),
                "sample_type_links": [
                    {
                        "sample_type_identifier": link["sample_type"],
                        "sample_type_name": link["sample_type_name"],
                        "required": bool(link["required"]),
                        "required_for_public": bool(link["required"]),
                    }
                    for link in links
                    if link["attribute"] == row["identifier"]
                ],
            }
        )
    return JSONResponse(items)


async def metadata_options(request: Request) -> JSONResponse:
    """``/samples/metadata/<identifier>/options``: first 100 by value (docs/protocol.md §4.2)."""
    current_user(request)
    store = store_of(request)
    identifier = request.path_params["identifier"]
    attribute = store.row("SELECT * FROM metadata_attributes WHERE identifier = ?", (identifier,))
    if attribute is None:
        raise not_found()
    query = Query("SELECT * FROM metadata_options", order="value")
    query.add("attribute = ?", identifier)
    total = len(query.rows(request))
    if "validated" in request.query_params:
        query.add("validated = ?", int(request.query_params["validated"] == "true"))
    value = request.query_params.get("value")
    if value:
        query.add("value LIKE ? ESCAPE '\\'", like(value))
    rows = query.rows(request)[:100]
    options = [
        {"id": str(r["id"]), "value": r["value"], "validated": bool(r["validated"])} for r in rows
    ]
    return JSONResponse({"count": len(options), "total_count": total, "options": options})


async def organisms(request: Request) -> JSONResponse:
    """``/organisms``."""
    current_user(request)
    rows = store_of(request).rows("SELECT * FROM organisms ORDER BY name")
    return JSONResponse([{**row, "latest_fileset": None} for row in rows])


async def organism(request: Request) -> JSONResponse:
    """``/organisms/<id>``; 404 when unknown."""
    current_user(request)
    row = store_of(request).row(
        "SELECT * FROM organisms WHERE id = ?", (request.path_params["organism_id"],)
    )
    if row is None:
        raise not_found()
    return JSONResponse({**row, "filesets": []})


async def data_types(request: Request) -> JSONResponse:
    """``/data/types`` with ``data_count``."""
    current_user(request)
    rows = store_of(request).rows(
        "SELECT t.*, (SELECT COUNT(*) FROM data d WHERE d.data_type = t.identifier) "
        "AS data_count FROM data_types t ORDER BY t.name COLLATE NOCASE"
    )
    return JSONResponse(rows)


# -- projects ---------------------------------------------------------------------------------
def _render_projects(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [v.project_item(row) for row in rows]


async def projects_owned(request: Request) -> JSONResponse:
    """``/projects/owned`` (auth required)."""
    user = require_user(request)
    query = Query(v.PROJECT_SELECT, order="p.created DESC, p.id DESC")
    query.add("p.owner = ?", user["id"])
    return paged(request, query, "projects", _render_projects)


async def projects_search(request: Request) -> JSONResponse:
    """``/projects/search`` (projects.md); unknown params (``owned``...) are ignored."""
    user = current_user(request, search=True)
    query = Query(v.PROJECT_SELECT)
    query.add(v.PROJECT_VISIBLE, v.uid(user))
    params = request.query_params
    for name in ("name", "description"):
        if params.get(name):
            query.add(f"p.{name} LIKE ? ESCAPE '\\'", like(params[name]))
    _owner_filter(request, query)
    if params.get("pipeline"):
        # "projects that have a sample-level or project-level execution" of the pipeline pk
        query.add(
            "p.id IN (SELECT x.project FROM executions x WHERE x.pipeline_id = ? UNION "
            "SELECT y.project FROM executions x JOIN samples y ON y.id = x.sample "
            "WHERE x.pipeline_id = ?)",
            params["pipeline"],
            params["pipeline"],
        )
    add_created_filters(request, query, "p.created")
    types = comma_list(params.get("sample_types"))
    if types:
        marks = ",".join("?" for _ in types)
        clause = f"p.id IN (SELECT project FROM samples WHERE sample_type IN ({marks}))"  # noqa: S608
        query.add(clause, *types)
    query.order = sort_order(request, "-created", ("-created", "created", "name", "-name"), "p")
    return paged(request, query, "projects", _render_projects)


def _owner_filter(request: Request, query: Query) -> None:
    """``owner``: a substring of the owner's name or username (the notes' searches)."""
    owner = request.query_params.get("owner")
    if owner:
        query.add(
            "(u.username LIKE ? ESCAPE '\\' OR u.name LIKE ? ESCAPE '\\')", like(owner), like(owner)
        )


def visible_row(
    request: Request, user: Row | None, select: str, visible: str, alias: str, param: str
) -> Row:
    """The row whose id is the path parameter ``param``, or 404 when unknown or invisible."""
    query = Query(select)
    query.add(f"{alias}.id = ?", request.path_params[param])
    query.add(visible, v.uid(user))
    rows = query.rows(request)
    if not rows:
        raise not_found()
    return rows[0]


def visible_project(request: Request, user: Row | None) -> Row:
    """The project named in the path, or 404."""
    return visible_row(request, user, v.PROJECT_SELECT, v.PROJECT_VISIBLE, "p", "project_id")


async def project_detail(request: Request) -> JSONResponse:
    """``/projects/<id>``."""
    user = current_user(request)
    return JSONResponse(v.project_detail(visible_project(request, user), user))


async def project_samples(request: Request) -> JSONResponse:
    """``/projects/<id>/samples`` with ``filter`` (free text)."""
    user = current_user(request)
    project = visible_project(request, user)["id"]
    order = "s.created DESC, s.id DESC"
    query = _children(user, v.SAMPLE_SELECT, order, "s.project", project, v.SAMPLE_VISIBLE)
    _free_text(request, query, "s.name")
    store = store_of(request)
    viewer = v.uid(user)
    return paged(
        request,
        query,
        "samples",
        lambda rows: v.sample_items(store, rows, project_name=False, viewer=viewer),
    )


async def project_executions(request: Request) -> JSONResponse:
    """``/projects/<id>/executions`` with ``filter``."""
    user = current_user(request)
    return _executions_of(request, user, "e.project", visible_project(request, user)["id"])


def _executions_of(
    request: Request, user: Row | None, column: str, parent: int, *, iso_dates: bool = False
) -> JSONResponse:
    """Executions whose ``column`` is ``parent``, newest first, with ``filter``."""
    order = "e.created DESC, e.id DESC"
    query = _children(user, v.EXECUTION_SELECT, order, column, parent, v.EXECUTION_VISIBLE)
    text = request.query_params.get("filter")
    if text:
        # The filter scope of samples.md `GET /samples/<id>/executions`, and its "status
        # shortcut footgun": a short filter inside a status word matches that status too.
        columns = ("e.identifier", "e.pipeline_name", "e.pipeline_version", "s.name", "o.name")
        clauses = [f"{c} LIKE ? ESCAPE '\\'" for c in (*columns, "u.name")]
        params: list[Any] = [like(text)] * len(clauses)
        for word, status in (("completed", "OK"), ("error", "ERROR"), ("canceled", "CANCELED")):
            if text.lower() in word:
                clauses.append("e.status = ?")
                params.append(status)
        query.add(f"({' OR '.join(clauses)})", *params)
    viewer = v.uid(user)
    return paged(
        request,
        query,
        "executions",
        lambda rows: [v.execution_item(r, viewer, iso_dates=iso_dates) for r in rows],
    )


def _children(
    user: Row | None, select: str, order: str, column: str, parent: Any, visible: str
) -> Query:
    """Rows whose ``column`` is ``parent`` that the caller may see."""
    query = Query(select, order=order)
    query.add(f"{column} = ?", parent)
    query.add(visible, v.uid(user))
    return query


def _free_text(request: Request, query: Query, *columns: str) -> None:
    text = request.query_params.get("filter")
    if text:
        ors = " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns)
        query.add(f"({ors})", *[like(text)] * len(columns))


# -- samples ----------------------------------------------------------------------------------
#: ``/samples/search`` params (samples.md); a metadata identifier spelled like one of these
#: is read as the param, not as a metadata filter.
_SAMPLE_PARAMS = {
    "page",
    "count",
    "limit",
    "offset",
    "sort",
    "owned",
    "name",
    "organism",
    "sample_types",
    "owner",
    "project",
    "created_gt",
    "created_lt",
    "full_metadata",
}
_TRUTHY = {"true", "yes", "1"}
_FALSY = {"false", "no", "0"}
_HAS_VALUE = "s.id IN (SELECT sample FROM sample_metadata WHERE attribute = ? AND value != '')"


def _sample_query(request: Request, user: Row | None) -> Query:
    """``/samples/search`` filters; there is no free-text ``filter`` (samples.md, #15 item 4)."""
    params = request.query_params
    store = store_of(request)
    query = Query(v.SAMPLE_SELECT)
    query.add(v.SAMPLE_VISIBLE, v.uid(user))
    if params.get("name"):
        query.add("s.name LIKE ? ESCAPE '\\'", like(params["name"]))
    if "owned" in params and read_bool(params["owned"]):
        query.add("s.owner = ?", v.uid(user))
    organism = params.get("organism")
    if organism:
        # An organism id, or truthy/falsy for has-any/has-none; a name is a silent no-op
        # (organisms.md, #15 item 11).
        if organism.lower() in _TRUTHY:
            query.add("s.organism IS NOT NULL")
        elif organism.lower() in _FALSY:
            query.add("s.organism IS NULL")
        elif store.row("SELECT 1 FROM organisms WHERE id = ?", (organism,)):
            query.add("s.organism = ?", organism)
    types = comma_list(params.get("sample_types"))
    if types:
        query.add(f"s.sample_type IN ({','.join('?' for _ in types)})", *types)
    _owner_filter(request, query)
    if params.get("project"):
        query.add("p.name LIKE ? ESCAPE '\\'", like(params["project"]))
    add_created_filters(request, query, "s.created")
    # Any metadata identifier is a substring filter; truthy/falsy test for a value (samples.md).
    attributes = {r["identifier"] for r in store.rows("SELECT identifier FROM metadata_attributes")}
    for name, value in params.items():
        if name not in attributes or name in _SAMPLE_PARAMS:
            continue
        if value.lower() in _TRUTHY:
            query.add(_HAS_VALUE, name)
        elif value.lower() in _FALSY:
            query.add(f"NOT {_HAS_VALUE}", name)
        else:
            query.add(
                "s.id IN (SELECT sample FROM sample_metadata WHERE attribute = ? "
                "AND value LIKE ? ESCAPE '\\')",
                name,
                like(value),
            )
    query.order = sort_order(request, "-created", ("-created", "created", "name", "-name"), "s")
    return query


async def samples_search(request: Request) -> JSONResponse:
    """``/samples/search`` (samples.md); unknown params are ignored."""
    user = current_user(request, search=True)
    full = read_bool(request.query_params.get("full_metadata"))
    store = store_of(request)
    viewer = v.uid(user)
    return paged(
        request,
        _sample_query(request, user),
        "samples",
        lambda rows: v.sample_items(store, rows, full=full, viewer=viewer),
    )


async def samples_owned(request: Request) -> JSONResponse:
    """``/samples/owned`` (docs site, deprecated; seed 003): the caller's samples."""
    user = require_user(request)
    query = _sample_query(request, user)
    query.add("s.owner = ?", user["id"])
    store = store_of(request)
    viewer = v.uid(user)
    return paged(request, query, "samples", lambda rows: v.sample_items(store, rows, viewer=viewer))


def visible_sample(request: Request, user: Row | None) -> Row:
    """The sample named in the path, or 404."""
    return visible_row(request, user, v.SAMPLE_SELECT, v.SAMPLE_VISIBLE, "s", "sample_id")


async def sample_detail(request: Request) -> JSONResponse:
    """``/samples/<id>``."""
    user = current_user(request)
    return JSONResponse(v.sample_detail(store_of(request), visible_sample(request, user), user))


def sub_resource_sample(request: Request, user: Row | None) -> Row:
    """The sample of ``/samples/<id>/data`` and ``/executions``: anonymous callers need the
    sample itself public, so a private sample in a public project is a 404 here (samples.md
    "Visibility rules across the family — they disagree", #15 item 8)."""
    if user is None:
        return visible_row(
            request, user, v.SAMPLE_SELECT, "(s.private = 0 AND ? = -1)", "s", "sample_id"
        )
    return visible_sample(request, user)


async def sample_data(request: Request) -> JSONResponse:
    """``/samples/<id>/data``: raw inputs plus pipeline outputs, newest first (samples.md)."""
    user = current_user(request)
    sample = sub_resource_sample(request, user)["id"]
    order = "d.created DESC, d.id DESC"  # "Sort: fixed at -created" (#15 item 13)
    query = _children(user, v.DATA_SELECT, order, "d.sample", sample, v.DATA_VISIBLE)
    columns = ("d.filename", "d.process_name", "e.pipeline_name", "s.name", "u.name")
    _free_text(request, query, *columns)
    viewer = v.uid(user)
    return paged(
        request, query, "data", lambda rows: [v.data_item(r, viewer, iso_dates=True) for r in rows]
    )


async def sample_executions(request: Request) -> JSONResponse:
    """``/samples/<id>/executions``: dates as ISO-8601 here (samples.md)."""
    user = current_user(request)
    sample = sub_resource_sample(request, user)["id"]
    return _executions_of(request, user, "e.sample", sample, iso_dates=True)


# -- data -------------------------------------------------------------------------------------
def visible_data(request: Request, user: Row | None) -> Row:
    """The data row named in the path (ready and visible), or 404."""
    return visible_row(request, user, v.DATA_SELECT, v.DATA_VISIBLE, "d", "data_id")


def _head(request: Request, row: Row, size: int = 8192) -> bytes:
    path = store_of(request).blob_path(row["id"])
    if not path.is_file():
        return b""
    with path.open("rb") as handle:
        return handle.read(size)


def is_binary(head: bytes) -> bool:
    """Whether content looks binary: NUL bytes or invalid UTF-8 in its first bytes."""
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4  # a multi-byte char cut at the end is fine
    return False


async def data_detail(request: Request) -> JSONResponse:
    """``/data/<id>`` with ``md5`` and ``download_url`` (docs/protocol.md §4.6, §8 row 19)."""
    user = current_user(request)
    row = visible_data(request, user)
    paired = None
    if row["fileset_size"] == 2:  # "only when the fileset has exactly two" (data.md)
        paired = store_of(request).row(
            "SELECT id, filename FROM data WHERE sample = ? AND execution IS NULL AND ready = 1 "
            "AND id != ?",
            (row["sample"], row["id"]),
        )
    binary = is_binary(_head(request, row))
    return JSONResponse(v.data_detail(request, row, user, binary, paired))


async def data_contents(request: Request) -> JSONResponse:
    """``/data/<id>/contents?position=N``: the N-th 10,240-byte chunk as text."""
    user = current_user(request)
    row = visible_data(request, user)
    if row["is_directory"]:
        raise bad_request("Data is directory")
    if is_binary(_head(request, row)):
        raise bad_request("Data is binary")
    position = max(0, read_int(request, "position", 0))
    path = store_of(request).blob_path(row["id"])
    with path.open("rb") as handle:
        handle.seek(position * CONTENTS_CHUNK)
        chunk = handle.read(CONTENTS_CHUNK)
    has_more = (position + 1) * CONTENTS_CHUNK < int(row["size"])
    return JSONResponse({"contents": chunk.decode("utf-8", "replace"), "has_more": has_more})


#: The fileset size of a data row ``d`` (its sample's ready raw inputs; 0 without one).
_FILESET_SIZE = (
    "(CASE WHEN d.execution IS NULL AND d.sample IS NOT NULL THEN (SELECT COUNT(*) FROM data f "
    "WHERE f.sample = d.sample AND f.execution IS NULL AND f.ready = 1) ELSE 0 END)"
)


async def data_search(request: Request) -> JSONResponse:
    """``/data/search`` (data.md); no free-text ``filter`` (#15 item 4)."""
    user = current_user(request, search=True)
    params = request.query_params
    query = Query(v.DATA_SELECT)
    query.add(v.DATA_VISIBLE, v.uid(user))
    if params.get("filename"):
        query.add("d.filename LIKE ? ESCAPE '\\'", like(params["filename"]))
    pattern = params.get("pattern")
    if pattern:
        try:
            re.compile(pattern)
        except re.error:
            raise bad_request("Invalid pattern") from None
        query.add("d.filename REGEXP ?", pattern)
    if "owned" in params and read_bool(params["owned"]):
        query.add("d.owner = ?", v.uid(user))
    if read_bool(params.get("uploaded")):
        query.add("d.execution IS NULL")  # not produced by a pipeline
    if params.get("category"):
        query.add("d.category = ?", read_int(request, "category", 0))
    types = comma_list(params.get("data_types"))
    if types:
        query.add(f"d.data_type IN ({','.join('?' for _ in types)})", *types)
    if params.get("size_gt"):
        query.add("d.size >= ?", read_int(request, "size_gt", 0))  # inclusive (data.md)
    if params.get("size_lt"):
        query.add("d.size <= ?", read_int(request, "size_lt", 0))
    _owner_filter(request, query)
    if params.get("process_execution"):
        query.add("d.process_name LIKE ? ESCAPE '\\'", like(params["process_execution"]))
    if params.get("pipeline"):
        query.add("e.pipeline_id = ?", params["pipeline"])  # "Exact pipeline ID" (#15 item 5)
    single = params.get("is_single", "").lower()
    if single in _TRUTHY:
        query.add(f"{_FILESET_SIZE} <= 1")
    elif single in _FALSY:
        # the first of each multi-file fileset; its items gain `paired_filename` (data.md)
        query.add(f"{_FILESET_SIZE} >= 2")
        query.add(
            "d.id = (SELECT MIN(f.id) FROM data f WHERE f.sample = d.sample "
            "AND f.execution IS NULL AND f.ready = 1)"
        )
    add_created_filters(request, query, "d.created")
    query.order = sort_order(
        request, "-created", ("-created", "created", "filename", "-filename"), "d"
    )
    viewer = v.uid(user)
    store = store_of(request)

    def render(rows: Sequence[Row]) -> list[dict[str, Any]]:
        found = [v.data_item(row, viewer) for row in rows]
        if single in _FALSY:
            for item, row in zip(found, rows, strict=True):
                item["paired_filename"] = store.scalar(
                    "SELECT filename FROM data WHERE sample = ? AND execution IS NULL "
                    "AND ready = 1 AND id != ? ORDER BY id LIMIT 1",
                    (row["sample"], row["id"]),
                )
        return found

    return paged(request, query, "data", render)


# -- executions -------------------------------------------------------------------------------
def _render_executions(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [v.execution_item(row) for row in rows]


def _seconds(request: Request, name: str) -> float:
    try:
        return float(request.query_params[name])
    except ValueError:
        raise ApiError(500, {"error": "Server error"}) from None  # unparsed, as Flow's


def _inputs(store: Any, sample: int | None) -> list[dict[str, Any]]:
    """``return_inputs``: the run's input files ``{id, filename, filetype}`` (its sample's
    raw reads; executions.md)."""
    rows = store.rows(
        "SELECT id, filename FROM data WHERE sample = ? AND execution IS NULL AND ready = 1 "
        "ORDER BY id",
        (sample,),
    )
    return [
        {"id": v.sid(r["id"]), "filename": r["filename"], "filetype": v.filetype(r["filename"])}
        for r in rows
    ]


#: ``/executions/search`` params matched exactly, and their columns (executions.md).
_EXACT_EXECUTION_PARAMS = {
    "pipeline": "e.pipeline_id",
    "pipeline_version": "e.pipeline_version_id",
    "organism": "s.organism",
    "status": "e.status",  # exact: `ok` is not `OK` (#15 item 16)
    "nextflow_version": "e.nextflow_version",
}


async def executions_search(request: Request) -> JSONResponse:
    """``/executions/search`` (executions.md query params; #15 items 5, 7)."""
    user = current_user(request, search=True)
    params = request.query_params
    query = Query(v.EXECUTION_SELECT)
    query.add(v.EXECUTION_VISIBLE, v.uid(user))
    if params.get("name"):
        # pipeline name, pipeline version name, organism name, fileset name (the sample's)
        columns = ("e.pipeline_name", "e.pipeline_version", "o.name", "s.name")
        ors = " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns)
        query.add(f"({ors})", *[like(params["name"])] * len(columns))
    for name, column in _EXACT_EXECUTION_PARAMS.items():
        if params.get(name):
            query.add(f"{column} = ?", params[name])
    versions = comma_list(params.get("pipeline_versions"))
    if versions:
        query.add(f"e.pipeline_version_id IN ({','.join('?' for _ in versions)})", *versions)
    if "owned" in params and read_bool(params["owned"]):
        query.add("e.owner = ?", v.uid(user))
    _owner_filter(request, query)
    for name, op in (("duration_gt", ">="), ("duration_lt", "<=")):
        if params.get(name):
            query.add(
                "e.started IS NOT NULL AND e.finished IS NOT NULL "
                f"AND e.finished - e.started {op} ?",
                _seconds(request, name),
            )
    if params.get("process_execution"):
        query.add(
            "e.id IN (SELECT execution FROM data WHERE process_name LIKE ? ESCAPE '\\')",
            like(params["process_execution"]),
        )
    if params.get("terminal"):
        query.add(
            "(e.stdout LIKE ? ESCAPE '\\' OR e.stderr LIKE ? ESCAPE '\\')",
            like(params["terminal"]),
            like(params["terminal"]),
        )
    add_created_filters(request, query, "e.created")
    query.order = sort_order(request, "-created", ("-created", "created"), "e")
    store = store_of(request)
    return_data = read_bool(params.get("return_data"))
    return_inputs = read_bool(params.get("return_inputs"))
    viewer = v.uid(user)

    def render(rows: Sequence[Row]) -> list[dict[str, Any]]:
        items = [v.execution_item(row, viewer) for row in rows]
        for item, row in zip(items, rows, strict=True):
            if return_data:
                item["downstream_data"] = [
                    v.output_item(o) for o in store.execution_outputs(item["id"])
                ]
            if return_inputs:
                item["inputs"] = _inputs(store, row["sample"])
        return items

    return paged(request, query, "executions", render)


# -- global search (docs site only, docs/protocol.md §4.8)
# --------------------------------------------
async def global_search(request: Request) -> JSONResponse:
    """``/search?q=``: up to 10 matches per kind."""
    started = time.perf_counter()
    user = current_user(request)
    text = request.query_params.get("q", "").strip()
    store = store_of(request)
    results: dict[str, list[dict[str, Any]]] = {}
    total = 0
    kinds = (
        (
            "projects",
            v.PROJECT_SELECT,
            v.PROJECT_VISIBLE,
            ("p.name", "p.description"),
            _render_projects,
        ),
        (
            "samples",
            v.SAMPLE_SELECT,
            v.SAMPLE_VISIBLE,
            ("s.name",),
            lambda rows: v.sample_items(store, rows, viewer=v.uid(user)),
        ),
        (
            "executions",
            v.EXECUTION_SELECT,
            v.EXECUTION_VISIBLE,
            ("e.identifier", "e.pipeline_name"),
            _render_executions,
        ),
        (
            "data",
            v.DATA_SELECT,
            v.DATA_VISIBLE,
            ("d.filename",),
            lambda rows: [v.data_item(row, v.uid(user)) for row in rows],
        ),
    )
    for key, select, visible, columns, render in kinds:
        if not text:
            results[key] = []
            continue
        query = Query(select, order=f"{columns[0]}")
        query.add(visible, v.uid(user))
        ors = " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns)
        query.add(f"({ors})", *[like(text)] * len(columns))
        rows = query.rows(request)
        total += len(rows)
        results[key] = render(rows[:10])
    return JSONResponse(
        {
            "results": results,
            "total_count": total,
            "query": text,
            "search_time_ms": round((time.perf_counter() - started) * 1000, 3),
        }
    )


routes: list[BaseRoute] = [
    Route("/me", me, name="me"),
    Route("/users/search", users_search, name="users_search"),
    Route("/samples/types", sample_types, name="sample_types"),
    Route("/samples/types/{identifier}", sample_type, name="sample_type"),
    Route("/samples/metadata", metadata_attributes, name="metadata_attributes"),
    Route("/samples/metadata/{identifier}/options", metadata_options, name="metadata_options"),
    Route("/organisms", organisms, name="organisms"),
    Route("/organisms/{organism_id}", organism, name="organism"),
    Route("/data/types", data_types, name="data_types"),
    Route("/projects/owned", projects_owned, name="projects_owned"),
    Route("/projects/search", projects_search, name="projects_search"),
    Route("/projects/{project_id}", project_detail, name="project"),
    Route("/projects/{project_id}/samples", project_samples, name="project_samples"),
    Route("/projects/{project_id}/executions", project_executions, name="project_executions"),
    Route("/samples/search", samples_search, name="samples_search"),
    Route("/samples/owned", samples_owned, name="samples_owned"),
    Route("/samples/{sample_id}", sample_detail, name="sample"),
    Route("/samples/{sample_id}/data", sample_data, name="sample_data"),
    Route("/samples/{sample_id}/executions", sample_executions, name="sample_executions"),
    Route("/data/search", data_search, name="data_search"),
    Route("/data/{data_id}", data_detail, name="data"),
    Route("/data/{data_id}/contents", data_contents, name="data_contents"),
    Route("/executions/search", executions_search, name="executions_search"),
    Route("/search", global_search, name="search"),
]
