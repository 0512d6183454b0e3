"""Client configuration: one frozen object for every knob the SDK has.

Worst-case memory held by transfers (the s3transfer habit: say the bound where it is set):

* an upload keeps at most two chunks in memory (the one on the wire and the next one read
  ahead), ~32 MiB for one file with the defaults; all uploads of a client together hold at
  most ``upload_memory`` bytes of chunks (default 64 MiB; a chunk waits for its share
  before it is read). A pipelined upload (``upload_streams``) streams its chunks from the
  file instead, about 3 MiB per connection, taken from the same budget;
* a download keeps at most ``download_buffer_size`` bytes awaiting the disk, shared by its
  streams (each at least 256 KiB), so ``max(download_buffer_size, 256 KiB ×
  segments_per_file) × max_concurrency`` (defaults: 4 MiB × 16 = 64 MiB at the very worst;
  2-4 MiB for one file).
"""

from __future__ import annotations

import math
import os
import types
import typing
from dataclasses import KW_ONLY, dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Union

from flowbio_async._errors import ConfigurationError

MiB = 1024 * 1024

DEFAULT_BASE_URL = "https://app.flow.bio/api"


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "flowbio-async"


def _bounds(minimum: float | None = None, *, above: float | None = None) -> dict[str, float]:
    """Field metadata read by the validator: ``minimum`` (inclusive) or ``above`` (exclusive)."""
    bounds: dict[str, float] = {}
    if minimum is not None:
        bounds["min"] = minimum
    if above is not None:
        bounds["above"] = above
    return bounds


@dataclass(frozen=True)
class ClientConfig:
    """Configuration for :class:`~flowbio_async.AsyncClient`.

    The first five fields are those of the official ``flowbio.v2.ClientConfig``, in its
    order, so ``ClientConfig(2_000_000, False, 2, timedelta(seconds=30), 5)`` ports
    unchanged; every other field is keyword-only. Each value is checked when the config is
    built: a wrong type or an out-of-range value raises :class:`ConfigurationError` naming
    the field and the value (``True``/``False`` are not integers here). Durations take a
    ``timedelta`` or a number of seconds (``request_timeout=30``) and are stored as
    ``timedelta``.

    Example:
        ```python
        from datetime import timedelta
        from flowbio_async import AsyncClient, ClientConfig

        config = ClientConfig(chunk_size=5_000_000, show_progress=False,
                              request_timeout=timedelta(minutes=2))
        async with AsyncClient(config=config) as client:
            ...
        ```
    """

    # -- fields of the official client (seed 001), positional in its order ---------------------
    chunk_size: int = field(default=1_000_000, metadata=_bounds(1))
    """First upload chunk size in bytes; the adaptive engine grows it up to ``max_chunk_size``."""
    show_progress: bool = True
    """Draw rich progress bars (only when stderr is a terminal)."""
    connection_retries: int = 3
    """Retries when the TCP connection was never established (safe for every method)."""
    request_timeout: timedelta = field(default=timedelta(seconds=60), metadata=_bounds(above=0))
    """Read/write/pool timeout per operation; connect timeout is fixed at ``connect_timeout``."""
    upload_retries: int = 3
    """Extra attempts for one upload chunk on timeouts, dropped connections, 429 and 5xx."""

    # -- this SDK's additions (keyword-only) ----------------------------------------------------
    _: KW_ONLY
    connect_timeout: timedelta = field(default=timedelta(seconds=10), metadata=_bounds(above=0))
    max_chunk_size: int = field(default=16 * MiB, metadata=_bounds(1))
    """Upper bound for adaptive upload chunks (and for ``chunk_size``)."""
    upload_memory: int = field(default=64 * MiB, metadata=_bounds(1))
    """Bytes of upload chunks held in memory at once across the whole client (on the wire
    or read ahead). A chunk's bytes are taken from this budget before it is read from disk
    and given back once it is acknowledged, so many concurrent uploads stay under it; a
    chunk larger than the whole budget waits until it can go alone. Each pipelined
    connection takes a 3 MiB share while its pipeline runs."""
    upload_streams: int = field(default=4, metadata=_bounds(1))
    """Most connections one file's upload uses at once (#13). Once chunks sent alone go
    slower than ``upload_below_rate``, up to this many chunks (of at most 4 MiB) are on the
    wire together, each holding back its last bytes until the one before is acknowledged,
    so the server still receives whole chunks strictly in order (docs/uploading.md). The
    connections beyond the first come from the same budget as parallel download ranges.
    1 sends every chunk alone."""
    upload_below_rate: int | None = 64 * MiB
    """Pipelining starts only when the last two chunks sent alone (not counting the first,
    which creates the upload, nor chunks under 256 KiB) both went slower than this
    (bytes/s), with two chunks or more left; ``None`` pipelines from the second chunk on.
    On loopback and fast networks one connection is as fast and costs less."""
    max_retries: int = 4
    """Retries for idempotent requests on 429, 502/503/504 and connection errors."""
    backoff_initial: float = 0.5
    """First backoff delay in seconds; doubles per attempt with full jitter."""
    backoff_max: float = 30.0
    """Cap on one computed backoff delay, in seconds."""
    max_retry_after: float = 120.0
    """Longest server-requested wait (Retry-After / X-RateLimit-Reset) honoured, in seconds."""
    max_concurrency: int = field(default=16, metadata=_bounds(1))
    """Transfers in flight at once across the whole client (one shared limiter)."""
    max_connections: int = field(default=64, metadata=_bounds(1))
    """Size of the HTTP connection pool (kept above the transfer concurrency)."""
    download_buffer_size: int = field(default=2 * MiB, metadata=_bounds(64 * 1024))
    """Bytes gathered from the socket before one disk write / hash update (at least 64 KiB)."""
    download_retries: int = 5
    """Retries of one download stream without progress: a retried status or connection
    failure and a body cut mid-stream spend the same budget, which refills when bytes
    arrive (worst case ``1 + download_retries`` requests per stream, docs/downloading.md)."""
    segment_threshold: int = 4 * MiB
    """Files at least this large may be fetched as parallel byte ranges (smaller ones always
    take one stream); whether they are is measured (``segment_below_rate``)."""
    segments_per_file: int = field(default=16, metadata=_bounds(1))
    """Most parallel ranges for one download: the ramp's ceiling (#13). It starts with one
    stream and doubles while the aggregate rate still grows."""
    segment_below_rate: int | None = 64 * MiB
    """More streams join only when the first one arrived slower than this (bytes/s) over a
    window of two round trips; ``None`` opens ``segments_per_file`` streams from the start.
    One fast stream beats several on loopback and fast networks: its md5 follows from
    memory instead of the page cache."""
    download_inline_max: int = field(default=512 * 1024, metadata=_bounds(1))
    """Bodies up to this size are written and hashed on the event loop (a thread hop costs
    more than the work); larger ones go to a writer thread and an md5 thread."""
    segment_piece_min: int = field(default=MiB, metadata=_bounds(1))
    """Smallest byte range handed to a new stream; it is also never less than what one
    stream receives in four round trips (a new connection must pay for its setup)."""
    min_download_rate: int = 1024
    """Bytes per second a download body must average over each ``request_timeout`` window;
    slower counts as a stall (a trickle cannot keep a download alive for good). 0 disables."""
    files_url: str | None = None
    """Base URL of the files server for downloads; derived from the API base when ``None``."""
    verify: bool | str = True
    """TLS verification: ``True``, ``False`` (discouraged) or a path to a CA bundle (file or
    directory)."""
    cert: str | tuple[str, str] | tuple[str, str, str] | None = None
    """Client certificate for TLS: a PEM file with the key, ``(cert, key)`` or
    ``(cert, key, password)``."""
    trust_env: bool = True
    """Use proxies from ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY``."""
    http_engine: Literal["aiohttp", "httpx"] = "aiohttp"
    """HTTP engine under httpx's API: aiohttp (asyncio) or httpx's own transport (used anyway
    on other anyio backends; respx mocks need it)."""
    request_deadline: timedelta | None = field(
        default=timedelta(minutes=5), metadata=_bounds(above=0)
    )
    """Longest one attempt of a request may take to get its answer's head, and for answers
    that are not downloads its whole body; ``None`` disables. A request body being sent
    re-arms it piece by piece (``request_timeout`` per piece), so uploads are not cut."""
    max_response_size: int = field(default=32 * MiB, metadata=_bounds(1))
    """Largest body read into memory for an answer that is not a download (JSON, errors)."""
    refresh_margin: timedelta = timedelta(seconds=30)
    """Refresh the access token this long before its JWT ``exp``."""
    state_dir: Path = field(default_factory=_default_state_dir)
    """Where upload resume records live."""
    bulk_poll_interval: float = field(default=1.0, metadata=_bounds(above=0))
    """First delay between bulk-download status polls (grows up to ``bulk_poll_max``)."""
    bulk_poll_max: float = field(default=15.0, metadata=_bounds(above=0))
    archive_max_bytes: int = field(default=1 << 40, metadata=_bounds(0))
    """Largest total an extracted archive may write (declared sizes), 1 TiB (#14)."""
    archive_max_ratio: float = field(default=100.0, metadata=_bounds(above=0))
    """Largest expansion of an archive (extracted total / archive size) once the total passes
    64 MiB: a zip bomb is refused before anything is written (#14)."""
    archive_max_entries: int = field(default=100_000, metadata=_bounds(1))
    """Most entries an extracted archive may have."""
    user_agent: str | None = None
    """Extra product token appended to ``flowbio-async/<version>``."""

    def __post_init__(self) -> None:
        # Driven by the annotations, so a field added later is checked without extra code.
        hints = _field_types(type(self))
        for item in fields(self):
            value = _checked(item.name, hints[item.name], getattr(self, item.name), item.metadata)
            object.__setattr__(self, item.name, value)  # frozen: normalised values go in once
        if self.max_chunk_size < self.chunk_size:
            raise ConfigurationError(
                f"chunk_size ({self.chunk_size}) exceeds max_chunk_size ({self.max_chunk_size})"
            )


_HINTS: dict[type, dict[str, Any]] = {}


def _field_types(cls: type) -> dict[str, Any]:
    """The resolved annotations of ``cls`` (a subclass adds its own fields), cached."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _type_name(value: object) -> str:
    return type(value).__name__


def _checked(name: str, hint: Any, value: Any, metadata: Any) -> Any:
    """``value`` checked against the field's annotation and bounds, normalised (or raise)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else ()
    if not options:
        normalised = _typed(name, hint, value)
        _check_bounds(name, hint, normalised, metadata)
        return normalised
    if value is None and type(None) in options:
        return None
    expected: list[str] = []
    for option in (o for o in options if o is not type(None)):
        try:
            normalised = _typed(name, option, value)
        except ConfigurationError:
            expected.append(_expected(option))
            continue
        _check_bounds(name, option, normalised, metadata)  # the right type, out of range
        return normalised
    allowed = " or ".join([*expected, *(["None"] if type(None) in options else [])])
    raise ConfigurationError(f"{name} must be {allowed}, got {value!r} ({_type_name(value)})")


def _typed(name: str, hint: Any, value: Any) -> Any:
    if typing.get_origin(hint) is Literal:
        if value not in typing.get_args(hint):
            allowed = ", ".join(repr(v) for v in typing.get_args(hint))
            raise ConfigurationError(
                f"{name} must be one of {allowed}, got {value!r} ({_type_name(value)})"
            )
        return value
    if typing.get_origin(hint) is tuple:  # cert=(cert, key[, password])
        parts = typing.get_args(hint)
        if not isinstance(value, tuple) or len(value) != len(parts):
            raise ConfigurationError(
                f"{name} must be {_expected(hint)}, got {value!r} ({_type_name(value)})"
            )
        return tuple(_coerced(name, part, item) for part, item in zip(parts, value, strict=True))
    return _coerced(name, hint, value)


def _expected(hint: Any) -> str:
    if typing.get_origin(hint) is tuple:
        parts = typing.get_args(hint)
        return f"a tuple of {len(parts)} ({', '.join(_expected(p) for p in parts)})"
    if hint is bool:
        return "True or False"
    if hint is timedelta:
        return "a timedelta or a number of seconds"
    if hint is Path:
        return "a path"
    if hint is float:
        return "a number"
    if hint is int:
        return "an int"
    return f"a {getattr(hint, '__name__', hint)}"


def _coerced(name: str, hint: Any, value: Any) -> Any:
    def refuse(suffix: str = "") -> ConfigurationError:
        return ConfigurationError(
            f"{name} must be {_expected(hint)}, got {value!r} ({_type_name(value)}){suffix}"
        )

    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if hint is bool:
        if not isinstance(value, bool):
            raise refuse()
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            digits = isinstance(value, str) and value.strip().lstrip("-").isdigit()
            raise refuse(f"; write {name}={int(value)}" if digits else "")
        return value
    if hint is float:
        if not is_number or not math.isfinite(value):
            raise refuse()
        return float(value)
    if hint is timedelta:
        if isinstance(value, timedelta):
            return value
        if not is_number or not math.isfinite(value):
            raise refuse()
        return timedelta(seconds=value)
    if hint is Path:
        if not isinstance(value, str | os.PathLike):
            raise refuse()
        return Path(value).expanduser()
    if hint is str:
        if isinstance(value, os.PathLike):
            return os.fspath(value)  # verify=Path("ca.pem")
        if not isinstance(value, str):
            raise refuse()
        return value
    if isinstance(hint, type) and not isinstance(value, hint):
        raise refuse()
    return value


def _check_bounds(name: str, hint: Any, value: Any, metadata: Any) -> None:
    if hint not in (int, float, timedelta):
        return
    number = value.total_seconds() if isinstance(value, timedelta) else value
    unit = " seconds" if isinstance(value, timedelta) else ""
    shown = f"{number:g}{unit}"
    # Counts, sizes and delays are never negative; fields say where they need more.
    minimum = metadata.get("min", 0) if "above" not in metadata else None
    if minimum is not None and number < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum:g}{unit}, got {shown}")
    above = metadata.get("above")
    if above is not None and number <= above:
        raise ConfigurationError(f"{name} must be more than {above:g}{unit}, got {shown}")
