"""Per-item outcomes of many-file verbs: one row per item, one JSON document, one exit code.

The library returns a result per item (a value or the typed error, issue #3/#4) instead of
failing the whole batch; the CLI shows every row and exits with the code of the first
failure, so a script still learns *why* (4 for a missing id, 5 for refused input...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from flowbio_async._cli._exit import ExitCode, exit_code_for
from flowbio_async._cli._hints import explain
from flowbio_async._cli._output import Column, Output
from flowbio_async._errors import FlowApiError, NotStartedError


class ItemOutcome(Protocol):
    """The slice of the library's ``ItemResult`` used here."""

    @property
    def item(self) -> Any: ...
    @property
    def value(self) -> Any: ...
    @property
    def error(self) -> Exception | None: ...


def error_document(error: BaseException) -> dict[str, Any]:
    """The ``{"message", "status_code"?}`` shape of one failed item."""
    if isinstance(error, FlowApiError):
        return {"message": explain(error), "status_code": error.status_code}
    return {"message": explain(error) or type(error).__name__}


def report_items(
    output: Output,
    outcomes: Sequence[ItemOutcome],
    columns: Sequence[Column],
    describe: Callable[[Any, Any], Mapping[str, Any]],
    label: Callable[[Any], str] = str,
    *,
    skipped: Sequence[Mapping[str, Any]] | None = None,
) -> int:
    """Emit one row per outcome (``describe(item, value)`` for successes) and the exit code.

    ``skipped`` (a sample sheet's ``--skip-invalid`` rows) adds ``"skipped"`` to the document
    and ``"skipped"`` / ``"not_started"`` to its counts. An item never started
    (``NotStartedError``, ``--stop-on-error``) is a result with ``"not_started": true``,
    counted apart from the failures (``counts["not_started"]``); the exit code is the first
    failure's.
    """
    rows: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.error is None:
            row = {"ok": True, **describe(outcome.item, outcome.value)}
        else:
            row = {"ok": False, "item": label(outcome.item)}
            if isinstance(outcome.error, NotStartedError):
                row["not_started"] = True
            row["error"] = error_document(outcome.error)
        rows.append(row)
    failed = [
        o.error
        for o in outcomes
        if o.error is not None and not isinstance(o.error, NotStartedError)
    ]
    unstarted = sum(1 for row in rows if row.get("not_started"))
    counts = {"ok": len(outcomes) - len(failed) - unstarted, "failed": len(failed)}
    document: dict[str, Any] = {"results": rows, "counts": counts}
    if unstarted or skipped is not None:
        counts["not_started"] = unstarted
    if skipped is not None:
        counts["skipped"] = len(skipped)
        document["skipped"] = [dict(entry) for entry in skipped]
    human_rows = [r for r in rows if r["ok"]]
    output.table(human_rows, columns, document=document)
    for row in rows:
        if row.get("not_started"):
            output.advisory(f"not started: {row['item']} (--stop-on-error)")
        elif not row["ok"]:
            output.advisory(f"failed: {row['item']}: {row['error']['message']}")
    if failed or unstarted or skipped:
        output.advisory(_summary(len(outcomes), len(failed), unstarted, len(skipped or ())))
    if failed:
        return int(exit_code_for(failed[0]))
    return int(ExitCode.SUCCESS)


def _summary(total: int, failed: int, unstarted: int, skipped: int) -> str:
    parts = [f"{failed} of {total} failed"]
    if unstarted:
        parts.append(f"{unstarted} not started (--stop-on-error)")
    if skipped:
        parts.append(f"{skipped} invalid rows skipped (--skip-invalid)")
    return "; ".join(parts)
