"""Reference clients for the benchmarks: the same requests as ours, with no SDK in between.

Plain aiohttp, plain httpx and httpx over httpx-aiohttp's transport (what openai-python's
``DefaultAioHttpClient`` uses), each written the way a careful user would: one session,
``concurrency`` requests in flight, bodies streamed to a file. ``with_metadata`` does what
``download_many(ids)`` must do for each id: ``GET /data/<id>`` for the name, size and md5,
then the body, then the md5 check.

Example:
    ```python
    seconds = anyio.run(plain_many, "aiohttp", api_url, files_url, jobs, out_dir, token)
    ```
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx

MiB = 1024 * 1024


@dataclass(frozen=True)
class Job:
    """One file: its id and (for listing-style runs) its name."""

    data_id: str
    filename: str


async def _save(chunks: AsyncIterator[bytes], dest: Path, md5: bool) -> str | None:
    """Write a body to ``dest`` as it arrives, with its md5 when asked (plain-user style)."""
    digest = hashlib.md5(usedforsecurity=False) if md5 else None
    with dest.open("wb") as sink:
        async for chunk in chunks:
            sink.write(chunk)
            if digest is not None:
                digest.update(chunk)
    return digest.hexdigest() if digest is not None else None


Fetch = Callable[[str, dict[str, str], Path | None, bool], Awaitable[tuple[Any, str | None]]]


async def _many(
    fetch: Fetch,
    api_url: str,
    files_url: str,
    jobs: list[Job],
    out: Path,
    token: str,
    concurrency: int,
    with_metadata: bool,
) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Job) -> None:
        async with gate:
            name, expected = job.filename, None
            if with_metadata:
                meta, _ = await fetch(f"{api_url}/data/{job.data_id}", headers, None, False)
                name, expected = meta["filename"], meta.get("md5")
            url = f"{files_url}/downloads/{job.data_id}/{name}"
            _, digest = await fetch(url, headers, out / name, with_metadata)
            if expected is not None and digest != expected:
                raise RuntimeError(f"md5 mismatch for {name}")

    started = time.perf_counter()
    await asyncio.gather(*(one(job) for job in jobs))
    return time.perf_counter() - started


def _httpx_client(kind: str) -> httpx.AsyncClient:
    if kind == "httpx-aiohttp":
        from httpx_aiohttp import HttpxAiohttpClient

        return HttpxAiohttpClient()
    return httpx.AsyncClient()


async def plain_many(
    kind: str,
    api_url: str,
    files_url: str,
    jobs: list[Job],
    out: Path,
    token: str,
    *,
    concurrency: int = 16,
    with_metadata: bool = False,
) -> float:
    """Seconds for ``jobs`` through one ``kind`` client: ``"aiohttp"`` (a plain
    ``ClientSession``), ``"httpx"`` or ``"httpx-aiohttp"`` (httpx over its transport)."""
    if kind == "aiohttp":
        async with aiohttp.ClientSession() as session:

            async def fetch(
                url: str, headers: dict[str, str], dest: Path | None, md5: bool
            ) -> tuple[Any, str | None]:
                async with session.get(url, headers=headers) as response:
                    response.raise_for_status()
                    if dest is None:
                        return await response.json(), None
                    return None, await _save(response.content.iter_any(), dest, md5)

            return await _many(
                fetch, api_url, files_url, jobs, out, token, concurrency, with_metadata
            )

    async with _httpx_client(kind) as client:

        async def fetch(
            url: str, headers: dict[str, str], dest: Path | None, md5: bool
        ) -> tuple[Any, str | None]:
            async with client.stream("GET", url, headers=headers) as response:
                response.raise_for_status()
                if dest is None:
                    await response.aread()
                    return response.json(), None
                return None, await _save(response.aiter_raw(), dest, md5)

        return await _many(fetch, api_url, files_url, jobs, out, token, concurrency, with_metadata)


async def aiohttp_large(url: str, dest: Path, token: str) -> tuple[float, str]:
    """One file with plain aiohttp, hashing as it writes: (seconds, md5)."""
    digest = hashlib.md5(usedforsecurity=False)
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        response.raise_for_status()
        with dest.open("wb") as sink:
            async for chunk in response.content.iter_chunked(MiB):
                sink.write(chunk)
                digest.update(chunk)
    return time.perf_counter() - started, digest.hexdigest()


async def per_call(kind: str, url: str, token: str, calls: int) -> float:
    """Seconds per sequential ``GET url`` (read and JSON-decoded) with a reference client."""
    headers = {"Authorization": f"Bearer {token}"}
    if kind == "aiohttp":
        async with aiohttp.ClientSession() as session:
            for index in range(20 + calls):
                if index == 20:
                    started = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    await response.json()
        return (time.perf_counter() - started) / calls
    async with _httpx_client(kind) as client:
        for index in range(20 + calls):
            if index == 20:
                started = time.perf_counter()
            (await client.get(url, headers=headers)).json()
    return (time.perf_counter() - started) / calls
