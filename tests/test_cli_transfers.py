"""``flowbio-async`` uploads, downloads, samples, catalogue and workspace files (#6).

The real command runs in a subprocess against the local server; bytes are compared after a
full upload-then-download round trip.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest
from cli_helpers import Cli, interrupt, logged_in_cli
from sync_points import BOUND, fault_applied, wait_for
from upload_helpers import rows

from flowbio_async import ClientConfig, UsernamePasswordCredentials
from flowbio_async._transfers._partfile import part_path
from flowbio_async.testing import FlowServer
from flowbio_sync import Client


@pytest.fixture(scope="module")
def cli(flow_server: FlowServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return logged_in_cli(flow_server.url, tmp_path_factory.mktemp("home"))


def _files(folder: Path, sizes: dict[str, int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, size in sizes.items():
        path = folder / name
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_upload_then_download_round_trips_byte_exact(cli: Cli, tmp_path: Path) -> None:
    sizes = {"empty.bin": 0, "one.bin": 1, "odd.fastq": 1_234_567, "chunked.bin": 3 << 20}
    paths = _files(tmp_path / "src", sizes)
    up = cli("data", "upload", *map(str, paths), "--json", "--concurrency", "3")
    assert up.code == 0, up.stderr
    document = up.json()
    assert document["counts"] == {"ok": 4, "failed": 0}
    ids = {Path(r["path"]).name: r["id"] for r in document["results"]}
    assert set(ids) == set(sizes)

    dest = tmp_path / "dest"
    down = cli("download", *ids.values(), "--dest", str(dest), "--json")
    assert down.code == 0, down.stderr
    assert {r["status"] for r in down.json()["results"]} == {"downloaded"}
    for path in paths:
        assert _md5(dest / path.name) == _md5(path), path.name

    again = cli("--json", "download", *ids.values(), "--dest", str(dest))
    assert again.code == 0
    assert {r["status"] for r in again.json()["results"]} == {"skipped"}


def test_single_upload_with_filename_and_human_output(cli: Cli, tmp_path: Path) -> None:
    (path,) = _files(tmp_path, {"local name.txt": 10})
    done = cli("data", "upload", str(path), "--filename", "stored_name.txt")
    assert done.code == 0, done.stderr
    data_id, filename, size, _ = done.stdout.strip().split("\t")
    assert (filename, size) == ("stored_name.txt", "10")
    fetched = cli("download", data_id, "--dest", str(tmp_path / "out"))
    assert fetched.code == 0, fetched.stderr
    assert (tmp_path / "out" / "stored_name.txt").read_bytes() == path.read_bytes()


def test_filename_with_many_paths_and_spaces_are_usage_errors(cli: Cli, tmp_path: Path) -> None:
    a, b = _files(tmp_path, {"a.txt": 1, "b.txt": 1})
    assert cli("data", "upload", str(a), str(b), "--filename", "x.txt").code == 2
    spaced = cli("data", "upload", str(a), "--filename", "with space.txt", "--json")
    assert spaced.code == 2
    assert "spaces" in spaced.error_json()["message"]
    assert cli("data", "upload", str(tmp_path / "missing.txt")).code == 2


def test_refused_data_type_is_exit_5_with_the_official_error_document(
    cli: Cli, tmp_path: Path
) -> None:
    (path,) = _files(tmp_path, {"x.bin": 5})
    done = cli("--json", "data", "upload", str(path), "--data-type", "no-such-type")
    assert done.code == 5
    # One path gets the same per-item document as many (#17 item 8).
    document = done.json()
    assert document["counts"] == {"ok": 0, "failed": 1}
    error = document["results"][0]["error"]
    assert error["status_code"] == 400
    assert "no-such-type" in error["message"]


def test_unknown_data_id_is_exit_4(cli: Cli, tmp_path: Path) -> None:
    done = cli("download", "987654321", "--dest", str(tmp_path), "--json")
    assert done.code == 4
    # Seen (#17): one id failed with a bare {"message": ...}; several ids got the envelope.
    (result,) = done.json()["results"]
    assert result == {
        "ok": False,
        "item": "987654321",
        "error": {
            "message": "data 987654321 not found (or not visible to you)",
            "status_code": 404,
        },
    }
    assert done.json()["counts"] == {"ok": 0, "failed": 1}
    assert list(tmp_path.iterdir()) == []


def test_many_downloads_report_each_item_and_exit_with_the_first_failure(
    cli: Cli, tmp_path: Path
) -> None:
    (path,) = _files(tmp_path / "src", {"good.bin": 1000})
    data_id = cli("data", "upload", str(path), "--json").json()["results"][0]["id"]
    log = tmp_path / "downloads.jsonl"
    done = cli(
        "download", data_id, "987654321", "--dest", str(tmp_path / "d"), "--log", str(log),
        "--json",
    )  # fmt: skip
    assert done.code == 4
    results = done.json()["results"]
    assert [r["ok"] for r in results] == [True, False]
    assert results[1]["error"]["status_code"] == 404
    assert (tmp_path / "d" / "good.bin").read_bytes() == path.read_bytes()
    assert len([json.loads(line) for line in log.read_text().splitlines()]) == 2


@pytest.mark.timing
def test_ctrl_c_exits_130_and_the_same_command_resumes(
    cli: Cli, flow_server: FlowServer, tmp_path: Path
) -> None:
    (path,) = _files(tmp_path / "src", {"big.bin": 8 << 20})
    data_id = cli("data", "upload", str(path), "--json").json()["results"][0]["id"]
    dest = tmp_path / "dest"
    # The first response is cut after 1 MiB; the client's Range retry then stalls, so the
    # command is busy downloading, with 1 MiB in its part file, when Ctrl-C arrives.
    where = f"/downloads/{data_id}/"
    flow_server.add_fault("cut", path=where, bytes=1 << 20)
    stall = flow_server.add_fault("stall", path=where, nth=2, seconds=600)
    code, stderr = _ctrl_c_at_stall(
        cli, flow_server, stall, "download", data_id, "--dest", str(dest), "--no-progress"
    )
    assert code == 130, stderr
    assert "resume" in stderr
    assert not (dest / "big.bin").exists()
    assert part_path(dest / "big.bin").stat().st_size > 0

    resumed = cli("download", data_id, "--dest", str(dest), "--json")
    assert resumed.code == 0, resumed.stderr
    assert resumed.json()["results"][0]["resumed_from"] >= 1 << 20
    assert _md5(dest / "big.bin") == _md5(path)
    assert not part_path(dest / "big.bin").exists()


def _ctrl_c_at_stall(
    cli: Cli, server: FlowServer, stall: dict[str, object], *args: str
) -> tuple[int, str]:
    """Run the command, press Ctrl-C once the server holds it at ``stall``; clear faults.

    The server holding the request is the event (#12): by then the bytes before it are
    acknowledged or on disk, however slow the machine.
    """
    try:
        process = cli.popen(*args)
        try:

            def held() -> bool:
                assert process.poll() is None, process.communicate()
                return fault_applied(server, stall)

            wait_for(held, "the transfer reaching the stall")
            interrupt(process)
            _, stderr = process.communicate(timeout=BOUND)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    finally:
        server.clear_faults()
    return process.returncode, stderr


def _write_reads(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("@r1\nACGTACGT\n+\nIIIIIIII\n")
    return path


def test_samples_upload_paired_with_metadata(cli: Cli, tmp_path: Path) -> None:
    r1, r2 = _write_reads(tmp_path, "s_R1.fq"), _write_reads(tmp_path, "s_R2.fq")
    done = cli(
        "samples", "upload", "--json",
        "--name", "cli_paired", "--sample-type", "RNA-Seq",
        "--reads1", str(r1), "--reads2", str(r2),
        "--metadata", "scientist=Ada", "--metadata", "strandedness=reverse",
        "--organism", "Hs",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert done.json()["id"]


def test_samples_upload_missing_required_metadata_is_exit_5(cli: Cli, tmp_path: Path) -> None:
    r1 = _write_reads(tmp_path, "m_R1.fq")
    done = cli(
        "samples", "upload", "--json", "--name", "cli_missing", "--sample-type", "RNA-Seq",
        "--reads1", str(r1),
    )  # fmt: skip
    assert done.code == 5
    assert done.error_json()["errors"]
    assert cli("samples", "upload", "--name", "x", "--sample-type", "RNA-Seq").code == 2
    bad_pair = cli(
        "samples", "upload", "--name", "x", "--sample-type", "RNA-Seq", "--reads1", str(r1),
        "--metadata", "novalue",
    )  # fmt: skip
    assert bad_pair.code == 2


def test_upload_batch_validates_every_row_before_uploading(
    cli: Cli, flow_server: FlowServer, tmp_path: Path
) -> None:
    _write_reads(tmp_path, "a_R1.fq")
    _write_reads(tmp_path, "b_R1.fq")
    sheet = tmp_path / "bad.csv"
    sheet.write_text(
        "name,reads1,sample_type,scientist,strandedness\n"
        "good_row,a_R1.fq,RNA-Seq,Ada,forward\n"
        "bad row,missing.fq,RNA-Seq,,sideways\n"
    )
    flow_server.reset_counters()
    done = cli("samples", "upload-batch", str(sheet), "--json")
    assert done.code == 2
    messages = [e["message"] for e in done.error_json()["errors"]]
    assert all(e["row"] == 2 for e in done.error_json()["errors"])
    assert any("spaces" in m for m in messages)
    assert any("not found" in m for m in messages)
    assert any("scientist" in m for m in messages)
    assert any("sideways" in m for m in messages)
    assert flow_server.counters().get("upload_sample", 0) == 0  # nothing was sent


def test_upload_batch_uploads_one_sample_per_row(cli: Cli, tmp_path: Path) -> None:
    for name in ("c_R1.fq", "c_R2.fq", "d_R1.fq"):
        _write_reads(tmp_path, name)
    sheet = tmp_path / "good.csv"
    sheet.write_text(
        "name,reads1,reads2,scientist,strandedness\n"
        "batch_c,c_R1.fq,c_R2.fq,Ada,forward\n"
        "batch_d,d_R1.fq,,Grace,reverse\n"
    )
    done = cli("samples", "upload-batch", str(sheet), "--sample-type", "RNA-Seq", "--json")
    assert done.code == 0, done.stderr
    results = done.json()["results"]
    assert [(r["row"], r["name"]) for r in results] == [(1, "batch_c"), (2, "batch_d")]
    assert all(r["id"] for r in results)


def _batch_sheet(folder: Path, reads: str, name: str, text: str) -> Path:
    """A sample sheet ``name`` in ``folder`` beside the reads file its rows name."""
    _write_reads(folder, reads)
    sheet = folder / name
    sheet.write_text(text)
    return sheet


def _samples_named(server: FlowServer, prefix: str) -> list[str]:
    found = rows(
        server, "SELECT name FROM samples WHERE name LIKE ? ORDER BY name", (f"{prefix}%",)
    )
    return [row["name"] for row in found]


def test_upload_batch_takes_the_official_sheet_option(cli: Cli, tmp_path: Path) -> None:
    text = "name,reads1,scientist,strandedness\nopt_sheet_a,o_R1.fq,Ada,forward\n"
    sheet = _batch_sheet(tmp_path, "o_R1.fq", "official.csv", text)
    done = cli(
        "samples", "upload-batch", "--sheet", str(sheet), "--sample-type", "RNA-Seq", "--json"
    )
    assert done.code == 0, done.stderr
    assert [(r["row"], r["name"]) for r in done.json()["results"]] == [(1, "opt_sheet_a")]
    other = tmp_path / "other.csv"
    other.write_text(sheet.read_text())
    both = cli("samples", "upload-batch", str(sheet), "--sheet", str(other))
    assert both.code == 2 and "two sample sheets" in both.stderr
    neither = cli("samples", "upload-batch", "--sample-type", "RNA-Seq")
    assert neither.code == 2 and "--sheet PATH" in neither.stderr


def test_upload_batch_skip_invalid_uploads_the_valid_rows_and_reports_the_rest(
    cli: Cli, flow_server: FlowServer, tmp_path: Path
) -> None:
    sheet = _batch_sheet(
        tmp_path,
        "k_R1.fq",
        "mixed.csv",
        "name,reads1,scientist,strandedness\n"
        "skip_ok_1,k_R1.fq,Ada,forward\n"
        "skip bad 2,gone.fq,Ada,forward\n"
        "skip_ok_3,k_R1.fq,Grace,sideways\n"
        "skip_ok_4,k_R1.fq,Grace,reverse\n",
    )
    refused = cli("samples", "upload-batch", str(sheet), "--sample-type", "RNA-Seq", "--json")
    assert refused.code == 2  # the default: one invalid row stops the batch
    assert _samples_named(flow_server, "skip") == []

    done = cli(
        "samples", "upload-batch", "--sheet", str(sheet), "--sample-type", "RNA-Seq",
        "--skip-invalid", "--json",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    document = done.json()
    assert [(r["row"], r["name"], r["ok"]) for r in document["results"]] == [
        (1, "skip_ok_1", True),
        (4, "skip_ok_4", True),
    ]
    skipped = document["skipped"]
    assert [(s["row"], s["name"]) for s in skipped] == [(2, "skip bad 2"), (3, "skip_ok_3")]
    assert any("spaces" in r for r in skipped[0]["reasons"])
    assert any("not found" in r for r in skipped[0]["reasons"])  # every reason of the row
    assert any("sideways" in r for r in skipped[1]["reasons"])
    assert document["counts"] == {"ok": 2, "failed": 0, "skipped": 2, "not_started": 0}
    assert _samples_named(flow_server, "skip") == ["skip_ok_1", "skip_ok_4"]

    human = cli(
        "samples", "upload-batch", str(sheet), "--sample-type", "RNA-Seq", "--skip-invalid",
    )  # fmt: skip
    assert "skipped: row 2 (skip bad 2):" in human.stderr
    assert "2 invalid rows skipped (--skip-invalid)" in human.stderr

    hopeless = tmp_path / "hopeless.csv"
    hopeless.write_text("name,reads1\nno good,gone.fq\n")
    nothing = cli(
        "samples", "upload-batch", str(hopeless), "--sample-type", "generic", "--skip-invalid",
    )  # fmt: skip
    assert nothing.code == 2 and "every row of the sample sheet is invalid" in nothing.stderr


def test_upload_batch_stop_on_error_starts_no_row_after_a_failed_upload(
    cli: Cli, flow_server: FlowServer, tmp_path: Path
) -> None:
    # Row 2 passes every local check; only the server knows project 987654 is not yours.
    sheet = _batch_sheet(
        tmp_path,
        "e_R1.fq",
        "failing.csv",
        "name,reads1,project,scientist,strandedness\n"
        "stop_a_1,e_R1.fq,,Ada,forward\n"
        "stop_a_2,e_R1.fq,987654,Ada,forward\n"
        "stop_a_3,e_R1.fq,,Ada,forward\n",
    )
    args = ("samples", "upload-batch", str(sheet), "--sample-type", "RNA-Seq", "--json")
    done = cli(*args, "--stop-on-error", "--concurrency", "1")
    assert done.code == 5, done.stderr  # the failure's own code (a 400)
    document = done.json()
    first, failed, unstarted = document["results"]
    assert first["ok"] and first["name"] == "stop_a_1"
    assert not failed["ok"] and "not owned by you" in failed["error"]["message"]
    assert unstarted == {
        "ok": False,
        "item": "row 3 (stop_a_3)",
        "not_started": True,
        "error": {
            "message": "not started: an earlier item failed and --stop-on-error was given",
        },
    }
    assert document["counts"] == {"ok": 1, "failed": 1, "skipped": 0, "not_started": 1}
    assert _samples_named(flow_server, "stop_a") == ["stop_a_1"]

    # Without --stop-on-error the batch carries on past the failed row.
    sheet.write_text(sheet.read_text().replace("stop_a", "stop_b"))
    carried = cli(*args, "--concurrency", "1")
    assert carried.code == 5
    assert carried.json()["counts"] == {"ok": 2, "failed": 1, "skipped": 0, "not_started": 0}
    assert _samples_named(flow_server, "stop_b") == ["stop_b_1", "stop_b_3"]


def test_data_upload_stop_on_error_starts_no_file_after_a_failed_one(
    cli: Cli, flow_server: FlowServer, tmp_path: Path
) -> None:
    paths = _files(tmp_path / "src", {f"cli_stop_{tag}.bin": 300 for tag in "abc"})
    args = ("data", "upload", *map(str, paths), "--json", "--concurrency", "1")
    # The local checks pass for all three: only the server refuses the second file.
    flow_server.add_fault("status", route="upload", nth=2, status=400, body={"error": "no"})
    try:
        done = cli(*args, "--stop-on-error")
    finally:
        flow_server.clear_faults()
    assert done.code == 5, done.stderr  # the failure's own code (a 400)
    document = done.json()
    first, failed, unstarted = document["results"]
    assert first["ok"] and not failed["ok"]
    assert unstarted["not_started"] and unstarted["item"] == str(paths[2])
    assert document["counts"] == {"ok": 1, "failed": 1, "not_started": 1}
    stored = [row["filename"] for row in rows(flow_server, "SELECT filename FROM data")]
    assert [name for name in stored if name.startswith("cli_stop_")] == ["cli_stop_a.bin"]


def test_catalogue_listings(cli: Cli) -> None:
    types = cli("samples", "types", "--json")
    assert types.code == 0, types.stderr
    assert "RNA-Seq" in {t["identifier"] for t in types.json()}
    metadata = cli("samples", "metadata", "--json").json()
    assert any(a["identifier"] == "strandedness" and a["options"] for a in metadata)
    organisms = cli("organisms", "--json").json()
    assert {"Hs", "Mm"} <= {o["id"] for o in organisms}
    projects = cli("--json", "projects").json()
    assert len(projects) == len({p["id"] for p in projects}) > 10  # every page, no repeats
    human = cli("organisms")
    assert "Homo sapiens" in human.stdout


def test_catalogue_reads_work_anonymously(flow_server: FlowServer, tmp_path: Path) -> None:
    anonymous = Cli(flow_server.url, tmp_path / "nobody")
    assert anonymous("samples", "types").code == 0
    assert anonymous("projects").code == 2  # needs a login, and there is no terminal


def test_workspace_files_round_trip(cli: Cli, tmp_path: Path) -> None:
    (path,) = _files(tmp_path / "src", {"variants.vcf": 300_001})
    ws = ["--workspace", "ws_cli_test"]
    up = cli("files", "upload", str(path), *ws, "--path", "raw/", "--json")
    assert up.code == 0, up.stderr
    key = up.json()["key"]
    listed = cli("files", "list", *ws, "--prefix", "raw/", "--json")
    assert key in {f["key"] for f in listed.json()}
    got = cli("files", "download", key, *ws, "--dest", f"{tmp_path / 'out'}/", "--json")
    assert got.code == 0, got.stderr
    assert Path(got.json()["path"]).read_bytes() == path.read_bytes()
    assert cli("files", "delete", key, *ws).code == 0
    assert key not in {f["key"] for f in cli("files", "list", *ws, "--json").json()}
    assert cli("files", "delete", key, *ws).code == 4


def test_progress_never_reaches_stdout_and_json_is_one_document(cli: Cli, tmp_path: Path) -> None:
    (path,) = _files(tmp_path, {"p.bin": 2 << 20})
    done = cli("data", "upload", str(path), "--json")
    assert done.code == 0
    assert json.loads(done.stdout)  # exactly one document, nothing else on stdout
    assert done.stdout.count("\n") == 1


def test_progress_is_drawn_on_a_terminal_stderr_unless_silenced(cli: Cli, tmp_path: Path) -> None:
    (path,) = _files(tmp_path, {"progress.bin": 4 << 20})
    code, stdout, drawn = cli.stderr_on_terminal("data", "upload", str(path))
    assert code == 0
    assert b"progress.bin" in drawn  # the rich bar, on stderr only
    assert stdout.count("\n") == 1 and "progress.bin" in stdout
    code, stdout, drawn = cli.stderr_on_terminal("data", "upload", str(path), "--no-progress")
    assert code == 0
    assert drawn == b""


def test_many_files_end_with_a_summary_line_on_the_terminal(cli: Cli, tmp_path: Path) -> None:
    # Seen (#17): the aggregate bar vanished at the end, with no files done / total.
    paths = _files(tmp_path, {"one.bin": 300_000, "two.bin": 200_000})
    code, _, drawn = cli.stderr_on_terminal("data", "upload", *map(str, paths))
    assert code == 0
    screen = drawn.decode(errors="replace")
    assert "2/2 files" in screen
    assert "2 files: 2/2 files, 500.0 kB in " in screen


def test_bulk_download_extracts_byte_exact_and_continues_a_job(cli: Cli, tmp_path: Path) -> None:
    paths = _files(tmp_path / "src", {"x.bin": 70_000, "y.txt": 12})
    up = cli("data", "upload", *map(str, paths), "--json").json()["results"]
    ids = [r["id"] for r in up]
    done = cli("bulk-download", *ids, "--dest", str(tmp_path / "out"), "--extract", "--json")
    assert done.code == 0, done.stderr
    document = done.json()
    assert document["job"]["status"] == "completed"
    for path in paths:
        assert (tmp_path / "out" / path.name).read_bytes() == path.read_bytes()
    # The same job again by id: the archive is fetched without building a new one.
    again = cli("bulk-download", "--job", document["job"]["id"], "--dest", str(tmp_path / "z"))
    assert again.code == 0, again.stderr
    assert again.stdout.startswith(f"Job {document['job']['id']}: ")
    assert zipfile.ZipFile(next((tmp_path / "z").glob("*.zip"))).namelist()


def test_bulk_download_usage_and_unknown_ids(cli: Cli, tmp_path: Path) -> None:
    assert cli("bulk-download").code == 2
    assert cli("bulk-download", "1", "--job", "abc").code == 2
    assert cli("bulk-download", "987654321", "--dest", str(tmp_path)).code == 4


def test_download_a_sample_round_trips_its_reads(cli: Cli, tmp_path: Path) -> None:
    r1 = tmp_path / "rt_R1.fq"
    r2 = tmp_path / "rt_R2.fq"
    r1.write_bytes(b"@a\nACGT\n+\nIIII\n" * 999)
    r2.write_bytes(b"@a\nTGCA\n+\nIIII\n" * 1001)
    sample = cli(
        "samples", "upload", "--json", "--name", "cli_round_trip", "--sample-type", "generic",
        "--reads1", str(r1), "--reads2", str(r2), "--metadata", "scientist=Ada",
    )  # fmt: skip
    assert sample.code == 0, sample.stderr
    done = cli("download", "--sample", sample.json()["id"], "--dest", str(tmp_path / "d"))
    assert done.code == 0, done.stderr
    folder = tmp_path / "d" / "samples" / "cli_round_trip"
    assert (folder / "rt_R1.fq").read_bytes() == r1.read_bytes()
    assert (folder / "rt_R2.fq").read_bytes() == r2.read_bytes()


def test_download_execution_outputs_with_include(cli: Cli, tmp_path: Path) -> None:
    dest = tmp_path / "d"
    some = cli("download", "--execution", "1", "--include", "*.tsv", "--dest", str(dest), "--json")
    assert some.code == 0, some.stderr
    paths = [Path(r["path"]) for r in some.json()["results"]]
    assert paths and all(p.suffix == ".tsv" and p.is_file() for p in paths)
    assert all(dest / "executions" / "1" in p.parents for p in paths)
    everything = cli("download", "--execution", "1", "--dest", str(dest), "--json").json()
    statuses = {Path(r["path"]).name: r["status"] for r in everything["results"]}
    assert len(statuses) > len(paths)
    assert {statuses[p.name] for p in paths} == {"skipped"}  # already complete
    assert cli("download", "--execution", "987654321", "--dest", str(dest)).code == 4
    assert cli("download", "1", "--include", "*.tsv").code == 2


@pytest.mark.timing
def test_ctrl_c_during_an_upload_exits_130_and_the_rerun_resumes(
    cli: Cli, flow_server: FlowServer, tmp_path: Path
) -> None:
    (path,) = _files(tmp_path / "src", {"resumable.bin": 6 << 20})
    records = cli.home / ".cache" / "flowbio-async" / "uploads"
    # The third chunk stalls: two chunks are acknowledged when Ctrl-C arrives.
    stall = flow_server.add_fault("stall", route="upload", nth=3, seconds=600)
    code, stderr = _ctrl_c_at_stall(
        cli, flow_server, stall, "data", "upload", str(path), "--no-progress"
    )
    assert code == 130, stderr
    saved = [json.loads(p.read_text()) for p in records.glob("*.json")]
    assert [r["offset"] > 0 for r in saved if r["path"] == str(path.resolve())] == [True]

    resumed = cli("data", "upload", str(path), "--json")
    assert resumed.code == 0, resumed.stderr
    data_id = resumed.json()["results"][0]["id"]
    assert data_id == next(r["data_id"] for r in saved if r["path"] == str(path.resolve()))
    fetched = cli("download", data_id, "--dest", str(tmp_path / "back"))
    assert fetched.code == 0, fetched.stderr
    assert _md5(tmp_path / "back" / "resumable.bin") == _md5(path)


def test_download_a_project_lays_out_samples(cli: Cli, tmp_path: Path) -> None:
    project = cli("projects", "--json").json()[0]
    r1 = tmp_path / "proj_R1.fq"
    r1.write_bytes(b"@p\nGATTACA\n+\nIIIIIII\n" * 321)
    sample = cli(
        "samples", "upload", "--name", "cli_in_project", "--sample-type", "generic",
        "--reads1", str(r1), "--metadata", "scientist=Ada", "--project", project["id"],
    )  # fmt: skip
    assert sample.code == 0, sample.stderr
    done = cli(
        "download", "--project", project["id"], "--include", "proj_*", "--dest", str(tmp_path)
    )
    assert done.code == 0, done.stderr
    (saved,) = tmp_path.glob("*/samples/cli_in_project/proj_R1.fq")
    assert saved.read_bytes() == r1.read_bytes()
    assert cli("download", "--project", "987654321", "--dest", str(tmp_path)).code == 4


def test_directory_uploads_take_archives_only(cli: Cli, tmp_path: Path) -> None:
    archive = tmp_path / "results.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("results/table.tsv", "a\tb\n1\t2\n")
    done = cli("data", "upload", str(archive), "--directory", "--json")
    assert done.code == 0, done.stderr
    assert done.json()["results"][0]["id"]
    (plain,) = _files(tmp_path, {"plain.txt": 3})
    refused = cli("data", "upload", str(plain), "--directory", "--json")
    assert refused.code == 2
    assert refused.error_json()["message"]


@pytest.mark.timing
def test_bulk_download_timeout_is_exit_1_and_names_the_job(
    cli: Cli, flow_server: FlowServer, tmp_path: Path
) -> None:
    (path,) = _files(tmp_path, {"slow.bin": 10})
    data_id = cli("data", "upload", str(path), "--json").json()["results"][0]["id"]
    before = flow_server.set()["bulk_job_delay"]
    flow_server.set(bulk_job_delay=30)
    try:
        done = cli("bulk-download", data_id, "--timeout", "0.5", "--dest", str(tmp_path / "b"))
    finally:
        flow_server.set(bulk_job_delay=before)
    assert done.code == 1
    assert "TimeoutError: bulk job " in done.stderr
    assert "not ready after 0.5 s" in done.stderr


def _job_of(stderr: str) -> str:
    """The job id the command announced (``bulk job J created; ...``)."""
    return stderr.split("bulk job ", 1)[1].split(" ", 1)[0]


def test_bulk_extract_runs_twice_and_leaves_no_archive(cli: Cli, tmp_path: Path) -> None:
    """#17 item 4: the second ``--extract`` run failed ("d/x already exists") although the
    bytes were identical, and ``d/flow-download-<job>.zip`` was left behind."""
    paths = _files(tmp_path / "src", {"x.bin": 60_000, "y.txt": 9})
    ids = [r["id"] for r in cli("data", "upload", *map(str, paths), "--json").json()["results"]]
    dest = tmp_path / "d"
    first = cli("bulk-download", *ids, "--dest", str(dest), "--extract")
    assert first.code == 0, first.stderr
    second = cli("bulk-download", *ids, "--dest", str(dest), "--extract")
    assert second.code == 0, second.stderr
    assert "extracted 2 files into" in second.stdout
    assert "(2 already there with the same bytes, skipped)" in second.stdout
    assert sorted(p.name for p in dest.iterdir()) == ["x.bin", "y.txt"]  # no archive left
    job = _job_of(second.stderr)
    for _ in range(2):  # --job ID --extract, twice: the same
        again = cli("bulk-download", "--job", job, "--dest", str(dest), "--extract", "--json")
        assert again.code == 0, again.stderr
        document = again.json()
        assert sorted(Path(p).name for p in document["skipped"]) == ["x.bin", "y.txt"]
        assert sorted(p.name for p in dest.iterdir()) == ["x.bin", "y.txt"]
    for path in paths:
        assert (dest / path.name).read_bytes() == path.read_bytes()


def test_bulk_extract_over_a_different_file_keeps_and_names_the_archive(
    cli: Cli, tmp_path: Path
) -> None:
    paths = _files(tmp_path / "src", {"p.bin": 30_000, "q.txt": 5})
    ids = [r["id"] for r in cli("data", "upload", *map(str, paths), "--json").json()["results"]]
    dest = tmp_path / "d"
    dest.mkdir()
    (dest / "q.txt").write_bytes(b"mine!")  # the same size, other bytes
    refused = cli("bulk-download", *ids, "--dest", str(dest), "--extract")
    assert refused.code != 0
    job = _job_of(refused.stderr)
    archive = dest / f"flow-download-{job}.zip"
    assert archive.is_file() and str(archive) in refused.stderr  # kept, and named
    assert "--overwrite" in refused.stderr and f"--job {job}" in refused.stderr
    assert (dest / "q.txt").read_bytes() == b"mine!" and not (dest / "p.bin").exists()
    fixed = cli("bulk-download", "--job", job, "--dest", str(dest), "--extract", "--overwrite")
    assert fixed.code == 0, fixed.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["p.bin", "q.txt"]  # archive removed
    assert (dest / "q.txt").read_bytes() == paths[1].read_bytes()


def test_files_list_shows_every_file_and_download_asks_before_replacing(
    cli: Cli, flow_server: FlowServer, tmp_path: Path
) -> None:
    """#17 item 3: ``files list`` stopped at 100 of 105 entries; ``files download`` replaced
    an existing file without asking."""
    ws = ["--workspace", "ws_cli_105"]
    config = ClientConfig(show_progress=False, state_dir=tmp_path / "state")
    with Client(flow_server.url, config) as client:
        client.log_in(UsernamePasswordCredentials("demo", "demo-password"))
        for number in range(105):
            source = tmp_path / f"n{number:03}.txt"
            source.write_text(f"file {number}\n")
            client.files.upload(source, workspace_id="ws_cli_105")
    listed = cli("files", "list", *ws, "--json")
    assert listed.code == 0, listed.stderr
    assert [f["key"] for f in listed.json()] == [f"n{n:03}.txt" for n in range(105)]
    assert len(cli("files", "list", *ws, "--limit", "101", "--json").json()) == 101
    assert cli("files", "list", *ws, "--limit", "-1").code == 2
    out = tmp_path / "out"
    out.mkdir()
    (out / "n007.txt").write_text("my notes\n")
    refused = cli("files", "download", "n007.txt", *ws, "--dest", f"{out}/")
    assert refused.code != 0
    assert str(out / "n007.txt") in refused.stderr and "--overwrite" in refused.stderr
    assert (out / "n007.txt").read_text() == "my notes\n"
    replaced = cli("files", "download", "n007.txt", *ws, "--dest", f"{out}/", "--overwrite")
    assert replaced.code == 0, replaced.stderr
    assert (out / "n007.txt").read_text() == "file 7\n"
