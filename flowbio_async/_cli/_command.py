"""What a verb module hands the runner: an async function and what it needs to log in."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
    token_file: Path | None = None
    """The token file the credentials came from (``None`` for other credentials)."""
    anonymous: bool = False


Run = Callable[[Invocation], Awaitable[int]]


@dataclass(frozen=True)
class Command:
    """A verb: its async function and its login policy."""

    run: Run
    auth: Auth = Auth.REQUIRED


def add_command(parser: argparse.ArgumentParser, run: Run, auth: Auth = Auth.REQUIRED) -> None:
    """Attach ``run`` to ``parser`` so the runner dispatches to it."""
    parser.set_defaults(command=Command(run=run, auth=auth), command_parser=parser)
