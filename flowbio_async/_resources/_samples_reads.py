"""Sample operations: reads (mirrors flowbio v2 ``SampleResource`` names, plus search)."""

from __future__ import annotations

import anyio

from flowbio_async._models._data import Data
from flowbio_async._models._executions import Execution
from flowbio_async._models._parse import (
    expect_object,
    expect_objects,
    parse_model,
    parse_models,
)
from flowbio_async._models._projects import Project
from flowbio_async._models._samples import (
    MetadataAttribute,
    MetadataOption,
    Organism,
    Sample,
    SampleType,
)
from flowbio_async._pagination import AsyncPager
from flowbio_async._resources._base import Resource, build_params, segment
from flowbio_async._tasks import task_group
from flowbio_async._types import DateLike

_OPTION_FETCHES = 8  # concurrent /options requests while listing attributes


class SampleReads(Resource):
    """Sample reads (mixin of :class:`SampleResource`)."""

    async def get_types(self) -> list[SampleType]:
        """The available sample types.

        Example:
            ```python
            for st in await client.samples.get_types():
                print(f"{st.identifier}: {st.name}")
            ```
        """
        return await self._get_models(SampleType, "samples/types")

    async def get_type(self, identifier: str) -> SampleType:
        """One sample type by identifier; unknown identifiers raise ``NotFoundError``."""
        return await self._get_model(SampleType, f"samples/types/{segment(identifier)}")

    async def get_metadata_attributes(self) -> list[MetadataAttribute]:
        """The metadata attributes samples can carry, with ``options`` resolved as flowbio does.

        ``options`` is ``None`` for free-text attributes (``allow_user_terms`` or no options);
        otherwise the values from ``/samples/metadata/<id>/options`` (docs/protocol.md §4.2).

        Example:
            ```python
            attributes = await client.samples.get_metadata_attributes()
            required = [a for a in attributes if a.required]
            ```
        """
        endpoint = "GET samples/metadata"
        items = expect_objects(await self._get_json("samples/metadata"), endpoint=endpoint)
        options: dict[str, list[str]] = {}
        limiter = anyio.CapacityLimiter(_OPTION_FETCHES)

        async def fetch(identifier: str) -> None:
            async with limiter:
                values = await self.get_metadata_options(identifier)
            options[identifier] = [option.value for option in values]

        async with task_group() as tg:  # a failure is the FlowError itself (#14)
            for item in items:
                if item.get("has_options") and not item.get("allow_user_terms"):
                    tg.start_soon(fetch, str(item["identifier"]))
        return [
            parse_model(
                MetadataAttribute,
                {
                    **item,
                    "required_for_sample_types": [
                        str(link["sample_type_identifier"])
                        for link in item.get("sample_type_links") or []
                        if link.get("required")
                    ],
                    "options": options.get(str(item["identifier"])),
                },
                endpoint=endpoint,
            )
            for item in items
        ]

    async def get_metadata_options(
        self, identifier: str, *, value: str | None = None, validated: bool | None = None
    ) -> list[MetadataOption]:
        """Allowed values of one attribute (the first 100 by value; ``value`` filters)."""
        params = build_params(value=value, validated=validated)
        path = f"samples/metadata/{segment(identifier)}/options"
        body = expect_object(await self._get_json(path, params), endpoint=f"GET {path}")
        return parse_models(MetadataOption, body.get("options") or [], endpoint=f"GET {path}")

    async def get_organisms(self) -> list[Organism]:
        """The available organisms.

        Example:
            ```python
            for o in await client.samples.get_organisms():
                print(f"{o.id}: {o.name} ({o.latin_name})")
            ```
        """
        return await self._get_models(Organism, "organisms")

    def get_owned_projects(self, *, page_size: int | None = None) -> AsyncPager[Project]:
        """Projects owned by the logged-in user, fetched lazily page by page.

        Example:
            ```python
            projects = client.samples.get_owned_projects()
            print("you have", await projects.count(), "projects")
            async for project in projects:
                print(project.id, project.name)
            ```
        """
        return self._pager(
            "projects/owned", "projects", Project.model_validate, page_size=page_size
        )

    async def get(self, sample_id: str | int) -> Sample:
        """One sample with its metadata, organism, project and raw filesets.

        Example:
            ```python
            sample = await client.samples.get("123")
            ```
        """
        return await self._get_model(Sample, f"samples/{segment(sample_id)}")

    def search(
        self,
        *,
        name: str | None = None,
        filter: str | None = None,
        organism: str | None = None,
        project: str | None = None,
        sample_types: str | list[str] | None = None,
        owner: str | None = None,
        owned: bool | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
        sort: str | None = None,
        full_metadata: bool | None = None,
        metadata: dict[str, str] | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[Sample]:
        """Search samples visible to the caller (``/samples/search``, samples.md).

        ``filter`` (docs-site spelling) is sent as the ``name`` substring filter because the
        API has no free-text parameter; ``organism`` is an organism id (``"Hs"``; Flow ignores
        a name); ``project`` and ``owner`` are substrings of the project's and the owner's
        names; ``created_after``/``created_before`` accept ISO text, dates or Unix seconds
        and are sent as ``created_gt``/``created_lt`` Unix ints (inclusive bounds);
        ``metadata`` maps attribute identifiers to substring filters (``"true"``/``"false"``
        test whether a sample has a value at all).

        Example:
            ```python
            async for sample in client.samples.search(filter="cancer", organism="Hs",
                                                      created_after="2024-01-01"):
                print(sample.id, sample.name)
            ```
        """
        params = build_params(
            name=name or filter,
            organism=organism,
            project=project,
            sample_types=sample_types,
            owner=owner,
            owned=owned,
            sort=sort,
            full_metadata=full_metadata,
            created_after=created_after,
            created_before=created_before,
            extra=metadata,
        )
        return self._pager(
            "samples/search", "samples", Sample.model_validate, params=params, page_size=page_size
        )

    def get_data(
        self,
        sample_id: str | int,
        *,
        filter: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[Data]:
        """Data of one sample: raw inputs plus pipeline outputs (``/samples/<id>/data``)."""
        return self._pager(
            f"samples/{segment(sample_id)}/data",
            "data",
            lambda item: self._with_download_url(Data.model_validate(item)),
            params=build_params(filter=filter),
            page_size=page_size,
        )

    def get_executions(
        self,
        sample_id: str | int,
        *,
        filter: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[Execution]:
        """Executions that used one sample (``/samples/<id>/executions``)."""
        return self._pager(
            f"samples/{segment(sample_id)}/executions",
            "executions",
            Execution.model_validate,
            params=build_params(filter=filter),
            page_size=page_size,
        )
