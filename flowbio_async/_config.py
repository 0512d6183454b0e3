"""Client configuration: one frozen object for every knob the SDK has.

Worst-case memory held by transfers (the s3transfer habit: say the bound where it is set):

* an upload keeps at most two chunks in memory (the one on the wire and the next one read
  ahead), so ``2 × max_chunk_size × max_concurrency`` for many concurrent uploads
  (defaults: 2 × 16 MiB × 16 = 512 MiB at the very worst; ~32 MiB for one file);
* a download keeps at most ``download_buffer_size`` bytes per stream awaiting the disk,
  so ``download_buffer_size × max_concurrency × segments_per_file``
  (defaults: 4 MiB × 16 × 4 = 256 MiB at the very worst; ~4-16 MiB for one file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

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
    download_buffer_size: int = 4 * MiB
    """Bytes gathered from the socket before one disk write / hash update."""
    download_retries: int = 5
    """Attempts per download stream without progress; the budget resets when bytes arrive."""
    segment_threshold: int = 64 * MiB
    """Files at least this large are downloaded as parallel byte ranges."""
    segments_per_file: int = 4
    """Parallel ranges for one segmented download."""
    lean_downloads: bool = True
    """Fetch download bodies with the built-in lean HTTP/1.1 client (much less CPU per file
    than httpx); ``False`` sends them through httpx like every other request."""
    files_url: str | None = None
    """Base URL of the files server for downloads; derived from the API base when ``None``."""
    verify: bool | str = True
    """TLS verification: ``True``, ``False`` (discouraged) or a path to a CA bundle."""
    refresh_margin: timedelta = timedelta(seconds=30)
    """Refresh the access token this long before its JWT ``exp``."""
    state_dir: Path = field(default_factory=_default_state_dir)
    """Where upload resume records live."""
    bulk_poll_interval: float = 1.0
    """First delay between bulk-download status polls (grows up to ``bulk_poll_max``)."""
    bulk_poll_max: float = 15.0
    archive_max_bytes: int = 1 << 40
    """Largest total an extracted archive may write (declared sizes), 1 TiB (#14)."""
    archive_max_ratio: float = 100.0
    """Largest expansion of an archive (extracted total / archive size) once the total passes
    64 MiB: a zip bomb is refused before anything is written (#14)."""
    archive_max_entries: int = 100_000
    """Most entries an extracted archive may have."""
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
        if self.archive_max_bytes < 0 or self.archive_max_entries < 1:
            raise ConfigurationError("archive_max_bytes must be >= 0, archive_max_entries >= 1")
        if not self.archive_max_ratio > 0:  # also refuses NaN
            raise ConfigurationError("archive_max_ratio must be positive")
        if self.download_buffer_size < 64 * 1024:
            raise ConfigurationError("download_buffer_size must be at least 64 KiB")
