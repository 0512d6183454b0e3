"""``FlowServer``: run the local Flow server in a subprocess and control it over HTTP.

Control calls use stdlib ``urllib`` (the SDK's httpx stays out of the server package).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from flowbio_async.testing._settings import ServerSettings

_START_TIMEOUT = 60.0


class FlowServerError(RuntimeError):
    """The server process failed to start or a control call failed."""


class FlowServer:
    """A local Flow server in a subprocess, for tests, demos and benchmarks.

    Keyword arguments are :class:`ServerSettings` fields (``access_token_ttl=5``,
    ``rate_limit=10``, ``demo=False``...). Without ``data_dir`` a temporary directory is
    used and removed on :meth:`stop`.

    Example:
        ```python
        from flowbio_async.testing import FlowServer

        with FlowServer(access_token_ttl=60) as server:
            print(server.url)            # http://127.0.0.1:PORT/api
            server.add_fault(path="^/api/me$", status=503, count=2)
            ...
            assert server.counters().get("me", 0) >= 1
        ```
    """

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, **settings: Any) -> None:
        self._owns_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="flow-"))
        self.settings = ServerSettings().replace(
            **{"port": 0, **settings, "data_dir": str(self.data_dir), "testing_control": True}
        )
        self._process: subprocess.Popen[str] | None = None
        self._stderr_lines: list[str] = []
        self._drains: list[threading.Thread] = []
        self.url = ""
        self.files_url = ""
        self.root_url = ""

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> FlowServer:
        """Spawn the server and wait until it answers its health check."""
        if self._process is not None:
            return self
        command = [sys.executable, "-m", "flowbio_async.testing", *self._arguments()]
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        self._drains = [
            threading.Thread(
                target=_drain, args=(self._process.stderr, self._stderr_lines), daemon=True
            )
        ]
        self._drains[0].start()
        line = _read_line(self._process.stdout, _START_TIMEOUT)
        if not line.startswith("http"):
            self.stop()
            raise FlowServerError(f"server did not start: {self.stderr_tail()}")
        self._drains.append(
            threading.Thread(target=_drain, args=(self._process.stdout, []), daemon=True)
        )
        self._drains[-1].start()
        self.url = line.strip()
        self.root_url = self.url.removesuffix("/api")
        self.files_url = f"{self.root_url}/files"
        self._control("GET", "/_health")
        return self

    def stop(self) -> None:
        """Stop the server (SIGINT, then SIGKILL) and remove a temporary data dir."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if process is not None:
            # Let the readers reach EOF before closing their streams under them.
            for drain in self._drains:
                drain.join(timeout=5)
            self._drains = []
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        if self._owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def restart(self) -> FlowServer:
        """Stop and start again on the same data dir (the port may change)."""
        owns, self._owns_dir = self._owns_dir, False
        try:
            self.stop()
        finally:
            self._owns_dir = owns
        return self.start()

    def __enter__(self) -> FlowServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stderr_tail(self, lines: int = 20) -> str:
        """The last lines the server wrote to stderr (for failure messages)."""
        return "\n".join(self._stderr_lines[-lines:])

    # -- control ----------------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        """Requests received per route name since start or the last reset."""
        counts: dict[str, int] = self._control("GET", "/_testing/counters")["counts"]
        return counts

    def max_in_flight(self) -> dict[str, int]:
        """Most requests in flight at once, per route name."""
        peaks: dict[str, int] = self._control("GET", "/_testing/counters")["max_in_flight"]
        return peaks

    def reset_counters(self) -> None:
        """Zero the counters and in-flight high-water marks."""
        self._control("DELETE", "/_testing/counters")

    def add_fault(self, action: str = "status", **rule: Any) -> dict[str, Any]:
        """Add a fault rule (see ``_faults.FaultRule``); returns the stored rule.

        Example: ``server.add_fault(path="^/api/me$", status=503, count=3)``.
        """
        faults = self._control("POST", "/_testing/faults", {"action": action, **rule})["faults"]
        added: dict[str, Any] = faults[-1]
        return added

    def faults(self) -> list[dict[str, Any]]:
        """Current fault rules with their ``seen``/``applied`` counts."""
        rules: list[dict[str, Any]] = self._control("GET", "/_testing/faults")["faults"]
        return rules

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._control("DELETE", "/_testing/faults")

    def set(self, **settings: Any) -> dict[str, Any]:
        """Change settings of the running server (e.g. ``rate_limit=5``)."""
        current: dict[str, Any] = self._control("POST", "/_testing/settings", settings)
        return current

    def reset(self) -> None:
        """Zero counters, clear faults and rate-limit windows."""
        self._control("POST", "/_testing/reset")

    # -- pipeline runs (#11) ---------------------------------------------------------------
    def execution_count(self) -> int:
        """How many executions the server holds (a refused run must not add one)."""
        count: int = self._control("GET", "/_testing/executions")["count"]
        return count

    def cancel_execution(self, execution_id: str | int) -> str:
        """End an unfinished run as CANCELED; returns the new status."""
        body = {"action": "cancel"}
        status: str = self._control("POST", f"/_testing/executions/{execution_id}", body)["status"]
        return status

    def fail_execution(self, execution_id: str | int, stderr: str | None = None) -> str:
        """End an unfinished run in ERROR, its running process failing with ``stderr``."""
        body = {"action": "fail", "stderr": stderr}
        status: str = self._control("POST", f"/_testing/executions/{execution_id}", body)["status"]
        return status

    def step_execution(self, execution_id: str | int, seconds: float) -> str:
        """Move an unfinished run ``seconds`` of simulated time on; returns its status."""
        body = {"action": "step", "seconds": seconds}
        status: str = self._control("POST", f"/_testing/executions/{execution_id}", body)["status"]
        return status

    def set_user(self, username: str, **fields: bool) -> dict[str, Any]:
        """Change a user's ``can_run_pipelines`` or ``is_admin`` flag."""
        user: dict[str, Any] = self._control("POST", f"/_testing/users/{username}", fields)
        return user

    def _arguments(self) -> list[str]:
        return [f"--settings-json={self.settings.to_json()}", f"--exit-with-parent={os.getpid()}"]

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        if not self.root_url:
            raise FlowServerError("server is not running")
        payload = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - loopback URL we started
            self.root_url + path,
            data=payload,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise FlowServerError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None


def _read_line(stream: IO[str], timeout: float) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0] if box else ""


def _drain(stream: IO[str], sink: list[str]) -> None:
    for line in stream:
        sink.append(line.rstrip("\n"))
        del sink[:-200]
