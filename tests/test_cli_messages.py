"""CLI errors name the URL or object and the fix, in CLI words; the official sample verbs (#17).

Each test reproduces what a new user saw (quoted) and shows what the command says now.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import zipfile
from pathlib import Path

import pytest
from cli_helpers import Cli, logged_in_cli

from flowbio_async import NotFoundError
from flowbio_async._cli._hints import cli_words, not_found_message
from flowbio_async.testing import FlowServer


@pytest.fixture(scope="module")
def cli(flow_server: FlowServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return logged_in_cli(flow_server.url, tmp_path_factory.mktemp("home"))


def _reads(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("@r1\nACGTACGT\n+\nIIIIIIII\n")
    return path


def test_a_base_url_without_api_suggests_the_api_url(cli: Cli, flow_server: FlowServer) -> None:
    # Seen: `--base-url http://127.0.0.1:PORT` printed only "Error: Not found".
    root = flow_server.url.removesuffix("/api")
    done = cli("--base-url", root, "samples", "types")
    assert done.code == 2
    assert f"did you mean {root}/api?" in done.stderr
    assert done.stderr.startswith(f"Error: {root} is not a Flow API")
    anonymous = cli("--base-url", root, "--json", "samples", "types", env={"HOME": "/nonexistent"})
    assert f"did you mean {root}/api?" in anonymous.error_json()["message"]


def test_an_object_that_does_not_exist_is_named(cli: Cli, tmp_path: Path) -> None:
    # Seen: `download --project 99` printed only "Error: Not found".
    done = cli("download", "--project", "987654", "--dest", str(tmp_path))
    assert done.code == 4
    assert done.stderr.strip() == "Error: project 987654 not found (or not visible to you)"
    sample = cli("--json", "download", "--sample", "987654", "--dest", str(tmp_path))
    assert sample.error_json() == {
        "message": "sample 987654 not found (or not visible to you)",
        "status_code": 404,
    }


def test_one_id_and_many_ids_get_one_json_envelope(cli: Cli, tmp_path: Path) -> None:
    # Seen: `download <one id> --json` failed with a bare {"message": ...}.
    one = cli("--json", "download", "987654", "--dest", str(tmp_path))
    many = cli("--json", "download", "987654", "987655", "--dest", str(tmp_path))
    assert (one.code, many.code) == (4, 4)
    assert one.json().keys() == many.json().keys() == {"results", "counts"}
    assert one.json()["results"] == many.json()["results"][:1]
    assert one.json()["results"][0]["error"]["message"] == (
        "data 987654 not found (or not visible to you)"
    )


def test_a_refused_token_says_run_login(flow_server: FlowServer, tmp_path: Path) -> None:
    # Seen: an expired token printed "Error: Not authorized" with no hint.
    cli = Cli(flow_server.url, tmp_path / "home")
    done = cli("whoami", "--token", "expired-or-revoked")
    assert done.code == 3
    assert "run `flowbio-async login`" in done.stderr
    assert "expired-or-revoked" not in done.stderr  # the token is never echoed


def test_messages_use_cli_words(cli: Cli, tmp_path: Path) -> None:
    # Seen: "pass overwrite=True" / "pass filename=" (Python words in a shell).
    spaced = tmp_path / "my reads.fq"
    spaced.write_text("ACGT")
    upload = cli("data", "upload", str(spaced))
    assert upload.code == 2
    assert "--filename NAME" in upload.stderr and "filename=" not in upload.stderr
    named = cli("--json", "data", "upload", str(spaced), "--filename", "my_reads.fq")
    data_id = named.json()["results"][0]["id"]
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "my_reads.fq").write_text("different bytes")
    clash = cli("download", data_id, "--dest", str(dest))
    assert clash.code != 0
    assert "--overwrite" in clash.stderr and "overwrite=True" not in clash.stderr


def test_a_refused_connection_names_the_url(flow_server: FlowServer, tmp_path: Path) -> None:
    # Seen: "ConnectError during GET …: All connection attempts failed" after ~10 s of retries
    # (connection_retries, then max_retries again; the attempts are counted in
    # test_core_transport.py).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    url = f"http://127.0.0.1:{port}/api"
    cli = Cli(url, tmp_path / "home")
    done = cli("samples", "types")
    assert done.code == 1
    assert f"cannot connect to {url}" in done.stderr
    assert f"connection refused by 127.0.0.1:{port}" in done.stderr
    assert "All connection attempts failed" not in done.stderr
    assert "--base-url" in done.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x exists; pass overwrite=True to replace it", "x exists; pass --overwrite to replace it"),
        ("spaces; pass filename= with a name", "spaces; pass --filename NAME with a name"),
        ("zip it and pass is_directory=True)", "zip it and pass --directory)"),
        ("fetch it without extract=True", "fetch it without --extract"),
        ("GET /x?filename=a.txt failed", "GET /x?filename=a.txt failed"),  # not a kwarg
    ],
)
def test_python_words_become_cli_options(text: str, expected: str) -> None:
    assert cli_words(text) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/api/data/99", "data 99 not found (or not visible to you)"),
        ("http://h/api/executions/7", "execution 7 not found (or not visible to you)"),
        ("http://h/api/samples/5/data", "sample 5 not found (or not visible to you)"),
        ("http://h/files/downloads/9/a%20b.txt", "the file of data 9 (a b.txt) not found"),
        ("http://h/api/downloads/abc/status", "bulk download job abc not found"),
        ("http://h/api/annotation/Nope", "no annotation template for sample type 'Nope'"),
        ("http://h/api/other", "HTTP 404 Not Found for GET http://h/api/other: Not found"),
    ],
)
def test_404s_name_their_object(url: str, expected: str) -> None:
    exc = NotFoundError("Not found", status_code=404, method="GET", url=url)
    assert not_found_message(exc, "http://h/api").startswith(expected)


def test_upload_multiplexed(cli: Cli, flow_server: FlowServer, tmp_path: Path) -> None:
    r1, r2 = _reads(tmp_path, "pool_R1.fq"), _reads(tmp_path, "pool_R2.fq")
    sheet = tmp_path / "annotation.csv"
    sheet.write_text(
        "Sample Name,File,Type,Organism,Favourite Colour\npool_a,pool_R1.fq,RNA-Seq,Hs,blue\n"
    )
    done = cli(
        "--json", "samples", "upload-multiplexed", "--reads1", str(r1), "--reads2", str(r2),
        "--annotation", str(sheet),
    )  # fmt: skip
    assert done.code == 0, done.stderr
    document = done.json()
    assert len(document["data_ids"]) == 2 and document["annotation_id"]
    assert any("Favourite Colour" in w["message"] for w in document["warnings"])
    flow_server.reset_counters()
    refused = cli(
        "samples", "upload-multiplexed", "--reads1", str(r1), "--annotation", str(sheet),
        "--reject-warnings",
    )  # fmt: skip
    assert refused.code == 5
    assert flow_server.counters().get("upload_multiplexed", 0) == 0  # no reads byte sent


def test_annotation_template(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "template.xlsx"
    done = cli(
        "--json", "samples", "annotation-template", "--sample-type", "RNA-Seq", "-o", str(out)
    )
    assert done.code == 0, done.stderr
    assert done.json()["output"] == str(out)
    with zipfile.ZipFile(out) as book:
        assert "Strandedness (Required)" in book.read("xl/worksheets/sheet1.xml").decode()
    again = cli("samples", "annotation-template", "--sample-type", "RNA-Seq", "-o", str(out))
    assert again.code == 2 and "--overwrite" in again.stderr
    unknown = cli("samples", "annotation-template", "--sample-type", "Nope", "-o", str(out))
    assert unknown.code == 4
    assert "no annotation template for sample type 'Nope'" in unknown.stderr


def test_batch_template_feeds_upload_batch(cli: Cli, tmp_path: Path) -> None:
    done = cli("samples", "batch-template", "--sample-type", "RNA-Seq")
    assert done.code == 0, done.stderr
    header = next(csv.reader(io.StringIO(done.stdout)))
    assert header[:5] == ["name", "reads1", "reads2", "project", "organism"]
    assert {"scientist", "strandedness"} <= set(header)
    assert "purification_target" not in header  # a ChIP-Seq attribute
    assert "required columns: name, reads1, scientist, strandedness" in done.stderr
    described = cli("--json", "samples", "batch-template", "--sample-type", "RNA-Seq").json()
    strandedness = next(c for c in described if c["name"] == "strandedness")
    assert strandedness["required"] and strandedness["options"] == [
        "forward",
        "reverse",
        "unstranded",
    ]
    # Filled in, the template is a valid upload-batch sheet.
    _reads(tmp_path, "t_R1.fq")
    sheet = tmp_path / "sheet.csv"
    cells = {"name": "from_template", "reads1": "t_R1.fq", "scientist": "Ada"}
    cells["strandedness"] = "reverse"
    with sheet.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerow(cells)
    uploaded = cli("--json", "samples", "upload-batch", str(sheet), "--sample-type", "RNA-Seq")
    assert uploaded.code == 0, uploaded.stderr
    # upload-batch always counts its skipped and never-started rows too (#17).
    assert uploaded.json()["counts"] == {"ok": 1, "failed": 0, "skipped": 0, "not_started": 0}
    wrong = cli("samples", "batch-template", "--sample-type", "RNASeq")
    assert wrong.code == 2
    assert "unknown sample type 'RNASeq' (did you mean 'RNA-Seq'?)" in wrong.stderr


def test_samples_upload_refuses_before_sending(
    cli: Cli, flow_server: FlowServer, tmp_path: Path
) -> None:
    # Seen: `samples upload` accepted names with spaces that upload-batch refused.
    r1 = _reads(tmp_path, "s_R1.fq")
    flow_server.reset_counters()
    done = cli(
        "--json", "samples", "upload", "--name", "liver 1", "--sample-type", "RNASeq",
        "--reads1", str(r1), "--metadata", "scientist=Ada",
    )  # fmt: skip
    assert done.code == 5
    error = json.loads(done.stderr)
    assert error["errors"] == [
        "the sample name 'liver 1' contains spaces, which Flow refuses",
        "unknown sample type 'RNASeq' (did you mean 'RNA-Seq'?); valid: ATAC-Seq, ChIP-Seq, "
        "generic, RNA-Seq, scRNA-Seq",
    ]
    assert flow_server.counters().get("upload_sample", 0) == 0
