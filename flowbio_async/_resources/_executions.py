"""The ``client.executions`` resource, composed of one mixin per capability."""

from __future__ import annotations

from flowbio_async._resources._executions_downloads import ExecutionDownloads
from flowbio_async._resources._executions_monitor import ExecutionMonitoring
from flowbio_async._resources._executions_reads import ExecutionReads


class ExecutionResource(ExecutionReads, ExecutionMonitoring, ExecutionDownloads):
    """Operations on executions: reads, waiting and watching, downloads."""
