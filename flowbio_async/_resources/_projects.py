"""The ``client.projects`` resource, composed of one mixin per capability."""

from __future__ import annotations

from flowbio_async._resources._projects_downloads import ProjectDownloads
from flowbio_async._resources._projects_reads import ProjectReads


class ProjectResource(ProjectReads, ProjectDownloads):
    """Operations on projects: reads, downloads."""
