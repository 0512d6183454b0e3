"""Bulk download jobs (docs/protocol.md §5.3, §8 rows 23-25): create, poll, fetch the zip archive.

``POST /downloads`` (``{"data_ids"|"data": [...], "name"?, "by_execution"?}``),
``POST /downloads/executions`` (``{"execution_ids": [...]}``) and ``POST /downloads/samples``
(``{"sample_ids": [...]}``) create a job; a worker thread builds the archive while the job
goes ``pending`` → ``processing`` (``progress`` in percent) → ``completed``, or ``failed``
with ``error`` when a file cannot be read. ``GET /downloads/<job_id>/status`` returns every
field of docs/protocol.md §8 row 24; ``GET /downloads/<job_id>`` serves the zip (ranges supported).
A completed job expires ``bulk_job_lifetime`` seconds after it finished (24 h by default, seed
002); its archive then answers 410 ``EXPIRED``.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flowbio_async.testing._routes_download import bare_not_found, file_response, readable
from flowbio_async.testing._security import (
    ApiError,
    bad_request,
    error,
    require_user,
    settings_of,
    store_of,
)
from flowbio_async.testing._store import Row, Store

_COPY_BLOCK = 1024 * 1024


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("Body must be JSON") from None
    if not isinstance(body, dict):
        raise bad_request("Body must be a JSON object")
    return body


def _ids(body: dict[str, Any], *keys: str) -> list[int]:
    for key in keys:
        if key in body:
            values = body[key]
            if not isinstance(values, list) or not values:
                raise bad_request(f"{key} must be a non-empty list")
            try:
                return [int(value) for value in values]
            except (TypeError, ValueError):
                raise bad_request(f"{key} must hold ids") from None
    raise bad_request(f"Missing {' or '.join(keys)}")


def _visible_data(store: Store, ids: list[int], user_id: int) -> list[Row]:
    rows: list[Row] = []
    missing: list[str] = []
    for data_id in ids:
        row = store.get_data(data_id)
        if row is None or row["is_directory"] or not readable(store, row, user_id):
            missing.append(str(data_id))
        else:
            rows.append(row)
    if missing:
        raise error(404, f"Data not found: {', '.join(missing)}")
    return rows


def _visible_owned(
    store: Store, ids: list[int], user_id: int, get: Callable[[int], Row | None], kind: str
) -> None:
    for item_id in ids:
        row = get(item_id)
        if row is None or (row["private"] and int(row["owner"]) != user_id):
            raise error(404, f"{kind} not found: {item_id}")


def _archive_name(row: Row, by_execution: bool, taken: set[str]) -> str:
    name = str(row["path"] or row["filename"]) if by_execution else str(row["filename"])
    if by_execution and row["execution"] is not None:
        name = f"{row['execution']}/{name}"
    candidate, counter = name, 1
    while candidate in taken:  # two files with one name: keep both
        stem, dot, suffix = name.partition(".")
        candidate = f"{stem}-{counter}{dot}{suffix}"
        counter += 1
    taken.add(candidate)
    return candidate


def _build(store: Store, job_id: str, rows: list[Row], by_execution: bool, delay: float) -> None:
    """Write the archive (runs in a worker thread), updating status and progress."""
    time.sleep(delay)  # stays `pending` briefly, like a queued Celery task
    store.update("bulk_jobs", "id", job_id, {"status": "processing", "started": int(time.time())})
    target = store.data_dir / "archives" / f"{job_id}.zip"
    temp = target.with_name(target.name + ".tmp")
    total = sum(int(row["size"] or 0) for row in rows) or 1
    done = 0
    taken: set[str] = set()
    try:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for row in rows:
                blob = store.blob_path(row["id"])
                if not blob.is_file():
                    raise FileNotFoundError(f"File {row['filename']} is no longer available")
                with (
                    blob.open("rb") as src,
                    zf.open(_archive_name(row, by_execution, taken), "w", force_zip64=True) as dst,
                ):
                    while block := src.read(_COPY_BLOCK):
                        dst.write(block)
                        done += len(block)
                store.update("bulk_jobs", "id", job_id, {"progress": min(99, done * 100 // total)})
                time.sleep(delay)
        temp.replace(target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        store.update(
            "bulk_jobs",
            "id",
            job_id,
            {"status": "failed", "error": str(exc), "finished": int(time.time())},
        )
        return
    store.update(
        "bulk_jobs",
        "id",
        job_id,
        {
            "status": "completed",
            "progress": 100,
            "finished": int(time.time()),
            "archive": str(target),
            "size": target.stat().st_size,
        },
    )


def _start_job(
    request: Request, user: Row, rows: list[Row], body: dict[str, Any], by_execution: bool
) -> Response:
    store = store_of(request)
    job_id = str(uuid.uuid4())
    name = body.get("name")
    store.insert(
        "bulk_jobs",
        {
            "id": job_id,
            "owner": int(user["id"]),
            "name": str(name) if name else None,
            "by_execution": int(by_execution),
            "data_ids": _dump_ids(rows),
            "status": "pending",
            "progress": 0,
            "created": int(time.time()),
        },
    )
    delay = settings_of(request).bulk_job_delay
    threading.Thread(
        target=_build, args=(store, job_id, rows, by_execution, delay), daemon=True
    ).start()
    job = store.get_bulk_job(job_id)
    assert job is not None
    return JSONResponse(_job_document(request, job), status_code=201)


def _dump_ids(rows: list[Row]) -> str:
    return "[" + ",".join(str(int(row["id"])) for row in rows) + "]"


async def create_job(request: Request) -> Response:
    """``POST /downloads`` (docs/protocol.md §8 row 23: ``data_ids`` or ``data``)."""
    user = require_user(request)
    body = await _json_body(request)
    rows = _visible_data(store_of(request), _ids(body, "data_ids", "data"), int(user["id"]))
    return _start_job(request, user, rows, body, bool(body.get("by_execution", False)))


async def _create_grouped_job(
    request: Request,
    keys: tuple[str, str],
    kind: str,
    get: Callable[[Store], Callable[[int], Row | None]],
    files: Callable[[Store], Callable[[int], list[Row]]],
    by_execution: bool,
) -> Response:
    """A job over every readable file of some executions or samples (docs/protocol.md §5.3)."""
    user = require_user(request)
    body = await _json_body(request)
    store = store_of(request)
    ids = _ids(body, *keys)
    _visible_owned(store, ids, int(user["id"]), get(store), kind)
    rows = [
        row
        for item_id in ids
        for row in files(store)(item_id)
        if not row["is_directory"] and readable(store, row, int(user["id"]))
    ]
    if not rows:
        raise bad_request(f"These {kind.lower()}s have no downloadable files")
    return _start_job(request, user, rows, body, bool(body.get("by_execution", by_execution)))


async def create_execution_job(request: Request) -> Response:
    """``POST /downloads/executions``: every output of the given executions."""
    return await _create_grouped_job(
        request,
        ("execution_ids", "executions"),
        "Execution",
        lambda store: store.get_execution,
        lambda store: store.execution_outputs,
        by_execution=True,
    )


async def create_sample_job(request: Request) -> Response:
    """``POST /downloads/samples``: every file of the given samples."""
    return await _create_grouped_job(
        request,
        ("sample_ids", "samples"),
        "Sample",
        lambda store: store.get_sample,
        lambda store: store.sample_data,
        by_execution=False,
    )


def _owned_job(request: Request) -> Row:
    user = require_user(request, downloads=True)
    store = store_of(request)
    job = store.get_bulk_job(str(request.path_params["job_id"]))
    if job is None or int(job["owner"]) != int(user["id"]):
        raise error(404, "Not found")
    lifetime = settings_of(request).bulk_job_lifetime
    if job["status"] == "completed" and job["finished"] is not None:
        expires = float(job["finished"]) + lifetime
        if time.time() >= expires:
            # Lazily expire: the archive is deleted and the job says so from now on.
            if job["archive"]:
                with contextlib.suppress(FileNotFoundError):
                    Path(job["archive"]).unlink()
            store.update("bulk_jobs", "id", job["id"], {"status": "expired", "archive": None})
            job = {**job, "status": "expired", "archive": None}
        job["expires"] = int(expires)
    elif job["status"] == "expired" and job["finished"] is not None:
        job["expires"] = int(float(job["finished"]) + lifetime)
    return job


def _job_document(request: Request, job: Row) -> dict[str, Any]:
    completed = job["status"] == "completed"
    root = f"{request.url.scheme}://{request.url.netloc}"
    return {
        "id": job["id"],
        "name": job["name"],
        "status": job["status"],
        "progress": int(job["progress"]),
        "created": job["created"],
        "started": job["started"],
        "finished": job["finished"],
        "by_execution": bool(job["by_execution"]),
        "data": [str(data_id) for data_id in job["data_ids"]],
        "user": str(job["owner"]),
        "download_url": f"{root}/files/downloads/{job['id']}" if completed else None,
        "size": job["size"] if completed else None,
        "error": job["error"],
        "expires": job.get("expires"),
    }


async def job_status(request: Request) -> Response:
    """``GET /downloads/<job_id>/status`` (docs/protocol.md §8 row 24)."""
    return JSONResponse(_job_document(request, _owned_job(request)))


async def job_archive(request: Request) -> Response:
    """``GET /downloads/<job_id>``: the zip; 410 ``EXPIRED`` once the job expired (seed 002)."""
    job = _owned_job(request)
    if job["status"] == "expired":
        raise ApiError(
            410, {"error": "Download link has expired", "code": "EXPIRED", "status": 410}
        )
    if job["status"] == "failed":
        raise error(404, job["error"] or "Bulk download failed")
    if job["status"] != "completed" or not job["archive"]:
        raise error(409, "Archive is not ready yet")
    name = str(job["name"] or f"flow-download-{job['id']}.zip")
    return file_response(request, Path(job["archive"]), name)


async def unmatched_download(request: Request) -> Response:
    """Any other ``/downloads/...`` path: the download routes' bare 404 (docs/protocol.md §5.1)."""
    raise bare_not_found()


routes: list[BaseRoute] = [
    Route("/downloads", create_job, methods=["POST"], name="bulk_create"),
    Route("/downloads/executions", create_execution_job, methods=["POST"], name="bulk_create"),
    Route("/downloads/samples", create_sample_job, methods=["POST"], name="bulk_create"),
    Route("/downloads/{job_id:uuid}/status", job_status, methods=["GET"], name="bulk_status"),
    Route("/downloads/{job_id:uuid}", job_archive, methods=["GET", "HEAD"], name="bulk_archive"),
    Route("/downloads/{rest:path}", unmatched_download, methods=["GET", "HEAD"], name="download"),
]
