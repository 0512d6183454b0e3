"""Helpers for the pipeline tests: a paused local server and a logged-in client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from upload_helpers import DEMO, config

from flowbio_async import AsyncClient, Sample
from flowbio_async.testing import FlowServer

#: Simulated seconds beyond the end of any demo run.
FINISH = 100_000.0


@asynccontextmanager
async def client_for(
    server: FlowServer, state_dir: Path, credentials: Any = DEMO, **changes: Any
) -> AsyncIterator[AsyncClient]:
    """An AsyncClient logged in to ``server`` (quiet, files server set)."""
    settings = {"files_url": server.files_url, **changes}
    async with AsyncClient(server.url, config(state_dir, **settings)) as client:
        await client.log_in(credentials)
        yield client


async def demo_sample(client: AsyncClient, name: str = "liver_1") -> Sample:
    """A seeded RNA-Seq sample of the demo user."""
    found = [sample async for sample in client.samples.search(name=name)]
    return next(sample for sample in found if sample.name == name)


def posted_runs(server: FlowServer) -> int:
    """How many run POSTs reached the server."""
    return server.counters().get("run_pipeline", 0)
