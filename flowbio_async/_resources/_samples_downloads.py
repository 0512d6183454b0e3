"""Sample operations: downloads."""

from __future__ import annotations

from flowbio_async._resources._base import Resource


class SampleDownloads(Resource):
    """Sample downloads (mixin of :class:`SampleResource`)."""
