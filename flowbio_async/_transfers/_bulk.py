"""Bulk download jobs: poll until the archive is ready (docs/protocol.md §5.3, seed 002 lifecycle).

The engine knows no paths: it calls ``fetch_status`` until the job completes, fails or
expires. Delays start at ``config.bulk_poll_interval`` and grow ×1.5 up to
``config.bulk_poll_max`` (a ``Retry-After``-style hint is not part of the status body, so the
backoff is ours). The server's percentage drives a progress task with ``total=100``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from flowbio_async._config import ClientConfig
from flowbio_async._errors import BulkDownloadFailedError, GoneError
from flowbio_async._models._downloads import BulkDownloadJob
from flowbio_async._progress import Progress


def raise_for_job(job: BulkDownloadJob) -> None:
    """Raise the typed error of a failed or expired job (with the server's message)."""
    if job.is_expired:
        raise GoneError(
            job.error or f"bulk download {job.id} has expired", status_code=410, code="EXPIRED"
        )
    if job.is_failed:
        raise BulkDownloadFailedError(f"bulk download {job.id} failed: {job.error or job.status}")


async def wait_for_job(
    fetch_status: Callable[[], Awaitable[BulkDownloadJob]],
    config: ClientConfig,
    progress: Progress,
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - an overall deadline, documented
) -> BulkDownloadJob:
    """Poll until the job completes; raise for failed/expired jobs or after ``timeout``.

    Example:
        ```python
        job = await wait_for_job(lambda: downloads.status(job_id), config, progress)
        ```
    """
    delay = config.bulk_poll_interval
    task: str | None = None
    with anyio.fail_after(timeout):
        while True:
            job = await fetch_status()
            if task is None:
                task = f"bulk-{job.id}"
                progress.start(task, job.name or f"bulk download {job.id}", 100)
            progress.reset(task, int(job.progress or 0))
            if not job.is_pending:
                progress.finish(task, ok=job.is_completed)
                raise_for_job(job)
                return job
            await anyio.sleep(delay)
            delay = min(delay * 1.5, config.bulk_poll_max)
