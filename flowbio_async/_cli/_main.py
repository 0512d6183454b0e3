"""Entry point of the ``flowbio-async`` command: builds the parser from verb modules."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flowbio_async._cli import (
    _account,
    _api,
    _bulk,
    _catalog,
    _data,
    _download,
    _executions,
    _files,
    _imports,
    _listings,
    _pipelines,
    _samples,
    _server,
)
from flowbio_async._cli._command import Verbs
from flowbio_async._cli._exit import ExitCode
from flowbio_async._cli._options import global_parent
from flowbio_async._cli._run import run_command
from flowbio_async._version import __version__

_VERB_MODULES = (
    _account,
    _data,
    _samples,
    _download,
    _bulk,
    _catalog,
    _files,
    _pipelines,
    _executions,
    _listings,
    _imports,
    _api,
)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every verb registered."""
    parent = global_parent()
    parser = argparse.ArgumentParser(
        prog="flowbio-async",
        description="Move data in and out of Flow, and run pipelines on it.",
        parents=[parent],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"flowbio-async {__version__}")
    parser.set_defaults(command_parser=parser)
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs = Verbs(sub, parent)
    for module in _VERB_MODULES:
        module.register(verbs)
    _server.register(sub)
    parser.epilog = _every_command(sub)
    return parser


def _every_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> str:
    """An epilog listing every command, nested verbs included (``--help`` lists them all)."""
    lines = ["commands:"]

    def walk(action: argparse._SubParsersAction[argparse.ArgumentParser], prefix: str) -> None:
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, child in action.choices.items():
            nested = [a for a in child._actions if isinstance(a, argparse._SubParsersAction)]
            if nested:
                walk(nested[0], f"{prefix}{name} ")
            else:
                lines.append(f"  {prefix + name:<28} {helps.get(name) or ''}".rstrip())

    walk(sub, "")
    lines.append("")
    lines.append("exit codes: 0 ok, 1 API/runtime error, 2 usage, 3 authentication,")
    lines.append("            4 not found, 5 bad request, 130 interrupted (resumable)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_signal:
        # argparse exits 0 for --help/--version and 2 for a usage error.
        code = exit_signal.code
        return code if isinstance(code, int) else int(ExitCode.USAGE)
    if getattr(args, "command", None) is not None:
        return run_command(args)
    handler = getattr(args, "handler", None)
    if handler is not None:
        result: int = handler(args)
        return result
    args.command_parser.print_help(sys.stderr)
    return int(ExitCode.USAGE)
