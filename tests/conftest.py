"""Shared test configuration: anyio runs on asyncio only (trio is not a dependency)."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
