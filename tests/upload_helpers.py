"""Helpers for the upload tests: a logged-in client with its own resume dir, server rows."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials
from flowbio_async.testing import FlowServer

DEMO = UsernamePasswordCredentials(username="demo", password="demo-password")
OTHER = UsernamePasswordCredentials(username="other", password="other-password")


def config(state_dir: Path, **changes: Any) -> ClientConfig:
    """Quiet, fast-retrying config with resume records under ``state_dir``."""
    values: dict[str, Any] = {
        "show_progress": False,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "state_dir": state_dir,
        **changes,
    }
    return ClientConfig(**values)


@asynccontextmanager
async def logged_in(
    server: FlowServer, state_dir: Path, credentials: Any = DEMO, **changes: Any
) -> AsyncIterator[AsyncClient]:
    """An AsyncClient logged in to ``server``."""
    async with AsyncClient(server.url, config(state_dir, **changes)) as client:
        await client.log_in(credentials)
        yield client


def rows(server: FlowServer, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Read the server's SQLite store directly (what the server recorded, not what it says)."""
    with closing(sqlite3.connect(server.data_dir / "flow.sqlite3")) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params).fetchall()]


def data_row(server: FlowServer, data_id: str) -> dict[str, Any]:
    """The server's data row for ``data_id``."""
    found = rows(server, "SELECT * FROM data WHERE id = ?", (int(data_id),))
    assert found, f"no data row {data_id}"
    return found[0]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def random_file(path: Path, size: int) -> Path:
    """Write ``size`` random bytes to ``path``."""
    path.write_bytes(os.urandom(size))
    return path


def upload_requests(server: FlowServer) -> int:
    """Chunk POSTs the server received on every upload endpoint."""
    counts = server.counters()
    return sum(
        counts.get(name, 0)
        for name in ("upload", "upload_sample", "upload_multiplexed", "upload_annotation")
    )
