"""Models of the workspace Files API (seed 004, docs/protocol.md §7).

The seed's examples index results like dicts (``result["key"]``, ``info["uploadUrl"]``), so
these models also answer ``model["name"]`` by field name or wire alias.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

from flowbio_async._models._base import FlowModel, Timestamp


class _Indexable(FlowModel):
    def __getitem__(self, name: str) -> Any:
        for field_name, info in type(self).model_fields.items():
            aliases = info.validation_alias
            names = {field_name}
            if isinstance(aliases, AliasChoices):
                names.update(str(a) for a in aliases.choices)
            if name in names:
                return getattr(self, field_name)
        extra = self.model_extra or {}
        if name in extra:
            return extra[name]
        raise KeyError(name)


class WorkspaceFile(_Indexable):
    """A file stored in a workspace (metadata only).

    Example:
        ```python
        for f in await client.files.list(workspace_id="ws_abc123"):
            print(f.name, f.size, f.key)
        ```
    """

    key: str
    name: str = ""
    size: int = 0
    workspace_id: str | None = None
    content_type: str | None = None
    description: str | None = None
    created: Timestamp = None


class LargeUploadTicket(_Indexable):
    """Step 1 of a large upload: where to ``PUT`` the bytes and the key to confirm.

    Accepts ``uploadUrl``/``upload_url`` and ``fileKey``/``file_key`` (docs/protocol.md §8 row 31).

    Example:
        ```python
        ticket = await client.files.upload_large(
            filename="genome.bam", workspace_id="ws_abc123", size=size
        )
        print(ticket.file_key, ticket["uploadUrl"])
        ```
    """

    upload_url: str = Field(validation_alias=AliasChoices("uploadUrl", "upload_url"))
    file_key: str = Field(validation_alias=AliasChoices("fileKey", "file_key"))
    expires_in: int | None = None


class DownloadLink(_Indexable):
    """A presigned URL for a workspace file's bytes (valid about an hour, seed 004)."""

    url: str = Field(validation_alias=AliasChoices("url", "download_url", "downloadUrl"))
    expires_in: int | None = None
