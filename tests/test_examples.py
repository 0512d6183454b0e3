"""Every examples/*.py runs against a local Flow server and exits 0 (scripts/run_examples.py)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from flowbio_async.testing import FlowServer

ROOT = Path(__file__).resolve().parent.parent


def _load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_examples", ROOT / "scripts/run_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_examples"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


runner = _load_runner()


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    # Own server: examples upload and change data, which the shared fixture must not see.
    with FlowServer() as running:
        yield running


@pytest.mark.parametrize("path", runner.all_examples(), ids=lambda p: p.name)
def test_example_runs(server: FlowServer, path: Path) -> None:
    runner.check(runner.run_example(path, server.url, server.files_url))


def test_main_examples_exist() -> None:
    for name in runner.MAIN_EXAMPLES:
        assert (ROOT / "examples" / name).is_file(), f"make demo needs examples/{name}"


def test_a_failing_example_fails_loudly(server: FlowServer, tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text(
        "import os, sys\n"
        "print('url', os.environ['FLOW_API_URL'], os.environ['FLOW_USERNAME'])\n"
        "sys.exit('boom')\n"
    )
    result = runner.run_example(script, server.url, server.files_url)
    assert result.returncode == 1
    assert f"url {server.url} demo" in result.stdout
    with pytest.raises(runner.ExampleFailed, match="boom"):
        runner.check(result)
