"""Server-side pieces of uploads tested directly: safe unpacking, annotation validation."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from flowbio_async.testing._annotation import (
    template_columns,
    validate_sheet,
    xlsx_bytes,
    xlsx_rows,
)
from flowbio_async.testing._archives import UnsafeArchiveError, unpack
from flowbio_async.testing._demo import seed_demo
from flowbio_async.testing._store import Store


def _tar(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w") as bundle:
        for info in members:
            bundle.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return path


def test_unpack_refuses_escapes_and_links(tmp_path: Path) -> None:
    evil_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil_zip, "w") as bundle:
        bundle.writestr("../outside.txt", b"no")
    with pytest.raises(UnsafeArchiveError):
        unpack(evil_zip, tmp_path / "a")
    assert not (tmp_path / "outside.txt").exists()

    absolute = tarfile.TarInfo("/etc/evil")
    absolute.size = 1
    with pytest.raises(UnsafeArchiveError):
        unpack(_tar(tmp_path / "abs.tar", [absolute]), tmp_path / "b")

    link = tarfile.TarInfo("link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    with pytest.raises(UnsafeArchiveError, match="regular file"):
        unpack(_tar(tmp_path / "link.tar", [link]), tmp_path / "c")

    plain = tmp_path / "plain.txt"
    plain.write_text("not an archive")
    with pytest.raises(UnsafeArchiveError):
        unpack(plain, tmp_path / "d")

    folder = tarfile.TarInfo("data")
    folder.type = tarfile.DIRTYPE
    inner = tarfile.TarInfo("data/inner.txt")
    inner.size = 3
    assert unpack(_tar(tmp_path / "ok.tar", [folder, inner]), tmp_path / "e") == ["data/inner.txt"]
    assert (tmp_path / "e" / "data" / "inner.txt").read_bytes() == b"xxx"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    demo = Store(tmp_path / "server")
    seed_demo(demo)
    return demo


def test_annotation_findings(store: Store) -> None:
    good = b"Sample Name,File,Type,Organism\nliver,l.fq,RNA-Seq,Hs\n"
    assert validate_sheet(store, good, "a.csv").validation == []
    findings = validate_sheet(
        store,
        b"Sample Name,File,Type,Organism,Mood,PubMed ID,Scientist (Required)\n"
        b"a,a.fq,RNA-Seq,Martian,happy,123,Ada\n"
        b"a,b.fq,Nope,Hs,sad,abc,\n"
        b",c.fq,RNA-Seq,Hs,ok,,Ada\n",
        "sheet.csv",
    )
    messages = [(f["row"], f["message"]) for f in findings.validation]
    assert (3, "Unknown sample type 'Nope'") in messages
    assert (3, "PubMed ID must be a number") in messages
    assert (3, "'Scientist' is required") in messages
    assert (4, "Sample Name is required") in messages
    warned = " | ".join(f["message"] for f in findings.warnings)
    assert "Mood" in warned and "Martian" in warned and "repeats row 2" in warned
    missing = validate_sheet(store, b"Name,Path\nx,y\n", "s.csv").validation
    assert {"row": 1, "message": "Missing column 'Sample Name'"} in missing
    assert validate_sheet(store, b"\xff\xfe", "s.csv").validation[0]["row"] == 0


def test_xlsx_sheets_get_the_same_checks_as_csv(store: Store) -> None:
    header = ["Sample Name", "File", "Type", "Organism", "PubMed ID", "Scientist (Required)"]
    good = xlsx_bytes(header, [["liver", "l.fq", "RNA-Seq", "Hs", "123", "Ada"]])
    assert validate_sheet(store, good, "a.xlsx").validation == []
    bad = xlsx_bytes(
        header,
        [["a", "a.fq", "Nope", "Hs", "abc", ""], [], ["", "c.fq", "RNA-Seq", "Hs", "", "Ada"]],
    )
    messages = {(f["row"], f["message"]) for f in validate_sheet(store, bad, "b.xlsx").validation}
    assert {
        (2, "Unknown sample type 'Nope'"),
        (2, "PubMed ID must be a number"),
        (2, "'Scientist' is required"),
        (4, "Sample Name is required"),
    } <= messages


def _workbook(sheet_xml: str, shared: str | None = None, doctype: str = "") -> bytes:
    """A workbook as Excel writes it: shared strings, a relationship to the sheet part."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rels = "http://schemas.openxmlformats.org/package/2006/relationships"
    parts = {
        "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId7"/>'
        "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{rels}"><Relationship Id="rId7" '
        'Type="worksheet" Target="worksheets/data.xml"/></Relationships>',
        "xl/worksheets/data.xml": f'{doctype}<worksheet xmlns="{main}"><sheetData>{sheet_xml}'
        "</sheetData></worksheet>",
    }
    if shared is not None:
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{main}">{shared}</sst>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        for name, text in parts.items():
            book.writestr(name, text)
    return buffer.getvalue()


def test_xlsx_rows_reads_shared_strings_numbers_and_gaps() -> None:
    shared = "<si><t>Sample Name</t></si><si><r><t>Fi</t></r><r><t>le</t></r></si><si><t>x</t></si>"
    sheet = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="s"><v>1</v></c></row>'
        '<row r="3"><c r="A3" t="s"><v>2</v></c><c r="B3"><v>12345.0</v></c>'
        '<c r="C3" t="b"><v>1</v></c><c r="D3" t="str"><v>text</v></c></row>'
    )
    assert xlsx_rows(_workbook(sheet, shared)) == [
        ["Sample Name", "", "File"],
        [],
        ["x", "12345", "TRUE", "text"],
    ]


def test_xlsx_that_is_not_a_workbook_is_refused(store: Store) -> None:
    laughs = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    for content in (
        b"not a zip",
        _workbook('<row r="1"><c r="A1"><v>1</v></c></row>', doctype=laughs),
        _workbook('<row r="1"><c r="A1" t="s"><v>9</v></c></row>', shared="<si><t>a</t></si>"),
    ):
        findings = validate_sheet(store, content, "s.xlsx")
        assert findings.validation == [{"row": 0, "message": "Not a valid .xlsx workbook"}]


def test_template_columns(store: Store) -> None:
    generic = template_columns(store, "generic")
    assert generic is not None and generic[:2] == ["Sample Name", "File"]
    rna = template_columns(store, "RNA-Seq") or []
    assert "Strandedness (Required)" in rna and "Scientist (Required)" in rna
    chip = template_columns(store, "ChIP-Seq") or []
    assert "Strandedness (Required)" not in chip
    assert template_columns(store, "No-Such-Type") is None


@pytest.mark.anyio
async def test_running_digest_matches_and_falls_back(tmp_path: Path) -> None:
    import hashlib

    from flowbio_async.testing._digests import RunningDigests

    path = tmp_path / "part"
    content = bytes(range(256)) * 4000
    path.write_bytes(content)
    expected = hashlib.md5(content, usedforsecurity=False).hexdigest()
    digests = RunningDigests()

    # In order: two chunks hashed in the background, the last one at finish.
    first = digests.chunk_stored(1, path, 0, 300_000)
    second = digests.chunk_stored(1, path, 300_000, 700_000)
    assert first is not None and second is not None
    digests.schedule(second)  # scheduled out of order: it still waits for the first
    digests.schedule(first)
    assert await digests.finish(1, path, 700_000, len(content)) == expected

    # A rewind (a retried chunk) drops the running digest: the file is hashed in full.
    assert digests.chunk_stored(2, path, 0, 500_000) is not None
    assert digests.chunk_stored(2, path, 200_000, 600_000) is None
    assert await digests.finish(2, path, 600_000, len(content)) == expected

    # An update that fails (file gone) marks the digest broken instead of trusting it.
    update = digests.chunk_stored(3, tmp_path / "missing", 0, 10)
    assert update is not None
    await digests.feed(update)
    assert await digests.finish(3, path, 10, len(content)) == expected

    # Unknown upload (server restarted mid-upload): full hash.
    assert await digests.finish(4, path, 123, len(content)) == expected
