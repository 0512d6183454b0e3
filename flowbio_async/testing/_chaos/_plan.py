"""Seeded fault plans: which server faults hit one transfer (issue #7 fault layer).

Every plan is a list of rules for ``FlowServer.add_fault`` scoped to the transfer's own
requests (the upload endpoint or the file's download path), so the client code under test
sees exactly what a flaky network, proxy or server would show it. Counts sometimes exceed
the client's retry budget on purpose: the transfer must then fail with a typed error.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

UPLOAD_PATH = "^/api/upload$"
"""Every chunk of a data upload goes to this path (docs/protocol.md §3.3)."""


def download_path(data_id: str) -> str:
    """The download route of one data file, on the API and the files server
    (docs/protocol.md §5.1)."""
    return f"^/(api|files)/downloads/{data_id}/"


@dataclass(frozen=True)
class Fault:
    """One named fault and the server rule that produces it."""

    name: str
    rule: dict[str, Any]


@dataclass
class Plan:
    """The faults applied to one transfer."""

    faults: list[Fault] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [fault.name for fault in self.faults]


@dataclass(frozen=True)
class Timing:
    """The client's read timeout, so stalls can be made to outlast it."""

    read_timeout: float


Drawn = tuple[str, dict[str, Any]]
"""A fault's name (for the summary) and its server rule."""


def _status_burst(rng: random.Random, timing: Timing) -> Drawn:
    status = rng.choice([502, 503, 504])
    # 1-3 are absorbed by the retry budgets; 7 exhausts every budget (typed failure).
    count = rng.choice([1, 1, 2, 3, 7])
    body = rng.choice(["<html>bad gateway</html>", {"error": "busy"}, None])
    return f"{status}x{count}", {"action": "status", "status": status, "count": count, "body": body}


def _rate_limited(rng: random.Random, timing: Timing) -> Drawn:
    retry_after = rng.choice(["0", "0", "1"])
    rule = {"action": "status", "status": 429, "count": rng.choice([1, 2])}
    rule |= {"headers": {"Retry-After": retry_after}, "body": {"error": "Too many requests"}}
    return f"429(retry-after={retry_after})", rule


def _stall(rng: random.Random, timing: Timing) -> Drawn:
    return "stall", {"action": "stall", "seconds": timing.read_timeout + 0.5}


def _expire(rng: random.Random, timing: Timing) -> Drawn:
    return "token-expired", {"action": "expire_token"}


def _drop(rng: random.Random, timing: Timing) -> Drawn:
    return "drop", {"action": "drop", "count": rng.choice([1, 2])}


#: Faults that look the same on every route; each plan adds its body-level ones.
COMMON: dict[str, Callable[[random.Random, Timing], Drawn]] = {
    "burst": _status_burst,
    "429": _rate_limited,
    "drop": _drop,
    "stall": _stall,
    "expire": _expire,
}


def upload_plan(
    rng: random.Random, timing: Timing, chunk_size: int, requests: int, path: str = UPLOAD_PATH
) -> Plan:
    """Up to two faults on an upload endpoint, at random chunks of the transfer."""
    plan = Plan()
    for _ in range(rng.choice([0, 1, 1, 2, 2])):
        pick = rng.choice([*COMMON, "cut"])
        if pick == "cut":
            cut = rng.randrange(1, chunk_size)
            name, rule = f"cut-request@{cut}", {"action": "cut_request", "bytes": cut}
        else:
            name, rule = COMMON[pick](rng, timing)
        rule |= {"path": path, "method": "POST", "nth": rng.randint(1, max(1, requests))}
        plan.faults.append(Fault(name, rule))
    return plan


def download_plan(
    rng: random.Random, timing: Timing, data_id: str, size: int, *, piece: int | None = None
) -> Plan:
    """Up to two faults on one file's download path (cut, corrupt, Range ignored...).

    ``piece`` is the largest body one request returns (segmented downloads), so body
    offsets are drawn where they can land.
    """
    plan = Plan()
    body = max(1, min(size, piece or size))
    for _ in range(rng.choice([0, 1, 1, 2, 2])):
        pick = rng.choice([*COMMON, "cut", "corrupt", "ignore"])
        if pick == "cut":
            cut = rng.randrange(0, body)
            name, rule = f"cut@{cut}", {"action": "cut", "bytes": cut, "count": rng.choice([1, 3])}
        elif pick == "corrupt":
            at = rng.randrange(0, body)
            name, rule = f"corrupt@{at}", {"action": "corrupt", "bytes": at}
        elif pick == "ignore":
            # Range ignored only matters on a resumed request: cut first, then answer 200.
            cut = rng.randrange(1, max(2, body))
            plan.faults.append(
                Fault(f"cut@{cut}", {"action": "cut", "bytes": cut, "path": download_path(data_id)})
            )
            name, rule = "range-ignored", {"action": "ignore_range", "nth": 2, "count": 3}
        else:
            name, rule = COMMON[pick](rng, timing)
        # Mostly the first request: a small unsegmented file often takes only one.
        rule = {"nth": rng.choice([1, 1, 1, 2, 3]), **rule, "path": download_path(data_id)}
        plan.faults.append(Fault(name, rule))
    return plan


BULK_STATUS = r"^/(api|files)/downloads/[0-9a-f-]{36}/status$"
BULK_ARCHIVE = r"^/(api|files)/downloads/[0-9a-f-]{36}$"


def bulk_plan(rng: random.Random, timing: Timing, archive_size: int) -> Plan:
    """Up to two faults on a bulk job's status polls or its archive download
    (docs/protocol.md §5.3)."""
    plan = Plan()
    for _ in range(rng.choice([0, 1, 1, 2])):
        target = rng.choice(["status", "archive", "archive"])
        path = BULK_STATUS if target == "status" else BULK_ARCHIVE
        bodies = ["cut", "corrupt"] if target == "archive" else []
        pick = rng.choice([*COMMON, *bodies])
        if pick in COMMON:
            name, rule = COMMON[pick](rng, timing)
        else:
            at = rng.randrange(0, max(1, archive_size))
            name, rule = f"{pick}@{at}", {"action": pick, "bytes": at}
        rule |= {"path": path, "method": "GET", "nth": rng.choice([1, 1, 2])}
        plan.faults.append(Fault(f"{target}:{name}", rule))
    return plan
