"""``files list|upload|download|delete``: the workspace Files API (docs/protocol.md §7, seed
004)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from flowbio_async._cli._command import Invocation, Run, Verbs


def register(verbs: Verbs) -> None:
    """Add the ``files`` group."""
    files = verbs.group("files", "workspace files (Files API)")

    def verb(name: str, run: Run, help_text: str) -> argparse.ArgumentParser:
        parser = files.add(name, run, help_text)
        parser.add_argument(
            "--workspace", required=True, metavar="ID", help="workspace id, e.g. ws_abc123"
        )
        return parser

    listing = verb("list", _list, "list files in a workspace")
    listing.add_argument("--prefix", metavar="PREFIX", help="only keys under PREFIX, e.g. raw/")
    listing.add_argument(
        "--limit", type=whole_number, metavar="N", help="at most N files (default: every file)"
    )

    upload = verb("upload", _upload, "upload a file (presigned upload above 500 MB)")
    upload.add_argument("path", type=Path, metavar="PATH")
    upload.add_argument("--path", dest="folder", metavar="FOLDER", help="folder, e.g. raw/")
    upload.add_argument("--description", metavar="TEXT")

    download = verb("download", _download, "download a file by key")
    download.add_argument("key", metavar="KEY")
    download.add_argument(
        # Kept as text: a trailing "/" means "a folder", which Path() would drop.
        "--dest",
        default=".",
        metavar="PATH",
        help="file, or folder ending in / (default .)",
    )
    download.add_argument(
        "--overwrite", action="store_true", help="replace a file already at the destination"
    )

    delete = verb("delete", _delete, "delete a file by key")
    delete.add_argument("key", metavar="KEY")


FILE_COLUMNS = [("key", "Key"), ("name", "Name"), ("size", "Bytes")]


def whole_number(text: str) -> int:
    """``--limit``: a whole number, 0 or more (argparse turns ValueError into a usage error)."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


async def _list(inv: Invocation) -> int:
    args = inv.args
    options: dict[str, Any] = {}
    if args.prefix is not None:
        options["prefix"] = args.prefix
    if args.limit is not None:
        options["limit"] = args.limit
    files = await inv.client.files.list(workspace_id=args.workspace, **options)
    inv.output.table([f.model_dump(mode="json") for f in files], FILE_COLUMNS)
    return 0


async def _upload(inv: Invocation) -> int:
    args = inv.args
    uploaded = await inv.client.files.upload(
        args.path, workspace_id=args.workspace, path=args.folder, description=args.description
    )
    inv.output.result(uploaded, f"Uploaded {args.path} as {uploaded.key}")
    return 0


async def _download(inv: Invocation) -> int:
    args = inv.args
    saved = await inv.client.files.download(
        args.key, workspace_id=args.workspace, dest=args.dest, overwrite=args.overwrite
    )
    inv.output.result({"key": args.key, "path": str(saved)}, f"Saved {args.key} to {saved}")
    return 0


async def _delete(inv: Invocation) -> int:
    args = inv.args
    await inv.client.files.delete(args.key, workspace_id=args.workspace)
    inv.output.result({"key": args.key, "deleted": True}, f"Deleted {args.key}")
    return 0
