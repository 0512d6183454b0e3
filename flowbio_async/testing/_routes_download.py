"""Single-file downloads: ``/downloads/<data_id>/<filename>`` and execution result files.

docs/protocol.md §5.1 and the notes (downloads.md; data.md ``GET /data/<id>``): a download is
admitted by the ``/data/<id>`` rule (``_views.data_readable``): data that is public, the
caller's own, or whose sample, project or producing run is public. Callers authenticate
with ``Authorization: Bearer``, ``?token=<jwt>`` or the ``flow_refresh_token`` cookie.
Every miss (unknown id, filename mismatch, not ready, not readable, bad token) is a **bare
404 with no body**. ``?direct=<truthy>`` serves inline, otherwise as an attachment.
For an HTML report, a path that is not its filename names an asset next to it among the
outputs of the same execution (``/downloads/<id>/multiqc_report_data/multiqc.log``).

Bytes go out through Starlette's ``FileResponse``: a whole-file answer uses granian's ASGI
pathsend extension (the server then streams the file itself, design note transfers.md), and a
single ``Range`` gets a 206 with ``Content-Range`` (416 when unsatisfiable), which is what
resumable and segmented downloads need (docs/protocol.md §8 row 22).
"""

from __future__ import annotations

import stat
from pathlib import Path, PurePosixPath

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from flowbio_async.testing import _views as v
from flowbio_async.testing._security import ApiError, current_user, read_bool, store_of
from flowbio_async.testing._store import Row, Store

#: FileResponse reads ranged answers from disk in chunks of this size (its default, 64 KiB,
#: makes the server the bottleneck of segmented downloads).
RANGE_CHUNK = 1024 * 1024
#: Data served with its relative assets (docs/protocol.md §5.1 "HTML reports").
HTML_SUFFIXES = (".html", ".htm")


def bare_not_found() -> ApiError:
    """The body-less 404 of the download routes (docs/protocol.md §5.1, §6.2 shape 7)."""
    return ApiError(404, None)


def viewer_id(request: Request) -> int | None:
    """Who is asking: the user id from any accepted credential, or None (anonymous).

    A bad token is not an error here: downloads answer a bare 404 for anything they cannot
    serve, so an unusable credential simply counts as anonymous.
    """
    try:
        user = current_user(request, downloads=True)
    except ApiError:
        return None
    return None if user is None else int(user["id"])


def readable(store: Store, row: Row | None, user_id: int | None) -> bool:
    """Whether ``user_id`` may download the data ``row``: the ``/data/<id>`` rule (data.md)."""
    if row is None:
        return False
    return v.data_readable(store, row["id"], -1 if user_id is None else user_id)


def file_response(request: Request, path: Path, filename: str) -> Response:
    """Serve ``path`` (ranges, pathsend) with ``Content-Disposition`` per ``?direct``."""
    try:
        status = path.stat()
    except OSError:
        raise bare_not_found() from None
    if not stat.S_ISREG(status.st_mode):
        raise bare_not_found()
    inline = read_bool(request.query_params.get("direct"))
    # The stat we just made goes along: FileResponse would otherwise stat again in a worker
    # thread, a thread hop per download (many small files, #4).
    response = FileResponse(
        path,
        filename=filename,
        media_type="application/octet-stream",
        content_disposition_type="inline" if inline else "attachment",
        stat_result=status,
    )
    response.chunk_size = RANGE_CHUNK
    return response


async def download_data(request: Request) -> Response:
    """``GET /downloads/<data_id>/<filename>`` (docs/protocol.md §5.1), or an HTML report's
    asset."""
    store = store_of(request)
    user_id = viewer_id(request)
    row = store.get_data(request.path_params["data_id"])
    if row is None or row["is_directory"] or not readable(store, row, user_id):
        raise bare_not_found()
    requested = str(request.path_params["filename"])
    if row["filename"] == requested:
        return file_response(request, store.blob_path(row["id"]), row["filename"])
    asset = html_asset(store, row, requested, user_id)
    if asset is None:
        raise bare_not_found()
    return file_response(request, store.blob_path(asset["id"]), asset["filename"])


def _result_path(row: Row) -> str:
    return str(row["path"] or row["filename"]).strip("/")


def _asset_relative(requested: str) -> PurePosixPath | None:
    """``requested`` as a plain relative path, or None if it is empty or could escape.

    The path arrives percent-decoded, so ``%2e%2e`` is already ``..`` here and is refused
    like a literal one; backslashes and NUL bytes are refused too.
    """
    parts = requested.split("/")
    if "\\" in requested or "\x00" in requested:
        return None
    if any(part in {"", ".", ".."} for part in parts):
        return None
    return PurePosixPath(*parts)


def html_asset(store: Store, html: Row, requested: str, user_id: int | None) -> Row | None:
    """The execution output at ``requested`` relative to the HTML report ``html``'s folder.

    docs/protocol.md §5.1: for an HTML report a non-matching filename is resolved as a relative
    asset of the HTML file (a MultiQC report's ``multiqc_report_data/...``). Only outputs of
    the report's own execution are candidates, and each must be readable by the caller by
    the same rule as the report (downloads.md: a report's assets are downloads too).
    """
    if not str(html["filename"]).lower().endswith(HTML_SUFFIXES) or html["execution"] is None:
        return None
    relative = _asset_relative(requested)
    if relative is None:
        return None
    wanted = (PurePosixPath(_result_path(html)).parent / relative).as_posix()
    for row in store.execution_outputs(html["execution"]):
        wanted_file = _result_path(row) == wanted and not row["is_directory"]
        if wanted_file and readable(store, row, user_id):
            return row
    return None


async def execution_file(request: Request) -> Response:
    """``GET /executions/<id>/<relative path>``: one result file of an execution
    (docs/protocol.md §5.2)."""
    store = store_of(request)
    user_id = viewer_id(request)
    # A result file is a download like any other: the data rule alone decides (it already
    # counts the run among the file's parents), so both routes agree on every file.
    execution = store.get_execution(request.path_params["execution_id"])
    if execution is None:
        raise bare_not_found()
    wanted = str(request.path_params["path"]).strip("/")
    for row in store.execution_outputs(execution["id"]):
        if _result_path(row) == wanted and readable(store, row, user_id):
            return file_response(request, store.blob_path(row["id"]), row["filename"])
    raise bare_not_found()


routes: list[BaseRoute] = [
    # `:int` keeps bulk job ids (UUIDs, `_routes_bulk`) from landing here; `:path` lets an
    # HTML report's assets carry folders (`/downloads/<id>/multiqc_report_data/x.log`).
    Route(
        "/downloads/{data_id:int}/{filename:path}",
        download_data,
        methods=["GET", "HEAD"],
        name="download",
    ),
    Route(
        "/executions/{execution_id:int}/{path:path}",
        execution_file,
        methods=["GET", "HEAD"],
        name="execution_file",
    ),
]
