"""Resume records for chunked uploads (issue #3, docs/protocol.md §3.8).

The Flow protocol has no "how much do you hold?" endpoint, but it is idempotent on the byte
offset: re-sending a chunk with the same ``data`` id and ``expected_file_size`` makes the
server truncate to that offset and append (docs/protocol.md §3.8 REC). So resuming needs only what
this module keeps per upload: where it was going, which local file (identified by absolute
path, size and mtime, so an edited file starts over), the server's data id and the last
offset the server acknowledged. Records are tiny JSON files written atomically under
``config.state_dir/uploads``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

_VERSION = 1


@dataclass(frozen=True, slots=True)
class ResumeRecord:
    """What is needed to continue one file's chunk series where the server is."""

    endpoint: str
    path: str
    size: int
    mtime_ns: int
    filename: str
    data_id: str
    offset: int
    """Bytes the server acknowledged: the ``expected_file_size`` of the next chunk."""
    complete: bool = False
    """The last chunk was acknowledged; ``response`` holds the final answer."""
    response: dict[str, Any] = field(default_factory=dict)

    def advanced(self, data_id: str, offset: int) -> ResumeRecord:
        """The record after the server acknowledged bytes up to ``offset``."""
        return replace(self, data_id=data_id, offset=offset)


def upload_key(
    *,
    server: str,
    endpoint: str,
    path: Path,
    filename: str,
    fields: Mapping[str, str | Sequence[str]],
) -> str:
    """A stable name for one logical upload: same server, file, name and fields."""
    canonical = json.dumps(
        {
            "server": server,
            "endpoint": endpoint,
            "path": str(path),
            "filename": filename,
            "fields": {k: v if isinstance(v, str) else list(v) for k, v in fields.items()},
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


class ResumeStore:
    """Load, save and forget resume records in one directory.

    Example:
        ```python
        store = ResumeStore(config.state_dir)
        record = store.load(key, path)
        ```
    """

    def __init__(self, state_dir: Path) -> None:
        self.directory = Path(state_dir) / "uploads"

    def _file(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def load(self, key: str, path: Path) -> ResumeRecord | None:
        """The record for ``key`` if it still describes ``path`` as it is on disk now."""
        try:
            raw = json.loads(self._file(key).read_text(encoding="utf-8"))
            if raw.pop("version", None) != _VERSION:
                return None
            record = ResumeRecord(**raw)
            stat = path.stat()
        except (OSError, ValueError, TypeError):
            return None
        if record.size != stat.st_size or record.mtime_ns != stat.st_mtime_ns:
            # The file changed since the bytes were sent: the server copy is stale.
            self.forget(key)
            return None
        return record

    def save(self, key: str, record: ResumeRecord) -> None:
        """Write ``record`` atomically (a crash leaves the old or the new record, never half)."""
        payload = json.dumps({"version": _VERSION, **asdict(record)})
        # One writer per key and process (upload_many refuses duplicates), so a fixed
        # temporary name is enough; this runs after every chunk, so it stays cheap.
        tmp = self.directory / f".{key}.{os.getpid()}.tmp"
        try:
            try:
                tmp.write_text(payload, encoding="utf-8")
            except FileNotFoundError:
                self.directory.mkdir(parents=True, exist_ok=True)
                tmp.write_text(payload, encoding="utf-8")
            tmp.replace(self._file(key))
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def forget(self, key: str) -> None:
        """Remove the record for ``key`` if there is one."""
        with contextlib.suppress(FileNotFoundError):
            self._file(key).unlink()
