"""The state shared by every resource of one client: HTTP layer, config, limiter, progress."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import anyio

from flowbio_async._config import ClientConfig
from flowbio_async._http import HttpClient
from flowbio_async._progress import Progress, ProgressCallback, make_progress
from flowbio_async._transfers._budget import ByteBudget


@dataclass
class ClientContext:
    """What resources see as ``self._ctx`` (DEVELOPING.md "Internal interfaces").

    ``limiter`` caps transfers in flight across the whole client at ``config.max_concurrency``
    (kept below the pool size so queued requests never hit the pool timeout,
    design/transfers.md).

    Example:
        ```python
        async with ctx.limiter:
            response = await ctx.http.request("GET", "data/1")
        ```
    """

    http: HttpClient
    config: ClientConfig
    limiter: anyio.CapacityLimiter
    streams: anyio.CapacityLimiter | None = None
    """Extra download streams (segments beyond each transfer's first) across the client:
    the pool's connections left over by the transfers, so parallel ranges never wait for a
    connection nor make other requests wait (#13)."""
    upload_memory: ByteBudget | None = None
    """Upload chunk bytes held in memory across the client (``config.upload_memory``)."""

    @classmethod
    def create(cls, http: HttpClient, config: ClientConfig) -> ClientContext:
        extra = max(1, config.max_connections - config.max_concurrency)
        return cls(
            http=http,
            config=config,
            limiter=anyio.CapacityLimiter(config.max_concurrency),
            streams=anyio.CapacityLimiter(extra),
            upload_memory=ByteBudget(config.upload_memory),
        )

    def progress(
        self,
        callback: ProgressCallback | Sequence[ProgressCallback] | None = None,
        *,
        aggregate_label: str | None = None,
    ) -> AbstractContextManager[Progress]:
        """A progress reporter honouring ``config.show_progress`` (see ``_progress``)."""
        return make_progress(self.config, callback, aggregate_label=aggregate_label)
