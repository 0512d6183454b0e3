"""Data operations: reads."""

from __future__ import annotations

from flowbio_async._models._data import Data, DataType
from flowbio_async._pagination import AsyncPager
from flowbio_async._resources._base import Resource, build_params, segment
from flowbio_async._types import DateLike


class DataReads(Resource):
    """Data reads (mixin of :class:`DataResource`)."""

    async def get(self, data_id: str | int) -> Data:
        """One data file with ``filename``, ``size``, ``md5`` when known and ``download_url``.

        Example:
            ```python
            data = await client.data.get("42")
            print(data.filename, data.size, data.download_url)
            ```
        """
        return self._with_download_url(await self._get_model(Data, f"data/{segment(data_id)}"))

    async def get_types(self) -> list[DataType]:
        """Data type identifiers accepted by uploads (``/data/types``)."""
        return await self._get_models(DataType, "data/types")

    def search(
        self,
        *,
        filename: str | None = None,
        pattern: str | None = None,
        owned: bool | None = None,
        uploaded: bool | None = None,
        category: int | None = None,
        data_types: str | list[str] | None = None,
        size_gt: int | None = None,
        size_lt: int | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
        owner: str | None = None,
        is_single: bool | None = None,
        process_execution: str | None = None,
        pipeline: str | int | None = None,
        sort: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[Data]:
        """Search data files (``/data/search``, data.md).

        ``filename`` is a substring and ``pattern`` a regex of the filename; ``is_single=False``
        gives the first file of each multi-file fileset (paired reads, with
        ``paired_filename``), ``True`` the files alone in theirs; ``process_execution`` is a
        substring of the producing step's name and ``pipeline`` a pipeline id.

        Example:
            ```python
            async for data in client.data.search(filename=".fastq.gz", owned=True):
                print(data.id, data.filename, data.size)
            ```
        """
        params = build_params(
            filename=filename,
            pattern=pattern,
            owned=owned,
            uploaded=uploaded,
            category=category,
            data_types=data_types,
            size_gt=size_gt,
            size_lt=size_lt,
            owner=owner,
            is_single=is_single,
            process_execution=process_execution,
            pipeline=pipeline,
            sort=sort,
            created_after=created_after,
            created_before=created_before,
        )
        return self._pager(
            "data/search",
            "data",
            lambda item: self._with_download_url(Data.model_validate(item)),
            params=params,
            page_size=page_size,
        )
