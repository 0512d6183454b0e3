"""Visibility rules and JSON shapes of read endpoints (docs/protocol.md §4, the maintainers' notes).

Visibility: owners see their things; anyone sees public things, and samples, data and
executions of a public project (docs/protocol.md §2.4, §4.5). Data is visible when any parent
(sample, project, producing execution) is public (data.md ``GET /data/<id>``).

Filesets: a sample's raw inputs (its data not produced by an execution) are its one fileset,
whose id and name are the sample's (``/samples/<id>`` inlines it under that id).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from flowbio_async.testing._store import Row, Store

PUBLIC_PROJECTS = "(SELECT id FROM projects WHERE private = 0)"
PROJECT_VISIBLE = "(p.private = 0 OR p.owner = ?)"
SAMPLE_VISIBLE = f"(s.private = 0 OR s.owner = ? OR s.project IN {PUBLIC_PROJECTS})"
# `s`, `p` and `e` are the data's resolved sample, project and producing execution.
DATA_VISIBLE = (
    "(d.ready = 1 AND (d.private = 0 OR d.owner = ? OR p.private = 0 OR s.private = 0 "
    "OR e.private = 0))"
)
EXECUTION_VISIBLE = f"(e.private = 0 OR e.owner = ? OR e.project IN {PUBLIC_PROJECTS})"

PROJECT_SELECT = (
    "SELECT p.*, u.name AS owner_name, u.username AS owner_username, "
    "(SELECT COUNT(*) FROM samples x WHERE x.project = p.id) AS sample_count, "
    "(SELECT COUNT(*) FROM executions x WHERE x.project = p.id) AS execution_count "
    "FROM projects p JOIN users u ON u.id = p.owner"
)
SAMPLE_SELECT = (
    "SELECT s.*, u.name AS owner_name, u.username AS owner_username, "
    "p.name AS project_name, o.name AS organism_name, st.name AS sample_type_name, "
    "p.private AS project_private, "
    # a fileset (the ready raw inputs) of more than one file (samples.md `is_paired`)
    "(SELECT COUNT(*) FROM data f WHERE f.sample = s.id AND f.execution IS NULL "
    "AND f.ready = 1) >= 2 AS is_paired "
    "FROM samples s JOIN users u ON u.id = s.owner LEFT JOIN projects p ON p.id = s.project "
    "LEFT JOIN organisms o ON o.id = s.organism "
    "LEFT JOIN sample_types st ON st.identifier = s.sample_type"
)
# The sample and project are resolved through the upstream chain (data.md): an output
# without its own sample belongs to its execution's.
DATA_SELECT = (
    "SELECT d.*, u.name AS owner_name, u.username AS owner_username, "
    "s.id AS sample_id, s.name AS sample_name, s.private AS sample_private, "
    "p.id AS project_id, p.name AS project_name, p.private AS project_private, "
    "e.private AS execution_private, e.pipeline_name AS pipeline_name, "
    "dt.name AS data_type_name, dt.description AS data_type_description, "
    "CASE WHEN d.execution IS NULL AND d.sample IS NOT NULL "
    "THEN (SELECT COUNT(*) FROM data f WHERE f.sample = d.sample AND f.execution IS NULL "
    "AND f.ready = 1) ELSE 0 END AS fileset_size "
    "FROM data d JOIN users u ON u.id = d.owner "
    "LEFT JOIN executions e ON e.id = d.execution "
    "LEFT JOIN samples s ON s.id = COALESCE(d.sample, e.sample) "
    "LEFT JOIN projects p ON p.id = COALESCE(d.project, s.project, e.project) "
    "LEFT JOIN data_types dt ON dt.identifier = d.data_type"
)
EXECUTION_SELECT = (
    "SELECT e.*, u.name AS owner_name, u.username AS owner_username, s.name AS sample_name, "
    "s.organism AS organism_id, o.name AS organism_name, r.identifier AS retries_identifier, "
    "(SELECT b.id FROM executions b WHERE b.retries = e.id ORDER BY b.id LIMIT 1) "
    "AS retried_by_id, "
    "(SELECT b.identifier FROM executions b WHERE b.retries = e.id ORDER BY b.id LIMIT 1) "
    "AS retried_by_identifier "
    "FROM executions e JOIN users u ON u.id = e.owner LEFT JOIN samples s ON s.id = e.sample "
    "LEFT JOIN organisms o ON o.id = s.organism LEFT JOIN executions r ON r.id = e.retries"
)


def uid(user: Row | None) -> int:
    """The id used in visibility clauses (-1 for anonymous)."""
    return int(user["id"]) if user else -1


def data_readable(store: Store, data_id: Any, viewer: int) -> bool:
    """Whether ``viewer`` (:func:`uid`) may read the data ``data_id`` by the ``/data/<id>`` rule.

    One rule for the detail, ``/contents``, ``/downloads/<id>/<name>`` and an HTML report's
    assets (data.md ``GET /data/<id>``: "the same rule as ... ``/downloads/<data_id>/<filename>``").

    Example:
        ```python
        data_readable(store, 7, uid(None))  # anonymous: True when a parent is public
        ```
    """
    try:
        key = int(data_id)
    except (TypeError, ValueError):
        return False
    where = f"WHERE d.id = ? AND {DATA_VISIBLE}"
    return store.row(f"{DATA_SELECT} {where}", (key, viewer)) is not None


def sid(value: Any) -> str | None:
    """Ids are strings on the wire (docs/protocol.md §1.2)."""
    return None if value is None else str(value)


def iso(value: Any) -> str | None:
    """A Unix timestamp as ISO-8601, as the sample sub-resources show dates (samples.md)."""
    return None if value is None else datetime.fromtimestamp(float(value), UTC).isoformat()


def owner_object(row: Row) -> dict[str, Any]:
    """``{username, name, image}`` of a row's owner (``image`` a URL or ``""``)."""
    return {"username": row["owner_username"], "name": row["owner_name"], "image": ""}


# -- projects ---------------------------------------------------------------------------------
def project_item(row: Row) -> dict[str, Any]:
    """A project in lists (``/projects/owned``, ``/projects/search``)."""
    return {
        "id": sid(row["id"]),
        "name": row["name"],
        "description": row["description"],
        "created": row["created"],
        "private": bool(row["private"]),
        "sample_count": row["sample_count"],
        "execution_count": row["execution_count"],
        "owner_name": row["owner_name"],
    }


def project_detail(row: Row, user: Row | None) -> dict[str, Any]:
    """``/projects/<id>`` (docs/protocol.md §4.4)."""
    return {
        "id": sid(row["id"]),
        "name": row["name"],
        "created": row["created"],
        "description": row["description"],
        "private": bool(row["private"]),
        "can_edit": row["owner"] == uid(user),
        "owner": owner_object(row),
        "group_owner": None,
        "papers": [],
    }


# -- samples ----------------------------------------------------------------------------------
_METADATA_SELECT = (
    "SELECT sm.sample, sm.attribute, sm.value, a.name, a.description, a.is_list, "
    "a.url_pattern, a.in_table FROM sample_metadata sm "
    "JOIN metadata_attributes a ON a.identifier = sm.attribute "
)


def sample_metadata(store: Store, sample_ids: Sequence[int], full: bool) -> dict[int, Any]:
    """Metadata of many samples: ``{sample_id: {identifier: {...}}}``."""
    if not sample_ids:
        return {}
    marks = ",".join("?" for _ in sample_ids)
    where = f"WHERE sm.sample IN ({marks}) ORDER BY a.ordering"
    rows = store.rows(_METADATA_SELECT + where, list(sample_ids))
    found: dict[int, Any] = {}
    for row in rows:
        if not full and not row["in_table"]:
            continue
        # The list view's in-table subset is the simpler shape; the full bag the richer one
        # (samples.md "Sample-metadata pitfall").
        rich = {
            "attribute_description": row["description"],
            "is_list": bool(row["is_list"]),
            "url_pattern": row["url_pattern"],
        }
        found.setdefault(row["sample"], {})[row["attribute"]] = {
            "attribute_name": row["name"],
            **(rich if full else {}),
            "value": row["value"],
            "annotation": None,
        }
    return found


def sample_items(
    store: Store,
    rows: Sequence[Row],
    *,
    full: bool = False,
    project_name: bool = True,
    viewer: int = -1,
) -> list[dict[str, Any]]:
    """Samples in lists (``/samples/search`` per-item fields, samples.md)."""
    metadata = sample_metadata(store, [r["id"] for r in rows], full)
    items = []
    for row in rows:
        item: dict[str, Any] = {
            "id": sid(row["id"]),
            "name": row["name"],
            "created": row["created"],
            "can_delete": row["owner"] == viewer,
            "organism": (
                {"id": row["organism"], "name": row["organism_name"]} if row["organism"] else None
            ),
            "sample_type": (
                {"identifier": row["sample_type"], "name": row["sample_type_name"]}
                if row["sample_type"]
                else None
            ),
            "metadata": metadata.get(row["id"], {}),
            "owner_name": row["owner_name"],
            "is_paired": bool(row["is_paired"]),
        }
        if project_name:
            item["project_name"] = row["project_name"]
        items.append(item)
    return items


def sample_detail(store: Store, row: Row, user: Row | None) -> dict[str, Any]:
    """``/samples/<id>``: ``sample_type`` is a plain name here (docs/protocol.md §8 row 18)."""
    inputs = store.rows(
        "SELECT id, filename, size, created FROM data "
        "WHERE sample = ? AND execution IS NULL AND ready = 1 ORDER BY id",
        (row["id"],),
    )
    return {
        "id": sid(row["id"]),
        "created": row["created"],
        "name": row["name"],
        # "false if a public parent project forces it public" (samples.md)
        "private": bool(row["private"]) and row["project_private"] != 0,
        "can_edit": row["owner"] == uid(user),
        "pubmed": row["pubmed"] or "",
        "sample_type": row["sample_type_name"],
        "metadata": sample_metadata(store, [row["id"]], True).get(row["id"], {}),
        "organism": (
            {"id": row["organism"], "name": row["organism_name"]} if row["organism"] else None
        ),
        "filesets": [
            {
                "id": sid(row["id"]),
                "created": row["created"],
                "data": [
                    {"id": sid(d["id"]), "filename": d["filename"], "size": d["size"]}
                    for d in inputs
                ],
            }
        ]
        if inputs
        else [],
        "owner": owner_object(row),
        "group_owner": None,
        "project": {"id": sid(row["project"]), "name": row["project_name"]}
        if row["project"]
        else None,
    }


# -- data -------------------------------------------------------------------------------------
def filetype(filename: str) -> str:
    """``reads.fastq.gz`` → ``fastq.gz``; ``report.html`` → ``html``."""
    parts = filename.lower().split(".")
    if len(parts) < 2:
        return ""
    if parts[-1] in {"gz", "bz2", "zst"} and len(parts) > 2:
        return ".".join(parts[-2:])
    return parts[-1]


def data_item(row: Row, viewer: int = -1, *, iso_dates: bool = False) -> dict[str, Any]:
    """Data in lists (``/data/search``, ``/samples/<id>/data``; data.md, samples.md).

    ``iso_dates``: ``created`` as ISO-8601, as ``/samples/<id>/data`` shows it (samples.md).
    """
    return {
        "id": sid(row["id"]),
        "filename": row["filename"],
        "size": row["size"],
        "absolute_path": f"/data/{row['id']}/{row['filename']}",
        "created": iso(row["created"]) if iso_dates else row["created"],
        "pipeline_name": row["pipeline_name"],
        "process_execution_name": row["process_name"],
        "sample_name": row["sample_name"],
        "owner_name": row["owner_name"],
        "can_delete": row["owner"] == viewer,
    }


def public_parent(row: Row) -> bool:
    """Whether a data row's sample, project or producing execution is public (data.md)."""
    return 0 in (row["sample_private"], row["project_private"], row["execution_private"])


def named(row: Row, id_key: str, name_key: str) -> dict[str, Any] | None:
    """``{id, name}`` from two columns of ``row``, or None when the id is null."""
    return None if row[id_key] is None else {"id": sid(row[id_key]), "name": row[name_key]}


def download_url(request: Request, data_id: Any, filename: str) -> str:
    """``{files}/downloads/<id>/<filename>`` on this server (docs/protocol.md §8 row 19)."""
    from urllib.parse import quote

    root = f"{request.url.scheme}://{request.url.netloc}"
    return f"{root}/files/downloads/{data_id}/{quote(filename)}"


def data_detail(
    request: Request, row: Row, user: Row | None, is_binary: bool, paired: Row | None = None
) -> dict[str, Any]:
    """``/data/<id>`` (data.md) plus ``md5`` and ``download_url`` (docs/protocol.md §8 row 19).

    ``paired`` is the other file of a two-file fileset (data.md ``paired``).
    """
    execution = None
    if row["execution"] is not None:
        execution = {
            "id": sid(row["execution"]),
            "pipeline_name": row["pipeline_name"],
            "process_name": row["process_name"],
            "process_command": None,
        }
    return {
        "id": sid(row["id"]),
        "filename": row["filename"],
        "filetype": filetype(row["filename"]),
        "size": row["size"],
        "md5": row["md5"],
        "is_binary": is_binary,
        "is_directory": bool(row["is_directory"]),
        "created": row["created"],
        "category": row["category"],
        "data_type": (
            {
                "identifier": row["data_type"],
                "name": row["data_type_name"],
                "description": row["data_type_description"],
            }
            if row["data_type"]
            else None
        ),
        "private": bool(row["private"]) and not public_parent(row),
        "absolute_path": f"/data/{row['id']}/{row['filename']}",
        "owner": owner_object(row),
        "group_owner": None,
        "paired": None
        if paired is None
        else {"id": sid(paired["id"]), "filename": paired["filename"]},
        "fileset": named(row, "sample_id", "sample_name") if row["fileset_size"] else None,
        "execution": execution,
        "sample": named(row, "sample_id", "sample_name"),
        "project": named(row, "project_id", "project_name"),
        "path": row["path"],
        "can_edit": row["owner"] == uid(user),
        "download_url": download_url(request, row["id"], row["filename"]),
    }


# -- executions -------------------------------------------------------------------------------
def execution_item(row: Row, viewer: int = -1, *, iso_dates: bool = False) -> dict[str, Any]:
    """Executions in lists (executions.md ``/executions/search`` per-item fields).

    ``retries`` is the execution this one retries and ``retried_by`` the one that retried it,
    as samples.md and the run body's ``retries`` (pipelines.md) read them. ``iso_dates``:
    ISO-8601 dates, as ``/samples/<id>/executions`` shows them (samples.md).
    """
    when = iso if iso_dates else (lambda value: value)
    fileset = None
    if row["sample"] is not None:
        organism = named(row, "organism_id", "organism_name")
        fileset = {"id": sid(row["sample"]), "name": row["sample_name"], "organism": organism}
    return {
        "id": sid(row["id"]),
        "identifier": row["identifier"],
        "pipeline_name": row["pipeline_name"],
        "pipeline_version": row["pipeline_version"],
        "created": when(row["created"]),
        "started": when(row["started"]),
        "finished": when(row["finished"]),
        "status": row["status"],
        "can_delete": row["owner"] == viewer,
        "retries": _execution_ref(row["retries"], row["retries_identifier"]),
        "retried_by": _execution_ref(row["retried_by_id"], row["retried_by_identifier"]),
        "fileset": fileset,
        "sample_name": row["sample_name"],
        "owner_name": row["owner_name"],
    }


def _execution_ref(execution_id: Any, identifier: Any) -> dict[str, Any] | None:
    return None if execution_id is None else {"id": sid(execution_id), "identifier": identifier}


def output_item(row: Row) -> dict[str, Any]:
    """One output file of an execution, in every shape clients look for
    (docs/protocol.md §8 row 26)."""
    return {
        "id": sid(row["id"]),
        "filename": row["filename"],
        "filetype": filetype(row["filename"]),
        "size": row["size"],
        "created": row["created"],
        "path": row["path"] or row["filename"],
        "process_execution_name": row["process_name"],
        "is_removed": False,
    }
