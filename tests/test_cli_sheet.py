"""Sample sheets for ``samples upload-batch``: parsing and whole-sheet validation (#6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowbio_async import MetadataAttribute, SampleType
from flowbio_async._cli._exit import CliUsageError
from flowbio_async._cli._sheet import parse_sheet, validate_rows
from flowbio_async._sample_rules import SampleCatalogue, sample_problems

CATALOGUE = SampleCatalogue(
    types=[SampleType(identifier=i, name=i) for i in ("RNA-Seq", "generic")],
    attributes=[
        MetadataAttribute(identifier="scientist", name="Scientist", required=True),
        MetadataAttribute(
            identifier="strandedness",
            name="Strandedness",
            required_for_sample_types=["RNA-Seq"],
            options=["forward", "reverse"],
        ),
    ],
)


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
    assert validate_rows([a, b], CATALOGUE) == []


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
    issues = validate_rows(parse_sheet(path, None), CATALOGUE)
    by_row: dict[object, list[str]] = {}
    for issue in issues:
        by_row.setdefault(issue["row"], []).append(str(issue["message"]))
    # The same words as upload_sample's (one rule, _sample_rules).
    assert by_row[1] == [
        "the sample name 'dup' appears on more than one row",
        "metadata 'scientist' (Scientist) is required for RNA-Seq samples",
        "'sideways' is not a valid strandedness; valid: forward, reverse",
    ]
    unknown = "unknown sample type 'nope'; valid: RNA-Seq, generic"
    assert any(m.startswith(unknown) for m in by_row[2])
    assert any("reads2 file not found" in m for m in by_row[2])
    assert "the sample name must not be empty" in by_row[3]
    assert "missing required value: reads1" in by_row[3]
    assert "metadata 'strandedness' (Strandedness) is required for RNA-Seq samples" in by_row[3]
    assert "the sample name 'has space' contains spaces, which Flow refuses" in by_row[4]


def test_a_sheet_row_and_upload_sample_share_one_rule(tmp_path: Path) -> None:
    # Seen (#17): names with spaces were refused by upload-batch but accepted by
    # `samples upload`; R1/R2 keys were accepted for RNA-Seq. One function decides now.
    (tmp_path / "ok.fq").write_text("x")
    path = _sheet(tmp_path, "name,reads1,sample_type,scientist\nbad name,ok.fq,RNASeq,Ada\n")
    (row,) = parse_sheet(path, None)
    expected = sample_problems(row.name, "RNASeq", ["reads1"], row.metadata, CATALOGUE)
    assert [i["message"] for i in validate_rows([row], CATALOGUE)] == expected
    assert expected == [
        "the sample name 'bad name' contains spaces, which Flow refuses",
        "unknown sample type 'RNASeq' (did you mean 'RNA-Seq'?); valid: RNA-Seq, generic",
    ]


def test_sheet_level_problems(tmp_path: Path) -> None:
    with pytest.raises(CliUsageError, match="csv"):
        parse_sheet(_sheet(tmp_path, "name\n", "sheet.xlsx"), None)
    with pytest.raises(CliUsageError, match="'name' column"):
        parse_sheet(_sheet(tmp_path, "reads1\nx\n"), None)
    with pytest.raises(CliUsageError, match="cannot read"):
        parse_sheet(tmp_path / "missing.csv", None)
    empty = parse_sheet(_sheet(tmp_path, "name,reads1\n"), None)
    assert validate_rows(empty, CATALOGUE)[0]["message"] == "the sheet has no rows"
