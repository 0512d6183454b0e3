"""client.projects.download: a bulk job ends with the same organised layout as per-file."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import anyio
import pytest
from download_helpers import add_file, add_row, client_for, payload
from sync_points import BOUND

from flowbio_async import BulkDownloadFailedError, Data
from flowbio_async._resources._bulk_layout import deduplicated, place_extracted
from flowbio_async.testing import FlowServer
from flowbio_async.testing._store import Store

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def server() -> Iterator[FlowServer]:
    with FlowServer(bulk_job_delay=0.01) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(server: FlowServer) -> Iterator[None]:
    server.reset()
    yield
    server.set(bulk_job_delay=0.01)


def new_project(server: FlowServer, files: dict[str, list[tuple[str, bytes]]]) -> str:
    """A private project of demo's with one sample per key holding ``(filename, bytes)``."""
    project = add_row(server, "projects", name=f"Layout {time.time_ns()}")
    samples = {name: add_row(server, "samples", name=name, project=project) for name in files}
    for name, contents in files.items():
        for filename, content in contents:
            add_file(server, content, filename, sample=samples[name], project=project)
    return str(project)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


CLASHING = {
    "liver 1": [("reads.fastq.gz", payload(40_000, 1)), ("notes.txt", b"one")],
    "liver/2": [("reads.fastq.gz", payload(40_000, 2)), ("counts.tsv", b"a\t1\n")],
    # The same name twice in one sample: the second goes to <id>/<name> on both paths.
    "dup": [("same.txt", b"first"), ("same.txt", b"second")],
    # Identical bytes under one name in two samples: either entry fits either place.
    "twin a": [("twin.bin", b"twin bytes")],
    "twin b": [("twin.bin", b"twin bytes")],
}


async def test_bulk_layout_equals_the_per_file_layout(server: FlowServer, tmp_path: Path) -> None:
    project_id = new_project(server, CLASHING)
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        small = await client.projects.download(project_id, tmp_path / "small")
        big = await client.projects.download(
            project_id, tmp_path / "big", bulk_threshold=1, log=tmp_path / "big.jsonl"
        )
    assert small.bulk is None and small.report is not None and small.report.ok
    assert big.bulk is not None and big.report is None
    assert (big.unsorted, big.missing) == ([], [])
    expected = tree(small.folder)
    assert len(expected) == 8
    same = sorted(name for name in expected if name.endswith("same.txt"))
    assert same[1] == "samples/dup/same.txt" and same[0].startswith("samples/dup/")
    assert expected["samples/liver 1/reads.fastq.gz"] == payload(40_000, 1)
    assert expected["samples/liver_2/reads.fastq.gz"] == payload(40_000, 2)
    assert tree(big.folder) == expected  # byte for byte, path for path
    relative = sorted(p.relative_to(big.folder).as_posix() for p in big.files)
    assert relative == sorted(expected)
    lines = [json.loads(line) for line in (tmp_path / "big.jsonl").read_text().splitlines()]
    assert sorted(Path(line["path"]) for line in lines) == sorted(big.files)
    assert {line["status"] for line in lines} == {"downloaded"}
    assert all(Path(line["path"]).stat().st_size == line["size"] for line in lines)
    assert [p.name for p in big.folder.iterdir()] == ["samples"]  # scratch folder is gone


async def test_bulk_keeps_a_different_existing_file_and_reports_it(
    server: FlowServer, tmp_path: Path
) -> None:
    project_id = new_project(server, {"s": [("a.txt", b"server a"), ("b.txt", b"server b")]})
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        first = await client.projects.download(project_id, tmp_path, bulk_threshold=1)
        mine = first.folder / "samples" / "s" / "a.txt"
        mine.write_bytes(b"my edits")
        second = await client.projects.download(
            project_id, tmp_path, bulk_threshold=1, log=tmp_path / "log.jsonl"
        )
        forced = await client.projects.download(
            project_id, tmp_path, bulk_threshold=1, overwrite=True
        )
    assert mine.read_bytes() == b"server a"  # overwrite=True replaced it in the end
    assert second.unsorted == [second.folder / "unsorted" / "a.txt"]
    assert second.unsorted[0].read_bytes() == b"server a"
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert sorted(line["status"] for line in lines) == ["skipped", "unsorted"]  # b.txt: same
    assert forced.unsorted == []


@pytest.mark.timing
async def test_failed_or_cancelled_bulk_leaves_no_scratch_folder(
    server: FlowServer, tmp_path: Path
) -> None:
    project_id = new_project(server, {"s": [("x.txt", b"x"), ("y.txt", b"y")]})
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        server.set(bulk_job_delay=30.0)  # the job stays pending: cancel while waiting
        async with anyio.create_task_group() as group:
            group.start_soon(
                partial(client.projects.download, project_id, tmp_path / "c", bulk_threshold=1)
            )
            with anyio.fail_after(BOUND):  # a bound, not an expectation
                while not list((tmp_path / "c").glob("*/.bulk-*")):  # the scratch folder
                    await anyio.sleep(0.01)
            group.cancel_scope.cancel()
        (project_folder,) = (tmp_path / "c").iterdir()
        assert list(project_folder.iterdir()) == []  # cancelled: the scratch folder is gone
        server.set(bulk_job_delay=0.01)
        store = Store(server.data_dir)
        try:
            victim = store.rows("SELECT id FROM data WHERE filename = 'y.txt'")[-1]["id"]
        finally:
            store.close()
        (server.data_dir / "blobs" / str(victim)).unlink()  # the job will fail
        with pytest.raises(BulkDownloadFailedError):
            await client.projects.download(project_id, tmp_path / "f", bulk_threshold=1)
    assert not list((tmp_path / "f").rglob(".bulk-*"))


def _data(data_id: str, filename: str, content: bytes | None, *, md5: bool = True) -> Data:
    digest = hashlib.md5(content, usedforsecurity=False).hexdigest() if content else None
    return Data(
        id=data_id,
        filename=filename,
        size=None if content is None else len(content),
        md5=digest if md5 else None,
    )


def _extract(root: Path, entries: dict[str, bytes]) -> list[Path]:
    paths = []
    for name, content in entries.items():
        path = root.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        paths.append(path)
    return paths


def test_entries_are_matched_by_id_name_or_content(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    root = folder / ".bulk-x"
    files = [
        _data("7", "r.fq", b"seven"),
        _data("8", "r.fq", b"eight"),
        _data("9", "r.fq", b"nine!", md5=False),
        _data("10", "u.txt", b"unique"),
        _data("11", "gone.txt", b"never archived"),
        _data("12", "q.fq", b"12"),
        _data("13", "q.fq", b"13"),
    ]
    planned = deduplicated(
        [(data, folder / "samples" / f"s{data.id}" / (data.filename or "")) for data in files]
    )
    extracted = _extract(
        root,
        {
            "9/r.fq": b"nine!",  # carries the id: no md5 needed
            "r.fq": b"eight",  # two same-name candidates: the md5 decides
            "r-1.fq": b"seven",  # a renamed clash: only the md5 can place it
            "run/u.txt": b"unique",  # unique name, any folder
            "extra.log": b"not asked for",  # matches nothing
            "12_q.fq": b"12",  # an id prefix
            "13-q.fq": b"13",
        },
    )
    placed = place_extracted(root, extracted, planned, folder, overwrite=False)
    contents = {"7": b"seven", "8": b"eight", "9": b"nine!", "10": b"unique", "12": b"12"}
    contents["13"] = b"13"
    assert {data.id: path.read_bytes() for data, path in planned if path.exists()} == contents
    assert sorted(placed.placed) == sorted(path for data, path in planned if data.id != "11")
    assert placed.unsorted == [folder / "unsorted" / "extra.log"]
    assert [data.id for data in placed.missing] == ["11"]


def test_ambiguous_entries_go_to_unsorted_without_overwriting(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    root = folder / ".bulk-y"
    # No md5 known and two same-size entries under one name: nothing tells them apart.
    files = [_data("1", "a.txt", b"AAAA", md5=False), _data("2", "a.txt", b"BBBB", md5=False)]
    planned = [(files[0], folder / "s1" / "a.txt"), (files[1], folder / "s2" / "a.txt")]
    (folder / "unsorted").mkdir(parents=True)
    (folder / "unsorted" / "a.txt").write_bytes(b"kept")  # an earlier leftover stays
    extracted = _extract(root, {"a.txt": b"AAAA", "x/a.txt": b"BBBB"})
    placed = place_extracted(root, extracted, planned, folder, overwrite=False)
    assert placed.placed == []
    assert sorted(p.relative_to(folder).as_posix() for p in placed.unsorted) == [
        "unsorted/a (2).txt",
        "unsorted/x/a.txt",
    ]
    assert (folder / "unsorted" / "a.txt").read_bytes() == b"kept"
    assert [data.id for data in placed.missing] == ["1", "2"]


def test_unique_name_with_another_size_is_not_placed(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    root = folder / ".bulk-z"
    expected = _data("5", "only.txt", b"five bytes", md5=False)
    planned = [(expected, folder / "s5" / "only.txt")]
    extracted = _extract(root, {"only.txt": b"something of another size"})
    placed = place_extracted(root, extracted, planned, folder, overwrite=False)
    assert placed.placed == [] and [data.id for data in placed.missing] == ["5"]
    assert placed.unsorted == [folder / "unsorted" / "only.txt"]
    assert not (folder / "s5" / "only.txt").exists()


async def test_two_samples_of_one_name_never_share_a_folder(
    server: FlowServer, tmp_path: Path
) -> None:
    # Seen (#17): a project with two samples named S1 put both in samples/S1/ (one file pushed
    # into S1/21/) and nothing said which file belonged to which sample.
    project = add_row(server, "projects", name=f"Twins {time.time_ns()}")
    first = add_row(server, "samples", name="S1", project=project)
    second = add_row(server, "samples", name="S1", project=project)
    cased = add_row(server, "samples", name="s1", project=project)  # same folder on macOS
    for sample, content in ((first, b"first S1"), (second, b"second S1"), (cased, b"s1")):
        add_file(server, content, "reads_1.fq", sample=sample, project=project)
    async with client_for(server, tmp_path, bulk_poll_interval=0.02) as client:
        small = await client.projects.download(
            str(project), tmp_path / "small", log=tmp_path / "small.jsonl"
        )
        big = await client.projects.download(
            str(project), tmp_path / "big", bulk_threshold=1, log=tmp_path / "big.jsonl"
        )
        alone = await client.samples.download(str(second), tmp_path / "alone")
    expected = {
        "samples/S1/reads_1.fq": b"first S1",
        f"samples/S1__{second}/reads_1.fq": b"second S1",
        f"samples/s1__{cased}/reads_1.fq": b"s1",
    }
    assert tree(small.folder) == tree(big.folder) == expected
    assert small.sample_folders == {
        str(first): small.folder / "samples" / "S1",
        str(second): small.folder / "samples" / f"S1__{second}",
        str(cased): small.folder / "samples" / f"s1__{cased}",
    }
    # One sample alone lands where its project's layout puts it.
    assert [item.value.path for item in alone.done if item.value] == [
        tmp_path / "alone" / "samples" / f"S1__{second}" / "reads_1.fq"
    ]
    for log in ("small.jsonl", "big.jsonl"):
        lines = [json.loads(line) for line in (tmp_path / log).read_text().splitlines()]
        owners = {Path(line["path"]).parent.name: line["sample_id"] for line in lines}
        assert owners == {
            "S1": str(first),
            f"S1__{second}": str(second),
            f"s1__{cased}": str(cased),
        }
        assert {line["sample_name"] for line in lines} == {"S1", "s1"}


def test_sample_folder_names_are_stable() -> None:
    from flowbio_async._resources._download_support import sample_folders

    assert sample_folders([("21", "S1"), ("20", "S1"), ("3", "S2")]) == {
        "3": "S2",
        "20": "S1",
        "21": "S1__21",
    }
    # The oldest keeps the plain name, so a newer sample never moves an existing folder.
    assert sample_folders([("20", "S1")]) == {"20": "S1"}
    # Unsafe characters are replaced first; a name that is someone's disambiguation stays apart.
    assert sample_folders([("1", "a/b"), ("2", "a_b"), ("3", "a_b__2")]) == {
        "1": "a_b",
        "2": "a_b__2",
        "3": "a_b__2__3",
    }
    assert sample_folders([("7", ""), ("8", None)]) == {"7": "7", "8": "8"}
