"""Execution operations: reads."""

from __future__ import annotations

from flowbio_async._resources._base import Resource


class ExecutionReads(Resource):
    """Execution reads (mixin of :class:`ExecutionResource`)."""
