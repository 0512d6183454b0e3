"""Shared test configuration.

- anyio runs on asyncio only (trio is not a dependency).
- Hypothesis explores new random examples on developers' machines, but CI (``CI=true``) runs
  a derandomized profile, so a CI verdict is repeatable; the examples a developer's run
  finds are fixed and kept as regression tests (e.g. ``test_upload_units``).
"""

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
