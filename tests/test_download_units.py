"""Pure pieces of the download engine: ranges, intervals, the sidecar, safe names."""

from __future__ import annotations

import io
import json
import os
import tarfile
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowbio_async import DestinationExistsError, UnsafePathError
from flowbio_async._transfers._extract import extract_archive
from flowbio_async._transfers._partfile import (
    PartState,
    add_interval,
    load_state,
    missing_intervals,
    part_path,
    save_state,
    sidecar_path,
)
from flowbio_async._transfers._paths import (
    folder_name,
    safe_filename,
    safe_join,
)
from flowbio_async._transfers._ranges import ContentRange, parse_content_range, range_header


def test_range_header() -> None:
    assert range_header(100) == "bytes=100-"
    assert range_header(0, 1024) == "bytes=0-1023"
    with pytest.raises(ValueError):
        range_header(10, 10)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes 0-99/1000", ContentRange(0, 99, 1000)),
        ("bytes 5-5/*", ContentRange(5, 5, None)),
        ("bytes */1000", ContentRange(None, None, 1000)),
        ("BYTES 1-2/3", ContentRange(1, 2, 3)),
        ("bytes 9-1/10", None),
        ("bytes 0-10/10", None),
        ("items 0-1/2", None),
        ("bytes */*", None),
        (None, None),
    ],
)
def test_parse_content_range(value: str | None, expected: ContentRange | None) -> None:
    assert parse_content_range(value) == expected


intervals = st.lists(
    st.tuples(st.integers(0, 200), st.integers(1, 50)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=12,
)


@given(intervals, st.integers(1, 300))
def test_intervals_cover_exactly_what_was_added(parts: list[tuple[int, int]], total: int) -> None:
    merged: list[tuple[int, int]] = []
    for lo, hi in parts:
        merged = add_interval(merged, lo, hi)
    covered = {i for lo, hi in parts for i in range(lo, hi)}
    assert {i for lo, hi in merged for i in range(lo, hi)} == covered
    assert all(a[1] < b[0] for a, b in pairwise(merged))  # disjoint, merged
    gaps = missing_intervals(merged, total)
    assert {i for lo, hi in gaps for i in range(lo, hi)} == set(range(total)) - covered


def test_sidecar_round_trip_and_mismatch(tmp_path: Path) -> None:
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(b"x" * 50)
    save_state(dest, PartState(size=100, md5="ab", etag='"e"', done=[(0, 40), (60, 80)]))
    state = load_state(dest, size=100, md5="AB")
    # Intervals are clipped to the part file's real length (50 bytes).
    assert state.done == [(0, 40)] and state.validator == '"e"' and state.prefix == 40
    fresh = load_state(dest, size=101, md5=None)  # a different file now: start over
    assert fresh.done == [] and not part_path(dest).exists()


def test_corrupt_or_foreign_sidecar_is_ignored(tmp_path: Path) -> None:
    dest = tmp_path / "g.bin"
    part_path(dest).write_bytes(b"x")
    sidecar_path(dest).write_text(json.dumps({"version": 99}))
    assert load_state(dest, size=1, md5=None).done == []
    part_path(dest).write_bytes(b"x")
    sidecar_path(dest).write_text("{not json")
    assert load_state(dest, size=1, md5=None).done == []


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "C:evil", "nul\x00byte"])
def test_unsafe_filenames(name: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_filename(name)


@pytest.mark.parametrize(
    "relative", ["../x", "a/../../x", "/etc/passwd", "C:/x", "a\\..\\x", "", "./.."]
)
def test_safe_join_refuses_escapes(tmp_path: Path, relative: str) -> None:
    with pytest.raises(UnsafePathError):
        safe_join(tmp_path, relative)


def test_safe_join_keeps_folders(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "results//counts/./a.tsv") == tmp_path / "results/counts/a.tsv"


def test_folder_name() -> None:
    assert folder_name("Liver rep 1/2", "42") == "Liver rep 1_2"
    assert folder_name("..", "42") == "42"
    assert folder_name("a:b*c?", "1") == "a_b_c_"


def _tar(path: Path, entries: dict[str, bytes], link: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        if link is not None:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info)
    return path


def test_tar_gz_archives_extract_and_refuse_escapes(tmp_path: Path) -> None:
    good = _tar(tmp_path / "good.tar.gz", {"dir/a.txt": b"a", "b.txt": b"b"})
    files = extract_archive(good, tmp_path / "out").files
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in files) == [
        "b.txt",
        "dir/a.txt",
    ]
    for bad in (
        _tar(tmp_path / "slip.tar.gz", {"ok.txt": b"", "../evil.txt": b"x"}),
        _tar(tmp_path / "link.tar.gz", {"ok.txt": b""}, link="innocent"),
    ):
        with pytest.raises(UnsafePathError):
            extract_archive(bad, tmp_path / "bad")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "evil.txt").exists()
    (tmp_path / "junk.bin").write_bytes(b"neither zip nor tar")
    with pytest.raises(UnsafePathError):
        extract_archive(tmp_path / "junk.bin", tmp_path / "junk")


def test_extraction_never_replaces_existing_files_or_the_archive(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.txt").write_bytes(b"mine")
    archive = _tar(tmp_path / "bundle.tar.gz", {"dir/a.txt": b"a", "b.txt": b"theirs"})
    with pytest.raises(DestinationExistsError, match="overwrite=True"):
        extract_archive(archive, out)
    assert (out / "b.txt").read_bytes() == b"mine" and not (out / "dir").exists()
    extract_archive(archive, out, overwrite=True)
    assert (out / "b.txt").read_bytes() == b"theirs"
    # An entry named like the archive, extracted next to it, would truncate what is read.
    inside = _tar(out / "self.tar.gz", {"self.tar.gz": b"x"})
    with pytest.raises(DestinationExistsError, match="archive itself"):
        extract_archive(inside, out, overwrite=True)
    assert inside.stat().st_size > 1


def test_extracting_the_same_archive_again_skips_identical_files(tmp_path: Path) -> None:
    """#17 item 4: a second extraction failed with "already exists" though the bytes were the
    same; now identical files are skipped and reported, a different one still refused."""
    out = tmp_path / "out"
    archive = _tar(tmp_path / "bundle.tar.gz", {"dir/a.txt": b"a", "b.txt": b"bee", "e": b""})
    first = extract_archive(archive, out)
    assert first.skipped == [] and sorted(first.written) == sorted(first.files)
    stamps = {path: path.stat().st_mtime_ns for path in first.files}
    again = extract_archive(archive, out)
    assert sorted(again.skipped) == sorted(again.files) == sorted(first.files)
    assert again.written == []
    assert {path: path.stat().st_mtime_ns for path in again.files} == stamps  # untouched
    # Same size, other bytes: refused before anything is renamed, nothing staged is left.
    (out / "b.txt").write_bytes(b"BEE")
    (out / "dir" / "a.txt").unlink()
    with pytest.raises(DestinationExistsError, match="different content") as info:
        extract_archive(archive, out)
    assert str(out / "b.txt") in str(info.value) and "--overwrite" in str(info.value)
    assert (out / "b.txt").read_bytes() == b"BEE" and not (out / "dir" / "a.txt").exists()
    assert sorted(p.name for p in out.rglob("*")) == ["b.txt", "dir", "e"]
    mixed = extract_archive(archive, out, overwrite=True)
    assert mixed.skipped == [out / "e"]
    assert sorted(mixed.written) == [out / "b.txt", out / "dir" / "a.txt"]
    assert (out / "b.txt").read_bytes() == b"bee"


def test_a_link_or_fifo_never_counts_as_the_same_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere.txt").write_bytes(b"bee")
    (out / "b.txt").symlink_to(tmp_path / "elsewhere.txt")  # the same bytes, through a link
    os.mkfifo(out / "c.txt")
    archive = _tar(tmp_path / "bundle.tar.gz", {"b.txt": b"bee", "c.txt": b""})
    with pytest.raises(DestinationExistsError):
        extract_archive(archive, out)
    done = extract_archive(archive, out, overwrite=True)
    assert done.skipped == [] and not (out / "b.txt").is_symlink()
    assert (tmp_path / "elsewhere.txt").read_bytes() == b"bee"
    assert (out / "c.txt").is_file()
