"""Global options shared by every verb, accepted before or after the verb (issue #6).

Each option lives on one parent parser attached to the top-level parser and to every verb
parser with ``default=argparse.SUPPRESS``: an attribute exists only when the user gave it, so
a value given before the verb is never overwritten by the verb parser's default.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path


def global_parent() -> argparse.ArgumentParser:
    """The parent parser holding ``--json``, ``--no-progress``, ``--token``..."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("global options")
    suppress = argparse.SUPPRESS
    group.add_argument(
        "--json",
        action="store_true",
        default=suppress,
        help="print exactly one JSON document on stdout",
    )
    group.add_argument(
        "--no-progress",
        action="store_true",
        default=suppress,
        help="no progress bars (also off when stderr is not a terminal)",
    )
    group.add_argument(
        "--token",
        metavar="TOKEN",
        default=suppress,
        help="access token or API key (or set FLOW_API_TOKEN)",
    )
    group.add_argument(
        "--token-file",
        metavar="PATH",
        default=suppress,
        help="read the token from PATH (or set FLOW_TOKEN_FILE; default ~/.config/flow/api-token)",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=suppress,
        help="Flow API base URL (or set FLOW_API_URL; default https://app.flow.bio/api)",
    )
    return parent


@dataclass(frozen=True)
class GlobalOptions:
    """The global options as given (``None`` when absent; the environment is read later)."""

    json: bool
    no_progress: bool
    token: str | None
    token_file: Path | None
    base_url: str | None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> GlobalOptions:
        """Read the options from parsed arguments (absent ones were suppressed)."""
        token_file = getattr(args, "token_file", None)
        return cls(
            json=bool(getattr(args, "json", False)),
            no_progress=bool(getattr(args, "no_progress", False)),
            token=getattr(args, "token", None),
            token_file=Path(token_file).expanduser() if token_file else None,
            base_url=getattr(args, "base_url", None),
        )
