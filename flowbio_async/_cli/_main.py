"""Entry point of the ``flowbio-async`` command: builds the parser from verb modules."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flowbio_async._cli import _server


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every verb registered."""
    parser = argparse.ArgumentParser(
        prog="flowbio-async", description="Move data in and out of Flow."
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    _server.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    result: int = handler(args)
    return result
