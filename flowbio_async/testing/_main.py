"""``python -m flowbio_async.testing`` / ``flowbio-async server``: run the local Flow server.

The first line on stdout is the API base URL, printed once the server accepts connections;
granian's own logs go to stderr so that line stays first.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flowbio_async.testing._settings import SETTINGS_ENV, ServerSettings

if TYPE_CHECKING:
    from flowbio_async.testing._network import Relay


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Define the server's command-line options on ``parser``."""
    defaults = ServerSettings()
    parser.add_argument("--host", default=defaults.host, help="interface to bind")
    parser.add_argument("--port", type=int, default=defaults.port, help="port (0 picks a free one)")
    parser.add_argument(
        "--data-dir", default=None, help="where data lives (default: a new temporary dir)"
    )
    parser.add_argument(
        "--no-demo", dest="demo", action="store_false", help="do not seed demo data"
    )
    parser.add_argument(
        "--access-token-ttl", type=float, default=defaults.access_token_ttl, metavar="S"
    )
    parser.add_argument(
        "--refresh-token-ttl", type=float, default=defaults.refresh_token_ttl, metavar="S"
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=defaults.rate_limit,
        metavar="N",
        help="requests per user per window before 429 (0: off)",
    )
    parser.add_argument("--rate-window", type=float, default=defaults.rate_window, metavar="S")
    parser.add_argument("--latency-ms", type=float, default=defaults.latency_ms, metavar="MS")
    parser.add_argument(
        "--max-body-size", type=int, default=defaults.max_body_size, metavar="BYTES"
    )
    network = parser.add_argument_group(
        "emulated network", "a relay in front of the server delays and paces bytes (#13)"
    )
    network.add_argument(
        "--rtt-ms",
        type=_non_negative,
        default=defaults.rtt_ms,
        metavar="MS",
        help="round trip added (half each way; a new connection's first request one more)",
    )
    network.add_argument(
        "--connection-rate",
        type=_rate,
        default=defaults.connection_rate,
        metavar="RATE",
        help="bytes/s per connection and direction, e.g. 10M or 1.5MiB (0: no cap)",
    )
    network.add_argument(
        "--link-rate",
        type=_rate,
        default=defaults.link_rate,
        metavar="RATE",
        help="bytes/s per direction for all connections together (0: no cap)",
    )
    network.add_argument(
        "--emulate-network",
        action="store_true",
        help="run the relay even with nothing set, so the control routes can shape it later",
    )
    parser.add_argument(
        "--testing-control",
        action="store_true",
        help="mount the /_testing/* control routes (counters, faults, settings)",
    )
    parser.add_argument(
        "--anonymous-downgrade",
        action="store_true",
        help="older Flow: every read treats a bad token as anonymous, /me answers nulls",
    )
    parser.add_argument(
        "--strict-search-tokens",
        action="store_true",
        help="searches answer 401 to a bad token (Flow treats it as anonymous)",
    )
    parser.add_argument(
        "--wrapped-field-errors",
        action="store_true",
        help='upload field errors as {"error": {field: [...]}} (Flow: bare {field: [...]})',
    )
    parser.add_argument(
        "--problem-details", action="store_true", help="answer errors as application/problem+json"
    )
    parser.add_argument(
        "--no-refresh-rotation",
        dest="rotate_refresh_token",
        action="store_false",
        help="keep the same refresh cookie on GET /token",
    )
    parser.add_argument(
        "--execution-speed",
        type=float,
        default=defaults.execution_speed,
        metavar="X",
        help="simulated seconds of a pipeline run per real second (0 pauses runs)",
    )
    parser.add_argument(
        "--no-execution-log-offsets",
        dest="execution_log_offsets",
        action="store_false",
        help="answer the whole log whatever ?log= asks (an older server)",
    )
    parser.add_argument(
        "--settings-json", default=None, help=argparse.SUPPRESS
    )  # FlowServer passes every setting at once
    parser.add_argument(
        "--exit-with-parent", type=int, default=None, metavar="PID", help=argparse.SUPPRESS
    )  # FlowServer passes its own pid: a killed test run leaves no server behind (#12)


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """Build :class:`ServerSettings` from parsed arguments (creates a temp data dir if none)."""
    if args.settings_json:
        settings = ServerSettings.from_json(args.settings_json)
        return settings.replace(data_dir=str(Path(settings.data_dir).resolve()))
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="flow-server-")
    return ServerSettings(
        host=args.host,
        port=args.port,
        data_dir=str(Path(data_dir).resolve()),
        demo=args.demo,
        access_token_ttl=args.access_token_ttl,
        refresh_token_ttl=args.refresh_token_ttl,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        latency_ms=args.latency_ms,
        max_body_size=args.max_body_size,
        rtt_ms=args.rtt_ms,
        connection_rate=args.connection_rate,
        link_rate=args.link_rate,
        emulate_network=args.emulate_network,
        testing_control=args.testing_control,
        anonymous_downgrade=args.anonymous_downgrade,
        strict_search_tokens=args.strict_search_tokens,
        wrapped_field_errors=args.wrapped_field_errors,
        problem_details=args.problem_details,
        rotate_refresh_token=args.rotate_refresh_token,
        execution_speed=args.execution_speed,
        execution_log_offsets=args.execution_log_offsets,
    )


def _rate(text: str) -> float:
    from flowbio_async.testing._network import parse_rate

    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def free_port(host: str) -> int:
    """Ask the OS for a free TCP port on ``host``."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def base_url(host: str, port: int) -> str:
    """The API base URL for a bound ``host:port``."""
    shown = f"[{host}]" if ":" in host else host
    if host in {"0.0.0.0", "::"}:  # noqa: S104 - we only print a reachable address
        shown = "127.0.0.1"
    return f"http://{shown}:{port}/api"


def _announce_when_ready(url: str, stop: threading.Event) -> None:
    health = url.removesuffix("/api") + "/_health"
    while not stop.is_set():
        try:
            with urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    print(url, flush=True)
                    return
        except OSError:
            time.sleep(0.05)


def _exit_with_parent(parent: int) -> None:
    # Reparented means the parent is gone (a test run ended by pytest-timeout's thread method,
    # a SIGKILL): stop as on SIGTERM (SIGINT may be ignored in a background job), and for good
    # if granian does not stop in time.
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(_PARENT_GONE_GRACE)
    os._exit(1)


_PARENT_GONE_GRACE = 10.0


def serve(settings: ServerSettings, *, parent: int | None = None) -> int:
    """Run granian (1 worker) until interrupted; prints the URL when ready.

    With ``parent``, the server also stops once that process is gone.
    """
    from granian.constants import Interfaces
    from granian.server import Server

    if settings.port == 0:
        settings = settings.replace(port=free_port(settings.host))
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    # Prepare the data dir (and demo data) once here, so the worker starts fast and a
    # broken data dir fails loudly in the foreground.
    _prepare(settings)
    url = base_url(settings.host, settings.port)
    relay = None
    if settings.network_on:
        # The relay takes the public address; granian listens on loopback behind it (#13).
        relay, settings = _start_relay(settings)
    os.environ[SETTINGS_ENV] = settings.to_json()
    stop = threading.Event()
    watcher = threading.Thread(target=_announce_when_ready, args=(url, stop), daemon=True)
    watcher.start()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    print(f"flow server data dir: {settings.data_dir}", file=sys.stderr, flush=True)
    server = Server(
        "flowbio_async.testing._app:create_app_from_env",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=1,
        factory=True,
        log_dictconfig=_STDERR_LOGGING,
        log_level="warning",  # type: ignore[arg-type]
    )
    try:
        server.serve()
    finally:
        stop.set()
        if relay is not None:
            relay.stop()
            relay.board.close()
    return 0


def _start_relay(settings: ServerSettings) -> tuple[Relay, ServerSettings]:
    """Start the emulated network on the public address; the settings granian gets."""
    from flowbio_async.testing._network import NETWORK_ENV, NetworkShape, Relay, ShapeBoard

    inner = settings.replace(host="127.0.0.1", port=free_port("127.0.0.1"))
    shape = NetworkShape(settings.rtt_ms, settings.connection_rate, settings.link_rate)
    board = ShapeBoard.create(shape)
    relay = Relay((settings.host, settings.port), (inner.host, inner.port), board)
    try:
        relay.start()
    except BaseException:
        board.close()
        raise
    os.environ[NETWORK_ENV] = str(board.path)
    return relay, inner


def _prepare(settings: ServerSettings) -> None:
    from flowbio_async.testing._app import create_app

    app = create_app(settings.replace(testing_control=False))
    app.state.store.close()


_STDERR_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"generic": {"format": "[%(levelname)s] %(message)s"}},
    "handlers": {
        "console": {
            "formatter": "generic",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "_granian": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "granian.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}


def run_from_args(args: argparse.Namespace) -> int:
    """Entry point shared by ``python -m flowbio_async.testing`` and ``flowbio-async server``."""
    return serve(settings_from_args(args), parent=getattr(args, "exit_with_parent", None))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the server."""
    parser = argparse.ArgumentParser(
        prog="python -m flowbio_async.testing", description="Run the local Flow server."
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
