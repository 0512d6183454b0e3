"""The workspace Files API of seed 004 (docs/protocol.md §7), under the API base.

``/v1/files`` lists, uploads (multipart, up to 500 MB), hands out download links and
deletes; ``/v1/files/upload-url`` + a presigned ``PUT`` + ``/v1/files/upload-confirm`` is the
large-file path. Presigned URLs are HMAC-signed with the server secret and expire (~1 hour,
shorter on request). Like S3, a presigned request that also carries an ``Authorization``
header is refused: the SDK must never leak its bearer token to storage (issue #3).

Workspaces are owned (issue #14 item 9): the first user to write into a workspace owns it,
and anyone else is refused (403) there, for reads and writes alike. A presigned ``PUT``
lands in its uploader's own pending object, never in the visible one: only
``upload-confirm`` by that user makes the bytes visible, so an upload that is never
confirmed replaces nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import weakref
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flowbio_async.testing._numbers import whole_number
from flowbio_async.testing._security import (
    bad_request,
    error,
    not_found,
    require_user,
    store_of,
)
from flowbio_async.testing._store import Row, Store
from flowbio_async.testing._upload_stream import Fields, read_upload_form

#: Seed 004: "Max 500 MB. For larger files use the presigned URL flow."
MAX_DIRECT_UPLOAD = 500 * 1000 * 1000
#: Seed 004: presigned download URLs are "valid for ~1 hour".
PRESIGNED_TTL = 3600
#: Largest ``limit`` one ``GET /v1/files`` answers (larger values are capped, not refused).
MAX_LIST_LIMIT = 1000


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS workspaces (workspace_id TEXT PRIMARY KEY, "
    "owner INTEGER NOT NULL, created INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS workspace_pending (workspace_id TEXT NOT NULL, "
    "key TEXT NOT NULL, owner INTEGER NOT NULL, size INTEGER NOT NULL, content_type TEXT, "
    "created INTEGER NOT NULL, PRIMARY KEY (workspace_id, key, owner))",
    # Workspaces written before ownership existed belong to whoever wrote into them first.
    "INSERT OR IGNORE INTO workspaces (workspace_id, owner, created) "
    "SELECT workspace_id, MIN(owner), MIN(created) FROM workspace_files GROUP BY workspace_id",
)
_ready: weakref.WeakSet[Store] = weakref.WeakSet()


def _workspaces(store: Store) -> Store:
    """The store, with this module's tables created (once per store)."""
    if store not in _ready:
        for statement in _SCHEMA:
            store.execute(statement)
        _ready.add(store)
    return store


def _check_access(store: Store, user: Row, workspace_id: str, *, claim: bool) -> None:
    """403 unless ``user`` owns the workspace; a write (``claim``) takes a free one."""
    _workspaces(store)
    if claim:
        store.execute(
            "INSERT OR IGNORE INTO workspaces (workspace_id, owner, created) VALUES (?, ?, ?)",
            (workspace_id, user["id"], int(time.time())),
        )
    owner = store.scalar("SELECT owner FROM workspaces WHERE workspace_id = ?", (workspace_id,))
    if owner is not None and owner != user["id"]:
        raise error(403, "You do not have access to this workspace")


def _required(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    if value is None or str(value).strip() == "":
        raise error(400, {name: ["This field is required."]})
    return str(value).strip()


def _clean_folder(path: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if any(p in {".", ".."} for p in parts):
        raise error(400, {"path": ["Invalid path"]})
    return "".join(f"{p}/" for p in parts)


def _clean_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in {".", ".."}:
        raise error(400, {"filename": ["Invalid filename"]})
    return name


def _object_path(store: Store, workspace_id: str, key: str) -> Path:
    digest = hashlib.sha256(f"{workspace_id}\n{key}".encode()).hexdigest()[:40]
    return store.data_dir / "workspace" / digest


def _pending_path(store: Store, workspace_id: str, key: str, user_id: int) -> Path:
    """Where one user's presigned ``PUT`` waits for ``upload-confirm`` (never the visible one)."""
    return _object_path(store, workspace_id, key).with_suffix(f".pending-{int(user_id)}")


def _item(row: Row) -> dict[str, Any]:
    return {
        "key": row["key"],
        "name": row["name"],
        "size": row["size"],
        "workspace_id": row["workspace_id"],
        "content_type": row["content_type"],
        "description": row["description"],
        "created": row["created"],
    }


def _get_row(store: Store, user: Row, workspace_id: str, key: str) -> Row:
    row = store.row(
        "SELECT * FROM workspace_files WHERE workspace_id = ? AND key = ? AND owner = ? "
        "AND confirmed = 1",
        (workspace_id, key, user["id"]),
    )
    if row is None:
        raise not_found()
    return row


def _save_row(store: Store, user: Row, values: dict[str, Any]) -> Row:
    existing = store.row(
        "SELECT owner FROM workspace_files WHERE workspace_id = ? AND key = ?",
        (values["workspace_id"], values["key"]),
    )
    if existing is not None and existing["owner"] != user["id"]:
        raise error(403, "This key belongs to another user")  # belt and braces: owned keys
    store.execute(
        "DELETE FROM workspace_files WHERE workspace_id = ? AND key = ?",
        (values["workspace_id"], values["key"]),
    )
    store.insert("workspace_files", {"owner": user["id"], "created": int(time.time()), **values})
    row = store.row(
        "SELECT * FROM workspace_files WHERE workspace_id = ? AND key = ?",
        (values["workspace_id"], values["key"]),
    )
    assert row is not None
    return row


# -- presigned URLs ---------------------------------------------------------------------------
def _signature(secret: bytes, params: dict[str, str]) -> str:
    message = json.dumps(params, sort_keys=True).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def presign(request: Request, op: str, workspace_id: str, key: str, ttl: int, **extra: str) -> str:
    """An absolute URL for ``op`` (``get``/``put``) on one object, valid ``ttl`` seconds."""
    params = {
        "op": op,
        "workspace_id": workspace_id,
        "key": key,
        "expires": str(int(time.time()) + ttl),
        **extra,
    }
    params["signature"] = _signature(store_of(request).secret(), params)
    return f"{request.url_for('files_object')}?{urlencode(params)}"


def _verify(request: Request, op: str) -> dict[str, str]:
    if request.headers.get("authorization"):
        # S3 refuses a request authenticated twice; so do we (the SDK must not send it).
        raise bad_request("Only one auth mechanism allowed; presigned URLs take no Authorization")
    params = dict(request.query_params)
    signature = params.pop("signature", "")
    expected = _signature(store_of(request).secret(), params)
    if not hmac.compare_digest(signature, expected) or params.get("op") != op:
        raise error(403, "Signature does not match")
    if int(params.get("expires", "0") or 0) < time.time():
        raise error(403, "Request has expired")
    return params


def _ttl(values: dict[str, Any]) -> int:
    asked = values.get("expires_in")
    if asked is None or asked == "":
        return PRESIGNED_TTL
    return max(1, min(whole_number(asked, "expires_in"), PRESIGNED_TTL))


# -- routes -------------------------------------------------------------------------------------
async def list_files(request: Request) -> Response:
    """``GET /v1/files?workspace_id=&prefix=&limit=&offset=``: metadata only, sorted by key.

    Seed 004 documents ``limit`` (default 100) and nothing to continue with, so a workspace
    of 105 files could only ever show 100 (#17 item 3). ``offset`` is the continuation, in
    the ``limit``/``offset`` style of Flow's REST lists (seed 003 "Offset-based
    Pagination"); the body stays the bare array the seed iterates, and a page shorter than
    ``limit`` is the last. ``limit`` is capped at :data:`MAX_LIST_LIMIT`.
    """
    user = require_user(request)
    store = store_of(request)
    query = dict(request.query_params)
    workspace_id = _required(query, "workspace_id")
    _check_access(store, user, workspace_id, claim=False)
    prefix = query.get("prefix", "")
    limit = min(whole_number(query.get("limit") or 100, "limit", minimum=1), MAX_LIST_LIMIT)
    offset = whole_number(query.get("offset") or 0, "offset")
    rows = store.rows(
        "SELECT * FROM workspace_files WHERE workspace_id = ? AND owner = ? AND confirmed = 1 "
        "AND substr(key, 1, ?) = ? ORDER BY key LIMIT ? OFFSET ?",
        (workspace_id, user["id"], len(prefix), prefix, limit, offset),
    )
    return JSONResponse([_item(row) for row in rows])


async def upload_file(request: Request) -> Response:
    """``POST /v1/files/upload``: multipart ``file``, ``workspace_id``, ``path``, description."""
    user = require_user(request)
    store = store_of(request)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_DIRECT_UPLOAD + 1024 * 1024:
        raise error(413, "File larger than 500 MB: use /v1/files/upload-url")
    staging = store.data_dir / "workspace" / f".incoming-{time.monotonic_ns()}"

    def opener(_fields: Fields) -> BinaryIO:
        return staging.open("wb")

    try:
        form = await read_upload_form(
            request, opener, store.data_dir / "workspace", file_field="file", ready="workspace_id"
        )
        if form.error is not None:
            raise form.error
        if not form.blob_seen:
            raise error(400, {"file": ["No file was submitted."]})
        if form.blob_size > MAX_DIRECT_UPLOAD:
            raise error(413, "File larger than 500 MB: use /v1/files/upload-url")
        values = {k: v[0] for k, v in form.fields.items() if v}
        workspace_id = _required(values, "workspace_id")
        _check_access(store, user, workspace_id, claim=True)
        name = _clean_name(form.blob_filename or "")
        key = _clean_folder(values.get("path", "")) + name
        owner = store.scalar(
            "SELECT owner FROM workspace_files WHERE workspace_id = ? AND key = ?",
            (workspace_id, key),
        )
        if owner is not None and owner != user["id"]:
            raise error(403, "This key belongs to another user")
        staging.replace(_object_path(store, workspace_id, key))
    finally:
        staging.unlink(missing_ok=True)
    row = _save_row(
        store,
        user,
        {
            "workspace_id": workspace_id,
            "key": key,
            "name": name,
            "size": form.blob_size,
            "description": values.get("description"),
            "content_type": "application/octet-stream",
        },
    )
    return JSONResponse(_item(row), status_code=201)


async def download_link(request: Request) -> Response:
    """``GET /v1/files/download?workspace_id=&key=``: a presigned URL for the bytes."""
    user = require_user(request)
    query = dict(request.query_params)
    workspace_id = _required(query, "workspace_id")
    key = _required(query, "key")
    _check_access(store_of(request), user, workspace_id, claim=False)
    row = _get_row(store_of(request), user, workspace_id, key)
    ttl = _ttl(query)
    url = presign(request, "get", workspace_id, key, ttl)
    return JSONResponse(
        {"url": url, "download_url": url, "expires_in": ttl, "key": key, "name": row["name"]}
    )


async def delete_file(request: Request) -> Response:
    """``DELETE /v1/files?workspace_id=&key=`` (query parameters, seed 004)."""
    user = require_user(request)
    store = store_of(request)
    query = dict(request.query_params)
    workspace_id = _required(query, "workspace_id")
    key = _required(query, "key")
    _check_access(store, user, workspace_id, claim=False)
    _get_row(store, user, workspace_id, key)
    store.execute(
        "DELETE FROM workspace_files WHERE workspace_id = ? AND key = ?", (workspace_id, key)
    )
    _object_path(store, workspace_id, key).unlink(missing_ok=True)
    return JSONResponse({"key": key, "deleted": True})


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("Expected a JSON object") from None
    if not isinstance(body, dict):
        raise bad_request("Expected a JSON object")
    return body


async def upload_url(request: Request) -> Response:
    """``POST /v1/files/upload-url``: step 1 of the large-file flow (seed 004)."""
    user = require_user(request)
    store = store_of(request)
    body = await _json_body(request)
    workspace_id = _required(body, "workspace_id")
    name = _clean_name(_required(body, "filename"))
    content_type = str(body.get("content_type") or "application/octet-stream")
    if body.get("size") is None:
        raise error(400, {"size": ["This field is required."]})
    whole_number(body.get("size"), "size")
    key = _clean_folder(str(body.get("path") or "")) + name
    _check_access(store, user, workspace_id, claim=True)
    owner = store.scalar(
        "SELECT owner FROM workspace_files WHERE workspace_id = ? AND key = ?",
        (workspace_id, key),
    )
    if owner is not None and owner != user["id"]:
        raise error(403, "This key belongs to another user")
    ttl = _ttl(body)
    url = presign(
        request, "put", workspace_id, key, ttl, content_type=content_type, user=str(user["id"])
    )
    return JSONResponse(
        {"uploadUrl": url, "fileKey": key, "upload_url": url, "file_key": key, "expires_in": ttl}
    )


async def object_endpoint(request: Request) -> Response:
    """The presigned object URL: ``GET`` reads, ``PUT`` writes; no Authorization allowed."""
    store = store_of(request)
    if request.method == "GET":
        params = _verify(request, "get")
        path = _object_path(store, params["workspace_id"], params["key"])
        if not path.is_file():
            raise not_found()
        return FileResponse(path, media_type="application/octet-stream")
    params = _verify(request, "put")
    content_type = request.headers.get("content-type", "")
    if content_type != params.get("content_type"):
        raise error(403, "Content-Type does not match the signed upload")
    workspace_id, key = params["workspace_id"], params["key"]
    uploader = whole_number(params.get("user"), "user")
    _workspaces(store)
    owners = store.rows(
        "SELECT owner FROM workspaces WHERE workspace_id = ? UNION ALL "
        "SELECT owner FROM workspace_files WHERE workspace_id = ? AND key = ?",
        (workspace_id, workspace_id, key),
    )
    if any(row["owner"] != uploader for row in owners):
        raise error(403, "You do not have access to this workspace")
    # Into the uploader's own pending object: nothing visible changes before upload-confirm.
    pending = _pending_path(store, workspace_id, key, uploader)
    staging = pending.with_name(f".put-{time.monotonic_ns()}")
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    try:
        with staging.open("wb") as sink:
            async for piece in request.stream():
                sink.write(piece)
                digest.update(piece)
                size += len(piece)
        staging.replace(pending)
    finally:
        staging.unlink(missing_ok=True)
    store.execute(
        "INSERT OR REPLACE INTO workspace_pending "
        "(workspace_id, key, owner, size, content_type, created) VALUES (?, ?, ?, ?, ?, ?)",
        (workspace_id, key, uploader, size, content_type, int(time.time())),
    )
    return Response(b"", status_code=200, headers={"ETag": f'"{digest.hexdigest()}"'})


async def upload_confirm(request: Request) -> Response:
    """``POST /v1/files/upload-confirm``: step 3, the uploader's pending object becomes visible.

    A repeated confirm (its answer was lost) replays the stored file's answer.
    """
    user = require_user(request)
    store = store_of(request)
    body = await _json_body(request)
    workspace_id = _required(body, "workspace_id")
    key = _required(body, "file_key")
    _check_access(store, user, workspace_id, claim=False)
    size = body.get("size")
    expected = None if size is None else whole_number(size, "size")
    pending_row = store.row(
        "SELECT * FROM workspace_pending WHERE workspace_id = ? AND key = ? AND owner = ?",
        (workspace_id, key, user["id"]),
    )
    pending = _pending_path(store, workspace_id, key, user["id"])
    if pending_row is None or not pending.is_file():
        stored = store.row(
            "SELECT * FROM workspace_files WHERE workspace_id = ? AND key = ? AND owner = ? "
            "AND confirmed = 1",
            (workspace_id, key, user["id"]),
        )
        if stored is not None and expected in {None, stored["size"]}:
            return JSONResponse(_item(stored))
        raise bad_request(f"No uploaded object for key {key!r}: PUT it to the upload URL first")
    held = pending.stat().st_size
    if expected is not None and expected != held:
        raise bad_request(f"size {expected} does not match the {held} bytes uploaded")
    name = _clean_name(str(body.get("filename") or key.rsplit("/", 1)[-1]))
    row = _save_row(
        store,
        user,
        {
            "workspace_id": workspace_id,
            "key": key,
            "name": name,
            "size": held,
            "content_type": pending_row["content_type"],
            "description": body.get("description"),
        },
    )
    pending.replace(_object_path(store, workspace_id, key))
    store.execute(
        "DELETE FROM workspace_pending WHERE workspace_id = ? AND key = ? AND owner = ?",
        (workspace_id, key, user["id"]),
    )
    return JSONResponse(_item(row))


async def files_root(request: Request) -> Response:
    """``GET``/``DELETE`` on ``/v1/files``."""
    if request.method == "DELETE":
        return await delete_file(request)
    return await list_files(request)


routes: list[BaseRoute] = [
    Route("/v1/files", files_root, methods=["GET", "DELETE"], name="files"),
    Route("/v1/files/upload", upload_file, methods=["POST"], name="files_upload"),
    Route("/v1/files/download", download_link, methods=["GET"], name="files_download"),
    Route("/v1/files/upload-url", upload_url, methods=["POST"], name="files_upload_url"),
    Route("/v1/files/upload-confirm", upload_confirm, methods=["POST"], name="files_confirm"),
    Route("/v1/files/object", object_endpoint, methods=["GET", "PUT"], name="files_object"),
]
