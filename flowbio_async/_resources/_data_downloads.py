"""Data operations: downloads (one file, many files; docs/protocol.md §5.1, issue #4)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from flowbio_async._models._data import Data
from flowbio_async._models._downloads import DownloadReport, DownloadResult
from flowbio_async._resources._base import Resource
from flowbio_async._resources._data_assets import asset_target
from flowbio_async._resources._download_support import (
    Dest,
    ProgressArg,
    Target,
    data_target,
    destination,
    fetch_many,
    fetch_one,
)
from flowbio_async._transfers._many import call_concurrency
from flowbio_async._types import DataOrId


class DataDownloads(Resource):
    """Data downloads (mixin of :class:`DataResource`)."""

    async def _resolve(self, data_or_id: DataOrId) -> Data:
        # A listing item may lack the md5; a bare id has nothing: ask `/data/<id>` then.
        if isinstance(data_or_id, Data) and data_or_id.filename and data_or_id.size is not None:
            return self._with_download_url(data_or_id)
        return await self.get(data_or_id.id if isinstance(data_or_id, Data) else data_or_id)

    if TYPE_CHECKING:  # provided by DataReads in the composed DataResource

        async def get(self, data_id: str | int) -> Data: ...

    async def download(
        self,
        data_or_id: DataOrId,
        dest: Dest = ".",
        *,
        overwrite: bool = False,
        progress: ProgressArg = None,
    ) -> DownloadResult:
        """Download one data file to ``dest`` (a file path, or a directory to keep its name).

        Streams into a part file, resumes an earlier partial download, verifies size and
        md5 (when Flow knows it) and renames atomically. A complete copy already at ``dest``
        is skipped (``result.status == "skipped"``) unless ``overwrite=True``.

        Example:
            ```python
            result = await client.data.download("42", "downloads/")
            print(result.path, result.size, result.md5)
            ```
        """
        data = await self._resolve(data_or_id)
        target = data_target(self._ctx, data, destination(dest, data.filename or data.id))
        return await fetch_one(self._ctx, target, overwrite=overwrite, progress=progress)

    async def download_asset(
        self,
        html_data_or_id: DataOrId,
        relative_path: str,
        dest: Dest = ".",
        *,
        overwrite: bool = False,
        progress: ProgressArg = None,
    ) -> DownloadResult:
        """Download a file an HTML report links to, by its path relative to the report.

        docs/protocol.md §5.1: Flow resolves ``/downloads/<html id>/<relative path>`` next to the
        report (a MultiQC report's ``multiqc_report_data/...``). ``relative_path`` must be
        relative with no empty, ``.`` or ``..`` segment (else :class:`UnsafePathError`, a
        ``ValueError``, before any request). A directory ``dest`` receives
        ``dest/<relative path>``, the layout the report's links expect; anything else is the
        file to write. Flow lists no size or md5 for assets: bytes are streamed to a part
        file and renamed, and an existing copy is kept unless ``overwrite=True``.

        Example:
            ```python
            report = await client.data.download("42", "report/")  # multiqc_report.html
            log = await client.data.download_asset(
                "42", "multiqc_report_data/multiqc.log", "report/"
            )
            print(log.path)  # report/multiqc_report_data/multiqc.log
            ```
        """
        target = asset_target(self._ctx, html_data_or_id, relative_path, dest)
        return await fetch_one(self._ctx, target, overwrite=overwrite, progress=progress)

    async def download_many(
        self,
        items: Iterable[DataOrId],
        dest: Dest = ".",
        *,
        overwrite: bool = False,
        progress: ProgressArg = None,
        log: Dest | None = None,
        fail_fast: bool = False,
        max_concurrency: int | None = None,
    ) -> DownloadReport[DataOrId]:
        """Download many data files into the directory ``dest``, concurrently.

        At most ``max_concurrency`` of this call's transfers run at once (default and ceiling:
        ``config.max_concurrency``, shared with every other transfer of the client). The
        report lists each item as done, skipped (already complete) or failed with its typed
        error; ``log`` appends one JSON line per item.

        Example:
            ```python
            report = await client.data.download_many(["1", "2", "3"], "downloads/",
                                                     log="downloads/log.jsonl", max_concurrency=2)
            for item in report.failed:
                print(item.item, item.error)
            ```
        """
        call_concurrency(max_concurrency, self._ctx.config.max_concurrency)  # refuse bad values
        directory = Path(dest)

        async def plan(item: DataOrId) -> Target:
            data = await self._resolve(item)
            return data_target(
                self._ctx, data, destination(f"{directory}/", data.filename or data.id)
            )

        return await fetch_many(
            self._ctx,
            list(items),
            plan,
            overwrite=overwrite,
            progress=progress,
            log=log,
            fail_fast=fail_fast,
            label="downloads",
            concurrency=max_concurrency,
        )
