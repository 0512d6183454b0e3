"""Sample operations: uploads."""

from __future__ import annotations

from flowbio_async._resources._base import Resource


class SampleUploads(Resource):
    """Sample uploads (mixin of :class:`SampleResource`)."""
