"""Helpers for the download tests: a server with files of chosen content, a quiet client."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials
from flowbio_async.testing import FlowServer
from flowbio_async.testing._store import Store

DEMO = UsernamePasswordCredentials(username="demo", password="demo-password")
MiB = 1024 * 1024


def server_fixtures(**settings: Any) -> tuple[Any, Any]:
    """A module-scoped ``server`` fixture (a FlowServer with ``settings``) and an autouse one
    that resets it before and after each test: ``server, _clean = server_fixtures()``."""

    @pytest.fixture(scope="module", name="server")
    def server() -> Iterator[FlowServer]:
        with FlowServer(**settings) as running:
            yield running

    @pytest.fixture(autouse=True, name="clean_server")
    def clean(server: FlowServer) -> Iterator[None]:
        server.reset()
        yield
        server.reset()

    return server, clean


def quiet_config(tmp_path: Path, **changes: Any) -> ClientConfig:
    """No bars, fast retries (the download retry budget itself stays as configured)."""
    values: dict[str, Any] = {
        "show_progress": False,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "state_dir": tmp_path / "state",
        **changes,
    }
    return ClientConfig(**values)


@asynccontextmanager
async def client_for(
    server: FlowServer, tmp_path: Path, *, login: bool = True, **changes: Any
) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server.url, quiet_config(tmp_path, **changes)) as client:
        if login:
            await client.log_in(DEMO)
        yield client


def add_file(
    server: FlowServer,
    content: bytes,
    filename: str = "reads.fastq.gz",
    *,
    owner: str = "demo",
    private: bool = True,
    md5: str | None = None,
    size: int | None = None,
    **columns: Any,
) -> str:
    """Create a ready data row with ``content`` on the running server; returns its id."""
    store = Store(server.data_dir)
    try:
        user = store.get_user_by_username(owner)
        assert user is not None
        row = store.create_data(
            filename=filename, owner=user["id"], private=int(private), **columns
        )
        store.write_blob(row["id"], content)
        if md5 is not None:  # lie about the checksum (what a corrupted store would say)
            store.update_data(row["id"], md5=md5)
        if size is not None:  # or about the size (stale metadata)
            store.update_data(row["id"], size=size)
        return str(row["id"])
    finally:
        store.close()


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible-enough bytes."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


def md5_of(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def part_files(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if ".part" in name)


def add_row(server: FlowServer, table: str, owner: str = "demo", **values: Any) -> int:
    """Insert a row owned by ``owner`` (a project, sample, execution...); returns its id."""
    store = Store(server.data_dir)
    try:
        user = store.get_user_by_username(owner)
        assert user is not None
        return store.insert(table, {"owner": user["id"], "created": 1, **values})
    finally:
        store.close()
