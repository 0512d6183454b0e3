"""Run examples/ against a local Flow server (``make demo`` and tests/test_examples.py).

Each example runs as its own subprocess, in a fresh temporary working directory, with
``FLOW_API_URL``, ``FLOW_FILES_URL``, ``FLOW_USERNAME=demo`` and ``FLOW_PASSWORD=demo-password``
in its environment. Any failure is loud: its output is shown and the exit code is 1.

Usage: ``python scripts/run_examples.py [--demo] [--all] [EXAMPLE ...]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
#: What ``make demo`` runs, in order (others are run by ``--all`` and by the tests).
MAIN_EXAMPLES = (
    "quickstart.py",
    "upload_file.py",
    "upload_paired_sample.py",
    "upload_folder.py",
    "download_file.py",
    "download_execution.py",
    "run_pipeline.py",
    "run_pipeline_sync.py",
    "run_pipeline_cli.py",
    "import_samples.py",
    "graphql_and_raw.py",
    "bulk_download.py",
    "sync_quickstart.py",
)
EXAMPLE_TIMEOUT = 300.0


@dataclass(frozen=True)
class ExampleResult:
    """The outcome of one example run."""

    path: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether the example exited 0."""
        return self.returncode == 0


class ExampleFailed(RuntimeError):
    """An example exited non-zero (the message carries its output)."""


def example_env(api_url: str, files_url: str) -> dict[str, str]:
    """The environment examples run with."""
    env = dict(os.environ)
    env.update(
        FLOW_API_URL=api_url,
        FLOW_FILES_URL=files_url,
        FLOW_USERNAME="demo",
        FLOW_PASSWORD="demo-password",
        PYTHONUNBUFFERED="1",
    )
    # Never pick up a developer's real credentials.
    env.pop("FLOW_API_TOKEN", None)
    env.pop("FLOW_TOKEN_FILE", None)
    return env


def run_example(path: Path, api_url: str, files_url: str) -> ExampleResult:
    """Run one example in a fresh temporary directory and return its result."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="flow-example-") as workdir:
        try:
            done = subprocess.run(
                [sys.executable, str(path.resolve())],
                cwd=workdir,
                env=example_env(api_url, files_url),
                capture_output=True,
                text=True,
                timeout=EXAMPLE_TIMEOUT,
                check=False,
            )
            code, out, err = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as exc:
            code, out, err = -1, _text(exc.stdout), _text(exc.stderr) + "\n(timed out)"
    return ExampleResult(path, code, out, err, time.monotonic() - started)


def check(result: ExampleResult) -> ExampleResult:
    """Raise :class:`ExampleFailed` with the example's output if it failed."""
    if not result.ok:
        raise ExampleFailed(
            f"{result.path.name} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


def run_examples(paths: Iterable[Path]) -> list[ExampleResult]:
    """Start a local server (temporary data dir) and run every example against it."""
    from flowbio_async.testing import FlowServer

    with FlowServer() as server:
        return [run_example(path, server.url, server.files_url) for path in paths]


def resolve(names: Sequence[str], run_all: bool) -> list[Path]:
    """Example paths from names (``quickstart`` or ``quickstart.py``) or the defaults."""
    if run_all:
        return all_examples()
    chosen = names or MAIN_EXAMPLES
    paths = [EXAMPLES_DIR / (n if n.endswith(".py") else f"{n}.py") for n in chosen]
    missing = [str(p.relative_to(ROOT)) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"missing example(s): {', '.join(missing)}")
    return paths


def all_examples() -> list[Path]:
    """Every runnable example (``examples/*.py``, sorted)."""
    return sorted(p for p in EXAMPLES_DIR.glob("*.py") if not p.name.startswith("_"))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("examples", nargs="*", help="example names (default: the main list)")
    parser.add_argument("--all", action="store_true", help="run every example")
    parser.add_argument("--demo", action="store_true", help="print a friendly walkthrough")
    args = parser.parse_args(argv)
    paths = resolve(args.examples, args.all)
    if args.demo:
        print("Starting a local Flow server with demo data (user demo / demo-password)...")
    results = run_examples(paths)
    failed = [r for r in results if not r.ok]
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        print(f"[{mark}] examples/{result.path.name} ({result.seconds:.1f} s)")
        if args.demo or not result.ok:
            for line in result.stdout.rstrip().splitlines():
                print(f"       {line}")
        if not result.ok:
            print(f"       --- stderr ---\n{result.stderr.rstrip()}")
    if failed:
        print(f"{len(failed)} of {len(results)} example(s) failed.", file=sys.stderr)
        return 1
    if args.demo:
        print(
            f"\nAll {len(results)} example(s) ran against the local server. Next: read "
            "docs/quickstart.md, or start your own server with `flowbio-async server`."
        )
    return 0


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


if __name__ == "__main__":
    sys.exit(main())
