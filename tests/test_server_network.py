"""The local server's emulated network (#13): round trip and rate caps, as a client sees them.

Only machine-independent bounds: a delay makes an exchange at least that slow, a cap makes a
connection at most that fast (a slower machine only makes both further from the limit).
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest
from download_helpers import add_file, client_for, md5_of, payload

from flowbio_async.testing import FlowServer
from flowbio_async.testing._main import add_arguments, settings_from_args
from flowbio_async.testing._network import BURST, NetworkShape, ShapeBoard, parse_rate
from flowbio_async.testing._process import FlowServerError

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def shaped() -> Iterator[FlowServer]:
    with FlowServer(emulate_network=True) as server:
        yield server


@pytest.fixture(autouse=True)
def _unshaped(shaped: FlowServer) -> Iterator[None]:
    shaped.set(rtt_ms=0, connection_rate=0, link_rate=0)
    shaped.reset()
    yield
    shaped.set(rtt_ms=0, connection_rate=0, link_rate=0)
    shaped.reset()


def _connection(server: FlowServer) -> http.client.HTTPConnection:
    where = urlsplit(server.url)
    assert where.hostname is not None and where.port is not None
    return http.client.HTTPConnection(where.hostname, where.port, timeout=30)


def _health(connection: http.client.HTTPConnection) -> None:
    connection.request("GET", "/_health")
    response = connection.getresponse()
    assert response.status == 200
    response.read()


def test_round_trip_delays_each_exchange_and_the_connection_setup(shaped: FlowServer) -> None:
    shaped.set(rtt_ms=150)
    connection = _connection(shaped)
    try:
        started = time.monotonic()
        _health(connection)  # a new connection: the handshake, then the exchange
        first = time.monotonic() - started
        started = time.monotonic()
        _health(connection)  # the same connection: one round trip
        second = time.monotonic() - started
    finally:
        connection.close()
    assert first >= 0.3 * 0.98
    assert second >= 0.15 * 0.98


def test_round_trip_changes_at_run_time(shaped: FlowServer) -> None:
    connection = _connection(shaped)
    try:
        _health(connection)
        shaped.set(rtt_ms=200)  # an open connection feels it from its next bytes on
        started = time.monotonic()
        _health(connection)
        assert time.monotonic() - started >= 0.2 * 0.98
    finally:
        connection.close()
    assert shaped.set()["rtt_ms"] == 200


def _rate_bound(size: int, rate: float) -> float:
    """Least time ``size`` bytes can take through a ``rate`` cap (minus the banked burst)."""
    return (size - rate * BURST) / rate * 0.98


@pytest.mark.anyio
async def test_connection_rate_caps_downloads_and_uploads(
    shaped: FlowServer, tmp_path: Path
) -> None:
    rate = 4_000_000.0
    content = payload(3 * MiB, seed=31)
    data_id = add_file(shaped, content, "capped.bin")
    shaped.set(connection_rate=rate)
    async with client_for(shaped, tmp_path, segment_threshold=1 << 62) as client:
        started = time.monotonic()
        result = await client.data.download(data_id, tmp_path / "down.bin")
        down = time.monotonic() - started
        source = tmp_path / "up.bin"
        source.write_bytes(content)
        started = time.monotonic()
        uploaded = await client.data.upload_data(source)
        up = time.monotonic() - started
    assert result.md5 == md5_of(content)
    assert uploaded.id
    # One connection each way: no faster than the cap (the client measures it).
    assert down >= _rate_bound(len(content), rate)
    assert up >= _rate_bound(len(content), rate)


@pytest.mark.anyio
async def test_link_rate_caps_all_connections_together(shaped: FlowServer, tmp_path: Path) -> None:
    link = 4_000_000.0
    contents = [payload(2 * MiB, seed=40 + i) for i in range(2)]
    ids = [add_file(shaped, content, f"link{i}.bin") for i, content in enumerate(contents)]
    shaped.set(link_rate=link)
    async with client_for(shaped, tmp_path, segment_threshold=1 << 62) as client:
        started = time.monotonic()
        report = await client.data.download_many(ids, tmp_path / "out")
        elapsed = time.monotonic() - started
    report.raise_for_failures()
    # Two connections at once (download_many), no faster together than the link.
    assert elapsed >= _rate_bound(sum(map(len, contents)), link)


def test_shaping_needs_the_relay(flow_server: FlowServer) -> None:
    with pytest.raises(FlowServerError, match="emulated network is off"):
        flow_server.set(rtt_ms=10)
    assert flow_server.set()["rtt_ms"] == 0


def test_bad_network_values_are_refused(shaped: FlowServer) -> None:
    with pytest.raises(FlowServerError, match="finite number >= 0"):
        shaped.set(rtt_ms=-1)
    with pytest.raises(FlowServerError, match="not a rate"):
        shaped.set(connection_rate="fast")
    assert shaped.set(connection_rate="2.5M")["connection_rate"] == 2_500_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12345", 12345.0),
        ("10M", 10e6),
        ("10MB", 10e6),
        ("10MB/s", 10e6),
        ("1.5MiB", 1.5 * MiB),
        ("800k", 800e3),
        ("1G", 1e9),
    ],
)
def test_parse_rate(text: str, expected: float) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["", "-1M", "10X", "ten"])
def test_parse_rate_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate(text)


def test_command_line_flags(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--data-dir", str(tmp_path), "--rtt-ms", "40", "--connection-rate", "10M"]
    )
    settings = settings_from_args(args)
    assert (settings.rtt_ms, settings.connection_rate, settings.link_rate) == (40, 10e6, 0)
    assert settings.network_on
    with pytest.raises(SystemExit):
        parser.parse_args(["--connection-rate", "lots"])
    plain = settings_from_args(parser.parse_args(["--data-dir", str(tmp_path)]))
    assert not plain.network_on
    assert settings_from_args(parser.parse_args(["--emulate-network"])).network_on


def test_shape_board_is_shared_and_consistent() -> None:
    board = ShapeBoard.create(NetworkShape(40, 10e6, 0))
    try:
        other = ShapeBoard.attach(board.path)
        try:
            assert other.read() == NetworkShape(40, 10e6, 0)
            other.write(NetworkShape(5, 1, 2))
            assert board.read() == NetworkShape(5, 1, 2)
        finally:
            other.close()
        assert board.path.exists()  # only the creator removes it
    finally:
        board.close()
    assert not board.path.exists()


def test_relay_passes_bytes_unchanged(shaped: FlowServer, tmp_path: Path) -> None:
    content = payload(5 * MiB + 7, seed=33)
    data_id = add_file(shaped, content, "exact.bin")
    shaped.set(rtt_ms=10, connection_rate=50_000_000)

    async def fetch() -> bytes:
        async with client_for(shaped, tmp_path, segment_threshold=MiB) as client:
            result = await client.data.download(data_id, tmp_path)
            return result.path.read_bytes()

    assert anyio.run(fetch) == content
