"""Run every benchmark in this folder, one after another, in one process run.

Each ``bench_*.py`` is a standalone script that compares our client side by side with its
reference (curl, the official ``flowbio`` client, the seeds' ``requests`` snippets) and prints
a table of ratios and peak memory. ``make bench`` calls this; ``--quick`` is passed through
for a short smoke run.

Example:
    ```bash
    .venv/bin/python benchmarks/run.py --quick
    ```
"""

from __future__ import annotations

import runpy
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    """Run each benchmark script with ``argv`` as its arguments; return non-zero on failure."""
    here = Path(__file__).resolve().parent
    failures = 0
    for script in sorted(here.glob("bench_*.py")):
        print(f"\n=== {script.name} {' '.join(argv)}", flush=True)
        started = time.perf_counter()
        sys.argv = [str(script), *argv]
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (0, None):
                failures += 1
                print(f"!!! {script.name} exited with {exc.code}", flush=True)
        print(f"=== {script.name} took {time.perf_counter() - started:.1f} s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
