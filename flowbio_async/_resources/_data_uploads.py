"""Data operations: uploads (``POST /upload``, docs/protocol.md §3.3; issue #3)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from flowbio_async._errors import ConfigurationError, FlowError
from flowbio_async._models._data import Data
from flowbio_async._models._parse import parse_model
from flowbio_async._progress import Progress, ProgressCallback
from flowbio_async._resources._base import Resource, segment
from flowbio_async._transfers._many import ItemResult, call_concurrency, run_many
from flowbio_async._transfers._sources import Source, check_source
from flowbio_async._transfers._upload import ChunkedUploader, UploadJob, upload_with_progress
from flowbio_async._types import PathLike

logger = logging.getLogger("flowbio_async")


class DataUploads(Resource):
    """Data uploads (mixin of :class:`DataResource`)."""

    def _uploader(self) -> ChunkedUploader:
        ctx = self._ctx
        return ChunkedUploader(
            ctx.http, ctx.config, ctx.limiter, streams=ctx.streams, memory=ctx.upload_memory
        )

    async def upload_data(
        self,
        path: PathLike,
        filename: str | None = None,
        data_type: str | None = None,
        is_directory: bool = False,
        *,
        progress: ProgressCallback | None = None,
        resume: bool = True,
    ) -> Data:
        """Upload one file in chunks and return the created data (seed 000).

        ``filename`` overrides the stored name (no spaces); ``data_type`` is a data type
        identifier (``GET /data/types``); ``is_directory=True`` uploads a zip/tar archive that
        the server unpacks. An interrupted upload (crash, Ctrl-C, retries exhausted) continues
        where the server is when called again with ``resume=True``. Bad input raises
        :class:`ConfigurationError` before any byte is sent.

        Example:
            ```python
            data = await client.data.upload_data("counts.tsv", filename="run42_counts.tsv")
            print(data.id)
            ```
        """
        source = check_source(path, filename, archive=is_directory)
        with self._ctx.progress(progress) as reporter:
            return await self._send_data(source, data_type, is_directory, reporter, resume)

    async def upload_many(
        self,
        paths: Sequence[PathLike],
        data_type: str | None = None,
        *,
        is_directory: bool = False,
        progress: ProgressCallback | None = None,
        resume: bool = True,
        fail_fast: bool = False,
        max_concurrency: int | None = None,
        stop_on_error: bool = False,
    ) -> list[ItemResult[Path, Data]]:
        """Upload many files concurrently: at most ``max_concurrency`` at once (default and
        ceiling: the client-wide ``config.max_concurrency``).

        Every path is checked before the first byte is sent. Results come back in input
        order, one per path: ``result.value`` is the :class:`Data`, or ``result.error`` the
        exception that stopped that file (``fail_fast=True`` raises the first one instead).
        With ``stop_on_error=True`` no file starts after the first failure; files already
        uploading finish, and those never started carry a :class:`NotStartedError`.

        Example:
            ```python
            results = await client.data.upload_many(sorted(Path("run42").glob("*.fastq.gz")))
            failed = [r for r in results if not r.ok]
            ```
        """
        workers = call_concurrency(max_concurrency, self._ctx.config.max_concurrency)
        sources = [check_source(p, archive=is_directory) for p in paths]
        seen: set[Path] = set()
        for source in sources:
            # Two concurrent uploads of one file would share a resume record (and race on it).
            if source.path in seen:
                raise ConfigurationError(f"{str(source.path)!r} is listed more than once")
            seen.add(source.path)
        by_path = {id(source): Path(path) for source, path in zip(sources, paths, strict=True)}
        with self._ctx.progress(progress, aggregate_label=f"{len(sources)} files") as reporter:
            # Every size is known before the first byte: the totals never grow (#17 item 7).
            reporter.plan(len(sources), sum(source.size for source in sources))

            async def one(source: Source) -> Data:
                return await self._send_data(source, data_type, is_directory, reporter, resume)

            results = await run_many(
                sources, one, concurrency=workers, fail_fast=fail_fast, stop_on_error=stop_on_error
            )
        return [ItemResult(by_path[id(r.item)], value=r.value, error=r.error) for r in results]

    async def _send_data(
        self,
        source: Source,
        data_type: str | None,
        is_directory: bool,
        reporter: Progress,
        resume: bool,
    ) -> Data:
        fields: dict[str, str] = {}
        if data_type is not None:
            fields["data_type"] = data_type
        if is_directory:
            fields["is_directory"] = "true"
        job = UploadJob("upload", source.path, source.filename, fields)
        final = await upload_with_progress(self._uploader(), job, reporter, resume=resume)
        data_id = str(final.get("id") or final.get("data_id"))
        try:
            # The data as `get` shows it (md5, data_type, is_directory...; #17 item 9).
            return await self._get_model(Data, f"data/{segment(data_id)}")
        except FlowError as exc:
            # The upload is done: failing now would invite a second upload on a re-run.
            logger.warning("data %s was uploaded, but reading it back failed: %s", data_id, exc)
        body = {"id": data_id, "filename": source.filename, "size": source.size}
        return parse_model(Data, body, endpoint="POST upload")
