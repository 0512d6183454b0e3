"""What every download method shares: destinations, openers, the many-file runner, the log.

Resources describe *what* to fetch (a :class:`Target`); this module turns targets into engine
runs under the client-wide limiter, with one progress reporter per call and an optional
JSON-lines log (seed 002 "Log Downloads").
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import anyio

from flowbio_async._errors import FlowConnectionError, IntegrityError, NotFoundError
from flowbio_async._models._downloads import DownloadReport, DownloadResult
from flowbio_async._progress import Progress, ProgressCallback
from flowbio_async._retry import RetryBudget
from flowbio_async._transfers._download import Downloader, DownloadSpec, StreamLike
from flowbio_async._transfers._many import ItemResult, call_concurrency, run_many
from flowbio_async._transfers._paths import folder_name, safe_filename

if TYPE_CHECKING:
    from flowbio_async._context import ClientContext
    from flowbio_async._models._data import Data
    from flowbio_async._models._samples import Sample

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
    root: Path | None = None
    """The folder the caller chose, when ``dest`` is below it by server-provided names."""


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
    """Where a data file can be fetched: its ``download_url``, then the API base
    (docs/protocol.md §8 row 20)."""
    http = ctx.http
    name = quote(data.filename or "", errors="replace")
    path = f"downloads/{quote(data.id, safe='', errors='replace')}/{name}"
    urls = [data.download_url or f"{http.files_url}/{path}", f"{http.base_url}/{path}"]
    return tuple(dict.fromkeys(urls))  # drop the duplicate when both bases are the same


def output_path(data: Data) -> str:
    """An execution output's relative path (``results/x.tsv``), else its filename
    (docs/protocol.md §4.7)."""
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


def data_target(
    ctx: ClientContext,
    data: Data,
    dest: Path,
    root: Path | None = None,
    origin: Mapping[str, Any] | None = None,
) -> Target:
    """A :class:`Target` for a data record already resolved to a destination.

    ``root``: the caller's folder, when ``dest`` builds on server names. ``origin``
    (``{"sample_id", "sample_name"}``, ``{"execution_id"}``) goes into the download log
    beside the file's own fields; without one, the record's own ``sample`` link
    (``/data/<id>`` has it) says which sample the file belongs to.
    """
    if origin is None and data.sample is not None and data.sample.id is not None:
        origin = {"sample_id": data.sample.id, "sample_name": data.sample.name}
    return Target(
        root=root,
        urls=data_urls(ctx, data),
        dest=dest,
        label=data.filename or data.id,
        key=data.id,
        size=data.size,
        md5=data.md5,
        meta={"file_id": data.id, "filename": data.filename, **(origin or {})},
    )


def check_encoding(response: StreamLike, label: str) -> None:
    """Refuse a body whose ``Content-Encoding`` changes the bytes (issue #14 item 6).

    The engine asks for ``identity`` and writes the raw bytes at their offsets: a gzip body
    would either be stored compressed or, decoded, no longer match any size or range.
    """
    encoding = (response.headers.get("content-encoding") or "identity").strip().lower()
    if encoding not in {"", "identity"}:
        raise IntegrityError(
            f"{label}: the server sent the file with Content-Encoding {encoding!r} although "
            "'identity' was asked for; refusing bytes that are not the file's"
        )


CLASH_SEPARATOR = "__"
"""Between a sample's name and its id when another sample has the same name (#17)."""


def _id_order(identifier: str) -> tuple[int, int, str]:
    # Numeric ids in number order (older samples first), any others after, as text.
    return (0, int(identifier), "") if identifier.isdigit() else (1, 0, identifier)


def sample_folders(samples: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """Folder names for samples laid out side by side, never one folder for two samples.

    Each sample's folder is its name made safe (``folder_name``). When several samples would
    share a folder (compared case-insensitively, as macOS and Windows file systems do), the
    one with the smallest id keeps the plain name and every other is ``<name>__<id>``, so
    a sample added later never moves the folders already on disk.

    Example:
        ```python
        sample_folders([("20", "S1"), ("21", "S1"), ("22", "S2")])
        # {"20": "S1", "21": "S1__21", "22": "S2"}
        ```
    """
    ordered = sorted(dict(samples).items(), key=lambda item: _id_order(item[0]))
    plain = {sample_id: folder_name(name or "", sample_id) for sample_id, name in ordered}
    taken: set[str] = set()
    folders: dict[str, str] = {}
    for sample_id, _ in ordered:
        folder = plain[sample_id]
        while folder.casefold() in taken:
            folder = f"{folder}{CLASH_SEPARATOR}{sample_id}"
        taken.add(folder.casefold())
        folders[sample_id] = folder
    return folders


def sample_origin(sample: Sample) -> dict[str, Any]:
    """Which sample a file came from, as the download log records it."""
    return {"sample_id": sample.id, "sample_name": sample.name}


def opener(
    ctx: ClientContext, urls: Sequence[str], *, authenticated: bool = True, label: str = ""
) -> Callable[[Mapping[str, str], RetryBudget], AbstractAsyncContextManager[StreamLike]]:
    """An engine opener trying ``urls`` in order; a 404 or unreachable host moves on for good.

    docs/protocol.md §8 row 20: the files server may not exist (private instances), so the API base
    is the fallback. Once a URL answered, later attempts (resume) stick to it. Presigned
    URLs are opened with ``authenticated=False`` (no bearer token to storage).
    """
    remaining = list(urls)
    name = label or "download"

    @asynccontextmanager
    async def open_stream(
        headers: Mapping[str, str], budget: RetryBudget
    ) -> AsyncIterator[StreamLike]:
        async with AsyncExitStack() as stack:
            while True:
                try:
                    response = await stack.enter_async_context(
                        ctx.http.stream(
                            "GET",
                            remaining[0],
                            headers=headers,
                            authenticated=authenticated,
                            retry_budget=budget,
                        )
                    )
                    break
                except (NotFoundError, FlowConnectionError):
                    if len(remaining) == 1:
                        raise
                    remaining.pop(0)
            if response.status_code < 300:
                check_encoding(response, name)
            yield response

    return open_stream


async def fetch(
    ctx: ClientContext,
    target: Target,
    progress: Progress,
    *,
    overwrite: bool,
    task_id: str | None = None,
) -> DownloadResult:
    """Run one target through the engine while holding a slot of the client-wide limiter."""
    spec = DownloadSpec(
        open=opener(ctx, target.urls, label=target.label),
        dest=target.dest,
        label=target.label,
        size=target.size,
        md5=target.md5,
        overwrite=overwrite,
        root=target.root,
    )
    async with ctx.limiter:
        downloader = Downloader(ctx.config, progress, streams=ctx.streams)
        return await downloader.download(spec, task_id=task_id or target.key)


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
    concurrency: int | None = None,
) -> DownloadReport[K]:
    """Plan every item, then fetch them concurrently; one result (or typed error) per item.

    Every item is planned first (sizes, destinations), so the progress totals are known
    before the first byte (#17 item 7) and two items that would land on the same path are
    told apart in input order (the later one goes to ``<dir>/<id>/<name>``). Planning (a
    metadata ``GET`` per bare id) is not a transfer: it runs wider than the transfers, up
    to ``max_connections`` at once, so the metadata round trips mostly leave the critical
    path (#16). Transfers are bounded twice: at most ``concurrency`` (the call's own
    ``max_concurrency=``, within the client-wide one) are in flight, and each also holds the
    client-wide limiter, so parallel calls share one cap.
    """
    writer = DownloadLog(log) if log is not None else None
    tasks: set[str] = set()

    def task_for(key: str) -> str:
        # One progress task per transfer, even when two items name the same file (#14).
        task, number = key, 2
        while task in tasks:
            task, number = f"{key}#{number}", number + 1
        tasks.add(task)
        return task

    limit = call_concurrency(concurrency, ctx.config.max_concurrency)
    plan_width = ctx.config.max_connections

    async def failed(item: K, target: Target | None, exc: Exception) -> None:
        if writer is not None:
            await writer.write(_log_record(item, target, None, exc))

    async def planned_target(item: K) -> Target:
        try:
            return await plan(item)
        except Exception as exc:
            await failed(item, None, exc)
            raise

    with ctx.progress(progress, aggregate_label=label) as reporter:
        plans = await run_many(
            items, planned_target, concurrency=max(limit, plan_width), fail_fast=fail_fast
        )
        targets: dict[int, Target] = {}
        claimed: set[Path] = set()
        for index, outcome in enumerate(plans):
            if outcome.value is None:
                continue
            target = outcome.value
            if target.dest in claimed:
                alternative = target.dest.parent / safe_filename(target.key) / target.dest.name
                target = replace(target, dest=alternative)
            claimed.add(target.dest)
            targets[index] = target
        sizes = [target.size for target in targets.values()]
        known = None if None in sizes else sum(size or 0 for size in sizes)
        reporter.plan(len(items), known)
        for outcome in plans:
            if outcome.error is not None:
                reporter.skip(None, ok=False)  # refused while planning (an unknown id...)

        async def one(index: int) -> DownloadResult:
            item, target = plans[index].item, targets[index]
            task = task_for(target.key)
            try:
                result = await fetch(ctx, target, reporter, overwrite=overwrite, task_id=task)
            except Exception as exc:
                reporter.skip(target.size, ok=False, task_id=task)
                await failed(item, target, exc)
                raise
            if result.status == "skipped":
                reporter.skip(result.size, task_id=task)  # complete on disk already
            if writer is not None:
                await writer.write(_log_record(item, target, result, None))
            return result

        fetched = await run_many(sorted(targets), one, concurrency=limit, fail_fast=fail_fast)
    by_index = {outcome.item: outcome for outcome in fetched}
    results: list[ItemResult[K, DownloadResult]] = []
    for index, outcome in enumerate(plans):
        if index in by_index:
            done = by_index[index]
            results.append(ItemResult(outcome.item, value=done.value, error=done.error))
        else:
            results.append(ItemResult(outcome.item, error=outcome.error))
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
    root: Path | None = None,
    origins: Mapping[str, Mapping[str, Any]] | None = None,
    concurrency: int | None = None,
) -> DownloadReport[Data]:
    """:func:`fetch_many` over data files, each saved at ``where(data)``.

    ``where`` runs per item inside the runner, so a path it refuses (``safe_join``) fails
    that item only. ``root``: the caller's folder, when ``where`` builds on server names.
    ``origins`` maps a data id to what the log says it came from. ``concurrency``: the
    call's ``max_concurrency=``.
    """

    async def plan(data: Data) -> Target:
        return data_target(ctx, data, where(data), root, (origins or {}).get(data.id))

    return await fetch_many(
        ctx,
        files,
        plan,
        overwrite=overwrite,
        progress=progress,
        log=log,
        fail_fast=fail_fast,
        label=label,
        concurrency=concurrency,
    )
