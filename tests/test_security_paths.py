"""Hostile names from the server and hostile archives never write outside the destination.

Real server rows with traversal file names (issue #7 "path traversal"), zip and tar archives
with ``..``, absolute paths and links ("zip-slip"), and the CLI token file's permissions.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from download_helpers import add_file, client_for

from flowbio_async import UnsafePathError
from flowbio_async._cli._tokenfile import write_token_file
from flowbio_async._transfers._extract import extract_archive
from flowbio_async.testing import FlowServer

HOSTILE_NAMES = ["../escaped.bin", "..", "sub/../../escaped.bin", "/etc/escaped.bin", "C:evil.bin"]


def _everything(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.anyio
@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_server_file_name_cannot_escape_the_download_directory(
    flow_server: FlowServer, tmp_path: Path, name: str
) -> None:
    data_id = add_file(flow_server, b"payload", name)
    dest = tmp_path / "inbox" / "deeper"
    dest.mkdir(parents=True)
    before = _everything(tmp_path)
    async with client_for(flow_server, tmp_path / "client") as client:
        with pytest.raises(UnsafePathError):
            await client.data.download(data_id, dest)
        report = await client.data.download_many([data_id], dest)
    assert isinstance(report.failed[0].error, UnsafePathError)
    created = _everything(tmp_path) - before
    assert all(p.is_relative_to(tmp_path / "client") for p in created), created


def _zip(entries: list[tuple[str, bytes, int | None]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def _tar(entries: list[tarfile.TarInfo]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info in entries:
            data = b"x" * info.size
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = 3 if kind == tarfile.REGTYPE else 0
    return info


SLIPS = {
    "zip dot-dot": _zip([("ok.txt", b"fine", None), ("../slip.txt", b"evil", None)]),
    "zip absolute": _zip([("ok.txt", b"fine", None), ("/tmp/slip.txt", b"evil", None)]),
    "zip symlink": _zip([("link", b"/etc/passwd", stat.S_IFLNK | 0o777), ("ok.txt", b"x", None)]),
    "zip backslash": _zip([("ok.txt", b"fine", None), ("..\\slip.txt", b"evil", None)]),
    "tar dot-dot": _tar([_member("ok.txt"), _member("a/../../slip.txt")]),
    "tar symlink": _tar([_member("link", tarfile.SYMTYPE, "/etc"), _member("link/passwd")]),
    "tar hardlink": _tar([_member("ok.txt"), _member("hard", tarfile.LNKTYPE, "/etc/passwd")]),
    "tar device": _tar([_member("dev", tarfile.CHRTYPE)]),
}


@pytest.mark.parametrize("case", sorted(SLIPS))
def test_archive_slips_are_refused_before_anything_is_written(tmp_path: Path, case: str) -> None:
    archive = tmp_path / "bundle.bin"
    archive.write_bytes(SLIPS[case])
    target = tmp_path / "out"
    with pytest.raises(UnsafePathError):
        extract_archive(archive, target)
    assert not target.exists() or not any(target.iterdir())  # checked first, nothing written
    assert _everything(tmp_path) <= {archive, target}


def test_token_file_is_0600_even_over_a_world_readable_file_and_a_zero_umask(
    tmp_path: Path,
) -> None:
    path = tmp_path / "flow" / "api-token"
    path.parent.mkdir(mode=0o755)
    path.write_text("old")
    path.chmod(0o644)
    previous = os.umask(0)
    try:
        write_token_file(path, "access-token-value", "refresh-token-value")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["api-token"]  # no temp left
    fresh = tmp_path / "new" / "dir" / "api-token"
    write_token_file(fresh, "t", None)
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700
