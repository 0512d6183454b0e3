"""Shared test configuration.

- anyio runs on asyncio only (trio is not a dependency).
- Hypothesis explores new random examples on developers' machines, but CI (``CI=true``) runs
  a derandomized profile, so a CI verdict is repeatable; the examples a developer's run
  finds are fixed and kept as regression tests (e.g. ``test_upload_units``).
- No verdict depends on the machine's speed (#12): both profiles drop Hypothesis' deadline
  and its ``too_slow`` health check, which fail a correct test when a loaded machine runs
  it slowly. Speed is measured in ``benchmarks/``, never asserted.
- Nor on how the suite was started: a shell starts a background job (``make test &``,
  ``nohup``) with SIGINT ignored, and Python then installs no Ctrl-C handler, so the tests
  that press Ctrl-C (``_thread.interrupt_main``, or SIGINT to a CLI subprocess, which
  inherits the ignore) pressed nothing and waited until pytest-timeout (#12). The suite
  handles SIGINT as an interactive run does.
"""

import os
import signal

import pytest
from hypothesis import HealthCheck, settings

UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
"""Settings every profile shares; a test that sets its own health checks adds these."""

settings.register_profile("dev", **UNTIMED)
settings.register_profile("ci", derandomize=True, print_blob=True, **UNTIMED)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
