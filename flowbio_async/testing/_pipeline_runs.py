"""Validation of ``POST /pipelines/versions/<id>/run`` bodies, like Flow's run form (#11).

What the maintainers' notes say the view does (flow-skills ``endpoints/pipelines.md``): the
three dicts ``params``, ``data_params`` and ``csv_params`` are indexed directly, so a body
missing one is a 500; every other problem is a form error, all of them collected into one
400 ``{"error": {field: [messages]}}``: a missing required param, a value outside ``valid``,
unknown or unreadable data/sample ids, an unknown Nextflow version. Unknown params are
ignored, as a form ignores fields it does not declare. Messages use Django's wording.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flowbio_async.testing import _executions_sim as sim
from flowbio_async.testing import _views as v
from flowbio_async.testing._security import ApiError
from flowbio_async.testing._store import Row, Store

REQUIRED = "This field is required."
VALUE_TYPES = {"string", "number", "boolean", "hidden"}


@dataclass
class CheckedRun:
    """A valid run body plus what the simulation needs (the samples, in row order)."""

    params: dict[str, Any]
    data_params: dict[str, Any]
    csv_params: dict[str, Any]
    nextflow_version: str
    samples: list[Row] = field(default_factory=list)
    fileset: int | None = None
    retries: int | None = None
    command: str = ""


def schema_params(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(submitted name, param)`` for every param; a param's ``param`` overrides its key."""
    for section in schema.get("inputs") or []:
        for key, param in (section.get("params") or {}).items():
            yield str(param.get("param") or key), param


def _choice(value: Any) -> str:
    return f"Select a valid choice. {value} is not one of the available choices."


def _value_error(param: dict[str, Any], value: Any) -> str | None:
    kind = param.get("type")
    text = str(value).strip()
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return "Enter a number."
        valid = param.get("valid")
        if valid and all(float(item) != number for item in valid):
            return _choice(value)
        return None
    if kind == "boolean":
        return None if text.lower() in {"true", "false"} else f"'{value}' must be true or false."
    valid = param.get("valid")
    if valid and text not in {str(item) for item in valid}:
        return _choice(value)
    return None


def _readable(store: Store, select: str, visible: str, alias: str, key: Any, user: Row) -> Row:
    try:
        number = int(key)
    except (TypeError, ValueError):
        number = -1
    found = store.row(f"{select} WHERE {alias}.id = ? AND {visible}", (number, v.uid(user)))
    return found or {}


class _Form:
    """Collects field errors while reading one body."""

    def __init__(self, store: Store, user: Row, body: dict[str, Any]) -> None:
        self.store = store
        self.user = user
        self.body = body
        self.errors: dict[str, list[str]] = {}
        self.samples: list[Row] = []

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def value_param(self, name: str, param: dict[str, Any], params: dict[str, Any]) -> None:
        value = params.get(name)
        if value is None or value == "":
            if param.get("required") and param.get("default") is None:
                self.add(name, REQUIRED)
            return
        error = _value_error(param, value)
        if error:
            self.add(name, error)

    def data_param(self, name: str, param: dict[str, Any], data_params: dict[str, Any]) -> None:
        value = data_params.get(name)
        if value is None or value == "":
            if param.get("required"):
                self.add(name, REQUIRED)
            return
        data = _readable(self.store, v.DATA_SELECT, v.DATA_VISIBLE, "d", value, self.user)
        if not data:
            self.add(name, f"Data {value} does not exist or is not accessible.")
            return
        category = param.get("category")
        if category is not None and int(data["category"]) != int(category):
            self.add(name, f"Data {value} is not of category {category}.")
        pattern = param.get("pattern")
        if pattern and not re.search(pattern, str(data["filename"])):
            self.add(name, f"Data {value} does not match the pattern {pattern}.")

    def csv_param(self, name: str, param: dict[str, Any], csv_params: dict[str, Any]) -> None:
        value = csv_params.get(name)
        rows = value.get("rows") if isinstance(value, dict) else None
        if value is not None and not isinstance(rows, list):
            self.add(name, "Enter a list of rows.")
            return
        if not rows:
            if param.get("required"):
                self.add(name, REQUIRED)
            return
        if not param.get("takes_samples"):
            return
        allowed = param.get("sample_types") or []
        for row in rows:
            key = row.get("sample") if isinstance(row, dict) else None
            sample = _readable(self.store, v.SAMPLE_SELECT, v.SAMPLE_VISIBLE, "s", key, self.user)
            if not sample:
                self.add(name, f"Sample {key} does not exist or is not accessible.")
            elif allowed and sample["sample_type"] not in allowed:
                kinds = ", ".join(allowed)
                self.add(name, f"Sample {key} is not of an accepted type ({kinds}).")
            else:
                self.samples.append(sample)


def _dicts(body: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    if not isinstance(body, dict):
        raise ApiError(400, {"error": "Invalid JSON body"})
    try:
        found = body["params"], body["data_params"], body["csv_params"]
    except KeyError:
        # Flow's form indexes the three dicts directly: a missing one is a 500 (notes).
        raise ApiError(500, {"error": "Server error"}) from None
    if not all(isinstance(item, dict) for item in found):
        raise ApiError(500, {"error": "Server error"})
    return found


def check_run(store: Store, version: Row, user: Row, body: Any) -> CheckedRun:
    """The validated run, or ``ApiError`` 400 with every field error (500 for missing dicts)."""
    params, data_params, csv_params = _dicts(body)
    form = _Form(store, user, body)
    for name, param in schema_params(version["schema"]):
        kind = param.get("type")
        if kind in VALUE_TYPES:
            form.value_param(name, param, params)
        elif kind == "data":
            form.data_param(name, param, data_params)
        elif kind == "csv":
            form.csv_param(name, param, csv_params)
    nextflow = body.get("nextflow_version")
    if not nextflow:
        form.add("nextflow_version", REQUIRED)
    elif nextflow not in version["nextflow_versions"]:
        form.add("nextflow_version", _choice(nextflow))
    retries = _retried(form, version, body.get("retries"))
    if form.errors:
        raise ApiError(400, {"error": form.errors})
    return CheckedRun(
        params=params,
        data_params=data_params,
        csv_params=csv_params,
        nextflow_version=str(nextflow),
        samples=form.samples,
        fileset=_int_or_none(body.get("fileset")),
        retries=retries,
        command=command_line(store, version, params, data_params),
    )


def start_run(store: Store, version: Row, user: Row, body: Any) -> int:
    """Check a run body and create its queued execution; returns the execution id.

    Every way of running a pipeline (REST ``POST .../run``, GraphQL ``runPipeline``) comes
    here, so they refuse the same bodies and nothing is created when one is refused
    (``ApiError`` 400 with every field error, 500 for a missing dict).
    """
    checked = check_run(store, version, user, body)
    return sim.create_run(
        store,
        version=version,
        owner=int(user["id"]),
        params=checked.params,
        data_params=checked.data_params,
        csv_params=checked.csv_params,
        nextflow_version=checked.nextflow_version,
        samples=checked.samples,
        fileset=checked.fileset,
        retries=checked.retries,
        command=checked.command,
    )


def _retried(form: _Form, version: Row, value: Any) -> int | None:
    """``retries``: a readable execution of the same version, being re-run (notes)."""
    if value in (None, ""):
        return None
    found = _readable(form.store, v.EXECUTION_SELECT, v.EXECUTION_VISIBLE, "e", value, form.user)
    if (
        not found
        or found["pipeline_name"] != version["pipeline_name"]
        or found["pipeline_version"] != version["name"]
    ):
        form.add("retries", f"Execution {value} is not a run of this pipeline version.")
        return None
    return int(found["id"])


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def command_line(
    store: Store, version: Row, params: dict[str, Any], data_params: dict[str, Any]
) -> str:
    """The Nextflow command the run would use (shown as the execution's ``command``)."""
    parts = [f"nextflow run {version['workflow']} -r {version['name']} -profile flow"]
    for name, param in schema_params(version["schema"]):
        kind = param.get("type")
        if kind == "csv":
            parts.append(f"--{name} {name}.csv")
        elif kind == "data" and data_params.get(name) not in (None, ""):
            data = store.get_data(data_params[name])
            filename = data["filename"] if data else data_params[name]
            parts.append(f"--{name} /data/{data_params[name]}/{filename}")
        elif kind in VALUE_TYPES:
            value = params.get(name, param.get("default"))
            if isinstance(value, bool):
                value = "true" if value else "false"
            if value not in (None, ""):
                parts.append(f"--{name} {value}")
    return " ".join(parts)
