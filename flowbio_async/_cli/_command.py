"""What a verb module hands the runner: an async function and what it needs to log in."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowbio_async._cli._credentials import Auth
from flowbio_async._cli._options import GlobalOptions
from flowbio_async._cli._output import Output

if TYPE_CHECKING:
    from flowbio_async._client import AsyncClient


@dataclass
class Invocation:
    """Everything one verb's function receives."""

    args: argparse.Namespace
    client: AsyncClient
    output: Output
    options: GlobalOptions


Run = Callable[[Invocation], Awaitable[int]]


@dataclass(frozen=True)
class Command:
    """A verb: its async function and its login policy."""

    run: Run
    auth: Auth = Auth.REQUIRED


class Verbs:
    """Adds verbs to one subparsers action, each sharing the global-options parent parser."""

    def __init__(self, sub: Any, parent: argparse.ArgumentParser) -> None:
        self._sub = sub
        self._parent = parent
        self._groups: dict[str, Verbs] = {}

    def add(
        self,
        name: str,
        run: Run,
        help: str,
        description: str | None = None,
        auth: Auth = Auth.REQUIRED,
    ) -> argparse.ArgumentParser:
        """A verb parser whose command is ``run``; add its own arguments to the result."""
        parser = self._parser(name, help, description)
        parser.set_defaults(command=Command(run=run, auth=auth))
        return parser

    def group(self, name: str, help: str) -> Verbs:
        """A verb group such as ``samples``; its sub-verbs are added to the result.

        Asking again for a group returns the same one, so verb modules can each add their
        verbs to ``samples`` or ``data`` (the first ``help`` given is the group's).
        """
        if name not in self._groups:
            parser = self._parser(name, help, None)
            sub = parser.add_subparsers(dest=f"{name}_verb", metavar="VERB")
            self._groups[name] = Verbs(sub, self._parent)
        return self._groups[name]

    def _parser(self, name: str, help: str, description: str | None) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self._sub.add_parser(
            name,
            parents=[self._parent],
            help=help,
            description=description or f"{help[0].upper()}{help[1:]}.",
        )
        parser.set_defaults(command_parser=parser)
        return parser
