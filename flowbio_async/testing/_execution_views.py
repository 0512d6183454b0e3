"""JSON shapes of pipelines, versions and the execution detail (#11, issue #15 item 12).

Shapes follow the Flow maintainers' notes (flow-skills ``endpoints/pipelines.md`` and
``endpoints/executions.md``): the execution detail nests the pipeline version under
``pipeline`` with its ``schema``, gives ``sample``/``project`` as ``{id, name}`` objects, and
carries ``stdout``/``stderr``/``log``, the submitted inputs and ``process_executions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowbio_async.testing import _views as v
from flowbio_async.testing._pipeline_store import (
    find_version,
    get_run,
    load_version,
    process_output_ids,
    processes_of,
)
from flowbio_async.testing._store import Row, Store


def pipeline_item(store: Store, row: Row) -> dict[str, Any]:
    """A pipeline inside the ``/pipelines`` tree."""
    return {
        "id": v.sid(row["id"]),
        "name": row["name"],
        "description": row["description"],
        "execution_count": store.scalar(
            "SELECT COUNT(*) FROM executions WHERE pipeline_name = ?", (row["name"],)
        ),
        "is_nfcore": bool(row["is_nfcore"]),
        "prepares_genome": bool(row["prepares_genome"]),
    }


def pipeline_detail(row: Row, versions: Sequence[Row]) -> dict[str, Any]:
    """``GET /pipelines/<id>``: versions newest first, each with its Nextflow versions."""
    return {
        "id": v.sid(row["id"]),
        "name": row["name"],
        "description": row["description"],
        "is_nfcore": bool(row["is_nfcore"]),
        "prepares_genome": bool(row["prepares_genome"]),
        "repo_url": row["repo_url"],
        "repo_original_url": row["repo_url"],
        "versions": [
            {"id": v.sid(x["id"]), "name": x["name"], "nextflow_versions": x["nextflow_versions"]}
            for x in versions
        ],
    }


def version_detail(row: Row) -> dict[str, Any]:
    """``GET /pipelines/versions/<id>``: the run ``schema`` and ``nextflow_versions``."""
    return {
        "id": v.sid(row["id"]),
        "name": row["name"],
        "long_description": row["long_description"],
        "upstream_pipeline_versions": [],
        "nextflow_versions": row["nextflow_versions"],
        "schema": row["schema"],
        "pipeline": {"id": v.sid(row["pipeline"]), "name": row["pipeline_name"]},
    }


def _pipeline_of(store: Store, row: Row, run: Row | None) -> dict[str, Any]:
    """The version an execution ran, as the detail nests it under ``pipeline``."""
    version = load_version(store, run["pipeline_version"]) if run is not None else None
    if version is None:  # executions seeded without a run record: match by names
        version = find_version(store, row["pipeline_name"], row["pipeline_version"])
    if version is None:
        return {"id": None, "name": row["pipeline_version"], "schema": {}, "pipeline": None}
    return {
        "id": v.sid(version["id"]),
        "name": version["name"],
        "schema": version["schema"],
        "pipeline": {"id": v.sid(version["pipeline"]), "name": version["pipeline_name"]},
    }


def _named(store: Store, table: str, key: Any) -> dict[str, Any] | None:
    if key is None:
        return None
    found = store.row(f"SELECT id, name FROM {table} WHERE id = ?", (key,))  # noqa: S608
    return None if found is None else {"id": v.sid(found["id"]), "name": found["name"]}


def _processes(
    store: Store, row: Row, outputs: Sequence[Row], run: Row | None
) -> list[dict[str, Any]]:
    by_id = {int(o["id"]): o for o in outputs}
    rows = processes_of(store, row["id"])
    if run is None and not rows:
        # Seeded executions have no process rows: one completed step per output process.
        grouped: dict[str, list[dict[str, Any]]] = {}
        for output in outputs:
            grouped.setdefault(output["process_name"] or "MAIN", []).append(v.output_item(output))
        return [
            {
                "id": f"{row['id']}-{index}",
                "identifier": f"{row['id']}-{index}",
                "name": name,
                "process_name": name,
                "status": "COMPLETED",
                "exit_code": 0,
                "started": row["started"],
                "finished": row["finished"],
                "downstream_data": items,
            }
            for index, (name, items) in enumerate(grouped.items(), start=1)
        ]
    links = process_output_ids(store, row["id"])
    return [
        {
            "id": v.sid(p["id"]),
            "identifier": p["identifier"],
            "name": p["name"],
            "process_name": p["process_name"],
            "status": p["status"],
            "started": p["started"],
            "finished": p["finished"],
            "exit_code": p["exit_code"],
            "stdout": p["stdout"],
            "stderr": p["stderr"],
            "bash": p["bash"],
            "downstream_data": [
                v.output_item(by_id[data]) for data in links.get(int(p["id"]), []) if data in by_id
            ],
        }
        for p in rows
    ]


def log_from(text: str, offset: int) -> str:
    """The log from byte ``offset`` on (``?log=<offset>``; an offset past the end gives "")."""
    return text.encode()[offset:].decode("utf-8", "replace")


def execution_detail(
    store: Store, row: Row, outputs: Sequence[Row], user: Row | None, *, log_offset: int = 0
) -> dict[str, Any]:
    """``GET /executions/<id>`` (and the answer of a run), before ``include``/``exclude``.

    It extends the list item (executions.md), so ``can_delete`` and ``fileset`` say what
    the search says about the same run.
    """
    run = get_run(store, row["id"])
    detail = v.execution_item(row, v.uid(user))
    detail.update(
        {
            "uuid": run["uuid"] if run else f"00000000-0000-4000-8000-{int(row['id']):012d}",
            # Executions seeded without a run record keep these on their own row (#15).
            "nextflow_version": run["nextflow_version"] if run else row["nextflow_version"],
            "stdout": run["stdout"] if run else row["stdout"],
            "stderr": run["stderr"] if run else row["stderr"],
            "log": log_from(run["log"], log_offset) if run else "",
            "command": run["command"] if run else f"nextflow run {row['pipeline_name']}",
            "params": run["params"] if run else {},
            "data_params": run["data_params"] if run else {},
            "csv_params": run["csv_params"] if run else {},
            "pipeline": _pipeline_of(store, row, run),
            "sample": _named(store, "samples", row["sample"]),
            "project": _named(store, "projects", row["project"]),
            "owner": v.owner_object(row),
            "group_owner": None,
            "process_executions": _processes(store, row, outputs, run),
            "outputs": [v.output_item(o) for o in outputs],
        }
    )
    if run is not None:
        retried = store.get_execution(run["retries"]) if run["retries"] is not None else None
        detail["retries"] = (
            None
            if retried is None
            else {"id": v.sid(retried["id"]), "identifier": retried["identifier"]}
        )
    if user is not None:
        detail["output_data"] = [v.output_item(o) for o in outputs]
    return detail
