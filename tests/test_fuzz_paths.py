"""Fuzzing server-provided names: file names, relative paths, folder names, archive entries.

Whatever a hostile or buggy server sends, the result is refused with ``UnsafePathError`` or
lands inside the destination the user chose (issue #7 "server-provided file names").
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowbio_async import FlowError, UnsafePathError
from flowbio_async._resources._download_support import destination
from flowbio_async._transfers._extract import extract_archive
from flowbio_async._transfers._paths import (
    folder_name,
    safe_filename,
    safe_join,
)

FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # tmp_path is only a parent directory

# Text biased towards the characters that make paths dangerous.
pieces = st.sampled_from([*"ab./\\:~\x00 C\u202eé", "..", "/..", "\\..", "C:", "../"])
nasty = st.lists(pieces, max_size=12).map("".join) | st.text(max_size=24)


def _inside(root: Path, path: Path) -> bool:
    base = os.path.normpath(root.absolute())
    return os.path.commonpath([base, os.path.normpath(path.absolute())]) == base


@settings(deadline=None, max_examples=400)
@given(nasty)
def test_safe_filename_is_one_plain_component_or_refused(name: str) -> None:
    try:
        result = safe_filename(name)
    except UnsafePathError:
        return
    assert result == name
    assert "/" not in result and "\\" not in result and "\x00" not in result
    assert result not in {"", ".", ".."}
    assert Path(result).name == result


@settings(
    deadline=None,
    max_examples=400,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(relative=nasty)
def test_safe_join_stays_under_the_root_or_refuses(tmp_path: Path, relative: str) -> None:
    root = tmp_path / "dest"
    try:
        target = safe_join(root, relative)
    except UnsafePathError:
        return
    assert _inside(root, target) and target != root


@settings(deadline=None)  # no timing under a loaded CI machine
@given(name=nasty, fallback=st.from_regex(r"\A[0-9]{1,6}\Z"))
def test_folder_name_is_always_a_usable_component(name: str, fallback: str) -> None:
    folder = folder_name(name, fallback)
    assert folder not in {"", ".", ".."}
    assert "/" not in folder and "\\" not in folder and "\x00" not in folder


@settings(
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(filename=nasty)
def test_download_destination_for_a_server_name_stays_in_the_directory(
    tmp_path: Path, filename: str
) -> None:
    directory = tmp_path / "downloads"
    directory.mkdir(exist_ok=True)
    try:
        dest = destination(directory, filename)
    except UnsafePathError:
        return
    assert dest.parent == directory


@settings(max_examples=150, deadline=None)
@pytest.mark.filterwarnings("ignore:Duplicate name")  # zipfile normalises "C:x" and "x" alike
@given(names=st.lists(nasty.filter(bool), min_size=1, max_size=5, unique=True))
def test_zip_entries_either_all_land_inside_or_nothing_is_written(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = root / "bundle.zip"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zipped:
            for index, name in enumerate(names):
                zipped.writestr(zipfile.ZipInfo(name), f"entry {index}")
        archive.write_bytes(buffer.getvalue())
        target = root / "out"
        written: list[Path] = []
        try:
            written = extract_archive(archive, target).files
        except UnsafePathError:
            # Refused names, duplicates and file/folder clashes: all before any byte (#14).
            assert not target.exists() or not any(target.rglob("*"))
            return
        for path in written:
            assert _inside(target, path)
        outside = [p for p in root.rglob("*") if p != archive and not _inside(target, p)]
        assert outside == []


def _sample_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("dir/a.txt", b"alpha " * 200)
        zipped.writestr("b.txt", b"beta")
        zipped.writestr("dir/sub/", b"")
    return buffer.getvalue()


SAMPLE_ZIP = _sample_zip()


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(SAMPLE_ZIP) - 1), st.integers(0, 255)), min_size=1, max_size=6
    ),
    cut=st.none() | st.integers(4, len(SAMPLE_ZIP)),
)
def test_damaged_zips_fail_typed_and_leave_nothing_outside(
    edits: list[tuple[int, int]], cut: int | None
) -> None:
    """Flipped bytes anywhere (headers, sizes, names, data) and truncation (#14 item 4)."""
    data = bytearray(SAMPLE_ZIP)
    for at, value in edits:
        data[at] = value
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = root / "bundle.zip"
        archive.write_bytes(bytes(data[:cut]))
        target = root / "out"
        try:
            written = extract_archive(archive, target).files
        except FlowError:
            written = []
        assert all(_inside(target, path) for path in written)
        outside = [p for p in root.rglob("*") if p != archive and not _inside(target, p)]
        assert outside == []
