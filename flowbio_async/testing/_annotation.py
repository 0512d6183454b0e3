"""Annotation sheets of multiplexed uploads: CSV validation and the xlsx template
(docs/protocol.md §3.6).

Validation splits findings the way production does: hard ``validation`` errors (cannot be
ignored) and ``warnings`` (accepted when the upload is re-sent with ``ignore_warnings``).
Each finding is ``{"row": <1-based sheet row, header = 1>, "message": ...}``. An ``.xlsx``
sheet gets the same checks as a CSV one: its first worksheet is read with the standard
library (a workbook is a zip of XML parts; shared and inline strings, numbers, booleans).
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from flowbio_async.testing._store import Store

BASE_COLUMNS = ("Sample Name", "File", "Type", "Project Name", "Organism", "PubMed ID")
REQUIRED_SUFFIX = " (Required)"

Finding = dict[str, Any]


@dataclass
class Findings:
    """The outcome of validating one sheet."""

    validation: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)


def _metadata_columns(store: Store, sample_type: str | None) -> list[tuple[str, bool]]:
    """(display name, required) of the metadata attributes that apply to ``sample_type``."""
    if sample_type is None:
        rows = store.rows("SELECT name, required FROM metadata_attributes ORDER BY ordering, name")
        return [(r["name"], bool(r["required"])) for r in rows]
    rows = store.rows(
        "SELECT a.name AS name, MAX(a.required, COALESCE(l.required, 0)) AS required "
        "FROM metadata_attributes a LEFT JOIN metadata_links l "
        "ON l.attribute = a.identifier AND l.sample_type = ? "
        "WHERE a.all_sample_types = 1 OR l.sample_type IS NOT NULL "
        "ORDER BY a.ordering, a.name",
        (sample_type,),
    )
    return [(r["name"], bool(r["required"])) for r in rows]


def template_columns(store: Store, sample_type: str) -> list[str] | None:
    """Columns of the template for ``sample_type`` (``generic``: base only); None if unknown."""
    if sample_type == "generic":
        return list(BASE_COLUMNS)
    known = store.row(
        "SELECT identifier FROM sample_types WHERE identifier = ? OR lower(name) = lower(?)",
        (sample_type, sample_type),
    )
    if known is None:
        return None
    extra = [
        name + (REQUIRED_SUFFIX if required else "")
        for name, required in _metadata_columns(store, str(known["identifier"]))
    ]
    return [*BASE_COLUMNS, *extra]


def xlsx_bytes(columns: list[str], rows: list[list[str]] | None = None) -> bytes:
    """A minimal one-sheet workbook: ``columns`` in row 1, then ``rows`` (inline strings)."""
    cells = "".join(
        f'<row r="{number}">'
        + "".join(
            f'<c r="{_column_letter(i)}{number}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
            for i, value in enumerate(values)
        )
        + "</row>"
        for number, values in enumerate([columns, *(rows or [])], start=1)
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Samples" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"<sheetData>{cells}</sheetData></worksheet>"
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in parts.items():
            book.writestr(name, text)
    return buffer.getvalue()


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def validate_sheet(store: Store, content: bytes, filename: str) -> Findings:
    """Validate an annotation sheet (CSV or the first worksheet of an ``.xlsx`` workbook)."""
    findings = Findings()
    if filename.lower().endswith(".xlsx"):
        try:
            rows = xlsx_rows(content)
        except (zipfile.BadZipFile, KeyError, ValueError, ElementTree.ParseError):
            findings.validation.append({"row": 0, "message": "Not a valid .xlsx workbook"})
            return findings
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            findings.validation.append({"row": 0, "message": "The sheet is not UTF-8 text"})
            return findings
        rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        findings.validation.append({"row": 1, "message": "The sheet is empty"})
        return findings
    header = [cell.strip() for cell in rows[0]]
    _check_header(store, header, findings)
    body = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    if not body:
        findings.validation.append({"row": 2, "message": "The sheet lists no samples"})
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        record = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        _check_row(store, number, record, seen, findings)
    return findings


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PART_LIMIT = 32 * 1024 * 1024
"""Largest XML part read from a workbook (a zip bomb must not exhaust the server)."""


def xlsx_rows(content: bytes) -> list[list[str]]:
    """The first worksheet's rows as text, row ``n`` of the sheet at index ``n - 1``.

    Raises ``zipfile.BadZipFile``, ``KeyError``, ``ValueError`` or ``ParseError`` for
    anything that is not a readable workbook.
    """
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        strings = _shared_strings(book)
        sheet = _xml(book, _first_sheet(book))
    rows: list[list[str]] = []
    for row in sheet.iter(f"{_MAIN}row"):
        number = int(row.get("r") or len(rows) + 1)
        while len(rows) < number:
            rows.append([])
        values = rows[number - 1]
        for cell in row.iter(f"{_MAIN}c"):
            column = _column_index(cell.get("r")) if cell.get("r") else len(values)
            while len(values) <= column:
                values.append("")
            values[column] = _cell_text(cell, strings)
    return rows


def _xml(book: zipfile.ZipFile, name: str) -> ElementTree.Element:
    """Parse one part of the workbook, refusing what makes XML dangerous to parse."""
    with book.open(name) as part:
        data = part.read(_PART_LIMIT + 1)
    if len(data) > _PART_LIMIT:
        raise ValueError(f"{name} is too large")
    # Entity expansion ("billion laughs") and external entities both need a DTD; workbook
    # parts never carry one, so any DTD is refused before parsing.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError(f"{name} declares a DTD")
    return ElementTree.fromstring(data)  # noqa: S314 - DTD-free, size-capped (above)


def _first_sheet(book: zipfile.ZipFile) -> str:
    """The part of the workbook's first sheet, through the workbook's relationships."""
    workbook = _xml(book, "xl/workbook.xml")
    first = workbook.find(f"{_MAIN}sheets/{_MAIN}sheet")
    if first is None:
        raise ValueError("the workbook has no sheet")
    wanted = first.get(f"{_REL}id")
    rels = _xml(book, "xl/_rels/workbook.xml.rels")
    for rel in rels:
        if rel.get("Id") == wanted and rel.get("Target"):
            target = str(rel.get("Target"))
            if target.startswith("/"):
                return target.lstrip("/")
            return posixpath.normpath(posixpath.join("xl", target))
    raise ValueError("the first sheet has no part")


def _shared_strings(book: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    table = _xml(book, "xl/sharedStrings.xml")
    # Rich text splits one string into runs: every <t> of an <si> belongs to it.
    return ["".join(t.text or "" for t in item.iter(f"{_MAIN}t")) for item in table]


def _cell_text(cell: ElementTree.Element, strings: list[str]) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{_MAIN}t"))
    value = cell.findtext(f"{_MAIN}v") or ""
    if kind == "s":
        index = int(value)
        if not 0 <= index < len(strings):
            raise ValueError(f"shared string {index} does not exist")
        return strings[index]
    if kind == "b":
        return "TRUE" if value == "1" else "FALSE"
    if kind == "n" and value.endswith(".0"):
        return value[:-2]  # a whole number typed into a cell (a PubMed ID)
    return value


def _column_index(reference: str | None) -> int:
    letters = re.match(r"[A-Z]+", reference or "")
    if letters is None:
        raise ValueError(f"bad cell reference {reference!r}")
    index = 0
    for letter in letters.group():
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def _check_header(store: Store, header: list[str], findings: Findings) -> None:
    for needed in ("Sample Name", "File"):
        if needed not in header:
            findings.validation.append({"row": 1, "message": f"Missing column '{needed}'"})
    known = set(BASE_COLUMNS) | {name for name, _ in _metadata_columns(store, None)}
    for name in header:
        plain = name.removesuffix(REQUIRED_SUFFIX)
        if name and plain not in known:
            findings.warnings.append(
                {"row": 1, "message": f"Column '{name}' is not recognised and will be ignored"}
            )


def _check_row(
    store: Store, number: int, record: dict[str, str], seen: dict[str, int], findings: Findings
) -> None:
    name = record.get("Sample Name", "")
    if not name:
        findings.validation.append({"row": number, "message": "Sample Name is required"})
    elif name in seen:
        findings.warnings.append(
            {"row": number, "message": f"Sample name '{name}' repeats row {seen[name]}"}
        )
    else:
        seen[name] = number
    if "File" in record and not record["File"]:
        findings.validation.append({"row": number, "message": "File is required"})
    kind = record.get("Type", "")
    if kind and not store.row(
        "SELECT 1 FROM sample_types WHERE identifier = ? OR lower(name) = lower(?)", (kind, kind)
    ):
        findings.validation.append({"row": number, "message": f"Unknown sample type '{kind}'"})
    organism = record.get("Organism", "")
    if organism and not store.row(
        "SELECT 1 FROM organisms WHERE id = ? OR lower(name) = lower(?) "
        "OR lower(latin_name) = lower(?)",
        (organism, organism, organism),
    ):
        findings.warnings.append(
            {"row": number, "message": f"Organism '{organism}' is not recognised; left blank"}
        )
    pubmed = record.get("PubMed ID", "")
    if pubmed and not pubmed.isdigit():
        findings.validation.append({"row": number, "message": "PubMed ID must be a number"})
    for column, value in record.items():
        if column.endswith(REQUIRED_SUFFIX) and not value:
            findings.validation.append(
                {"row": number, "message": f"'{column.removesuffix(REQUIRED_SUFFIX)}' is required"}
            )
