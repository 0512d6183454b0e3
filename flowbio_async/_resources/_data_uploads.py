"""Data operations: uploads."""

from __future__ import annotations

from flowbio_async._resources._base import Resource


class DataUploads(Resource):
    """Data uploads (mixin of :class:`DataResource`)."""
