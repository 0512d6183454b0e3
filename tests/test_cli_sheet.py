"""Sample sheets for ``samples upload-batch``: parsing and whole-sheet validation (#6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowbio_async._cli._exit import CliUsageError
from flowbio_async._cli._sheet import AttributeRule, parse_sheet, validate_rows

TYPES = {"RNA-Seq", "generic"}
RULES = [
    AttributeRule("scientist", required=True),
    AttributeRule("strandedness", required_for=frozenset({"RNA-Seq"}),
                  options=frozenset({"forward", "reverse"})),
]  # fmt: skip


def _sheet(tmp_path: Path, text: str, name: str = "sheet.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_columns_paths_and_a_spreadsheet_bom(tmp_path: Path) -> None:
    (tmp_path / "a_R1.fq").write_text("x")
    absolute = tmp_path / "b_R1.fq"
    absolute.write_text("x")
    path = _sheet(
        tmp_path,
        "\ufeffname,reads1,reads2,sample_type,project,organism,scientist,strandedness\n"
        f"a,a_R1.fq,,RNA-Seq,7,Hs,Ada,forward\n"
        f"b,{absolute},,,,, Grace ,\n",
    )
    a, b = parse_sheet(path, default_sample_type="generic")
    assert (a.name, a.sample_type, a.project, a.organism) == ("a", "RNA-Seq", "7", "Hs")
    assert a.reads() == {"reads1": tmp_path / "a_R1.fq"}  # relative to the sheet
    assert a.metadata == {"scientist": "Ada", "strandedness": "forward"}
    assert (b.sample_type, b.reads1, b.metadata) == ("generic", absolute, {"scientist": "Grace"})
    assert validate_rows([a, b], TYPES, RULES) == []


def test_every_problem_of_every_row_is_reported(tmp_path: Path) -> None:
    (tmp_path / "ok.fq").write_text("x")
    path = _sheet(
        tmp_path,
        "name,reads1,reads2,sample_type,strandedness\n"
        "dup,ok.fq,,RNA-Seq,sideways\n"
        "dup,ok.fq,gone.fq,nope,\n"
        ",,,RNA-Seq,\n"
        "has space,ok.fq,,generic,\n",
    )
    issues = validate_rows(parse_sheet(path, None), TYPES, RULES)
    by_row: dict[object, list[str]] = {}
    for issue in issues:
        by_row.setdefault(issue["row"], []).append(str(issue["message"]))
    assert by_row[1] == [
        "name 'dup' appears on more than one row",
        "missing required metadata: scientist",
        "value 'sideways' for strandedness is not one of: forward, reverse",
    ]
    assert "unknown sample type 'nope'" in by_row[2]
    assert any("reads2 file not found" in m for m in by_row[2])
    assert "missing required value: name" in by_row[3]
    assert "missing required value: reads1" in by_row[3]
    assert "missing required metadata: strandedness" in by_row[3]
    assert "name must not contain spaces: 'has space'" in by_row[4]


def test_sheet_level_problems(tmp_path: Path) -> None:
    with pytest.raises(CliUsageError, match="csv"):
        parse_sheet(_sheet(tmp_path, "name\n", "sheet.xlsx"), None)
    with pytest.raises(CliUsageError, match="'name' column"):
        parse_sheet(_sheet(tmp_path, "reads1\nx\n"), None)
    with pytest.raises(CliUsageError, match="cannot read"):
        parse_sheet(tmp_path / "missing.csv", None)
    empty = parse_sheet(_sheet(tmp_path, "name,reads1\n"), None)
    assert validate_rows(empty, TYPES, RULES)[0]["message"] == "the sheet has no rows"
