"""Visibility rules and JSON shapes of read endpoints (contract §4).

Visibility: owners see their things; anyone sees public things, and samples, data and
executions of a public project (contract §2.4, §4.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from flowbio_async.testing._store import Row, Store

PUBLIC_PROJECTS = "(SELECT id FROM projects WHERE private = 0)"
PROJECT_VISIBLE = "(p.private = 0 OR p.owner = ?)"
SAMPLE_VISIBLE = f"(s.private = 0 OR s.owner = ? OR s.project IN {PUBLIC_PROJECTS})"
DATA_VISIBLE = f"(d.ready = 1 AND (d.private = 0 OR d.owner = ? OR d.project IN {PUBLIC_PROJECTS}))"
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
    "(SELECT COUNT(*) FROM data x WHERE x.sample = s.id AND x.category = 4) >= 2 AS is_paired "
    "FROM samples s JOIN users u ON u.id = s.owner LEFT JOIN projects p ON p.id = s.project "
    "LEFT JOIN organisms o ON o.id = s.organism "
    "LEFT JOIN sample_types st ON st.identifier = s.sample_type"
)
DATA_SELECT = (
    "SELECT d.*, u.name AS owner_name, u.username AS owner_username, s.name AS sample_name, "
    "e.pipeline_name AS pipeline_name, dt.name AS data_type_name, "
    "dt.description AS data_type_description "
    "FROM data d JOIN users u ON u.id = d.owner LEFT JOIN samples s ON s.id = d.sample "
    "LEFT JOIN executions e ON e.id = d.execution "
    "LEFT JOIN data_types dt ON dt.identifier = d.data_type"
)
EXECUTION_SELECT = (
    "SELECT e.*, u.name AS owner_name, u.username AS owner_username, s.name AS sample_name "
    "FROM executions e JOIN users u ON u.id = e.owner LEFT JOIN samples s ON s.id = e.sample"
)


def uid(user: Row | None) -> int:
    """The id used in visibility clauses (-1 for anonymous)."""
    return int(user["id"]) if user else -1


def sid(value: Any) -> str | None:
    """Ids are strings on the wire (contract §1.2)."""
    return None if value is None else str(value)


def owner_object(row: Row) -> dict[str, Any]:
    """``{username, name, image}`` of a row's owner."""
    return {"username": row["owner_username"], "name": row["owner_name"], "image": None}


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
    """``/projects/<id>`` (contract §4.4)."""
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
        "sample_count": row["sample_count"],
        "execution_count": row["execution_count"],
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
        found.setdefault(row["sample"], {})[row["attribute"]] = {
            "attribute_name": row["name"],
            "attribute_description": row["description"],
            "is_list": bool(row["is_list"]),
            "url_pattern": row["url_pattern"],
            "value": row["value"],
            "annotation": None,
        }
    return found


def sample_items(
    store: Store, rows: Sequence[Row], *, full: bool = False, project_name: bool = True
) -> list[dict[str, Any]]:
    """Samples in lists (``/samples/search`` shape, contract §4.5)."""
    metadata = sample_metadata(store, [r["id"] for r in rows], full)
    items = []
    for row in rows:
        item: dict[str, Any] = {
            "id": sid(row["id"]),
            "name": row["name"],
            "created": row["created"],
            "can_delete": False,
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
            "private": bool(row["private"]),
        }
        if project_name:
            item["project_name"] = row["project_name"]
        items.append(item)
    return items


def sample_detail(store: Store, row: Row, user: Row | None) -> dict[str, Any]:
    """``/samples/<id>``: ``sample_type`` is a plain name here (contract §8 row 18)."""
    inputs = store.rows(
        "SELECT id, filename, size, created FROM data "
        "WHERE sample = ? AND execution IS NULL AND ready = 1 ORDER BY id",
        (row["id"],),
    )
    return {
        "id": sid(row["id"]),
        "created": row["created"],
        "name": row["name"],
        "private": bool(row["private"]),
        "can_edit": row["owner"] == uid(user),
        "pubmed": row["pubmed"],
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


def data_item(row: Row) -> dict[str, Any]:
    """Data in lists (``/data/search``, ``/samples/<id>/data``; contract §4.6)."""
    return {
        "id": sid(row["id"]),
        "filename": row["filename"],
        "size": row["size"],
        "absolute_path": f"/data/{row['id']}/{row['filename']}",
        "created": row["created"],
        "pipeline_name": row["pipeline_name"],
        "process_execution_name": row["process_name"],
        "sample_name": row["sample_name"],
        "owner_name": row["owner_name"],
        "can_delete": False,
        "filetype": filetype(row["filename"]),
        "data_type": row["data_type"],
    }


def download_url(request: Request, data_id: Any, filename: str) -> str:
    """``{files}/downloads/<id>/<filename>`` on this server (contract §8 row 19)."""
    from urllib.parse import quote

    root = f"{request.url.scheme}://{request.url.netloc}"
    return f"{root}/files/downloads/{data_id}/{quote(filename)}"


def data_detail(request: Request, row: Row, user: Row | None, is_binary: bool) -> dict[str, Any]:
    """``/data/<id>`` plus ``md5`` and ``download_url`` (contract §4.6, §8 row 19)."""
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
        "private": bool(row["private"]),
        "absolute_path": f"/data/{row['id']}/{row['filename']}",
        "owner": owner_object(row),
        "group_owner": None,
        "paired": None,
        "fileset": None,
        "execution": execution,
        "sample": sid(row["sample"]),
        "sample_name": row["sample_name"],
        "project": sid(row["project"]),
        "path": row["path"],
        "can_edit": row["owner"] == uid(user),
        "download_url": download_url(request, row["id"], row["filename"]),
    }


# -- executions -------------------------------------------------------------------------------
def execution_item(row: Row) -> dict[str, Any]:
    """Executions in lists (``/executions/search``; contract §4.7)."""
    return {
        "id": sid(row["id"]),
        "identifier": row["identifier"],
        "pipeline_name": row["pipeline_name"],
        "pipeline_version": row["pipeline_version"],
        "created": row["created"],
        "started": row["started"],
        "finished": row["finished"],
        "status": row["status"],
        "can_delete": False,
        "retries": 0,
        "retried_by": None,
        "fileset": None,
        "sample_name": row["sample_name"],
        "owner_name": row["owner_name"],
    }


def output_item(row: Row) -> dict[str, Any]:
    """One output file of an execution, in every shape clients look for (§8 row 26)."""
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
