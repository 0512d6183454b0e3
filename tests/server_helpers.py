"""Helpers for the local-server tests: a logged-in httpx client against a FlowServer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from flowbio_async.testing import FlowServer

DEMO = {"username": "demo", "password": "demo-password"}
OTHER = {"username": "other", "password": "other-password"}


@contextmanager
def api(server: FlowServer, credentials: dict[str, str] | None = DEMO) -> Iterator[httpx.Client]:
    """An httpx client on ``server.url``; logged in (bearer set, cookie kept) unless None."""
    with httpx.Client(base_url=server.url + "/", timeout=30) as client:
        if credentials is not None:
            response = client.post("login", json=credentials)
            response.raise_for_status()
            client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        yield client
