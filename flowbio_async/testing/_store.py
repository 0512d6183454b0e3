"""SQLite metadata plus a blob directory: the local server's persistent state.

Layout under ``data_dir``: ``flow.sqlite3`` (WAL mode), ``blobs/<data_id>`` (finished file
bytes), ``uploads/<data_id>.part`` (uploads in progress), ``archives/`` (bulk download jobs).
Ids are integer primary keys, serialised as strings on the wire (docs/protocol.md §1.2). One
connection is shared under a lock: every statement is short, and granian runs one worker.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

Row = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, password_hash TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '', image TEXT,
    is_admin INTEGER NOT NULL DEFAULT 0, can_run_pipelines INTEGER NOT NULL DEFAULT 1,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sample_types (
    identifier TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS metadata_attributes (
    identifier TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    required INTEGER NOT NULL DEFAULT 0, has_options INTEGER NOT NULL DEFAULT 0,
    allow_user_terms INTEGER NOT NULL DEFAULT 0, regex_validator TEXT,
    in_table INTEGER NOT NULL DEFAULT 1, is_list INTEGER NOT NULL DEFAULT 0,
    url_pattern TEXT, ordering INTEGER NOT NULL DEFAULT 0,
    all_sample_types INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS metadata_links (
    attribute TEXT NOT NULL, sample_type TEXT NOT NULL, required INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (attribute, sample_type)
);
CREATE TABLE IF NOT EXISTS metadata_options (
    id INTEGER PRIMARY KEY, attribute TEXT NOT NULL, value TEXT NOT NULL,
    validated INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS organisms (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, latin_name TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS data_types (
    identifier TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    owner INTEGER NOT NULL, private INTEGER NOT NULL DEFAULT 1, created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, owner INTEGER NOT NULL, project INTEGER,
    sample_type TEXT, organism TEXT, private INTEGER NOT NULL DEFAULT 1, pubmed TEXT,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sample_metadata (
    sample INTEGER NOT NULL, attribute TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (sample, attribute)
);
CREATE TABLE IF NOT EXISTS executions (
    id INTEGER PRIMARY KEY, identifier TEXT NOT NULL, pipeline_name TEXT NOT NULL,
    pipeline_version TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'OK',
    owner INTEGER NOT NULL, sample INTEGER, project INTEGER,
    private INTEGER NOT NULL DEFAULT 1, created INTEGER NOT NULL,
    started REAL, finished REAL,
    pipeline_id INTEGER, pipeline_version_id INTEGER, nextflow_version TEXT NOT NULL DEFAULT '',
    stdout TEXT NOT NULL DEFAULT '', stderr TEXT NOT NULL DEFAULT '', retries INTEGER
);
CREATE TABLE IF NOT EXISTS data (
    id INTEGER PRIMARY KEY, filename TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0,
    md5 TEXT, category INTEGER NOT NULL DEFAULT 1, data_type TEXT,
    is_directory INTEGER NOT NULL DEFAULT 0, owner INTEGER NOT NULL, sample INTEGER,
    project INTEGER, execution INTEGER, process_name TEXT, path TEXT,
    private INTEGER NOT NULL DEFAULT 1, created INTEGER NOT NULL,
    ready INTEGER NOT NULL DEFAULT 1, blob TEXT
);
CREATE INDEX IF NOT EXISTS data_sample ON data (sample);
CREATE INDEX IF NOT EXISTS data_execution ON data (execution);
CREATE TABLE IF NOT EXISTS upload_sessions (
    data_id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, endpoint TEXT NOT NULL,
    filename TEXT NOT NULL, offset INTEGER NOT NULL DEFAULT 0,
    extra TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bulk_jobs (
    id TEXT PRIMARY KEY, owner INTEGER NOT NULL, name TEXT, by_execution INTEGER NOT NULL DEFAULT 0,
    data_ids TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL DEFAULT 'pending',
    progress INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, started INTEGER,
    finished INTEGER, error TEXT, archive TEXT, size INTEGER, expires INTEGER
);
CREATE TABLE IF NOT EXISTS workspace_files (
    id INTEGER PRIMARY KEY, workspace_id TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0, content_type TEXT, description TEXT,
    owner INTEGER NOT NULL, created INTEGER NOT NULL, blob TEXT,
    confirmed INTEGER NOT NULL DEFAULT 1,
    UNIQUE (workspace_id, key)
);
"""

#: Columns added after a table was first released: a data dir made by an older version
#: gains them when opened (``CREATE TABLE IF NOT EXISTS`` leaves existing tables alone).
_ADDED_COLUMNS = (
    # /executions/search filters (#15 items 5, 7, 10)
    ("executions", "pipeline_id", "INTEGER"),
    ("executions", "pipeline_version_id", "INTEGER"),
    ("executions", "nextflow_version", "TEXT NOT NULL DEFAULT ''"),
    ("executions", "stdout", "TEXT NOT NULL DEFAULT ''"),
    ("executions", "stderr", "TEXT NOT NULL DEFAULT ''"),
    ("executions", "retries", "INTEGER"),
)

_DATA_COLUMNS = [
    "filename",
    "size",
    "md5",
    "category",
    "data_type",
    "is_directory",
    "owner",
    "sample",
    "project",
    "execution",
    "process_name",
    "path",
    "private",
    "created",
    "ready",
    "blob",
]


def hash_password(password: str, *, salt: str | None = None) -> str:
    """Return ``salt$hex`` (PBKDF2-SHA256; few rounds: this is a test server)."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 2000)
    return f"{salt}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Constant-time comparison of ``password`` with a :func:`hash_password` value."""
    salt, _, _ = stored.partition("$")
    return secrets.compare_digest(hash_password(password, salt=salt), stored)


class Store:
    """Typed access to the server's SQLite database and blob directory.

    Example:
        ```python
        store = Store("/tmp/flow-data")
        user = store.create_user("alice", "secret")
        data = store.create_data(filename="a.txt", owner=user["id"])
        store.blob_path(data["id"]).write_bytes(b"hi")
        ```
    """

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        for sub in ("blobs", "uploads", "archives", "workspace"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._secret: bytes | None = None
        self._db = sqlite3.connect(
            self.data_dir / "flow.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._add_columns()
        self._db.create_function("REGEXP", 2, _regexp, deterministic=True)

    def _add_columns(self) -> None:
        for table, column, declaration in _ADDED_COLUMNS:
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    # -- generic helpers --------------------------------------------------------------------
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return every row as a dict."""
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, params).fetchall()]

    def row(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query and return its first row, or None."""
        with self._lock:
            found = self._db.execute(sql, params).fetchone()
        return dict(found) if found is not None else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a query and return the first column of its first row (None if no row)."""
        with self._lock:
            found = self._db.execute(sql, params).fetchone()
        return found[0] if found is not None else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a write statement; returns ``lastrowid``."""
        with self._lock:
            cursor = self._db.execute(sql, params)
            return int(cursor.lastrowid or 0)

    def insert(self, table: str, values: dict[str, Any]) -> int:
        """Insert one row (column names come from code, never from requests)."""
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        return self.execute(
            f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608
            list(values.values()),
        )

    def update(self, table: str, key: str, key_value: Any, values: dict[str, Any]) -> None:
        """Update one row by key (column names come from code, never from requests)."""
        if not values:
            return
        assignments = ", ".join(f"{name} = ?" for name in values)
        self.execute(
            f"UPDATE {table} SET {assignments} WHERE {key} = ?",  # noqa: S608
            [*values.values(), key_value],
        )

    # -- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """Return a stored server-wide value (e.g. the JWT secret)."""
        value = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        """Store a server-wide value."""
        self.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def secret(self) -> bytes:
        """The JWT signing key, created once and kept so tokens survive a restart."""
        if self._secret is None:
            with self._lock:
                value = self.get_meta("jwt_secret")
                if value is None:
                    value = secrets.token_hex(32)
                    self.set_meta("jwt_secret", value)
                self._secret = bytes.fromhex(value)
        return self._secret

    # -- users ------------------------------------------------------------------------------
    def create_user(
        self, username: str, password: str, *, name: str = "", email: str = "", **extra: Any
    ) -> Row:
        """Create a user and return its row."""
        user_id = self.insert(
            "users",
            {
                "username": username,
                "password_hash": hash_password(password),
                "name": name or username.title(),
                "email": email or f"{username}@example.org",
                "created": int(time.time()),
                **extra,
            },
        )
        return self.get_user(user_id) or {}

    def get_user(self, user_id: int | str) -> Row | None:
        """Return a user by id."""
        return self.row("SELECT * FROM users WHERE id = ?", (_int(user_id),))

    def get_user_by_username(self, username: str) -> Row | None:
        """Return a user by username."""
        return self.row("SELECT * FROM users WHERE username = ?", (username,))

    def authenticate(self, username: str, password: str) -> Row | None:
        """Return the user if ``password`` matches, else None."""
        user = self.get_user_by_username(username)
        if user is None or not check_password(password, user["password_hash"]):
            return None
        return user

    # -- data -------------------------------------------------------------------------------
    def create_data(self, *, filename: str, owner: int, **values: Any) -> Row:
        """Create a data row (``ready`` defaults to 1) and return it."""
        unknown = set(values) - set(_DATA_COLUMNS)
        if unknown:
            raise ValueError(f"unknown data columns: {sorted(unknown)}")
        row = {"filename": filename, "owner": owner, "created": int(time.time()), **values}
        data_id = self.insert("data", row)
        return self.get_data(data_id) or {}

    def get_data(self, data_id: int | str) -> Row | None:
        """Return a data row by id (including not-ready rows), or None."""
        key = _int(data_id)
        return None if key is None else self.row("SELECT * FROM data WHERE id = ?", (key,))

    def update_data(self, data_id: int | str, **values: Any) -> None:
        """Update columns of a data row."""
        unknown = set(values) - set(_DATA_COLUMNS)
        if unknown:
            raise ValueError(f"unknown data columns: {sorted(unknown)}")
        self.update("data", "id", _int(data_id), values)

    def blob_path(self, data_id: int | str) -> Path:
        """Where the finished bytes of a data row live."""
        return self.data_dir / "blobs" / str(_int(data_id))

    def upload_path(self, data_id: int | str) -> Path:
        """Where the bytes of an upload in progress live."""
        return self.data_dir / "uploads" / f"{_int(data_id)}.part"

    def write_blob(self, data_id: int | str, content: bytes) -> None:
        """Store finished bytes for a data row and record their size and md5."""
        self.blob_path(data_id).write_bytes(content)
        self.update_data(
            data_id,
            size=len(content),
            md5=hashlib.md5(content, usedforsecurity=False).hexdigest(),
            blob=str(_int(data_id)),
        )

    # -- upload sessions --------------------------------------------------------------------
    def create_upload_session(
        self,
        data_id: int,
        *,
        owner: int,
        endpoint: str,
        filename: str,
        extra: dict[str, Any] | None = None,
    ) -> Row:
        """Start tracking a chunked upload (docs/protocol.md §3.2)."""
        now = time.time()
        self.insert(
            "upload_sessions",
            {
                "data_id": data_id,
                "owner": owner,
                "endpoint": endpoint,
                "filename": filename,
                "offset": 0,
                "extra": json.dumps(extra or {}),
                "created": now,
                "updated": now,
            },
        )
        return self.get_upload_session(data_id) or {}

    def get_upload_session(self, data_id: int | str) -> Row | None:
        """Return an upload session (``extra`` decoded), or None."""
        key = _int(data_id)
        found = (
            None
            if key is None
            else self.row("SELECT * FROM upload_sessions WHERE data_id = ?", (key,))
        )
        if found is not None:
            found["extra"] = json.loads(found["extra"])
        return found

    def update_upload_session(self, data_id: int | str, **values: Any) -> None:
        """Update an upload session (``extra`` is JSON-encoded for you)."""
        if "extra" in values:
            values["extra"] = json.dumps(values["extra"])
        values["updated"] = time.time()
        self.update("upload_sessions", "data_id", _int(data_id), values)

    def delete_upload_session(self, data_id: int | str) -> None:
        """Forget an upload session (its data row stays)."""
        self.execute("DELETE FROM upload_sessions WHERE data_id = ?", (_int(data_id),))

    # -- other lookups used by several route modules ----------------------------------------
    def get_project(self, project_id: int | str) -> Row | None:
        """Return a project row by id."""
        key = _int(project_id)
        return None if key is None else self.row("SELECT * FROM projects WHERE id = ?", (key,))

    def get_sample(self, sample_id: int | str) -> Row | None:
        """Return a sample row by id."""
        key = _int(sample_id)
        return None if key is None else self.row("SELECT * FROM samples WHERE id = ?", (key,))

    def get_execution(self, execution_id: int | str) -> Row | None:
        """Return an execution row by id."""
        key = _int(execution_id)
        return None if key is None else self.row("SELECT * FROM executions WHERE id = ?", (key,))

    def execution_outputs(self, execution_id: int | str) -> list[Row]:
        """Data rows produced by an execution, in path order."""
        return self.rows(
            "SELECT * FROM data WHERE execution = ? AND ready = 1 ORDER BY path, id",
            (_int(execution_id),),
        )

    def sample_data(self, sample_id: int | str) -> list[Row]:
        """Data rows attached to a sample (raw inputs and outputs), oldest first."""
        return self.rows(
            "SELECT * FROM data WHERE sample = ? AND ready = 1 ORDER BY id", (_int(sample_id),)
        )

    def get_bulk_job(self, job_id: str) -> Row | None:
        """Return a bulk download job (``data_ids`` decoded), or None."""
        found = self.row("SELECT * FROM bulk_jobs WHERE id = ?", (job_id,))
        if found is not None:
            found["data_ids"] = json.loads(found["data_ids"])
        return found

    def many(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows, in one transaction."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, seq)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


def _regexp(pattern: str, value: str | None) -> bool:
    """SQLite's ``REGEXP`` operator (``value REGEXP pattern``), used by ``/data/search``."""
    return value is not None and re.search(pattern, value) is not None


def _int(value: int | str | None) -> int | None:
    """Parse an id from the wire; None when it is not an integer."""
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
