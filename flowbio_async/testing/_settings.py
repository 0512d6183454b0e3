"""Every knob of the local Flow server, in one frozen dataclass (passed to workers as JSON)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, fields
from typing import Any

#: Environment variable carrying the settings JSON from the launcher to granian's worker.
SETTINGS_ENV = "FLOWBIO_ASYNC_SERVER_SETTINGS"


@dataclass(frozen=True)
class ServerSettings:
    """Configuration of the local Flow server; every field is also a ``FlowServer`` keyword.

    Example:
        ```python
        from flowbio_async.testing._settings import ServerSettings

        settings = ServerSettings(data_dir="/tmp/flow", access_token_ttl=60)
        assert ServerSettings.from_json(settings.to_json()) == settings
        ```
    """

    host: str = "127.0.0.1"
    port: int = 8000
    #: Directory holding ``flow.sqlite3``, ``blobs/`` and ``uploads/``; survives restarts.
    data_dir: str = ""
    #: Seed demo users, projects, samples and files into an empty data dir.
    demo: bool = True
    #: Access JWT lifetime in seconds (seed 003 says 5 minutes; docs/protocol.md §2.3).
    access_token_ttl: float = 300.0
    #: Refresh cookie lifetime in seconds (docs/protocol.md §2.3: 7 days per the docs site).
    refresh_token_ttl: float = 7 * 24 * 3600.0
    #: Issue a new ``flow_refresh_token`` cookie on every ``GET /token`` (docs/protocol.md §2.2).
    rotate_refresh_token: bool = True
    #: Requests allowed per user per window; 0 disables the 429 (docs/protocol.md §6.3).
    rate_limit: int = 0
    #: Length of the rate-limit window in seconds.
    rate_window: float = 3600.0
    #: Latency added to every request, in milliseconds.
    latency_ms: float = 0.0
    #: Emulated network (#13, ``_network``): round trip added by a relay in front of the
    #: server, in milliseconds (half each way; a new connection's first request one more).
    rtt_ms: float = 0.0
    #: Emulated network: bytes per second per connection and direction (0: no cap), as
    #: nginx's ``limit_rate``.
    connection_rate: float = 0.0
    #: Emulated network: bytes per second per direction for all connections together (the
    #: client's access link; 0: no cap).
    link_rate: float = 0.0
    #: Run the relay even when the three values above are 0, so that ``set(...)`` can shape
    #: the network later (it is on whenever one of them is set at start).
    emulate_network: bool = False
    #: Largest accepted request body in bytes (413 above it).
    max_body_size: int = 256 * 1024 * 1024
    #: Mount the ``/_testing/*`` control routes (counters, faults, settings).
    testing_control: bool = False
    #: Older Flow (docs/protocol.md §8 row 5): every read treats a missing or bad token as
    #: anonymous, and ``/me`` answers 200 with nulls instead of 401. Off: only searches downgrade
    #: (#15).
    anonymous_downgrade: bool = False
    #: The local server's old default: searches answer 401 to a bad or expired token instead
    #: of treating it as anonymous as Flow does (users.md, #15 item 1).
    strict_search_tokens: bool = False
    #: Upload field errors as ``{"error": {field: [...]}}`` instead of Flow's bare
    #: ``{field: [...]}`` (data.md ``POST /upload``, #15 item 15).
    wrapped_field_errors: bool = False
    #: Page size when a request sends no ``count`` (docs/protocol.md §4.3).
    default_page_size: int = 10
    #: Largest ``count`` accepted before a 400 (docs/protocol.md §4.3).
    max_page_size: int = 100
    #: Answer errors as Problem Details (RFC 9457) instead of ``{"error": ...}``
    #: (docs/protocol.md §6.2).
    problem_details: bool = False
    #: Seconds a completed bulk download stays available before it expires (410; seed 002: 24 h).
    bulk_job_lifetime: float = 24 * 3600.0
    #: Seconds a bulk job waits in ``pending`` and between archived files (to watch progress).
    bulk_job_delay: float = 0.05
    #: Simulated seconds of a pipeline run per real second (0 pauses every run): a demo
    #: RNA-Seq run on one sample lasts 425 simulated seconds, ~4 s at the default (#11).
    execution_speed: float = 100.0
    #: Honour ``GET /executions/<id>?log=<offset>``; False answers the whole log every time.
    execution_log_offsets: bool = True

    @property
    def network_on(self) -> bool:
        """Whether the server runs behind the emulated network's relay."""
        return bool(self.emulate_network or self.rtt_ms or self.connection_rate or self.link_rate)

    def to_json(self) -> str:
        """Serialise to JSON (the form passed to the server process)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ServerSettings:
        """Parse JSON written by :meth:`to_json`; unknown keys are rejected."""
        return cls.from_mapping(json.loads(text))

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> ServerSettings:
        """Build settings from a mapping, coercing values to each field's type."""
        return cls().replace(**values)

    @classmethod
    def from_env(cls) -> ServerSettings:
        """Read the settings the launcher put in :data:`SETTINGS_ENV`."""
        text = os.environ.get(SETTINGS_ENV)
        return cls.from_json(text) if text else cls()

    def replace(self, **changes: Any) -> ServerSettings:
        """Return a copy with ``changes`` applied; raises ``ValueError`` on unknown names."""
        known = {f.name: f for f in fields(self)}
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown server setting {name!r}")
            if name in NETWORK_FIELDS:
                coerced[name] = _network_value(name, value)
            else:
                coerced[name] = _coerce(known[name].type, value)
        return dataclasses.replace(self, **coerced)


#: The settings the emulated network's relay reads (``_network.NetworkShape``).
NETWORK_FIELDS = ("rtt_ms", "connection_rate", "link_rate")


def _network_value(name: str, value: Any) -> float:
    """A round trip or rate: a number (or for rates text such as ``"10M"``), finite, >= 0."""
    if isinstance(value, str) and name != "rtt_ms":
        from flowbio_async.testing._network import parse_rate

        number = parse_rate(value)
    else:
        number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def _coerce(type_name: Any, value: Any) -> Any:
    # Field types are strings under `from __future__ import annotations`.
    kind = str(type_name)
    if kind == "bool":
        if isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return str(value)
