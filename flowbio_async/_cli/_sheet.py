"""CSV sample sheets for ``samples upload-batch``: parsing and whole-sheet validation (#6).

One sample per row. Reserved columns are ``name``, ``sample_type``, ``reads1``, ``reads2``,
``project`` and ``organism``; every other column is a metadata identifier. Reads paths are
resolved against the sheet's own directory. Validation collects every problem of every row
before anything is uploaded, so a batch never half-uploads because of a typo in row 40; a
row passes the same rule as ``upload_sample`` (``_sample_rules``).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flowbio_async._cli._exit import CliUsageError
from flowbio_async._sample_rules import SampleCatalogue, sample_problems

RESERVED = ("name", "sample_type", "reads1", "reads2", "project", "organism")


@dataclass(frozen=True)
class SheetRow:
    """One data row (``row`` counts data rows from 1, header excluded)."""

    row: int
    name: str
    sample_type: str | None
    reads1: Path | None
    reads2: Path | None
    project: str | None
    organism: str | None
    metadata: dict[str, str] = field(default_factory=dict)

    def reads(self) -> dict[str, Path]:
        """The reads files keyed ``reads1``/``reads2``, as ``upload_sample`` takes them."""
        pairs = (("reads1", self.reads1), ("reads2", self.reads2))
        return {key: path for key, path in pairs if path is not None}


def parse_sheet(path: Path, default_sample_type: str | None) -> list[SheetRow]:
    """Read every row of the CSV sheet at ``path``."""
    if path.suffix.lower() != ".csv":
        raise CliUsageError(f"sample sheet must be a .csv file (export it to CSV first): {path}")
    try:
        # utf-8-sig drops the BOM spreadsheet programs put before the first header.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            headers = [h.strip() for h in reader.fieldnames or []]
            if "name" not in headers:
                raise CliUsageError(f"sample sheet {path} has no 'name' column")
            records = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CliUsageError(f"cannot read sample sheet {path}: {exc}") from None
    return [
        _row(number, record, path.parent, default_sample_type)
        for number, record in enumerate(records, start=1)
    ]


def _row(
    number: int, record: Mapping[str | None, object], base: Path, default_type: str | None
) -> SheetRow:
    cells = {
        (key or "").strip(): value.strip()
        for key, value in record.items()
        if isinstance(value, str) and value.strip()
    }
    return SheetRow(
        row=number,
        name=cells.get("name", ""),
        sample_type=cells.get("sample_type") or default_type,
        reads1=_resolve(cells.get("reads1"), base),
        reads2=_resolve(cells.get("reads2"), base),
        project=cells.get("project"),
        organism=cells.get("organism"),
        metadata={key: value for key, value in cells.items() if key and key not in RESERVED},
    )


def _resolve(value: str | None, base: Path) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def validate_rows(rows: Sequence[SheetRow], catalogue: SampleCatalogue) -> list[dict[str, object]]:
    """Every problem of every row, as ``{"row", "name", "message"}`` issues (empty = valid).

    Each row passes the same rule as ``upload_sample`` (``_sample_rules.sample_problems``:
    name, sample type, data keys, metadata), plus what only a sheet can get wrong.
    """
    issues: list[dict[str, object]] = []
    names = Counter(row.name for row in rows if row.name)
    for row in rows:
        for message in _row_problems(row, catalogue, names):
            issues.append({"row": row.row, "name": row.name, "message": message})
    if not rows:
        issues.append({"row": 0, "name": "", "message": "the sheet has no rows"})
    return issues


def _row_problems(row: SheetRow, catalogue: SampleCatalogue, names: Counter[str]) -> list[str]:
    problems: list[str] = []
    if row.name and names[row.name] > 1:
        problems.append(f"the sample name {row.name!r} appears on more than one row")
    if row.reads1 is None:
        problems.append("missing required value: reads1")
    for label, reads in (("reads1", row.reads1), ("reads2", row.reads2)):
        if reads is not None and not reads.is_file():
            problems.append(f"{label} file not found: {reads}")
    if row.sample_type is None:
        problems.append("missing sample type: add a sample_type column or pass --sample-type")
    sample_type = row.sample_type or ""
    rule = sample_problems(row.name, sample_type, list(row.reads()), row.metadata, catalogue)
    # Without a sample type the rule would only repeat that; keys are checked above.
    skipped = ("the sample type must not be empty", "at least one file is required")
    return problems + [p for p in rule if not p.startswith(skipped)]
