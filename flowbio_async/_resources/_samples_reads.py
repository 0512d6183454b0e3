"""Sample operations: reads."""

from __future__ import annotations

from flowbio_async._resources._base import Resource


class SampleReads(Resource):
    """Sample reads (mixin of :class:`SampleResource`)."""
