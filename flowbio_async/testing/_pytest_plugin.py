"""pytest plugin: the session-scoped ``flow_server`` fixture (a running local Flow server).

Installed with flowbio-async (entry point ``pytest11``), so any project can write:

    def test_whoami(flow_server):
        client = AsyncClient(base_url=flow_server.url)

The fixture needs the ``server`` extra (starlette, python-multipart, granian).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowbio_async.testing._process import FlowServer


@pytest.fixture(scope="session")
def flow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowServer]:
    """A local Flow server with demo data (user ``demo`` / ``demo-password``) for the session.

    Shared by every test of the session: a test that adds faults or changes settings should
    undo it (``flow_server.reset()``) or start its own ``FlowServer``.
    """
    data_dir = tmp_path_factory.mktemp("flow-server")
    with FlowServer(data_dir=data_dir) as server:
        yield server
