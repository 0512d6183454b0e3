"""Execution operations: downloads."""

from __future__ import annotations

from flowbio_async._resources._base import Resource


class ExecutionDownloads(Resource):
    """Execution downloads (mixin of :class:`ExecutionResource`)."""
