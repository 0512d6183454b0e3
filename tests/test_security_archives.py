"""Issue #14 items 2, 4 and 8: archives that bomb, clash, lie or lead through links.

Every refusal happens before the first byte is written; each one is a ``FlowError``.
"""

from __future__ import annotations

import io
import stat
import warnings
import zipfile
from pathlib import Path

import pytest
from hostile_helpers import Answer, Hostile, hostile_server

from flowbio_async import (
    ArchiveLimitError,
    AsyncClient,
    ClientConfig,
    DestinationExistsError,
    FlowError,
    IntegrityError,
    TokenCredentials,
    UnsafePathError,
)
from flowbio_async._transfers._extract import ArchiveLimits, extract_archive

MiB = 1024 * 1024


def _zip(entries: list[tuple[str, bytes]], *, mode: int | None = None, flags: int = 0) -> bytes:
    """A deflated zip; ``flags`` are or-ed into every header's general purpose bits."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names: we want them
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            for name, content in entries:
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                if mode is not None:
                    info.external_attr = mode << 16
                zipped.writestr(info, content)
    data = bytearray(buffer.getvalue())
    # zipfile clears the flags it writes; set them in the local (offset 6) and central
    # directory (offset 8) headers, as an encrypting tool would.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while flags and at >= 0:
            data[at + offset] |= flags
            at = data.find(signature, at + 4)
    return bytes(data)


def _bomb() -> bytes:
    """The report's archive: about 81 KB that expand to 80 MiB of zeros."""
    return _zip([("zeros.bin", bytes(80 * MiB))])


def _nothing_written(target: Path) -> bool:
    return not target.exists() or not any(target.rglob("*"))


def _extract(tmp_path: Path, payload: bytes, **kwargs: object) -> Path:
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(payload)
    target = tmp_path / "out"
    extract_archive(archive, target, **kwargs)  # type: ignore[arg-type]
    return target


# -- item 8: bombs and limits -----------------------------------------------------------------
def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    bomb = _bomb()
    assert len(bomb) < 100_000
    with pytest.raises(ArchiveLimitError, match="archive_max_ratio"):
        _extract(tmp_path, bomb)
    assert _nothing_written(tmp_path / "out")
    # The limit is the caller's to raise: the same archive then extracts.
    out = _extract(tmp_path, bomb, limits=ArchiveLimits(max_ratio=5000))
    assert (out / "zeros.bin").stat().st_size == 80 * MiB


def test_total_size_and_entry_count_limits(tmp_path: Path) -> None:
    archive = _zip([(f"f{i}.txt", b"x" * 600) for i in range(3)])
    with pytest.raises(ArchiveLimitError, match="archive_max_bytes"):
        _extract(tmp_path, archive, limits=ArchiveLimits(max_bytes=1000))
    with pytest.raises(ArchiveLimitError, match="archive_max_entries"):
        _extract(tmp_path, archive, limits=ArchiveLimits(max_entries=2))
    assert _nothing_written(tmp_path / "out")
    out = _extract(tmp_path, archive, limits=ArchiveLimits(max_bytes=1800, max_entries=3))
    assert sorted(p.name for p in out.iterdir()) == ["f0.txt", "f1.txt", "f2.txt"]


def test_small_archives_may_compress_well(tmp_path: Path) -> None:
    # Below 64 MiB expanded the ratio does not apply: a small file of zeros is no bomb.
    out = _extract(tmp_path, _zip([("zeros.bin", bytes(8 * MiB))]))
    assert (out / "zeros.bin").stat().st_size == 8 * MiB


def test_config_limits_are_validated() -> None:
    for bad in ({"archive_max_ratio": 0}, {"archive_max_ratio": float("nan")}):
        with pytest.raises(FlowError):
            ClientConfig(**bad)  # type: ignore[arg-type]
    with pytest.raises(FlowError):
        ClientConfig(archive_max_entries=0)


def _bulk(hostile: Hostile, archive: bytes) -> None:
    job = {
        "id": "j1",
        "status": "completed",
        "name": "bundle.zip",
        "download_url": f"{hostile.base}/storage/bundle.zip",
        "size": len(archive),
    }
    hostile.routes["/api/downloads"] = lambda seen: Answer.json(job)
    hostile.routes["/storage/"] = lambda seen: Answer(body=archive)


@pytest.mark.anyio
async def test_bulk_download_with_extract_refuses_a_bomb_and_keeps_the_archive(
    tmp_path: Path,
) -> None:
    bomb = _bomb()
    dest = tmp_path / "dataset"
    with hostile_server() as hostile:
        _bulk(hostile, bomb)
        config = ClientConfig(show_progress=False)
        async with AsyncClient(hostile.api, config) as client:
            await client.log_in(TokenCredentials("hostile-test-token"), verify=False)
            with pytest.raises(ArchiveLimitError):
                await client.downloads.download(["1"], dest, extract=True)
        assert [p.name for p in dest.iterdir()] == ["bundle.zip"]  # kept for inspection
        (dest / "bundle.zip").unlink()
        generous = ClientConfig(show_progress=False, archive_max_ratio=5000)
        async with AsyncClient(hostile.api, generous) as client:
            await client.log_in(TokenCredentials("hostile-test-token"), verify=False)
            done = await client.downloads.download(["1"], dest, extract=True)
    assert [p.name for p in done.files] == ["zeros.bin"]
    assert (dest / "zeros.bin").stat().st_size == 80 * MiB


# -- item 8: duplicates; item 4: clashes and long names ---------------------------------------
@pytest.mark.parametrize(
    "entries",
    [
        [("a.txt", b"first"), ("a.txt", b"second")],
        [("a.txt", b"first"), ("./a.txt", b"second")],
        [("dir/a.txt", b"first"), ("dir//a.txt", b"second")],
    ],
    ids=["same", "dot", "double-slash"],
)
def test_duplicate_entries_are_refused(tmp_path: Path, entries: list[tuple[str, bytes]]) -> None:
    with pytest.raises(UnsafePathError, match="two entries"):
        _extract(tmp_path, _zip(entries))
    assert _nothing_written(tmp_path / "out")


@pytest.mark.parametrize(
    "entries",
    [
        [("x", b"file"), ("x/y", b"inside")],
        [("x/y", b"inside"), ("x", b"file")],
        [("x/", b""), ("x", b"file")],
        [("a/x", b"file"), ("a/x/y/z", b"deep")],
    ],
    ids=["file-then-child", "child-then-file", "folder-entry", "deep"],
)
def test_file_and_folder_clashes_are_refused(
    tmp_path: Path, entries: list[tuple[str, bytes]]
) -> None:
    with pytest.raises(UnsafePathError, match="both as a file and as a folder"):
        _extract(tmp_path, _zip(entries))
    assert _nothing_written(tmp_path / "out")


def test_a_file_where_the_archive_wants_a_folder_is_a_typed_refusal(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "x").write_bytes(b"mine")
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(_zip([("x/y", b"theirs")]))
    with pytest.raises(DestinationExistsError, match="not a folder"):
        extract_archive(archive, out, overwrite=True)
    (out / "x").unlink()
    (out / "y").mkdir()
    archive.write_bytes(_zip([("y", b"theirs")]))
    with pytest.raises(DestinationExistsError, match="is a folder"):
        extract_archive(archive, out, overwrite=True)
    assert (out / "y").is_dir()


def test_a_300_character_entry_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="longer than 255 bytes"):
        _extract(tmp_path, _zip([("ok.txt", b"fine"), ("d/" + "n" * 300, b"long")]))
    assert _nothing_written(tmp_path / "out")


@pytest.mark.parametrize(
    ("mode", "flags"),
    [(stat.S_IFIFO | 0o644, 0), (stat.S_IFCHR | 0o644, 0), (stat.S_IFREG | 0o644, 0x1)],
    ids=["fifo", "device", "encrypted"],
)
def test_special_zip_entries_are_refused(tmp_path: Path, mode: int, flags: int) -> None:
    with pytest.raises(UnsafePathError):
        _extract(tmp_path, _zip([("odd", b"x")], mode=mode, flags=flags))
    assert _nothing_written(tmp_path / "out")


# -- item 2: through a planted link -----------------------------------------------------------
def test_no_extraction_through_an_existing_symlinked_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(outside, target_is_directory=True)
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(_zip([("ok.txt", b"fine"), ("sub/evil.txt", b"evil")]))
    with pytest.raises(UnsafePathError, match="symbolic link"):
        extract_archive(archive, out, overwrite=True)
    assert list(outside.iterdir()) == [] and not (out / "ok.txt").exists()


def test_an_existing_link_at_a_file_name_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").symlink_to(victim)
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(_zip([("a.txt", b"from the archive")]))
    with pytest.raises(DestinationExistsError):
        extract_archive(archive, out)  # a link is an existing file: not replaced unasked
    extract_archive(archive, out, overwrite=True)
    assert victim.read_bytes() == b"precious"
    assert not (out / "a.txt").is_symlink() and (out / "a.txt").read_bytes() == b"from the archive"


def test_a_damaged_archive_replaces_no_existing_file_even_with_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_bytes(b"mine")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zipped:
        zipped.writestr("a.txt", b"theirs")
        zipped.writestr("b.txt", b"y" * 1000)
    data = bytearray(buffer.getvalue())
    data[data.find(b"y" * 1000) + 500] ^= 0xFF  # b.txt fails its CRC-32, after a.txt was read
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        extract_archive(archive, out, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["a.txt"]  # no temporaries, no b.txt
    assert (out / "a.txt").read_bytes() == b"mine"  # not replaced by a half-good archive
