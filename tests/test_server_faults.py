"""Local server: fault injection, counters, rate limits and body-size cap
(docs/protocol.md §6.3)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from server_helpers import DEMO, OTHER, api

from flowbio_async.testing import FlowServer, FlowServerError


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(server: FlowServer) -> Iterator[None]:
    server.reset()
    yield
    server.set(rate_limit=0, rate_window=3600, max_body_size=256 * 1024 * 1024)
    server.reset()


def test_status_burst_then_recovery(server: FlowServer) -> None:
    server.add_fault(path="^/api/me$", status=503, count=2, body="<html>busy</html>")
    with api(server) as client:
        statuses = [client.get("me").status_code for _ in range(3)]
        first_busy = client.get("organisms")
    assert statuses == [503, 503, 200]
    assert first_busy.status_code == 200  # other paths untouched
    rule = server.faults()[0]
    assert (rule["seen"], rule["applied"]) == (3, 2)


def test_nth_method_and_route_filters(server: FlowServer) -> None:
    server.add_fault(route="organisms", nth=2, count=1, status=429, headers={"Retry-After": "1"})
    server.add_fault(method="POST", path="^/api/logout$", status=500, count=0)
    with api(server) as client:
        responses = [client.get("organisms") for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 429, 200]
        assert responses[1].headers["retry-after"] == "1"
        assert client.post("logout").status_code == 500
        assert client.post("logout").status_code == 500  # count=0: every time
        assert client.get("me").status_code == 200


def test_drop_closes_without_a_response(server: FlowServer) -> None:
    server.add_fault("drop", path="^/api/me$")
    with api(server) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("me")
        assert client.get("me").status_code == 200


def test_cut_and_corrupt_the_body(server: FlowServer) -> None:
    with api(server) as client:
        table = client.get("data/search", params={"pattern": r"\.tsv$"}).json()["data"][0]
        path = f"data/{table['id']}/contents"
        good = client.get(path).content
        server.add_fault("corrupt", path=r"/contents$", bytes=5)
        bad = client.get(path).content
        assert len(bad) == len(good) and bad != good
        assert [i for i in range(len(good)) if good[i] != bad[i]] == [5]
        server.add_fault("cut", path=r"/contents$", bytes=100)
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(path)
        assert client.get(path).content == good


def test_latency_and_stall_still_answer(server: FlowServer) -> None:
    server.add_fault("latency", path="^/api/me$", seconds=0.05)
    server.add_fault("stall", path="^/api/organisms$", seconds=0.05)
    with api(server) as client:
        assert client.get("me").status_code == 200
        assert client.get("organisms").status_code == 200
    assert [r["applied"] for r in server.faults()] == [1, 1]


def test_bad_fault_rules_are_rejected(server: FlowServer) -> None:
    with pytest.raises(FlowServerError, match="unknown fault action"):
        server.add_fault("explode")
    with pytest.raises(FlowServerError, match="unknown fault fields"):
        server.add_fault(colour="red")
    assert server.faults() == []


@pytest.mark.timing
def test_counters_and_max_in_flight(server: FlowServer) -> None:
    # The gate holds the requests until all four are in, so they overlap on any machine (#12).
    server.add_fault("gate", path="^/api/organisms$", count=0, params={"together": 4})
    with api(server) as client:
        server.reset_counters()
        threads = [threading.Thread(target=client.get, args=("organisms",)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.get("me")
    counts = server.counters()
    assert counts["organisms"] == 4 and counts["me"] == 1
    assert "login" not in counts  # counted before the reset
    assert server.max_in_flight()["organisms"] == 4


def test_rate_limit_headers_and_429(server: FlowServer) -> None:
    server.set(rate_limit=3, rate_window=3600)
    with api(server) as client, api(server, OTHER) as other:
        first = client.get("me")
        assert first.headers["x-ratelimit-limit"] == "3"
        assert first.headers["x-ratelimit-remaining"] == "2"
        reset = int(first.headers["x-ratelimit-reset"])
        assert reset > time.time()
        assert client.get("me").status_code == 200
        assert client.get("me").headers["x-ratelimit-remaining"] == "0"
        limited = client.get("me")
        assert limited.status_code == 429
        assert limited.json() == {"error": "Rate limit exceeded"}
        assert 1 <= int(limited.headers["retry-after"]) <= 3600
        # Budgets are per user.
        assert other.get("me").status_code == 200


def test_rate_limit_off_still_sends_headers(server: FlowServer) -> None:
    with httpx.Client(base_url=server.url + "/") as client:
        response = client.post("login", json=DEMO)
    assert response.headers["x-ratelimit-limit"] == "1000"
    assert int(response.headers["x-ratelimit-remaining"]) < 1000


def test_body_size_cap(server: FlowServer) -> None:
    server.set(max_body_size=100)
    with httpx.Client(base_url=server.url + "/") as client:
        response = client.post("login", json={**DEMO, "padding": "x" * 200})
    assert response.status_code == 413
