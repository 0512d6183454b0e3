"""Models tolerate the variants of docs/protocol.md §8 rows 16-18 and 26; query helpers encode
dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from flowbio_async import ConfigurationError, Data, Execution, Project, Sample, SearchResults
from flowbio_async._resources._base import build_params, unix_seconds

JAN_1 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "created",
    [
        1704067200,
        1704067200.0,
        "1704067200",
        "2024-01-01T00:00:00Z",
        "2024-01-01T01:00:00+01:00",
        "2024-01-01T00:00:00",
    ],
)
def test_timestamps_accept_unix_and_iso(created: object) -> None:
    assert Project.model_validate({"id": 1, "name": "p", "created": created}).created == JAN_1


def test_ids_become_strings_and_extra_fields_stay() -> None:
    project = Project.model_validate({"id": 12345, "name": "p", "created": None, "papers": []})
    assert project.id == "12345" and project.created is None
    assert project.model_extra == {"papers": []}


def test_sample_type_as_object_or_plain_name() -> None:
    searched = Sample.model_validate(
        {"id": "1", "sample_type": {"identifier": "RNA-Seq", "name": "RNA-Seq"}}
    )
    detail = Sample.model_validate(
        {"id": "1", "sample_type": "RNA-Seq", "organism": "Hs", "project": 3}
    )
    assert searched.sample_type and searched.sample_type.identifier == "RNA-Seq"
    assert detail.sample_type and detail.sample_type.name == "RNA-Seq"
    assert detail.organism and detail.organism.id == "Hs"
    assert detail.project and detail.project.id == "3"


def test_execution_outputs_are_gathered_from_every_field_once() -> None:
    execution = Execution.model_validate(
        {
            "id": 7,
            "status": "ok",
            "downstream_data": [{"id": 1, "filename": "a.bam"}],
            "process_executions": [
                {
                    "downstream_data": [
                        {"id": "1", "filename": "a.bam"},
                        {"id": 2, "filename": "b.html"},
                    ]
                }
            ],
            "output_data": [{"id": 3, "filename": "c.tsv"}],
            "pipeline_version": {"id": 1, "name": "1.2"},
        }
    )
    assert [d.id for d in execution.outputs] == ["1", "2", "3"]
    assert all(isinstance(d, Data) for d in execution.outputs)
    assert execution.is_terminal and execution.pipeline_version == "1.2"
    assert not Execution.model_validate({"id": 1, "status": "-"}).is_terminal
    assert (
        Execution.model_validate({"id": 1, "outputs": [{"id": 5, "size": 10}]}).outputs[0].size
        == 10
    )


def test_search_results_flatten_the_results_envelope() -> None:
    results = SearchResults.model_validate(
        {
            "results": {"samples": [{"id": 1}], "projects": [], "executions": [], "data": []},
            "total_count": 1,
            "query": "x",
        }
    )
    assert [s.id for s in results.samples] == ["1"] and results.total_count == 1


def test_dates_become_unix_ints_for_created_filters() -> None:
    assert unix_seconds("2024-01-01") == 1704067200
    assert unix_seconds(date(2024, 1, 1)) == 1704067200
    assert unix_seconds(JAN_1) == 1704067200
    assert unix_seconds(1704067200.9) == 1704067200
    with pytest.raises(ConfigurationError):
        unix_seconds("next tuesday")
    params = build_params(
        name=None, owned=True, sample_types=["RNA-Seq", "ATAC-Seq"], created_after="2024-01-01"
    )
    assert params == {"owned": "true", "sample_types": "RNA-Seq,ATAC-Seq", "created_gt": 1704067200}


@pytest.mark.parametrize(
    ("sample", "project"),
    [
        ({"id": "4", "name": "liver_1"}, {"id": "1", "name": "Liver RNA-Seq"}),  # data.md
        ("4", 1),  # bare ids, as older servers send them
    ],
)
def test_data_links_accept_objects_and_bare_ids(sample: object, project: object) -> None:
    """#15 item 3: ``/data/<id>`` ``sample``/``project`` as ``{id, name}`` or an id."""
    data = Data.model_validate({"id": 9, "sample": sample, "project": project})
    assert data.sample is not None and data.sample.id == "4"
    assert data.project is not None and data.project.id == "1"
    if isinstance(sample, dict):
        assert data.sample.name == "liver_1" and data.project.name == "Liver RNA-Seq"
    assert Data.model_validate({"id": 9, "sample": None}).sample is None


def test_data_fileset_and_paired() -> None:
    """#15 item 14: ``fileset`` ``{id, name}``, ``paired`` ``{id, filename}`` or null."""
    data = Data.model_validate(
        {"id": 1, "fileset": {"id": 4, "name": "liver_1"}, "paired": {"id": 2, "filename": "b"}}
    )
    assert data.fileset and (data.fileset.id, data.fileset.name) == ("4", "liver_1")
    assert data.paired and (data.paired.id, data.paired.filename) == ("2", "b")
    assert Data.model_validate({"id": 1, "paired": None, "fileset": None}).paired is None


@pytest.mark.parametrize(
    ("sample", "project", "fileset"),
    [
        ({"id": "2", "name": "liver_2"}, {"id": 1, "name": "Liver RNA-Seq"}, {"id": 2}),  # notes
        ("2", 1, 2),  # bare ids: the local server's detail before #15
    ],
    ids=["objects", "ids"],
)
def test_execution_links_accept_objects_and_bare_ids(
    sample: object, project: object, fileset: object
) -> None:
    """#15 item 12: ``/executions/<id>`` ``sample``/``project``/``fileset`` as objects or ids."""
    execution = Execution.model_validate(
        {"id": 3, "sample": sample, "project": project, "fileset": fileset}
    )
    assert execution.sample and execution.sample.id == "2"
    assert execution.project and execution.project.id == "1"
    assert execution.fileset and execution.fileset.id == "2"
    named = isinstance(sample, dict)
    assert execution.sample.name == ("liver_2" if named else None)
    empty = Execution.model_validate({"id": 3, "sample": None, "project": None, "fileset": None})
    assert empty.sample is None and empty.project is None and empty.fileset is None


@pytest.mark.parametrize(
    ("retries", "expected"),
    [
        ({"id": "2", "identifier": "demo-run-2"}, ("2", "demo-run-2")),  # the notes
        (2, ("2", None)),  # a bare id
        ("2", ("2", None)),
        (0, None),  # older local servers: a count of zero
        (None, None),
    ],
)
def test_execution_retries_accept_every_shape(retries: object, expected: object) -> None:
    """#15 item 10: ``retries``/``retried_by`` as ``{id, identifier}``, an id or null."""
    execution = Execution.model_validate({"id": 3, "retries": retries, "retried_by": retries})
    for ref in (execution.retries, execution.retried_by):
        assert (ref.id, ref.identifier) == expected if ref is not None else expected is None


@pytest.mark.parametrize(
    ("created", "started"),
    [
        (1708560000, 1708560060.5),  # /executions/search (executions.md)
        ("2024-02-22T00:00:00+00:00", "2024-02-22T00:01:00.500000+00:00"),  # sub-resources
    ],
)
def test_execution_dates_accept_unix_and_iso(created: object, started: object) -> None:
    """#15 item 10: the notes give ints on searches and ISO strings on sample sub-resources."""
    execution = Execution.model_validate(
        {
            "id": 1,
            "created": created,
            "started": started,
            "finished": None,
            "sample": {"id": 2, "name": "liver_2"},
            "fileset": {"id": 2, "name": "liver_2", "organism": {"id": "Hs", "name": "Human"}},
        }
    )
    assert execution.created == datetime(2024, 2, 22, tzinfo=UTC)
    assert execution.started == datetime(2024, 2, 22, 0, 1, 0, 500000, tzinfo=UTC)
    assert execution.sample and execution.sample.name == "liver_2"
    assert execution.fileset and execution.fileset.organism
    assert execution.fileset.organism.id == "Hs"
