"""Project operations: downloads."""

from __future__ import annotations

from flowbio_async._resources._base import Resource


class ProjectDownloads(Resource):
    """Project downloads (mixin of :class:`ProjectResource`)."""
