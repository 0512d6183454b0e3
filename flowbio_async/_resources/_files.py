"""The ``client.files`` resource: the workspace Files API (seed 004, docs/protocol.md §7; issue #3).

Uploads up to 500 MB go as one multipart request; larger ones take the presigned path
(``upload-url`` → ``PUT`` the bytes straight to storage → ``upload-confirm``). Presigned
``PUT``/``GET`` requests are sent with ``authenticated=False``: the bearer token must never
reach storage, even when storage shares the API's host.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowbio_async._errors import DestinationExistsError, UnexpectedResponseError, redact_url
from flowbio_async._models._files import DownloadLink, LargeUploadTicket, WorkspaceFile
from flowbio_async._models._parse import parse_models
from flowbio_async._pagination import AsyncPager, Page
from flowbio_async._progress import ProgressCallback
from flowbio_async._resources._base import Resource, parse_response
from flowbio_async._resources._download_support import opener
from flowbio_async._transfers._download import Downloader, DownloadSpec
from flowbio_async._transfers._multipart import FileBlocks, FileBody
from flowbio_async._transfers._paths import safe_filename
from flowbio_async._transfers._sources import check_source, check_stored_name
from flowbio_async._types import PathLike

if TYPE_CHECKING:
    from flowbio_async._http import HttpClient

#: Seed 004: direct uploads take at most 500 MB; larger files use the presigned flow.
DIRECT_UPLOAD_LIMIT = 500 * 1000 * 1000
#: Files asked for per ``GET /v1/files``: seed 004's default ``limit``, so any server honours it.
LIST_PAGE_SIZE = 100
_task_numbers = itertools.count(1)


def _items(body: Any) -> list[Any]:
    # The list envelope is unstated (docs/protocol.md §7): accept a bare array or a wrapped one.
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("files", "items", "results", "data"):
            if isinstance(body.get(key), list):
                return list(body[key])
    return []


class _FilePages:
    """``GET /v1/files`` page by page: ``limit``/``offset`` (the local server's continuation,
    Flow's offset style); a page shorter than asked is the last (#17 item 3)."""

    def __init__(
        self, http: HttpClient, workspace_id: str, prefix: str | None, limit: int | None
    ) -> None:
        self._http = http
        self._params: dict[str, str | int] = {"workspace_id": workspace_id}
        if prefix:
            self._params["prefix"] = prefix
        self._limit = limit
        self._seen: set[str] = set()

    async def __call__(self, number: int) -> Page[WorkspaceFile]:
        offset = (number - 1) * LIST_PAGE_SIZE
        size = LIST_PAGE_SIZE if self._limit is None else min(LIST_PAGE_SIZE, self._limit - offset)
        if size <= 0:
            return Page([], last=True)
        params = {**self._params, "limit": size, "offset": offset}
        response = await self._http.request("GET", "v1/files", params=params)
        body = response.json()
        files = parse_models(
            WorkspaceFile, _items(body), endpoint="GET v1/files", status_code=response.status_code
        )
        keys = {f.key for f in files}
        if keys & self._seen:
            # A server that ignores ``offset`` answers the first page again: say so rather
            # than list it twice or loop.
            raise UnexpectedResponseError(
                f"GET v1/files answered files already listed for offset={offset}: the server "
                "does not page with offset, so only the first page can be listed",
                status_code=response.status_code,
                url=redact_url(response.url),
            )
        self._seen |= keys
        count = body.get("count") if isinstance(body, dict) else None
        total = count if isinstance(count, int) and not isinstance(count, bool) else None
        return Page(files, total, last=len(files) < size)


def _download_target(dest: PathLike, name: str) -> Path:
    target = Path(dest).expanduser()
    if target.is_dir() or str(dest).endswith(("/", os.sep)):
        target = target / name
    return target


class FilesResource(Resource):
    """Workspace files: list, upload (direct or presigned), download, delete.

    Example:
        ```python
        result = await client.files.upload("sample.vcf", workspace_id="ws_abc123", path="raw/")
        print(result.key)
        ```
    """

    @contextmanager
    def _whole_file_progress(
        self, callback: ProgressCallback | None, name: str, size: int
    ) -> Iterator[None]:
        """One progress task that completes when the block exits without an error."""
        with self._ctx.progress(callback) as reporter:
            task = f"files-{next(_task_numbers)}"
            reporter.start(task, name, size)
            ok = False
            try:
                yield
                reporter.advance(task, size)
                ok = True
            finally:
                reporter.finish(task, ok)

    def list(
        self, workspace_id: str, *, prefix: str | None = None, limit: int | None = None
    ) -> AsyncPager[WorkspaceFile]:
        """A workspace's files (metadata only, sorted by key), optionally under a key ``prefix``.

        Like every listing: ``await`` it for every file (paged under the hood, 100 a
        request), ``async for`` to stream them; ``limit`` caps the total.

        Example:
            ```python
            for f in await client.files.list(workspace_id="ws_abc123", prefix="results/"):
                print(f.name, f.size, f.key)
            ```
        """
        source = _FilePages(self._ctx.http, workspace_id, prefix, limit)
        return AsyncPager._of(source, label="v1/files", limit=limit)

    async def upload(
        self,
        file: PathLike,
        *,
        workspace_id: str,
        path: str | None = None,
        description: str | None = None,
        content_type: str = "application/octet-stream",
        progress: ProgressCallback | None = None,
    ) -> WorkspaceFile:
        """Upload a local file into a workspace folder; above 500 MB the presigned path is used.

        Example:
            ```python
            result = await client.files.upload("sample.vcf", workspace_id="ws_abc123", path="raw/")
            print(result["key"])
            ```
        """
        source = check_source(file)
        if source.size > DIRECT_UPLOAD_LIMIT:
            ticket = await self.upload_large(
                filename=source.filename,
                workspace_id=workspace_id,
                content_type=content_type,
                size=source.size,
                path=path,
            )
            await self.put_presigned(
                ticket.upload_url, source.path, content_type=content_type, progress=progress
            )
            return await self.upload_confirm(
                file_key=ticket.file_key,
                workspace_id=workspace_id,
                filename=source.filename,
                size=source.size,
            )
        data: dict[str, str] = {"workspace_id": workspace_id}
        if path:
            data["path"] = path
        if description:
            data["description"] = description
        body = FileBody(data, "file", source.filename, source.path, source.size, content_type)
        with self._whole_file_progress(progress, source.filename, source.size):
            async with self._ctx.limiter:
                # Streamed from disk in 1 MiB reads; re-read from the start if retried
                # (the same key is simply written again).
                response = await self._ctx.http.request(
                    "POST", "v1/files/upload", body=body, headers=body.headers, retry=True
                )
        return parse_response(WorkspaceFile, response, "POST v1/files/upload")

    async def upload_large(
        self,
        *,
        filename: str,
        workspace_id: str,
        size: int,
        content_type: str = "application/octet-stream",
        path: str | None = None,
    ) -> LargeUploadTicket:
        """Step 1 of a large upload: ask for a presigned ``PUT`` URL (seed 004).

        Example:
            ```python
            ticket = await client.files.upload_large(
                filename="genome.bam", workspace_id="ws_abc123", size=size, path="bam/"
            )
            ```
        """
        check_stored_name(filename)
        body: dict[str, Any] = {
            "filename": filename,
            "workspace_id": workspace_id,
            "content_type": content_type,
            "size": size,
        }
        if path:
            body["path"] = path
        response = await self._ctx.http.request("POST", "v1/files/upload-url", json=body)
        return parse_response(LargeUploadTicket, response, "POST v1/files/upload-url")

    async def put_presigned(
        self,
        upload_url: str,
        file: PathLike,
        *,
        content_type: str = "application/octet-stream",
        progress: ProgressCallback | None = None,
    ) -> None:
        """Step 2: ``PUT`` the file's bytes to the presigned URL, streamed from disk.

        No ``Authorization`` header is sent. Retried from the start on dropped connections
        and 429/502/503/504 (``config.max_retries``).

        Example:
            ```python
            await client.files.put_presigned(ticket.upload_url, "genome.bam")
            ```
        """
        source = check_source(file)
        headers = {"Content-Type": content_type, "Content-Length": str(source.size)}
        with self._whole_file_progress(progress, source.filename, source.size):
            async with self._ctx.limiter:
                # PUT is idempotent: the HTTP layer retries it, re-reading the file.
                await self._ctx.http.request(
                    "PUT",
                    upload_url,
                    body=FileBlocks(source.path, source.size),
                    headers=headers,
                    authenticated=False,
                )

    async def upload_confirm(
        self, *, file_key: str, workspace_id: str, filename: str, size: int
    ) -> WorkspaceFile:
        """Step 3 of a large upload: make the uploaded object visible (seed 004).

        Example:
            ```python
            result = await client.files.upload_confirm(
                file_key=ticket.file_key, workspace_id="ws_abc123",
                filename="genome.bam", size=size,
            )
            ```
        """
        body = {
            "file_key": file_key,
            "workspace_id": workspace_id,
            "filename": filename,
            "size": size,
        }
        response = await self._ctx.http.request(
            "POST", "v1/files/upload-confirm", json=body, retry=True
        )
        return parse_response(WorkspaceFile, response, "POST v1/files/upload-confirm")

    async def download_url(self, key: str, *, workspace_id: str) -> DownloadLink:
        """A presigned URL for a file's bytes, valid about an hour (seed 004).

        Example:
            ```python
            link = await client.files.download_url("raw/sample.vcf", workspace_id="ws_abc123")
            ```
        """
        response = await self._ctx.http.request(
            "GET", "v1/files/download", params={"workspace_id": workspace_id, "key": key}
        )
        return parse_response(DownloadLink, response, "GET v1/files/download")

    async def download(
        self,
        key: str,
        *,
        workspace_id: str,
        dest: PathLike = ".",
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """Download a workspace file to ``dest`` (a folder, or a file path) and return its path.

        The bytes go through a part file (resumed by the next call after a failure) and are
        checked against the size in the listing and the answer's ``Content-Length``; a body
        that is short, too long or sent with a ``Content-Encoding`` is refused
        (:class:`IntegrityError`), never kept under the final name (#14). An existing file
        at the destination is kept: :class:`DestinationExistsError` unless ``overwrite=True``
        (the listing has no checksum to prove it is the same file).

        Example:
            ```python
            local = await client.files.download("raw/sample.vcf", workspace_id="ws_abc123",
                                                dest="./output/")
            ```
        """
        name = safe_filename(key.rsplit("/", 1)[-1])
        target = _download_target(dest, name)
        if not overwrite and (target.exists() or target.is_symlink()):
            raise DestinationExistsError(
                f"{target} already exists; pass overwrite=True (CLI: --overwrite) to replace it "
                f"with {key}"
            )
        size = await self._listed_size(key, workspace_id)
        link = await self.download_url(key, workspace_id=workspace_id)
        spec = DownloadSpec(
            # Presigned: the bearer token must not go to storage, even on the API's host.
            open=opener(self._ctx, (link.url,), authenticated=False, label=key),
            dest=target,
            label=key,
            size=size,
            overwrite=overwrite,  # False: a file that appeared meanwhile is kept, never replaced
        )
        with self._ctx.progress(progress) as reporter:
            async with self._ctx.limiter:
                await Downloader(self._ctx.config, reporter).download(
                    spec, task_id=f"files-{next(_task_numbers)}"
                )
        return target

    async def _listed_size(self, key: str, workspace_id: str) -> int | None:
        """The size the listing gives for ``key``, or ``None`` when it names none."""
        # The key itself as prefix: the listing holds it and only keys that extend it.
        async for item in self.list(workspace_id, prefix=key):
            if item.key == key:
                return item.size if "size" in item.model_fields_set else None
        return None

    async def delete(self, key: str, *, workspace_id: str) -> None:
        """Delete a workspace file (``workspace_id`` and ``key`` as query parameters).

        Example:
            ```python
            await client.files.delete("raw/sample.vcf", workspace_id="ws_abc123")
            ```
        """
        await self._ctx.http.request(
            "DELETE", "v1/files", params={"workspace_id": workspace_id, "key": key}
        )
