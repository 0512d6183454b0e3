"""Data operations: reads."""

from __future__ import annotations

from flowbio_async._resources._base import Resource


class DataReads(Resource):
    """Data reads (mixin of :class:`DataResource`)."""
