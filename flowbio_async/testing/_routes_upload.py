"""The four chunked upload endpoints and the annotation template (docs/protocol.md §3, issue #3).

Every chunk is handled the same way: authenticate, stream the multipart body (the blob goes
straight into ``uploads/<data_id>.part`` at its offset), check the offset strictly, record
the new size, and on ``is_last`` move the bytes to ``blobs/<data_id>`` with their md5. The
endpoints differ only in their extra fields (checked on every chunk, so a bad sample type
costs one chunk, not the whole file) and in what finishing means: a sample is created after
its last file, an annotation sheet is validated, an archive is unpacked.

Offsets (docs/protocol.md §3.8 REC): ``expected_file_size`` equal to the bytes held → append;
smaller (a retried chunk) → truncate to it, then append; larger → 400. A retried *last* chunk of an
upload that already finished gets the same answer again instead of an error, so a client
whose connection dropped after the server finished does not start over.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flowbio_async.testing._annotation import template_columns, validate_sheet, xlsx_bytes
from flowbio_async.testing._archives import UnsafeArchiveError, unpack
from flowbio_async.testing._digests import RunningDigests, Update
from flowbio_async.testing._numbers import whole_number
from flowbio_async.testing._security import (
    ApiError,
    as_field_errors,
    bad_request,
    error,
    read_bool,
    require_user,
    store_of,
)
from flowbio_async.testing._store import Row, Store
from flowbio_async.testing._upload_stream import Fields, UploadForm, read_upload_form

#: Fields of the protocol itself (docs/protocol.md §3.2, §3.4); anything else on a sample chunk is
#: metadata, flattened beside them.
PROTOCOL_FIELDS = frozenset(
    {
        "filename",
        "expected_file_size",
        "is_last",
        "data",
        "blob",
        "sample_name",
        "sample_type",
        "project",
        "organism",
        "is_last_sample",
        "previous_data",
        "reads1",
        "ignore_warnings",
        "data_type",
        "is_directory",
        "type_specific_metadata",
    }
)


#: Running md5 of the uploads in progress (one server process, one worker).
DIGESTS = RunningDigests()
#: Uploads whose last chunk is being finished, so a duplicate waits and replays (#7).
_FINISHING: dict[int, asyncio.Lock] = {}


@dataclass
class _Chunk:
    """Where this chunk's bytes go, decided when the blob part starts."""

    data_id: int
    offset: int
    replay: dict[str, Any] | None = None
    """The stored final answer when this is a re-sent last chunk of a finished upload."""


@dataclass
class Finished:
    """An upload whose last chunk is in place, handed to :meth:`UploadEndpoint.finish`."""

    store: Store
    user: Row
    fields: Fields
    data: Row
    """The row's ``id``, ``filename`` and ``size``."""
    blob: Path
    columns: dict[str, Any]
    """Data columns to set (written once with the md5 and size)."""


#: Data categories (data.md ``/data/search`` ``category``): what each endpoint uploads.
GENERIC, ANNOTATION, MULTIPLEXED, DEMULTIPLEXED = 1, 2, 3, 4
_READS_TYPES = {"fastq": ("fastq", "fq"), "bam": ("bam",)}


def reads_data_type(store: Store, filename: str) -> str | None:
    """The data type of a reads file from its name (``x.fastq.gz`` -> ``fastq``), if known."""
    parts = filename.lower().split(".")
    if parts[-1] in {"gz", "bz2", "zst"}:
        parts.pop()
    for identifier, extensions in _READS_TYPES.items():
        if len(parts) > 1 and parts[-1] in extensions:
            known = store.row("SELECT 1 FROM data_types WHERE identifier = ?", (identifier,))
            return identifier if known else None
    return None


def _one(fields: Fields, name: str) -> str:
    values = fields.get(name)
    return values[0] if values else ""


def _check_filename(name: str) -> None:
    if not name:
        raise error(400, {"filename": ["This field is required."]})
    if " " in name:
        raise error(400, {"filename": ["Spaces in filename"]})
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise error(400, {"filename": ["Invalid filename"]})


def _offset(fields: Fields) -> int:
    raw = _one(fields, "expected_file_size").strip()
    # The official client sends an int string; "1000.0" is tolerated (GraphQL sent floats),
    # "inf", "nan", "1e999" and "-1" are a 400 (#14: int(float("inf")) was a 500).
    return whole_number(raw, "expected_file_size") if raw else 0


class UploadEndpoint:
    """One of the four chunked endpoints; subclasses add field checks and finishing."""

    name = "upload"

    def check_fields(self, store: Store, user: Row, fields: Fields) -> None:
        """Validate the endpoint's extra fields (sent identically on every chunk)."""

    def finish(self, done: Finished) -> dict[str, Any]:
        """Finish the file (its bytes are in place); return extra response keys."""
        return {}

    def response(self, data_id: int, extra: dict[str, Any]) -> dict[str, Any]:
        """docs/protocol.md §8 row 8: ``id`` and ``data_id`` (same value) on every chunk."""
        return {"id": str(data_id), "data_id": str(data_id), **extra}

    # -- the shared chunk handling ---------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        """The Starlette endpoint for this upload route."""
        user = require_user(request)
        store = store_of(request)
        plan: list[_Chunk] = []

        def open_blob(fields: Fields) -> BinaryIO:
            chunk = self._plan(store, user, fields)
            plan.append(chunk)
            if chunk.replay is not None:
                return Path(os.devnull).open("wb")  # closed by the reader
            part = store.upload_path(chunk.data_id)
            handle = part.open("r+b" if part.exists() else "w+b")
            # No truncation here: an aborted or late duplicate of a chunk may still be writing
            # (#7, found by `make chaos`); bytes at one offset of one upload are always the
            # same, so overwriting is harmless, and the last chunk trims the file to its size.
            handle.seek(chunk.offset)
            return handle

        form = await read_upload_form(request, open_blob, store.data_dir / "uploads")
        if form.error is not None:
            raise form.error
        if not form.blob_seen:
            raise error(400, {"blob": ["No file was submitted."]})
        if not plan:
            raise bad_request("Missing upload fields")
        update: list[Update | None] = [None]
        answer = await self._complete(store, user, form, plan[0], update)
        # Hash this chunk in the background, while the client sends the next one (_digests).
        DIGESTS.schedule(update[0])
        return JSONResponse(answer)

    def _plan(self, store: Store, user: Row, fields: Fields) -> _Chunk:
        _check_filename(_one(fields, "filename"))
        offset = _offset(fields)
        data_ref = _one(fields, "data").strip()
        replay = self._replay(store, user, data_ref, fields, offset)
        if replay is not None:
            # Checked when it was first taken; checking again could refuse the repeat (the
            # sample's reads belong to the sample its first copy created: make chaos).
            return replay
        self.check_fields(store, user, fields)
        if not data_ref:
            if offset != 0:
                raise bad_request(f"expected_file_size must be 0 to start an upload, got {offset}")
            filename = _one(fields, "filename")
            now = time.time()
            data_id = store.insert(
                "data",
                {"filename": filename, "owner": user["id"], "ready": 0, "created": int(now)},
            )
            store.insert(
                "upload_sessions",
                {
                    "data_id": data_id,
                    "owner": user["id"],
                    "endpoint": self.name,
                    "filename": filename,
                    "offset": 0,
                    "extra": "{}",
                    "created": now,
                    "updated": now,
                },
            )
            return _Chunk(data_id, 0)
        session = store.get_upload_session(data_ref)
        if session is None or session["owner"] != user["id"] or session["endpoint"] != self.name:
            raise bad_request(f"Unknown upload {data_ref!r}")
        if session["extra"].get("final") is not None:  # a re-sent last chunk was a replay
            raise bad_request(f"Upload {data_ref} is already complete")
        held = int(session["offset"])
        if offset > held:
            raise bad_request(
                f"expected_file_size {offset} is ahead of the {held} bytes received for "
                f"upload {data_ref}"
            )
        return _Chunk(int(session["data_id"]), offset)

    def _replay(
        self, store: Store, user: Row, data_ref: str, fields: Fields, offset: int
    ) -> _Chunk | None:
        """A re-sent last chunk of an upload of this user's that already finished."""
        if not data_ref or not read_bool(_one(fields, "is_last")):
            return None
        session = store.get_upload_session(data_ref)
        if session is None or session["owner"] != user["id"] or session["endpoint"] != self.name:
            return None
        final = session["extra"].get("final")
        return None if final is None else _Chunk(int(session["data_id"]), offset, replay=final)

    async def _complete(
        self,
        store: Store,
        user: Row,
        form: UploadForm,
        chunk: _Chunk,
        update: list[Update | None],
    ) -> dict[str, Any]:
        if chunk.replay is not None:
            return chunk.replay
        size = chunk.offset + form.blob_size
        part = store.upload_path(chunk.data_id)
        if not read_bool(form.one("is_last")):
            session = store.get_upload_session(chunk.data_id)
            if session is not None and int(session["offset"]) > size:
                # A late duplicate of an earlier chunk: later chunks are stored already (#7).
                return self.response(chunk.data_id, self.pending_extra())
            store.update_upload_session(chunk.data_id, offset=size)
            update[0] = DIGESTS.chunk_stored(chunk.data_id, part, chunk.offset, size)
            return self.response(chunk.data_id, self.pending_extra())
        # Two copies of the last chunk may be in flight at once (a lost answer re-sent, #7):
        # the first to get here finishes the file, the other replays its answer.
        lock = _FINISHING.setdefault(chunk.data_id, asyncio.Lock())
        async with lock:
            session = store.get_upload_session(chunk.data_id)
            final = session["extra"].get("final") if session is not None else None
            if final is not None:
                return dict(final)
            try:
                return await self._finish_file(store, user, form, chunk, size, part)
            finally:
                _FINISHING.pop(chunk.data_id, None)

    async def _finish_file(
        self, store: Store, user: Row, form: UploadForm, chunk: _Chunk, size: int, part: Path
    ) -> dict[str, Any]:
        os.truncate(part, size)  # drop anything an aborted longer attempt left past the end
        md5 = await DIGESTS.finish(chunk.data_id, part, chunk.offset, size)
        blob = store.blob_path(chunk.data_id)
        part.replace(blob)  # noqa: ASYNC240 - one rename on the same file system
        data = {"id": chunk.data_id, "filename": form.one("filename"), "size": size}
        columns: dict[str, Any] = {}
        try:
            extra = self.finish(Finished(store, user, form.fields, data, blob, columns))
        except ApiError:
            _discard(store, chunk.data_id)
            raise
        # One write for the data row, one for the session (per-request cost matters: #3).
        store.update_data(
            chunk.data_id, size=size, md5=md5, blob=str(chunk.data_id), ready=1, **columns
        )
        answer = self.response(chunk.data_id, extra)
        store.update_upload_session(chunk.data_id, offset=size, extra={"final": answer})
        return answer

    def pending_extra(self) -> dict[str, Any]:
        """Extra keys of a non-final chunk's answer."""
        return {}


def _finished_upload(store: Store, user: Row, data_id: str, endpoint: str) -> Row | None:
    """The caller's finished upload ``data_id`` made through ``endpoint``, else None."""
    row = store.get_data(data_id)
    session = store.get_upload_session(data_id)
    if row is None or session is None or row["owner"] != user["id"] or not row["ready"]:
        return None
    return row if session["endpoint"] == endpoint else None


def _discard(store: Store, data_id: int) -> None:
    """Forget a refused upload entirely (a refused sheet is re-sent from offset 0,
    docs/protocol.md §3.6)."""
    DIGESTS.forget(data_id)
    store.delete_upload_session(data_id)
    store.execute("DELETE FROM data WHERE id = ?", (data_id,))
    for path in (store.blob_path(data_id), store.upload_path(data_id)):
        path.unlink(missing_ok=True)


class DataUpload(UploadEndpoint):
    """``POST /upload``: generic data, optionally typed or an archive to unpack
    (docs/protocol.md §3.3)."""

    name = "upload"

    def check_fields(self, store: Store, user: Row, fields: Fields) -> None:
        data_type = _one(fields, "data_type")
        if (
            data_type
            and store.row("SELECT 1 FROM data_types WHERE identifier = ?", (data_type,)) is None
        ):
            raise error(400, {"data_type": [f"Invalid data type '{data_type}'"]})

    def finish(self, done: Finished) -> dict[str, Any]:
        if _one(done.fields, "data_type"):
            done.columns["data_type"] = _one(done.fields, "data_type")
        if read_bool(_one(done.fields, "is_directory")):
            try:
                unpack(done.blob, done.blob.with_name(f"{done.blob.name}.contents"))
            except (UnsafeArchiveError, OSError, EOFError) as exc:
                raise bad_request(f"is_directory upload is not a usable archive: {exc}") from None
            done.columns["is_directory"] = 1
        return {}


class SampleUpload(UploadEndpoint):
    """``POST /upload/sample``: the files of one sample, then the sample (docs/protocol.md §3.4)."""

    name = "upload/sample"

    def pending_extra(self) -> dict[str, Any]:
        return {"sample_id": None}

    def check_fields(self, store: Store, user: Row, fields: Fields) -> None:
        if not _one(fields, "sample_name").strip():
            raise error(400, {"sample_name": ["This field is required."]})
        if " " in _one(fields, "sample_name").strip():
            # "Must contain no spaces (the server rejects them)" (samples.md, #15 item 9)
            raise error(400, {"sample_name": ["Spaces in sample name"]})
        sample_type = _one(fields, "sample_type")
        if not store.row("SELECT 1 FROM sample_types WHERE identifier = ?", (sample_type,)):
            raise bad_request("Invalid sample type")
        project = _one(fields, "project")
        if project:
            row = store.get_project(project)
            if row is None or row["owner"] != user["id"]:
                raise bad_request("Project not found or not owned by you")
        organism = _one(fields, "organism")
        if organism and not store.row("SELECT 1 FROM organisms WHERE id = ?", (organism,)):
            raise bad_request(f"Invalid organism '{organism}'")
        self._check_metadata(store, sample_type, fields)
        for previous in self._previous(fields):
            row = _finished_upload(store, user, previous, self.name)
            if row is None or row["sample"] is not None:
                raise error(400, {"previous_data": [f"Invalid data id '{previous}'"]})

    @staticmethod
    def _previous(fields: Fields) -> list[str]:
        # Repeated parts (what httpx sends for a list) or one comma list
        # (docs/protocol.md §8 row 9).
        ids: list[str] = []
        for value in fields.get("previous_data", []):
            ids.extend(part.strip() for part in value.split(",") if part.strip())
        return ids

    @staticmethod
    def _check_metadata(store: Store, sample_type: str, fields: Fields) -> None:
        attributes = store.rows(
            "SELECT a.*, MAX(a.required, COALESCE(l.required, 0)) AS needed, "
            "l.sample_type AS linked FROM metadata_attributes a LEFT JOIN metadata_links l "
            "ON l.attribute = a.identifier AND l.sample_type = ?",
            (sample_type,),
        )
        problems: dict[str, list[str]] = {}
        for attribute in attributes:
            identifier = attribute["identifier"]
            value = _one(fields, identifier).strip()
            applies = attribute["all_sample_types"] or attribute["linked"] is not None
            if not value:
                if attribute["needed"] and applies:
                    problems[identifier] = ["This field is required."]
                continue
            if attribute["has_options"] and not attribute["allow_user_terms"]:
                allowed = store.row(
                    "SELECT 1 FROM metadata_options WHERE attribute = ? AND value = ?",
                    (identifier, value),
                )
                if allowed is None:
                    problems[identifier] = [f"'{value}' is not a valid option"]
                    continue
            pattern = attribute["regex_validator"]
            if pattern and re.fullmatch(pattern, value) is None:
                problems[identifier] = [f"'{value}' does not match {pattern}"]
        if problems:
            raise error(400, problems)

    def finish(self, done: Finished) -> dict[str, Any]:
        store, fields = done.store, done.fields
        # Reads of a sample are demultiplexed data, typed by their name (#15 item 14).
        done.columns["category"] = DEMULTIPLEXED
        done.columns["data_type"] = reads_data_type(store, str(done.data["filename"]))
        if not read_bool(_one(fields, "is_last_sample")):
            return {"sample_id": None}
        sample_id = store.insert(
            "samples",
            {
                "name": _one(fields, "sample_name").strip(),
                "owner": done.user["id"],
                "project": int(_one(fields, "project")) if _one(fields, "project") else None,
                "sample_type": _one(fields, "sample_type"),
                "organism": _one(fields, "organism") or None,
                "created": int(time.time()),
            },
        )
        metadata = [
            (sample_id, name, values[0])
            for name, values in fields.items()
            if name not in PROTOCOL_FIELDS
            and values
            and values[0]
            and store.row("SELECT 1 FROM metadata_attributes WHERE identifier = ?", (name,))
        ]
        if metadata:
            store.many(
                "INSERT INTO sample_metadata (sample, attribute, value) VALUES (?, ?, ?)",
                metadata,
            )
        for data_id in self._previous(fields):
            store.update_data(data_id, sample=sample_id)
        done.columns["sample"] = sample_id
        return {"sample_id": str(sample_id)}


class MultiplexedUpload(UploadEndpoint):
    """``POST /upload/multiplexed``: one or two reads files; the second names the first
    (docs/protocol.md §3.5)."""

    name = "upload/multiplexed"

    def check_fields(self, store: Store, user: Row, fields: Fields) -> None:
        first = _one(fields, "reads1")
        if not first:
            return
        if _finished_upload(store, user, first, self.name) is None:
            raise error(400, {"reads1": [f"Invalid data id '{first}'"]})

    def finish(self, done: Finished) -> dict[str, Any]:
        done.columns["category"] = MULTIPLEXED
        done.columns["data_type"] = reads_data_type(done.store, str(done.data["filename"]))
        return {}


class AnnotationUpload(UploadEndpoint):
    """``POST /upload/annotation``: a CSV/xlsx sheet validated when complete
    (docs/protocol.md §3.6)."""

    name = "upload/annotation"

    def check_fields(self, store: Store, user: Row, fields: Fields) -> None:
        filename = _one(fields, "filename").lower()
        if not filename.endswith((".csv", ".xlsx")):
            raise error(400, {"filename": ["Annotation sheets must be .csv or .xlsx"]})

    def finish(self, done: Finished) -> dict[str, Any]:
        findings = validate_sheet(done.store, done.blob.read_bytes(), str(done.data["filename"]))
        # Hard errors first: they cannot be ignored. The bodies carry no `error` key
        # (docs/protocol.md §6.2).
        if findings.validation:
            raise ApiError(400, {"validation": findings.validation})
        if findings.warnings and not read_bool(_one(done.fields, "ignore_warnings")):
            raise ApiError(400, {"warnings": findings.warnings})
        done.columns["category"] = ANNOTATION
        known = done.store.row("SELECT 1 FROM data_types WHERE identifier = 'annotation'")
        done.columns["data_type"] = "annotation" if known else None
        return {}


async def annotation_template(request: Request) -> Response:
    """``GET /annotation/<sample_type>``: an xlsx template, 404 for unknown types
    (docs/protocol.md §3.6)."""
    columns = template_columns(store_of(request), request.path_params["sample_type"])
    if columns is None:
        raise error(404, "Sample type not found")
    return Response(
        xlsx_bytes(columns),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def bare_field_errors(endpoint: Callable[[Request], Awaitable[Response]]) -> Any:
    """Answer an upload's field errors bare, ``{"filename": [...]}``, as Flow does (data.md
    ``POST /upload``; the ``wrapped_field_errors`` setting keeps ``{"error": {...}}``)."""

    async def handle(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as exc:
            as_field_errors(exc)
            raise

    return handle


routes: list[BaseRoute] = [
    Route("/upload", bare_field_errors(DataUpload().handle), methods=["POST"], name="upload"),
    Route(
        "/upload/sample",
        bare_field_errors(SampleUpload().handle),
        methods=["POST"],
        name="upload_sample",
    ),
    Route(
        "/upload/multiplexed",
        bare_field_errors(MultiplexedUpload().handle),
        methods=["POST"],
        name="upload_multiplexed",
    ),
    Route(
        "/upload/annotation",
        bare_field_errors(AnnotationUpload().handle),
        methods=["POST"],
        name="upload_annotation",
    ),
    Route(
        "/annotation/{sample_type}",
        annotation_template,
        methods=["GET"],
        name="annotation_template",
    ),
]
