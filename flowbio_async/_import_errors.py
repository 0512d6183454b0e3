"""Errors of sample import jobs (docs/protocol.md §3.7, #11)."""

from __future__ import annotations

from flowbio_async._errors import FlowError
from flowbio_async._models._sample_imports import SampleImportJob


class SampleImportFailedError(FlowError):
    """The import job ended FAILED; ``job`` is its last state, ``job.error`` the reason.

    Example:
        ```python
        try:
            await client.samples.wait_for_import(job)
        except SampleImportFailedError as exc:
            print(exc.job.accessions, exc.job.error)
        ```
    """

    def __init__(self, job: SampleImportJob) -> None:
        self.job = job
        accessions = ", ".join(job.accessions) or "no accessions"
        super().__init__(
            f"sample import {job.id} ({accessions}) failed: {job.error or 'no reason given'}"
        )


class SampleImportTimeoutError(FlowError, TimeoutError):
    """The job was still running when ``timeout`` ran out; it goes on on the server."""

    def __init__(self, job: SampleImportJob, timeout: float) -> None:
        self.job = job
        self.timeout = timeout
        super().__init__(f"sample import {job.id} still {job.status} after {timeout:g} s")
