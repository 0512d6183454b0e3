"""The default transport (aiohttp) and httpx's own, on real loopback sockets (#16).

Proxies from the environment, ``verify`` / CA bundles and client certificates, timeouts and
connection limits work on both engines; bodies cut or stalled mid-stream resume at the exact
byte; and the package keeps its boundaries (only the HTTP layer imports the HTTP libraries,
nothing reads a library's private attributes, ``_auth`` does not import the HTTP layer).
"""

from __future__ import annotations

import ast
import hashlib
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from hostile_server import Connection, Hostile, hostile_server
from security_helpers import Recorded, recording_server

import flowbio_async
from flowbio_async import (
    AsyncClient,
    ClientConfig,
    ConfigurationError,
    FlowConnectionError,
    FlowTimeoutError,
    TokenCredentials,
    UsernamePasswordCredentials,
)
from flowbio_async._http import HttpClient
from flowbio_async.testing import FlowServer

pytestmark = pytest.mark.anyio
ENGINES = ["aiohttp", "httpx"]
HANG_GUARD = 60
DEMO = UsernamePasswordCredentials(username="demo", password="demo-password")
PROXY_VARIABLES = [f"{scheme}_proxy" for scheme in ("http", "https", "all", "no")] + [
    f"{scheme.upper()}_PROXY" for scheme in ("http", "https", "all", "no")
]


def quick(**changes: Any) -> ClientConfig:
    values: dict[str, Any] = {
        "show_progress": False,
        "backoff_initial": 0.01,
        "backoff_max": 0.02,
        "connection_retries": 0,
        "max_retries": 0,
        **changes,
    }
    return ClientConfig(**values)


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    with hostile_server(Hostile()) as state:
        yield state


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# -- engines -------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
async def test_each_engine_logs_in_downloads_and_resumes(
    flow_server: FlowServer, tmp_path: Path, engine: str
) -> None:
    content = bytes(range(256)) * 4096  # 1 MiB
    from download_helpers import add_file

    data_id = add_file(flow_server, content, "engine.bin")
    flow_server.add_fault("cut", route="download", bytes=300_000, count=1)
    config = quick(http_engine=engine, max_retries=2, state_dir=tmp_path / "state")
    try:
        async with AsyncClient(flow_server.url, config) as client:
            await client.log_in(DEMO)
            result = await client.data.download(data_id, tmp_path / "engine.bin")
            assert client._http.engine == engine
    finally:
        flow_server.clear_faults()
    assert result.resumed_from == 0 and result.md5 == hashlib.md5(content).hexdigest()
    assert (tmp_path / "engine.bin").read_bytes() == content


def test_an_unknown_engine_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        HttpClient("http://127.0.0.1:1/api", ClientConfig(http_engine="curl"))  # type: ignore[arg-type]


# -- proxies from the environment -------------------------------------------------------------


class _Proxy(ThreadingHTTPServer):
    """A forward HTTP proxy for plain-HTTP targets (absolute-form requests), recording them."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.seen.append(self.path)
                import urllib.request

                request = urllib.request.Request(self.path, headers=dict(self.headers.items()))
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                try:
                    with opener.open(request, timeout=10) as upstream:
                        body, status, headers = upstream.read(), upstream.status, upstream.headers
                except urllib.error.HTTPError as error:
                    body, status, headers = error.read(), error.code, error.headers
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    server = _Proxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("engine", ENGINES)
async def test_requests_go_through_the_proxy_from_the_environment(
    hostile: Hostile, proxy: _Proxy, no_proxy_env: pytest.MonkeyPatch, engine: str
) -> None:
    hostile.routes["/api/ping"] = lambda c: c.json(200, '{"ok": true}')
    no_proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    http = HttpClient(f"{hostile.url}/api", quick(http_engine=engine))
    try:
        assert (await http.request("GET", "ping")).json() == {"ok": True}
    finally:
        await http.aclose()
    assert proxy.seen == [f"{hostile.url}/api/ping"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("how", ["no_proxy", "trust_env_false"])
async def test_no_proxy_and_trust_env_false_bypass_the_proxy(
    hostile: Hostile, proxy: _Proxy, no_proxy_env: pytest.MonkeyPatch, engine: str, how: str
) -> None:
    hostile.routes["/api/ping"] = lambda c: c.json(200, '{"ok": true}')
    no_proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    if how == "no_proxy":
        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    config = quick(http_engine=engine, trust_env=how != "trust_env_false")
    http = HttpClient(f"{hostile.url}/api", config)
    try:
        assert (await http.request("GET", "ping")).json() == {"ok": True}
    finally:
        await http.aclose()
    assert proxy.seen == [] and hostile.count("/api/ping") == 1


async def test_a_socks_proxy_is_refused_clearly_when_it_would_be_used(
    hostile: Hostile, no_proxy_env: pytest.MonkeyPatch
) -> None:
    hostile.routes["/api/ping"] = lambda c: c.json(200, "{}")
    no_proxy_env.setenv("ALL_PROXY", "socks5://127.0.0.1:1080")
    http = HttpClient(f"{hostile.url}/api", quick())  # set for other tools: no harm yet
    try:
        with pytest.raises(ConfigurationError, match="only http:// and https:// proxies"):
            await http.request("GET", "ping")
        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        bypassed = HttpClient(f"{hostile.url}/api", quick())
        try:
            assert (await bypassed.request("GET", "ping")).json() == {}
        finally:
            await bypassed.aclose()
    finally:
        await http.aclose()


# -- TLS: CA bundles and client certificates --------------------------------------------------


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available")
    folder = tmp_path_factory.mktemp("pki")
    files = {
        name: folder / f"{name}.pem" for name in ("server", "server_key", "client", "client_key")
    }
    for who, subject in (("server", "/CN=127.0.0.1"), ("client", "/CN=flowbio-test-client")):
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(files[f"{who}_key"]), "-out", str(files[who]), "-subj", subject,
            "-addext", "subjectAltName=IP:127.0.0.1",
        )  # fmt: skip
    return files


@pytest.fixture
def mtls_url(pki: dict[str, Path]) -> Iterator[str]:
    """HTTPS on loopback that demands a client certificate signed by the test client's key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server"], pki["server_key"])
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki["client"])
    with recording_server(Recorded(body=b'{"ok": true}'), context) as port:
        yield f"https://127.0.0.1:{port}/api"


@pytest.mark.parametrize("engine", ENGINES)
async def test_client_certificates_reach_the_server(
    mtls_url: str, pki: dict[str, Path], engine: str
) -> None:
    with_cert = quick(
        http_engine=engine,
        verify=str(pki["server"]),
        cert=(str(pki["client"]), str(pki["client_key"])),
    )
    http = HttpClient(mtls_url, with_cert)
    try:
        assert (await http.request("GET", "ping", authenticated=False)).json() == {"ok": True}
    finally:
        await http.aclose()
    http = HttpClient(mtls_url, quick(http_engine=engine, verify=str(pki["server"])))
    try:
        with pytest.raises(FlowConnectionError):  # the server refuses the handshake
            await http.request("GET", "ping", authenticated=False)
    finally:
        await http.aclose()


def test_a_missing_client_certificate_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="client certificate"):
        HttpClient("https://flow.test/api", ClientConfig(cert=str(tmp_path / "nope.pem")))


# -- timeouts and connection limits ----------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_silent_server_is_a_read_timeout(hostile: Hostile, engine: str) -> None:
    hostile.routes["/api/me"] = lambda c: c.stop.wait(30)  # reads the request, says nothing
    config = quick(http_engine=engine, request_timeout=timedelta(seconds=0.5))
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", config) as client:
            with pytest.raises(FlowTimeoutError, match="ReadTimeout"):
                await client.me()


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_connect_that_never_completes_is_a_connect_timeout(engine: str) -> None:
    # A listener whose accept queue is full: the kernel drops further SYNs, so connect hangs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
            fillers.append(filler)
        port = listener.getsockname()[1]
        config = quick(http_engine=engine, connect_timeout=timedelta(seconds=0.5))
        with anyio.fail_after(HANG_GUARD):
            async with AsyncClient(f"http://127.0.0.1:{port}/api", config) as client:
                with pytest.raises(FlowTimeoutError) as info:
                    await client.me()
        if "ConnectTimeout" not in str(info.value):
            pytest.skip(f"this kernel accepted the connection: {info.value}")
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.mark.parametrize("engine", ENGINES)
async def test_max_connections_bounds_the_connections_in_use(hostile: Hostile, engine: str) -> None:
    active = [0, 0]  # current, highest
    gate = threading.Lock()

    def slow(c: Connection) -> None:
        with gate:
            active[0] += 1
            active[1] = max(active)
        time.sleep(0.05)
        with gate:
            active[0] -= 1
        # The hostile server closes every connection after one answer: saying so keeps a
        # client from reusing it (httpx did, then read "Server disconnected", a flake).
        c.answer(200, b'{"ok": true}', {"Content-Type": "application/json"}, close=True)

    hostile.routes["/api/ping"] = slow
    config = quick(http_engine=engine, max_connections=2)
    with anyio.fail_after(HANG_GUARD):
        http = HttpClient(f"{hostile.url}/api", config)
        try:
            async with anyio.create_task_group() as group:
                for _ in range(8):
                    group.start_soon(http.request, "GET", "ping")
        finally:
            await http.aclose()
    assert hostile.count("/api/ping") == 8 and active[1] <= 2


@pytest.mark.parametrize("engine", ENGINES)
async def test_waiting_for_a_pooled_connection_times_out_typed(
    hostile: Hostile, engine: str
) -> None:
    hostile.routes["/api/hold"] = lambda c: (
        c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nx"),
        c.stop.wait(30),
    )
    hostile.routes["/api/ping"] = lambda c: c.json(200, "{}")
    config = quick(
        http_engine=engine,
        max_connections=1,
        request_timeout=timedelta(seconds=0.3),
        connect_timeout=timedelta(seconds=0.3),
    )
    with anyio.fail_after(HANG_GUARD):
        async with (
            AsyncClient(f"{hostile.url}/api", config) as client,
            client._http.stream("GET", f"{hostile.url}/api/hold"),
        ):
            with pytest.raises(FlowTimeoutError):  # the only connection is busy
                await client._http.request("GET", "ping")
    assert hostile.count("/api/ping") == 0


# -- a refused connection fails fast, once, naming host:port ----------------------------------

SECRET = "refused-test-token-0123456789"


class ConnectAttempts(logging.Handler):
    """Collects the HTTP layer's "connecting to ... failed" records (one per attempt)."""

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []
        self._on_first = on_first

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("connecting to "):
            self.messages.append(message)
            if self._on_first is not None and len(self.messages) == 1:
                self._on_first()


@contextmanager
def counting(handler: ConnectAttempts) -> Iterator[ConnectAttempts]:
    log = logging.getLogger("flowbio_async")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


@contextmanager
def held_closed_port() -> Iterator[int]:
    """A port bound but not listening: the kernel refuses every connection to it, and no
    other process can take it while the test runs."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    try:
        yield holder.getsockname()[1]
    finally:
        holder.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
@pytest.mark.parametrize("engine", ENGINES)
async def test_a_refused_connection_fails_after_one_budget_naming_host_and_port(
    engine: str, host: str
) -> None:
    # Seen (#17): ~7.7 s and "ConnectError during GET …: All connection attempts failed", the
    # connection retried under connection_retries and then again under max_retries. The
    # default backoff is kept: a refusal gets its own short one.
    config = ClientConfig(
        show_progress=False, http_engine=engine, connection_retries=3, max_retries=4
    )
    with held_closed_port() as port, counting(ConnectAttempts()) as attempts:
        with anyio.fail_after(HANG_GUARD):
            async with AsyncClient(f"http://{host}:{port}/api", config) as client:
                await client.log_in(TokenCredentials(SECRET), verify=False)
                with pytest.raises(FlowConnectionError) as info:
                    await client.me()
    message = str(info.value)
    assert "connection refused" in message
    assert f"{host}:{port}" in message
    assert "4 attempts" in message
    assert SECRET not in message and SECRET not in repr(info.value)
    assert len(attempts.messages) == 1 + config.connection_retries
    assert all("connection refused" in line for line in attempts.messages)
    assert attempts.messages[-1].endswith("giving up")
    assert not any(SECRET in line for line in attempts.messages)


@pytest.mark.parametrize("engine", ENGINES)
async def test_connect_failures_spend_connection_retries_only_for_any_method(engine: str) -> None:
    config = quick(http_engine=engine, connection_retries=2, max_retries=5)
    with held_closed_port() as port:
        http = HttpClient(f"http://127.0.0.1:{port}/api", config)
        try:
            for method, retry in (("GET", None), ("POST", False), ("POST", True)):
                with (
                    counting(ConnectAttempts()) as attempts,
                    anyio.fail_after(HANG_GUARD),
                    pytest.raises(FlowConnectionError, match="connection refused"),
                ):
                    await http.request(method, "me", json={}, retry=retry)
                assert len(attempts.messages) == 3, (method, retry, attempts.messages)
        finally:
            await http.aclose()


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_server_that_starts_listening_after_a_refusal_is_reached(engine: str) -> None:
    # A server restarting: the first attempt is refused, the retry (a short backoff later)
    # finds it listening.
    class Me(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = b'{"id": "1", "username": "demo"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Me, bind_and_activate=False)
    server.server_bind()  # bound, not listening yet: connections are refused
    port = server.server_address[1]
    serving = threading.Thread(target=server.serve_forever, daemon=True)

    def start() -> None:
        server.server_activate()
        serving.start()

    http = HttpClient(
        f"http://127.0.0.1:{port}/api", quick(http_engine=engine, connection_retries=1)
    )
    try:
        with counting(ConnectAttempts(on_first=start)) as attempts, anyio.fail_after(HANG_GUARD):
            answer = await http.request("POST", "me", retry=False)
        assert answer.json() == {"id": "1", "username": "demo"}
        assert len(attempts.messages) == 1 and attempts.messages[0].endswith("retrying")
    finally:
        await http.aclose()
        if serving.is_alive():
            server.shutdown()
        server.server_close()


# -- bodies cut or stalled mid-stream resume at the exact byte --------------------------------


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_stalled_body_resumes_at_the_exact_byte(
    hostile: Hostile, tmp_path: Path, engine: str
) -> None:
    content = bytes(range(250)) * 4
    md5 = hashlib.md5(content).hexdigest()
    record = f'{{"id": "1", "filename": "a.bin", "size": 1000, "md5": "{md5}"}}'
    hostile.routes["/api/data/1"] = lambda c: c.json(200, record)
    ranges: list[str | None] = []

    def body(c: Connection) -> None:
        ranges.append(c.headers.get("range"))
        if c.headers.get("range") is None:
            c.send(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nETag: "v1"\r\n\r\n' + content[:600])
            c.stop.wait(30)  # then silence: a read timeout mid-body
            return
        start = int(c.headers["range"].removeprefix("bytes=").split("-")[0])
        c.answer(206, content[start:], {"Content-Range": f"bytes {start}-999/1000", "ETag": '"v1"'})

    hostile.routes["/api/downloads/1/a.bin"] = body
    config = quick(
        http_engine=engine, request_timeout=timedelta(seconds=0.5), state_dir=tmp_path / "state"
    )
    with anyio.fail_after(HANG_GUARD):
        async with AsyncClient(f"{hostile.url}/api", config) as client:
            result = await client.data.download("1", tmp_path / "a.bin")
    assert ranges == [None, "bytes=600-999"]
    assert result.md5 == md5 and (tmp_path / "a.bin").read_bytes() == content


# -- boundaries ------------------------------------------------------------------------------

PACKAGE = Path(flowbio_async.__file__).parent
HTTP_LIBRARIES = {"httpx", "httpcore", "aiohttp", "h11", "yarl", "multidict", "anyio._backends"}


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_http_package_imports_the_http_libraries() -> None:
    offenders = []
    for path, tree in _modules():
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(("_http/", "testing/")):
            continue  # the local server is a separate program (Starlette, stdlib client)
        used = {name for name in _imports(tree) if name.split(".")[0] in HTTP_LIBRARIES}
        if used:
            offenders.append(f"{relative}: {sorted(used)}")
    assert offenders == []


def test_the_http_package_touches_no_private_attribute_but_its_own() -> None:
    offenders = []
    for path in sorted((PACKAGE / "_http").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
            ):
                offenders.append(f"{path.name}:{node.lineno} .{node.attr}")
    assert offenders == []
    source = "\n".join(path.read_text(encoding="utf-8") for path, _ in _modules())
    for name in ("_transport_for_url", "_mounts", "_network_backend", "_protocol", "read_queue"):
        assert name not in source


def test_auth_does_not_import_the_http_layer() -> None:
    tree = ast.parse((PACKAGE / "_auth.py").read_text(encoding="utf-8"))
    assert not any(name.startswith("flowbio_async._http") for name in _imports(tree))
