"""Project operations: reads."""

from __future__ import annotations

from flowbio_async._models._executions import Execution
from flowbio_async._models._projects import Project
from flowbio_async._models._samples import Sample
from flowbio_async._pagination import AsyncPager
from flowbio_async._resources._base import Resource, build_params, segment
from flowbio_async._types import DateLike


class ProjectReads(Resource):
    """Project reads (mixin of :class:`ProjectResource`)."""

    def get_owned(self, *, page_size: int | None = None) -> AsyncPager[Project]:
        """Projects owned by the logged-in user (same as ``samples.get_owned_projects``).

        Example:
            ```python
            async for project in client.projects.get_owned():
                print(project.name)
            ```
        """
        return self._pager(
            "projects/owned", "projects", Project.model_validate, page_size=page_size
        )

    def search(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        owner: str | None = None,
        sample_types: str | list[str] | None = None,
        pipeline: str | int | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
        sort: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[Project]:
        """Search projects visible to the caller (``/projects/search``, docs/protocol.md §4.4)."""
        params = build_params(
            name=name,
            description=description,
            owner=owner,
            sample_types=sample_types,
            pipeline=pipeline,
            sort=sort,
            created_after=created_after,
            created_before=created_before,
        )
        return self._pager(
            "projects/search",
            "projects",
            Project.model_validate,
            params=params,
            page_size=page_size,
        )

    async def get(self, project_id: str | int) -> Project:
        """One project; private or unknown projects raise ``NotFoundError``."""
        return await self._get_model(Project, f"projects/{segment(project_id)}")

    def get_samples(
        self,
        project_id: str | int,
        *,
        filter: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[Sample]:
        """Samples of one project (``filter`` is the endpoint's free-text filter)."""
        return self._pager(
            f"projects/{segment(project_id)}/samples",
            "samples",
            Sample.model_validate,
            params=build_params(filter=filter),
            page_size=page_size,
        )

    def get_executions(
        self,
        project_id: str | int,
        *,
        filter: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[Execution]:
        """Executions of one project."""
        return self._pager(
            f"projects/{segment(project_id)}/executions",
            "executions",
            Execution.model_validate,
            params=build_params(filter=filter),
            page_size=page_size,
        )
