"""Data operations: downloads."""

from __future__ import annotations

from flowbio_async._resources._base import Resource


class DataDownloads(Resource):
    """Data downloads (mixin of :class:`DataResource`)."""
