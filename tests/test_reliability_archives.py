"""A bulk archive damaged in transit is a typed error, leaves nothing behind, and resumes.

Bulk archives carry no md5 (docs/protocol.md §5.3), so a corrupted byte is only caught by the zip's
own CRC-32 at extraction. Found by the chaos matrix (issue #7): it used to escape as
``zipfile.BadZipFile`` and leave the damaged archive and a half-checked file on disk.
"""

from __future__ import annotations

import gzip
import io
import random
import tarfile
import zipfile
from pathlib import Path

import pytest
from download_helpers import add_file, client_for, payload

from flowbio_async import IntegrityError
from flowbio_async._transfers._extract import extract_archive
from flowbio_async.testing import FlowServer

ARCHIVE = r"^/(api|files)/downloads/[0-9a-f-]{36}$"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_bad_crc_in_a_later_entry_removes_the_files_already_written(tmp_path: Path) -> None:
    raw = bytearray(_zip({"a.bin": b"a" * 1000, "b.bin": b"b" * 1000}))
    raw[raw.index(b"b" * 1000) + 10] ^= 0xFF  # flip one byte inside the second entry's data
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError):
        extract_archive(archive, tmp_path / "out")
    assert list((tmp_path / "out").rglob("*.bin")) == []


def test_truncated_tar_gz_is_an_integrity_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tarred:
        info = tarfile.TarInfo("a.bin")
        info.size = 50_000
        tarred.addfile(info, io.BytesIO(random.Random(1).randbytes(50_000)))
    archive = tmp_path / "bundle.tar.gz"
    compressed = gzip.compress(buffer.getvalue())
    archive.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(IntegrityError):
        extract_archive(archive, tmp_path / "out")
    assert list((tmp_path / "out").rglob("*.bin")) == []


@pytest.mark.anyio
async def test_corrupted_bulk_archive_is_typed_then_finishing_the_job_is_exact(
    flow_server: FlowServer, tmp_path: Path
) -> None:
    contents = {f"part{i}.bin": payload(40_000 + i, seed=i) for i in range(2)}
    ids = [add_file(flow_server, content, name) for name, content in contents.items()]
    dest = tmp_path / "dataset"
    flow_server.reset()
    # Offset 30,100 lands in the first entry's data (stored, after a small local header).
    flow_server.add_fault("corrupt", path=ARCHIVE, bytes=30_100)
    async with client_for(flow_server, tmp_path, bulk_poll_interval=0.02) as client:
        job = await client.downloads.create(ids)
        with pytest.raises(IntegrityError):
            await client.downloads.finish(job, dest, extract=True)
        assert flow_server.faults()[0]["applied"] == 1
        assert sorted(p.name for p in dest.iterdir()) == []  # no archive, no damaged file
        done = await client.downloads.finish(job, dest, extract=True)
    assert {p.name: p.read_bytes() for p in done.files} == contents
