"""Retry timing: exponential backoff with full jitter and server wait hints (no I/O).

The HTTP layer asks two questions here: "how long before attempt N?" (``backoff_delay``) and
"did the server say how long to wait?" (``retry_after_seconds``). Server hints come from
``Retry-After`` (seconds or an HTTP date, RFC 9110 §10.2.3) or Flow's
``X-RateLimit-Reset`` (Unix seconds, docs/protocol.md §6.3).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses worth retrying for idempotent requests (docs/protocol.md §6.1, §8 row 13)."""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def backoff_delay(
    attempt: int,
    *,
    initial: float,
    maximum: float,
    rng: random.Random | None = None,
) -> float:
    """Full-jitter delay before retry number ``attempt`` (0-based), in seconds.

    The ceiling doubles per attempt from ``initial`` and is capped by ``maximum``; the delay is
    uniform in ``[0, ceiling]`` so that many clients retrying together spread out.

    Example:
        ```python
        delay = backoff_delay(2, initial=0.5, maximum=30.0)  # somewhere in [0, 2.0]
        ```
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    # 2**attempt overflows float for absurd attempts; the cap makes larger exponents moot.
    ceiling = min(maximum, initial * (2.0 ** min(attempt, 62)))
    draw = float((rng or random).uniform(0.0, 1.0))  # jitter, not cryptography
    return max(0.0, ceiling * draw)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # Plain dicts are case-sensitive; the HTTP layer's mapping is not.
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value


def _parse_retry_after(value: str, now: float) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def _parse_reset(value: str, now: float) -> float | None:
    try:
        reset = float(value.strip())
    except ValueError:
        return None
    # Unix seconds (docs/protocol.md §6.3); a small number is a delta some proxies send instead.
    if reset < 10**9:
        return max(0.0, reset)
    return max(0.0, reset - now)


def retry_after_seconds(
    headers: Mapping[str, str],
    *,
    cap: float | None = None,
    now: float | None = None,
    include_reset: bool = True,
) -> float | None:
    """The server's requested wait in seconds, or ``None`` when it gave no usable hint.

    ``Retry-After`` wins over ``X-RateLimit-Reset``. ``cap`` bounds the answer
    (``config.max_retry_after``) so a hostile or broken header cannot stall the client.
    Flow sends ``X-RateLimit-Reset`` on every answer (docs/protocol.md §6.3), so it only means
    "wait" on a 429: pass ``include_reset=False`` for other statuses.

    Example:
        ```python
        retry_after_seconds({"Retry-After": "3"})  # 3.0
        retry_after_seconds({"X-RateLimit-Reset": "1640995200"}, cap=120.0)
        ```
    """
    current = time.time() if now is None else now
    wait: float | None = None
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None:
        wait = _parse_retry_after(retry_after, current)
    if wait is None and include_reset:
        reset = _header(headers, "X-RateLimit-Reset")
        if reset is not None:
            wait = _parse_reset(reset, current)
    if wait is not None and cap is not None:
        wait = min(wait, cap)
    return wait


class RetryBudget:
    """Retries left for one logical transfer, shared by the HTTP layer and a download stream.

    The HTTP layer spends one per retried status or connection failure; a download stream
    spends one per body cut mid-stream and refills the budget when bytes arrived. One count
    for both is what keeps the worst case for one stream at ``1 + retries`` requests without
    progress (docs/downloading.md, "Retries"), instead of the product of two budgets.

    Example:
        ```python
        budget = RetryBudget(5)
        if budget.spend():
            delay = backoff_delay(budget.used - 1, initial=0.5, maximum=30.0)
        ```
    """

    def __init__(self, retries: int) -> None:
        self.retries = retries
        self.used = 0

    def spend(self) -> bool:
        """Take one retry; False when none is left."""
        if self.used >= self.retries:
            return False
        self.used += 1
        return True

    def refill(self) -> None:
        """Progress was made: the next failures start counting from zero again."""
        self.used = 0
