"""Streaming multipart reader for upload chunks: the blob goes to disk as it arrives.

Starlette's ``request.form()`` spools file parts to temporary files and hands them over once
the whole body is in; the upload routes want the bytes written straight into the upload's
``.part`` file at the right offset (issue #3: "blobs streamed to disk, never held whole in
memory"). The text fields come first in every client's encoding (docs/protocol.md §3.2; httpx and
requests both put ``data`` before ``files``), so when the ``blob`` part starts the route
already knows the upload id and offset and can say where its bytes go. A blob that arrives
before the fields is spooled to a temporary file and placed afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from flowbio_async.testing._security import ApiError, bad_request

Fields = dict[str, list[str]]
BlobOpener = Callable[[Fields], BinaryIO]
"""Given the fields read so far, return the writable file the blob bytes go to."""

_MAX_FIELD = 64 * 1024
_MAX_FIELDS = 1000


@dataclass
class UploadForm:
    """What one upload request carried."""

    fields: Fields = field(default_factory=dict)
    blob_seen: bool = False
    blob_size: int = 0
    blob_filename: str | None = None
    error: ApiError | None = None
    """A refusal raised while opening the blob's destination (the body was drained)."""

    def one(self, name: str, default: str = "") -> str:
        """The first value of field ``name``."""
        values = self.fields.get(name)
        return values[0] if values else default


class _Reader:
    def __init__(self, opener: BlobOpener, spool_dir: Path, file_field: str, ready: str) -> None:
        self.form = UploadForm()
        self._file_field = file_field
        self._ready = ready
        self._opener = opener
        self._spool_dir = spool_dir
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._name = ""
        self._is_blob = False
        self._is_file = False
        self._value = bytearray()
        self._sink: BinaryIO | None = None
        self.spool: BinaryIO | None = None
        self.opened: BinaryIO | None = None

    # python-multipart callbacks ------------------------------------------------------------
    def on_part_begin(self) -> None:
        self._headers = {}
        self._value = bytearray()
        self._sink = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        self._is_file = b"filename" in options
        self._is_blob = self._is_file and self._name == self._file_field
        if not self._is_blob:
            return
        form = self.form
        if form.blob_seen:
            form.error = form.error or bad_request(f"Only one {self._name!r} part allowed")
            return
        form.blob_seen = True
        form.blob_filename = options[b"filename"].decode("utf-8", "replace")
        if self._ready in form.fields:
            try:
                self.opened = self._opener(form.fields)
            except ApiError as exc:
                form.error = exc
                return
            self._sink = self.opened
        else:
            self.spool = tempfile.TemporaryFile(dir=self._spool_dir)  # noqa: SIM115
            self._sink = self.spool

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_blob:
            self.form.blob_size += end - start
            if self._sink is not None:
                self._sink.write(memoryview(data)[start:end])
        elif not self._is_file:
            if len(self._value) + end - start > _MAX_FIELD:
                self.form.error = self.form.error or bad_request(f"Field {self._name!r} too long")
                return
            self._value += data[start:end]

    def on_part_end(self) -> None:
        if self._is_file:
            return
        values = self.form.fields.setdefault(self._name, [])
        if sum(len(v) for v in self.form.fields.values()) < _MAX_FIELDS:
            values.append(self._value.decode("utf-8", "replace"))


async def read_upload_form(
    request: Request,
    opener: BlobOpener,
    spool_dir: Path,
    *,
    file_field: str = "blob",
    ready: str = "expected_file_size",
) -> UploadForm:
    """Parse a multipart body, streaming the ``file_field`` part into ``opener``'s file.

    ``opener`` is called as soon as the file part starts if field ``ready`` was already
    seen (the usual order), otherwise once the whole body is in.

    The body is always read to the end (also after a refusal) so the client sees the
    response instead of a reset connection while it is still sending.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise bad_request("Expected multipart/form-data")
    reader = _Reader(opener, spool_dir, file_field, ready)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": reader.on_part_begin,
            "on_part_data": reader.on_part_data,
            "on_part_end": reader.on_part_end,
            "on_header_field": reader.on_header_field,
            "on_header_value": reader.on_header_value,
            "on_header_end": reader.on_header_end,
            "on_headers_finished": reader.on_headers_finished,
        },
    )
    try:
        try:
            async for piece in request.stream():
                parser.write(piece)
            parser.finalize()
        except MultipartParseError as exc:
            raise bad_request(f"Malformed multipart body: {exc}") from None
        if reader.spool is not None and reader.form.error is None:
            # Fields came after the blob: now we know where the bytes go.
            try:
                reader.opened = opener(reader.form.fields)
            except ApiError as exc:
                reader.form.error = exc
            else:
                reader.spool.seek(0)
                shutil.copyfileobj(reader.spool, reader.opened, 1024 * 1024)
    finally:
        if reader.spool is not None:
            reader.spool.close()
        if reader.opened is not None:
            reader.opened.close()
    return reader.form
