"""Where results, advisories and errors go (issue #6).

Results go to stdout: a rich table on a terminal, tab-separated lines in a pipe, or with
``--json`` exactly one JSON document. Advisories and errors go to stderr; under ``--json`` an
error is the official CLI's document ``{"message", "status_code"?, "errors"?, "problem"?}``
(docs/protocol.md §6.2, last paragraph).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any, TextIO

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from flowbio_async._secrets import scrub_data

Column = tuple[str, str]
"""A table column: (key in each row, header shown to humans)."""


def jsonable(value: Any) -> Any:
    """Turn models, paths, datetimes and containers into plain JSON values."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=False)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def format_issue(issue: Any) -> str:
    """One readable line for a row, field or Problem Details issue (like the official CLI)."""
    if not isinstance(issue, Mapping):
        return str(issue)
    if "detail" in issue:
        locator = issue.get("pointer") or issue.get("parameter")
        text = issue["detail"]
    elif "message" in issue:
        row = issue.get("row")
        locator = f"row {row}" if row is not None else issue.get("field")
        text = issue["message"]
    else:
        return json.dumps(jsonable(issue), sort_keys=True)
    return f"{locator}: {text}" if locator else str(text)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        for key in ("name", "identifier", "id"):
            if value.get(key) is not None:
                return str(value[key])
        return json.dumps(jsonable(value), sort_keys=True)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_cell(item) for item in value)
    return str(value)


@dataclass
class Output:
    """Renders one command's results and errors to the right stream."""

    json_mode: bool
    stdout: TextIO
    stderr: TextIO

    def result(self, document: Any, human: str | None = None) -> None:
        """Emit the command's result: ``human`` text, or ``document`` as JSON."""
        if self.json_mode:
            self._json(document, self.stdout)
        elif human is not None:
            print(human, file=self.stdout)

    def table(
        self, rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], document: Any = None
    ) -> None:
        """Emit rows as a table (terminal) or tab-separated lines (pipe); JSON as ``document``."""
        if self.json_mode:
            self._json(rows if document is None else document, self.stdout)
            return
        if not self.stdout.isatty():
            for row in rows:
                print("\t".join(_cell(row.get(key)) for key, _ in columns), file=self.stdout)
            return
        table = Table(show_edge=False, header_style="bold")
        for _, header in columns:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*(_cell(row.get(key)) for key, _ in columns))
        Console(file=self.stdout).print(table)

    def advisory(self, message: str) -> None:
        """Human-readable notes on stderr; silent under ``--json``."""
        if not self.json_mode:
            print(message, file=self.stderr)

    def error(
        self,
        message: Any,
        *,
        status_code: int | None = None,
        details: Sequence[Any] | None = None,
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        """Emit an error on stderr, as a line or as the official CLI's JSON document.

        Everything is scrubbed of credentials first: a server may echo the token (#14).
        """
        message = scrub_data(jsonable(message))
        details = scrub_data(jsonable(list(details))) if details else None
        if self.json_mode:
            document: dict[str, Any] = {"message": message}
            if status_code is not None:
                document["status_code"] = int(status_code)
            if details:
                document["errors"] = details
            if problem is not None:
                document["problem"] = scrub_data(jsonable(problem))
            self._json(document, self.stderr)
            return
        print(f"Error: {message}", file=self.stderr)
        lines = [format_issue(detail) for detail in details or ()]
        if not all(line in str(message) for line in lines):  # else they only repeat it
            for line in lines:
                print(f"  {line}", file=self.stderr)

    @staticmethod
    def _json(document: Any, stream: TextIO) -> None:
        print(json.dumps(jsonable(document)), file=stream)
        stream.flush()
