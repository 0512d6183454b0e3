"""What every download method shares: destinations, openers, the many-file runner, the log.

Resources describe *what* to fetch (a :class:`Target`); this module turns targets into engine
runs under the client-wide limiter, with one progress reporter per call and an optional
JSON-lines log (seed 002 "Log Downloads").
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import anyio

from flowbio_async._errors import FlowConnectionError, NotFoundError
from flowbio_async._models._downloads import DownloadReport, DownloadResult
from flowbio_async._progress import Progress, ProgressCallback
from flowbio_async._retry import RetryBudget
from flowbio_async._transfers._download import Downloader, DownloadSpec, StreamLike
from flowbio_async._transfers._many import ItemResult, run_pipelined
from flowbio_async._transfers._paths import safe_filename

if TYPE_CHECKING:
    from flowbio_async._context import ClientContext
    from flowbio_async._models._data import Data

K = TypeVar("K")

Dest = str | os.PathLike[str]
ProgressArg = ProgressCallback | Sequence[ProgressCallback] | None
Include = str | Sequence[str] | Callable[["Data"], bool] | None


@dataclass(frozen=True)
class Target:
    """One file to fetch: candidate URLs (tried in order on 404), where, and what is known."""

    urls: tuple[str, ...]
    dest: Path
    label: str
    key: str
    size: int | None = None
    md5: str | None = None
    meta: Mapping[str, Any] | None = None


def destination(dest: Dest, filename: str) -> Path:
    """``dest`` itself when it names a file; ``dest/<filename>`` for a directory.

    A directory is an existing one or a path written with a trailing separator. The
    server's ``filename`` must be one plain component (``_paths.safe_filename``).
    """
    text = os.fspath(dest)
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        return path / safe_filename(filename)
    return path


def data_urls(ctx: ClientContext, data: Data) -> tuple[str, ...]:
    """Where a data file can be fetched: its ``download_url``, then the API base (§8 row 20)."""
    http = ctx.http
    name = quote(data.filename or "")
    path = f"downloads/{quote(data.id, safe='')}/{name}"
    urls = [data.download_url or f"{http.files_url}/{path}", f"{http.base_url}/{path}"]
    return tuple(dict.fromkeys(urls))  # drop the duplicate when both bases are the same


def output_path(data: Data) -> str:
    """An execution output's relative path (``results/x.tsv``), else its filename (§4.7)."""
    extra = data.model_extra or {}
    path = extra.get("path")
    return str(path) if path else (data.filename or data.id)


def matches(data: Data, include: Include) -> bool:
    """Whether ``data`` passes an ``include`` filter: glob patterns or a predicate."""
    if include is None:
        return True
    if callable(include):
        return bool(include(data))
    patterns = [include] if isinstance(include, str) else list(include)
    names = {output_path(data), data.filename or ""}
    return any(fnmatch(name, pattern) for name in names for pattern in patterns)


async def sample_files(ctx: ClientContext, sample_id: str) -> list[Data]:
    """Every data file of a sample: raw inputs plus outputs (``/samples/<id>/data``)."""
    from flowbio_async._models._data import Data
    from flowbio_async._pagination import AsyncPager

    pager = AsyncPager(
        ctx.http, f"samples/{quote(sample_id, safe='')}/data", "data", Data.model_validate
    )
    return [data async for data in pager]


def data_target(ctx: ClientContext, data: Data, dest: Path) -> Target:
    """A :class:`Target` for a data record already resolved to a destination."""
    return Target(
        urls=data_urls(ctx, data),
        dest=dest,
        label=data.filename or data.id,
        key=data.id,
        size=data.size,
        md5=data.md5,
        meta={"file_id": data.id, "filename": data.filename},
    )


def opener(
    ctx: ClientContext, urls: Sequence[str]
) -> Callable[[Mapping[str, str], RetryBudget], AbstractAsyncContextManager[StreamLike]]:
    """An engine opener trying ``urls`` in order; a 404 or unreachable host moves on for good.

    Contract §8 row 20: the files server may not exist (private instances), so the API base
    is the fallback. Once a URL answered, later attempts (resume) stick to it.
    """
    remaining = list(urls)

    @asynccontextmanager
    async def open_stream(
        headers: Mapping[str, str], budget: RetryBudget
    ) -> AsyncIterator[StreamLike]:
        async with AsyncExitStack() as stack:
            while True:
                try:
                    response = await stack.enter_async_context(
                        ctx.http.stream("GET", remaining[0], headers=headers, retry_budget=budget)
                    )
                    break
                except (NotFoundError, FlowConnectionError):
                    if len(remaining) == 1:
                        raise
                    remaining.pop(0)
            yield response

    return open_stream


async def fetch(
    ctx: ClientContext, target: Target, progress: Progress, *, overwrite: bool
) -> DownloadResult:
    """Run one target through the engine while holding a slot of the client-wide limiter."""
    spec = DownloadSpec(
        open=opener(ctx, target.urls),
        dest=target.dest,
        label=target.label,
        size=target.size,
        md5=target.md5,
        overwrite=overwrite,
    )
    async with ctx.limiter:
        return await Downloader(ctx.config, progress).download(spec, task_id=target.key)


async def fetch_one(
    ctx: ClientContext, target: Target, *, overwrite: bool, progress: ProgressArg
) -> DownloadResult:
    """One file with its own progress reporter (bars only on a terminal)."""
    with ctx.progress(progress) as reporter:
        return await fetch(ctx, target, reporter, overwrite=overwrite)


class DownloadLog:
    """Appends one JSON object per finished item to a file (seed 002 "Log Downloads").

    Example:
        ```python
        await client.data.download_many(ids, "out/", log="out/downloads.jsonl")
        ```
    """

    def __init__(self, path: Dest) -> None:
        self.path = anyio.Path(os.fspath(path))
        self._lock = anyio.Lock()

    async def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps({"action": "download", **record}, default=str) + "\n"
        async with self._lock:
            await self.path.parent.mkdir(parents=True, exist_ok=True)
            async with await self.path.open("a", encoding="utf-8") as handle:
                await handle.write(line)


def _log_record(
    item: object, target: Target | None, result: DownloadResult | None, error: Exception | None
) -> dict[str, Any]:
    record: dict[str, Any] = dict(target.meta or {}) if target else {}
    # The item itself names the file when planning failed (e.g. an unknown id).
    record.setdefault("file_id", target.key if target else str(getattr(item, "id", item)))
    if result is not None:
        record.update(path=str(result.path), size=result.size, md5=result.md5, status=result.status)
    else:
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
    record["timestamp"] = datetime.now(UTC).isoformat()
    return record


async def fetch_many(
    ctx: ClientContext,
    items: Sequence[K],
    plan: Callable[[K], Awaitable[Target]],
    *,
    overwrite: bool,
    progress: ProgressArg,
    log: Dest | None,
    fail_fast: bool,
    label: str,
) -> DownloadReport[K]:
    """Plan and fetch every item concurrently; one result (or typed error) per item.

    Planning (a metadata ``GET`` for a bare id) runs ahead of the transfers, overlapped with
    them (``run_pipelined``, #16). Concurrency is bounded twice: at most ``max_concurrency``
    transfers of this call are in flight, and each also holds the client-wide limiter, so
    parallel calls share one cap. Two items that would land on the same path get
    ``<dir>/<id>/<name>`` instead (decided in input order).
    """
    writer = DownloadLog(log) if log is not None else None
    claimed: set[Path] = set()

    def claim(item: K, target: Target) -> Target:
        if target.dest in claimed:
            alternative = target.dest.parent / safe_filename(target.key) / target.dest.name
            target = replace(target, dest=alternative)
        claimed.add(target.dest)
        return target

    async def one(item: K, target: Target) -> DownloadResult:
        result = await fetch(ctx, target, reporter, overwrite=overwrite)
        if writer is not None:
            await writer.write(_log_record(item, target, result, None))
        return result

    async def failed(item: K, target: Target | None, exc: Exception) -> None:
        if writer is not None:
            await writer.write(_log_record(item, target, None, exc))

    with ctx.progress(progress, aggregate_label=label) as reporter:
        results: list[ItemResult[K, DownloadResult]] = await run_pipelined(
            items,
            plan,
            one,
            concurrency=ctx.config.max_concurrency,
            fail_fast=fail_fast,
            in_order=claim,
            on_error=failed,
        )
    return DownloadReport(results)


async def fetch_data_files(
    ctx: ClientContext,
    files: Sequence[Data],
    where: Callable[[Data], Path],
    *,
    overwrite: bool,
    progress: ProgressArg,
    log: Dest | None,
    fail_fast: bool,
    label: str,
) -> DownloadReport[Data]:
    """:func:`fetch_many` over data files, each saved at ``where(data)``.

    ``where`` runs per item inside the runner, so a path it refuses (``safe_join``) fails
    that item only.
    """

    async def plan(data: Data) -> Target:
        return data_target(ctx, data, where(data))

    return await fetch_many(
        ctx,
        files,
        plan,
        overwrite=overwrite,
        progress=progress,
        log=log,
        fail_fast=fail_fast,
        label=label,
    )
