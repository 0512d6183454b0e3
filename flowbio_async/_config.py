"""Client configuration: one frozen object for every knob the SDK has.

Worst-case memory held by transfers (the s3transfer habit: say the bound where it is set):

* an upload keeps at most two chunks in memory (the one on the wire and the next one read
  ahead), so ``2 × max_chunk_size × max_concurrency`` for many concurrent uploads
  (defaults: 2 × 16 MiB × 16 = 512 MiB at the very worst; ~32 MiB for one file);
* a download keeps at most ``download_buffer_size`` bytes per stream awaiting the disk,
  so ``download_buffer_size × max_concurrency × segments_per_file``
  (defaults: 2 MiB × 16 × 4 = 128 MiB at the very worst; ~2-8 MiB for one file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from flowbio_async._errors import ConfigurationError

MiB = 1024 * 1024

DEFAULT_BASE_URL = "https://app.flow.bio/api"


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "flowbio-async"


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """Configuration for :class:`~flowbio_async.AsyncClient`.

    The first five fields match the official ``flowbio.v2.ClientConfig`` (seed 001), so
    existing configurations port unchanged; the rest are this SDK's additions.

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

    # -- fields of the official client (seed 001) ------------------------------------------
    chunk_size: int = 1_000_000
    """First upload chunk size in bytes; the adaptive engine grows it up to ``max_chunk_size``."""
    show_progress: bool = True
    """Draw rich progress bars (only when stderr is a terminal)."""
    connection_retries: int = 3
    """Retries when the TCP connection was never established (safe for every method)."""
    request_timeout: timedelta = timedelta(seconds=60)
    """Read/write/pool timeout per operation; connect timeout is fixed at ``connect_timeout``."""
    upload_retries: int = 3
    """Extra attempts for one upload chunk on timeouts, dropped connections, 429 and 5xx."""

    # -- this SDK's additions ---------------------------------------------------------------
    connect_timeout: timedelta = timedelta(seconds=10)
    max_chunk_size: int = 16 * MiB
    """Upper bound for adaptive upload chunks (and for ``chunk_size``)."""
    max_retries: int = 4
    """Retries for idempotent requests on 429, 502/503/504 and connection errors."""
    backoff_initial: float = 0.5
    """First backoff delay in seconds; doubles per attempt with full jitter."""
    backoff_max: float = 30.0
    """Cap on one computed backoff delay, in seconds."""
    max_retry_after: float = 120.0
    """Longest server-requested wait (Retry-After / X-RateLimit-Reset) honoured, in seconds."""
    max_concurrency: int = 16
    """Transfers in flight at once across the whole client (one shared limiter)."""
    max_connections: int = 64
    """Size of the HTTP connection pool (kept above the transfer concurrency)."""
    download_buffer_size: int = 2 * MiB
    """Bytes gathered from the socket before one disk write / hash update."""
    download_retries: int = 5
    """Retries of one download stream without progress: a retried status or connection
    failure and a body cut mid-stream spend the same budget, which refills when bytes
    arrive (worst case ``1 + download_retries`` requests per stream, docs/downloading.md)."""
    segment_threshold: int = 64 * MiB
    """Files at least this large are downloaded as parallel byte ranges."""
    segments_per_file: int = 4
    """Parallel ranges for one segmented download."""
    segment_below_rate: int | None = 64 * MiB
    """Parallel ranges join only when the first piece arrived slower than this (bytes/s);
    ``None`` splits every large file from the start. One fast stream beats several on
    loopback and fast networks: its md5 follows from memory instead of the page cache."""
    download_inline_max: int = 512 * 1024
    """Bodies up to this size are written and hashed on the event loop (a thread hop costs
    more than the work); larger ones go to a writer thread and an md5 thread."""
    segment_piece_min: int = 8 * MiB
    segment_piece_max: int = 64 * MiB
    """Bounds of one byte range of a segmented download (about a quarter of a segment)."""
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
    request_deadline: timedelta | None = timedelta(minutes=5)
    """Longest one attempt of a request may take to get its answer's head, and for answers
    that are not downloads its whole body; ``None`` disables. A request body being sent
    re-arms it piece by piece (``request_timeout`` per piece), so uploads are not cut."""
    max_response_size: int = 32 * MiB
    """Largest body read into memory for an answer that is not a download (JSON, errors)."""
    refresh_margin: timedelta = timedelta(seconds=30)
    """Refresh the access token this long before its JWT ``exp``."""
    state_dir: Path = field(default_factory=_default_state_dir)
    """Where upload resume records live."""
    bulk_poll_interval: float = 1.0
    """First delay between bulk-download status polls (grows up to ``bulk_poll_max``)."""
    bulk_poll_max: float = 15.0
    user_agent: str | None = None
    """Extra product token appended to ``flowbio-async/<version>``."""

    def __post_init__(self) -> None:
        if self.chunk_size <= 0:
            raise ConfigurationError(f"chunk_size must be positive, got {self.chunk_size}")
        if self.max_chunk_size < self.chunk_size:
            raise ConfigurationError(
                f"chunk_size ({self.chunk_size}) exceeds max_chunk_size ({self.max_chunk_size})"
            )
        for name in ("connection_retries", "upload_retries", "max_retries", "download_retries"):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"{name} must be >= 0")
        for name in ("max_concurrency", "max_connections", "segments_per_file"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be >= 1")
        if self.request_timeout.total_seconds() <= 0:
            raise ConfigurationError("request_timeout must be positive")
        if self.request_deadline is not None and self.request_deadline.total_seconds() <= 0:
            raise ConfigurationError("request_deadline must be positive (or None)")
        for name in ("max_response_size", "download_inline_max", "segment_piece_min"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be >= 1")
        if self.segment_piece_max < self.segment_piece_min:
            raise ConfigurationError("segment_piece_max must be >= segment_piece_min")
        if self.segment_below_rate is not None and self.segment_below_rate < 0:
            raise ConfigurationError("segment_below_rate must be >= 0 (or None)")
        if self.min_download_rate < 0:
            raise ConfigurationError("min_download_rate must be >= 0")
        if self.download_buffer_size < 64 * 1024:
            raise ConfigurationError("download_buffer_size must be at least 64 KiB")
