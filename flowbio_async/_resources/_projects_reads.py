"""Project operations: reads."""

from __future__ import annotations

from flowbio_async._resources._base import Resource


class ProjectReads(Resource):
    """Project reads (mixin of :class:`ProjectResource`)."""
