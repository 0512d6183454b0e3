"""Docs stay in step with the package: the errors page lists every exported exception."""

from __future__ import annotations

from pathlib import Path

import flowbio_async

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_errors_page_lists_every_exported_exception() -> None:
    page = (DOCS / "errors.md").read_text(encoding="utf-8")
    exported = [
        name
        for name in flowbio_async.__all__
        if isinstance(getattr(flowbio_async, name), type)
        and issubclass(getattr(flowbio_async, name), BaseException)
    ]
    assert "FlowError" in exported and "UnexpectedResponseError" in exported
    missing = [name for name in exported if f" {name} " not in page.replace("`", " ")]
    assert missing == []
