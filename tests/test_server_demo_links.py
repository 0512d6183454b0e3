"""The demo data and the pipeline catalogue agree (integration of #15 and #11).

The seeded executions name a pipeline version by id; the catalogue gives every version a
fixed id; both come from ``_pipeline_catalogue.PIPELINES``. The execution detail of a seeded
execution shows the Nextflow version, stdout and stderr stored on its row.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import api

from flowbio_async.testing import FlowServer
from flowbio_async.testing import _demo as demo_module
from flowbio_async.testing._demo import (
    DEMO_PIPELINE_ID,
    DEMO_PIPELINE_NAME,
    DEMO_VERSION_ID,
    DEMO_VERSION_NAME,
    seed_demo,
)
from flowbio_async.testing._pipeline_catalogue import PIPELINES, version_ids
from flowbio_async.testing._pipeline_store import ensure_tables, seed_pipelines
from flowbio_async.testing._store import Store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowServer]:
    with FlowServer(data_dir=tmp_path_factory.mktemp("demo-links"), execution_speed=0) as running:
        yield running


@pytest.fixture
def client(server: FlowServer) -> Iterator[httpx.Client]:
    with api(server) as logged_in:
        yield logged_in


def _seeded(client: httpx.Client) -> dict[str, dict[str, object]]:
    found = client.get("executions/search", params={"count": 100}).json()["executions"]
    return {e["identifier"]: e for e in found if str(e["identifier"]).startswith("demo-run-")}


def test_the_catalogue_ids_are_the_ids_the_store_gives(tmp_path: Path) -> None:
    store = Store(tmp_path)
    ensure_tables(store)
    seed_demo(store)
    seed_pipelines(store)
    for pipeline in PIPELINES:
        for version in pipeline["versions"]:
            row = store.row(
                "SELECT v.name, p.name AS pipeline_name, p.id AS pipeline_id "
                "FROM pipeline_versions v JOIN pipelines p ON p.id = v.pipeline WHERE v.id = ?",
                (version["id"],),
            )
            assert row == {
                "name": version["name"],
                "pipeline_name": pipeline["name"],
                "pipeline_id": pipeline["id"],
            }
    seeded = store.rows("SELECT DISTINCT pipeline_id, pipeline_version_id FROM executions")
    assert seeded == [{"pipeline_id": DEMO_PIPELINE_ID, "pipeline_version_id": DEMO_VERSION_ID}]
    store.close()


def test_the_demo_runs_name_rnaseq_3_14_0(client: httpx.Client) -> None:
    assert version_ids("RNA-Seq", "3.14.0") == (DEMO_PIPELINE_ID, DEMO_VERSION_ID)
    version = client.get(f"pipelines/versions/{DEMO_VERSION_ID}").json()
    assert (version["name"], version["pipeline"]["name"]) == (DEMO_VERSION_NAME, "RNA-Seq")
    assert DEMO_PIPELINE_NAME == "RNA-Seq"
    latest = client.get(f"pipelines/{DEMO_PIPELINE_ID}").json()["versions"][0]
    assert latest == {**latest, "id": str(DEMO_VERSION_ID), "name": "3.14.0"}

    runs = _seeded(client)
    assert set(runs) == {"demo-run-1", "demo-run-2", "demo-run-3"}
    assert {r["pipeline_version"] for r in runs.values()} == {"3.14.0"}
    by_version = client.get(
        "executions/search", params={"pipeline_version": DEMO_VERSION_ID, "count": 100}
    ).json()["executions"]
    assert {e["identifier"] for e in by_version} >= set(runs)
    older = version_ids("RNA-Seq", "3.12.0")[1]
    by_older = client.get("executions/search", params={"pipeline_version": older}).json()
    assert not {e["identifier"] for e in by_older["executions"]} & set(runs)

    detail = client.get(f"executions/{runs['demo-run-1']['id']}").json()
    assert detail["pipeline"]["id"] == str(DEMO_VERSION_ID)
    assert detail["pipeline"]["name"] == "3.14.0"
    assert detail["pipeline"]["pipeline"] == {"id": str(DEMO_PIPELINE_ID), "name": "RNA-Seq"}


def test_seeded_executions_show_their_own_terminal_output(client: httpx.Client) -> None:
    runs = _seeded(client)
    failed = client.get(f"executions/{runs['demo-run-2']['id']}").json()
    assert "terminated with exit status 137" in failed["stderr"]
    assert failed["stdout"] == ""
    canceled = client.get(f"executions/{runs['demo-run-3']['id']}").json()
    assert canceled["stdout"] == "Execution cancelled by user\n"
    assert failed["nextflow_version"] == canceled["nextflow_version"] == "24.04.4"


def test_the_nextflow_version_comes_from_the_row(tmp_path: Path) -> None:
    """A seeded row's own values, not a constant: change them and the detail follows."""
    store = Store(tmp_path)
    ensure_tables(store)
    seed_demo(store)
    seed_pipelines(store)
    store.execute(
        "UPDATE executions SET nextflow_version = '23.10.1', stdout = 'hello\n' "
        "WHERE identifier = 'demo-run-1'"
    )
    store.close()
    with FlowServer(data_dir=tmp_path, execution_speed=0) as running, api(running) as client:
        detail = client.get(f"executions/{_seeded(client)['demo-run-1']['id']}").json()
    assert (detail["nextflow_version"], detail["stdout"]) == ("23.10.1", "hello\n")


def test_the_demo_module_refers_only_to_names_that_exist() -> None:
    """Every ``:data:`` reference in ``_demo.py`` resolves (no stale names)."""
    source = Path(demo_module.__file__).read_text()
    references = re.findall(r":data:`~?([\w.]+)`", source)
    assert references, "the demo module documents where its constants come from"
    for reference in references:
        module_name, _, name = reference.rpartition(".")
        module = importlib.import_module(module_name) if module_name else demo_module
        assert hasattr(module, name), reference
