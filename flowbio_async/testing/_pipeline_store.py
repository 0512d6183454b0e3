"""Pipelines, versions, runs and process executions in the server's SQLite store (#11).

The tables live beside the foundation's (``_store.py``) and link to its ``executions`` and
``data`` rows by id, so every reader of the store (REST routes today, a GraphQL layer later)
sees one consistent picture: ``pipeline_categories`` → ``pipeline_subcategories`` →
``pipelines`` → ``pipeline_versions``; an execution started by a run has one
``execution_runs`` row (inputs, plan, simulated clock, stdout/stderr/log) and one
``process_executions`` row per step that has started; ``process_outputs`` links a step to
the data files it wrote.
"""

from __future__ import annotations

import json
from typing import Any

from flowbio_async.testing._pipeline_catalogue import CATEGORIES, PIPELINES
from flowbio_async.testing._store import Row, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pipeline_categories (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    ordering INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pipeline_subcategories (
    id INTEGER PRIMARY KEY, category INTEGER NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', ordering INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pipelines (
    id INTEGER PRIMARY KEY, subcategory INTEGER NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', is_nfcore INTEGER NOT NULL DEFAULT 0,
    prepares_genome INTEGER NOT NULL DEFAULT 0, repo_url TEXT NOT NULL DEFAULT '',
    ordering INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pipeline_versions (
    id INTEGER PRIMARY KEY, pipeline INTEGER NOT NULL, name TEXT NOT NULL,
    long_description TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1, private INTEGER NOT NULL DEFAULT 0,
    schema TEXT NOT NULL DEFAULT '{}', nextflow_versions TEXT NOT NULL DEFAULT '[]',
    plan TEXT NOT NULL DEFAULT '[]', workflow TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS execution_runs (
    execution INTEGER PRIMARY KEY, pipeline_version INTEGER, uuid TEXT NOT NULL,
    nextflow_version TEXT NOT NULL DEFAULT '', command TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL DEFAULT '{}', data_params TEXT NOT NULL DEFAULT '{}',
    csv_params TEXT NOT NULL DEFAULT '{}', fileset INTEGER, retries INTEGER,
    stdout TEXT NOT NULL DEFAULT '', stderr TEXT NOT NULL DEFAULT '', log TEXT NOT NULL DEFAULT '',
    events TEXT NOT NULL DEFAULT '[]', events_done INTEGER NOT NULL DEFAULT 0,
    progress REAL NOT NULL DEFAULT 0, ticked REAL NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS process_executions (
    id INTEGER PRIMARY KEY, execution INTEGER NOT NULL, step INTEGER NOT NULL,
    identifier TEXT NOT NULL, name TEXT NOT NULL, process_name TEXT NOT NULL, sample INTEGER,
    status TEXT NOT NULL DEFAULT 'RUNNING', started REAL, finished REAL, exit_code INTEGER,
    stdout TEXT NOT NULL DEFAULT '', stderr TEXT NOT NULL DEFAULT '', bash TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS process_executions_execution ON process_executions (execution);
CREATE TABLE IF NOT EXISTS process_outputs (
    process_execution INTEGER NOT NULL, data INTEGER NOT NULL,
    PRIMARY KEY (process_execution, data)
)
"""

_JSON_COLUMNS = ("schema", "nextflow_versions", "plan", "params", "data_params", "csv_params")


def ensure_tables(store: Store) -> None:
    """Create the pipeline tables if they are missing (idempotent; run at every start)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            store.execute(statement)


def seed_pipelines(store: Store) -> None:
    """Seed the demo catalogue once per data dir (with the ids ``PIPELINES`` gives)."""
    if store.get_meta("pipelines_seeded"):
        return
    by_name = {pipeline["name"]: pipeline for pipeline in PIPELINES}
    for c_order, category in enumerate(CATEGORIES):
        category_id = store.insert(
            "pipeline_categories",
            {"name": category["name"], "description": category["description"], "ordering": c_order},
        )
        for s_order, sub in enumerate(category["subcategories"]):
            sub_id = store.insert(
                "pipeline_subcategories",
                {
                    "category": category_id,
                    "name": sub["name"],
                    "description": sub["description"],
                    "ordering": s_order,
                },
            )
            for p_order, name in enumerate(sub["pipelines"]):
                _seed_pipeline(store, by_name[name], sub_id, p_order)
    store.set_meta("pipelines_seeded", "1")


def _seed_pipeline(store: Store, pipeline: dict[str, Any], subcategory: int, order: int) -> None:
    store.insert(
        "pipelines",
        {
            "id": pipeline["id"],
            "subcategory": subcategory,
            "name": pipeline["name"],
            "description": pipeline["description"],
            "is_nfcore": int(pipeline.get("is_nfcore", False)),
            "prepares_genome": int(pipeline.get("prepares_genome", False)),
            "repo_url": pipeline["repo"],
            "ordering": order,
        },
    )
    for version in pipeline["versions"]:
        store.insert(
            "pipeline_versions",
            {
                "id": version["id"],
                "pipeline": pipeline["id"],
                "name": version["name"],
                "long_description": f"{pipeline['description']} Version {version['name']}.",
                "created": version["created"],
                "schema": json.dumps(version["schema"]),
                "nextflow_versions": json.dumps(version["nextflow_versions"]),
                "plan": json.dumps(version["plan"]),
                "workflow": version["workflow"],
            },
        )


def decoded(row: Row | None) -> Row | None:
    """``row`` with its JSON columns decoded."""
    if row is None:
        return None
    for column in _JSON_COLUMNS:
        if isinstance(row.get(column), str):
            row[column] = json.loads(row[column])
    return row


# -- visibility: inactive versions never show; private ones only to admins (notes) --------
def version_visible(version: Row, user: Row | None) -> bool:
    """Whether ``user`` may read (and run) this version."""
    if not version["active"]:
        return False
    return not version["private"] or bool(user and user["is_admin"])


def catalogue(store: Store, user: Row | None) -> list[tuple[Row, list[tuple[Row, list[Row]]]]]:
    """The tree ``user`` can read: ``[(category, [(subcategory, [pipeline, ...]), ...]), ...]``.

    A pipeline is in it when it has a readable version; empty subcategories and categories
    are dropped (the notes). REST ``/pipelines`` and GraphQL ``pipelineCategories`` render it.
    """
    versions = store.rows("SELECT pipeline, active, private FROM pipeline_versions")
    visible = {int(row["pipeline"]) for row in versions if version_visible(row, user)}
    tree = []
    for category in store.rows("SELECT * FROM pipeline_categories ORDER BY ordering, id"):
        branches = []
        for sub in store.rows(
            "SELECT * FROM pipeline_subcategories WHERE category = ? ORDER BY ordering, id",
            (category["id"],),
        ):
            rows = store.rows(
                "SELECT * FROM pipelines WHERE subcategory = ? ORDER BY ordering, id", (sub["id"],)
            )
            pipelines = [row for row in rows if int(row["id"]) in visible]
            if pipelines:
                branches.append((sub, pipelines))
        if branches:
            tree.append((category, branches))
    return tree


def versions_of(store: Store, pipeline_id: int, user: Row | None) -> list[Row]:
    """The pipeline's readable versions, newest first (``GET /pipelines/<id>``)."""
    rows = store.rows(
        "SELECT * FROM pipeline_versions WHERE pipeline = ? ORDER BY created DESC, id DESC",
        (pipeline_id,),
    )
    return [decoded(row) or row for row in rows if version_visible(row, user)]


def load_version(store: Store, version_id: Any) -> Row | None:
    """A version by id with its pipeline's name (JSON decoded), visible or not."""
    try:
        key = int(version_id)
    except (TypeError, ValueError):
        return None
    return decoded(
        store.row(
            "SELECT v.*, p.name AS pipeline_name FROM pipeline_versions v "
            "JOIN pipelines p ON p.id = v.pipeline WHERE v.id = ?",
            (key,),
        )
    )


def get_version(store: Store, version_id: Any, user: Row | None) -> Row | None:
    """A version ``user`` may read, or None (unknown, inactive, or private to admins)."""
    row = load_version(store, version_id)
    return row if row is not None and version_visible(row, user) else None


def find_version(store: Store, pipeline_name: str, version_name: str) -> Row | None:
    """A version by pipeline and version names (links seeded executions to the catalogue)."""
    return decoded(
        store.row(
            "SELECT v.*, p.name AS pipeline_name FROM pipeline_versions v "
            "JOIN pipelines p ON p.id = v.pipeline WHERE p.name = ? AND v.name = ?",
            (pipeline_name, version_name),
        )
    )


def get_run(store: Store, execution_id: Any) -> Row | None:
    """The run record of an execution (None for executions seeded without one)."""
    row = store.row("SELECT * FROM execution_runs WHERE execution = ?", (int(execution_id),))
    if row is not None:
        row["events"] = json.loads(row["events"])
    return decoded(row)


def processes_of(store: Store, execution_id: Any) -> list[Row]:
    """The process executions of an execution, in the order they started."""
    return store.rows(
        "SELECT * FROM process_executions WHERE execution = ? ORDER BY step, id",
        (int(execution_id),),
    )


def process_output_ids(store: Store, execution_id: Any) -> dict[int, list[int]]:
    """``{process execution id: [data ids]}`` for one execution."""
    rows = store.rows(
        "SELECT o.process_execution, o.data FROM process_outputs o "
        "JOIN process_executions p ON p.id = o.process_execution WHERE p.execution = ?",
        (int(execution_id),),
    )
    found: dict[int, list[int]] = {}
    for row in rows:
        found.setdefault(int(row["process_execution"]), []).append(int(row["data"]))
    return found
