"""``flowbio-async server``: run the local Flow server (owned by the local-server work)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``server`` verb to the subparsers ``sub``."""
    from flowbio_async.testing._main import add_arguments

    parser: argparse.ArgumentParser = sub.add_parser(
        "server",
        help="run the local Flow server",
        description="Run the local Flow server (needs the 'server' extra). The first line "
        "printed is the API base URL.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from flowbio_async.testing._main import run_from_args

    return run_from_args(args)
