"""Sample imports: samples made from public-archive accessions (docs/protocol.md §3.7, #11).

``POST /v2/sample-imports`` with ``{"imports": [spec, ...]}`` starts one job for the batch;
``GET /v2/sample-imports/<id>`` reads it (the official 0.14.1 client's ``import_samples`` and
``get_import``). Waiting polls with the executions' backoff (×1.5 while nothing changes,
±25 % jitter) and a bound: ``timeout`` raises :class:`SampleImportTimeoutError`. The server
checks every spec (422 Problem Details naming each field, and no job); the client refuses
what it can know is wrong before sending anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from flowbio_async._errors import (
    ConfigurationError,
    FlowTransportError,
    RateLimitError,
    ServerError,
)
from flowbio_async._import_errors import SampleImportFailedError, SampleImportTimeoutError
from flowbio_async._models._sample_imports import SampleImportJob, SampleImportSpec
from flowbio_async._resources._base import Resource, parse_response, segment
from flowbio_async._resources._log_cursor import next_interval, poll_delay

ENDPOINT = "v2/sample-imports"
MAX_IMPORTS = 100
MAX_POLL_FAILURES = 10


def _spec_fields(index: int, spec: SampleImportSpec | Mapping[str, Any]) -> dict[str, Any]:
    """The wire object of one spec, refusing what cannot be right (naming index and field)."""
    if isinstance(spec, Mapping):
        try:
            spec = SampleImportSpec(**dict(spec))
        except TypeError as exc:
            raise ConfigurationError(f"imports[{index}]: {exc}") from None
    if not isinstance(spec, SampleImportSpec):
        raise ConfigurationError(f"imports[{index}]: expected a SampleImportSpec, got {spec!r}")
    for name in ("accession", "sample_type"):
        value = getattr(spec, name)
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"imports[{index}].{name}: required")
    if spec.pubmed is not None and not str(spec.pubmed).isdigit():
        raise ConfigurationError(f"imports[{index}].pubmed: a PubMed id is a number")
    for key, value in (spec.metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigurationError(f"imports[{index}].metadata.{key}: values are strings")
    return spec.to_wire()


class SampleImports(Resource):
    """Sample import jobs (mixin of :class:`SampleResource`)."""

    async def import_samples(
        self, imports: Sequence[SampleImportSpec | Mapping[str, Any]]
    ) -> SampleImportJob:
        """Start one job importing every accession; returns it (``RUNNING``).

        A spec the server refuses raises ``UnprocessableError`` whose ``details`` point at
        each field (``/imports/0/accession``); no job is started then.

        Example:
            ```python
            job = await client.samples.import_samples([
                SampleImportSpec("ERR1160845", "RNA-Seq", metadata={"scientist": "Ada"}),
            ])
            job = await client.samples.wait_for_import(job)
            print(job.sample_ids)
            ```
        """
        if isinstance(imports, Mapping | str) or not imports:
            raise ConfigurationError("imports: give a non-empty list of SampleImportSpec")
        if len(imports) > MAX_IMPORTS:
            raise ConfigurationError(f"imports: at most {MAX_IMPORTS} per batch")
        payload = {"imports": [_spec_fields(i, spec) for i, spec in enumerate(imports)]}
        # Not retried once it may have reached the server: a second POST is a second job.
        response = await self._ctx.http.request("POST", ENDPOINT, json=payload, retry=False)
        return parse_response(SampleImportJob, response, f"POST {ENDPOINT}")

    async def get_import(self, job_id: SampleImportJob | str | int) -> SampleImportJob:
        """The current state of an import job (``NotFoundError`` for an unknown id).

        Example:
            ```python
            job = await client.samples.get_import("12")
            print(job.status, job.sample_ids)
            ```
        """
        key = job_id.id if isinstance(job_id, SampleImportJob) else job_id
        path = f"{ENDPOINT}/{segment(key)}"
        return await self._get_model(SampleImportJob, path)

    async def wait_for_import(
        self,
        job_id: SampleImportJob | str | int,
        *,
        poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
        timeout: float | None = None,  # noqa: ASYNC109 - an overall deadline, documented
        raise_on_failure: bool = True,
    ) -> SampleImportJob:
        """Poll until the job leaves ``RUNNING``; returns it ``COMPLETED``.

        A ``FAILED`` job raises :class:`SampleImportFailedError` (or is returned with
        ``raise_on_failure=False``); ``timeout`` seconds (from the call, bounding every
        request too) raise :class:`SampleImportTimeoutError` (the job goes on) carrying the
        last answered poll, else the job you passed. A poll that fails on the network or
        with a 5xx/429 is retried after the next delay; ten in a row give up.

        Example:
            ```python
            job = await client.samples.wait_for_import(job, timeout=3600)
            ```
        """
        if not poll_interval > 0 or max_poll_interval < poll_interval:
            raise ConfigurationError("poll_interval must be positive and <= max_poll_interval")
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(f"timeout must be positive, got {timeout!r}")
        deadline = None if timeout is None else anyio.current_time() + timeout
        delay, failures = poll_interval, 0
        last = job_id if isinstance(job_id, SampleImportJob) else None

        def timed_out() -> SampleImportTimeoutError:
            # With a bare id and no answer yet, all that is known is that it was started.
            known = last if last is not None else SampleImportJob(id=str(job_id), status="RUNNING")
            return SampleImportTimeoutError(known, timeout or 0.0)

        while True:
            remaining = None if deadline is None else deadline - anyio.current_time()
            try:
                # The deadline bounds the request too: a slow server cannot hold us past it.
                with anyio.move_on_after(remaining) as bounded:
                    answer = await self.get_import(job_id)
                if bounded.cancelled_caught:
                    raise timed_out()
                job = answer
            except (FlowTransportError, ServerError, RateLimitError):
                failures += 1
                if failures >= MAX_POLL_FAILURES:
                    raise
            else:
                failures = 0
                changed = last is None or job.status != last.status
                last = job
                if not job.running:
                    if job.failed and raise_on_failure:
                        raise SampleImportFailedError(job)
                    return job
                delay = next_interval(
                    delay, changed=changed, initial=poll_interval, maximum=max_poll_interval
                )
            pause = poll_delay(delay)
            if deadline is not None and anyio.current_time() + pause > deadline:
                await anyio.sleep(max(0.0, deadline - anyio.current_time()))
                raise timed_out()
            await anyio.sleep(pause)
