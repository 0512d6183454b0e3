"""Run the real ``flowbio-async`` command as a subprocess (helpers for tests/test_cli_*.py)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMMAND = [sys.executable, "-m", "flowbio_async._cli"]
_CLEARED = ("FLOW_API_TOKEN", "FLOW_TOKEN_FILE", "FLOW_API_URL", "XDG_CACHE_HOME")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def error_json(self) -> Any:
        return json.loads(self.stderr)


class Cli:
    """The command bound to one server and one fake HOME (so the token file lands there)."""

    def __init__(self, base_url: str, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
        self.env.update(HOME=str(home), FLOW_API_URL=base_url, COLUMNS="200")

    @property
    def token_file(self) -> Path:
        return self.home / ".config" / "flow" / "api-token"

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        done = subprocess.run(
            [*COMMAND, *args],
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*COMMAND, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stderr_on_terminal(self, *args: str) -> tuple[int, str, bytes]:
        """Run with stdout a pipe and stderr a pseudo-terminal: (code, stdout, terminal bytes)."""
        controller, terminal = os.openpty()
        process = subprocess.Popen(
            [*COMMAND, *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
        )
        os.close(terminal)
        try:
            drawn = _read_until(controller, None, b"")
        finally:
            os.close(controller)
        stdout, _ = process.communicate(timeout=120)
        return process.returncode, stdout.decode(), drawn

    def in_pty(self, *args: str, answers: list[tuple[bytes, bytes]]) -> tuple[int, str]:
        """Run on a pseudo-terminal, typing each reply once its prompt shows up."""
        pid, fd = pty.fork()
        if pid == 0:  # child: becomes the command, its stdin/stdout/stderr are the pty
            os.execve(COMMAND[0], [*COMMAND, *args], self.env)
        seen = b""
        try:
            for prompt, reply in answers:
                seen += _read_until(fd, prompt, seen)
                os.write(fd, reply + b"\n")
            seen += _read_until(fd, None, b"")
        finally:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")

    def login(self, username: str = "demo", password: str = "demo-password") -> tuple[int, str]:
        return self.in_pty(
            "login",
            answers=[(b"username:", username.encode()), (b"password:", password.encode())],
        )


def logged_in_cli(base_url: str, home: Path) -> Cli:
    """A :class:`Cli` whose token file holds demo's login (``login`` typed on a terminal)."""
    cli = Cli(base_url, home)
    code, screen = cli.login()
    assert code == 0, screen
    return cli


def _read_until(fd: int, marker: bytes | None, already: bytes) -> bytes:
    got = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if marker is not None and marker in already + got:
            return got
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the pty
            break
        if not chunk:
            break
        got += chunk
    if marker is not None:
        raise AssertionError(f"prompt {marker!r} never appeared; output: {already + got!r}")
    return got


def interrupt(process: subprocess.Popen[str]) -> None:
    """Send SIGINT, as Ctrl-C in a terminal would."""
    process.send_signal(signal.SIGINT)
