"""Build a run body from a version's schema, collecting every problem first (#11; no I/O).

The mapping follows the Flow maintainers' notes (flow-skills ``endpoints/pipelines.md``,
"Schema → body mapping"): string/number/boolean/hidden params go to ``params`` as strings
(booleans ``"true"``/``"false"``, an untouched boolean without a default is left out, hidden
params always carry their default); ``data`` params go to ``data_params`` as data ids; ``csv``
params go to ``csv_params`` as ``{"rows": [...]}``, one ``{"sample": id, "values": {}}`` row per
sample for a param that ``takes_samples``. The body always has the three dicts and a
``nextflow_version`` (``nextflow_versions[0]`` when none is given).

:class:`RunBuilder` works in two steps so the resource can look ids up in between: it first
routes the caller's values to the schema's params (``data_ids``/``sample_ids`` say what to
fetch), then :meth:`RunBuilder.body` checks everything and returns the body or raises one
:class:`InvalidRunError` naming every problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowbio_async._models._base import FlowModel
from flowbio_async._models._data import Data
from flowbio_async._models._pipelines import PipelineVersion, SchemaParam
from flowbio_async._models._samples import Sample
from flowbio_async._pipeline_errors import InvalidRunError, RunProblem

VALUE_TYPES = frozenset({"string", "number", "boolean", "hidden"})
BUCKETS = {"data": "data_params", "csv": "csv_params"}
_TRUE_FALSE = {"true": "true", "false": "false"}


def ref_id(value: Any) -> str | None:
    """The id of a model (``Data``, ``Sample``, ``Execution``...) or a plain id; else None."""
    if isinstance(value, FlowModel):
        found = getattr(value, "id", None)
        return str(found) if found is not None else None
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


@dataclass
class _Slot:
    """A schema param and the caller's value for it (if any)."""

    name: str
    param: SchemaParam
    bucket: str
    given: bool = False
    value: Any = None


class RunBuilder:
    """Routes run inputs to a version's schema, then checks them and builds the body.

    Example:
        ```python
        builder = RunBuilder(version, params={"genome": "GRCh38"}, samples=["12"])
        samples = {sid: await fetch_sample(sid) for sid in builder.sample_ids()}
        body = builder.body(data={}, samples=samples)
        ```
    """

    def __init__(
        self,
        version: PipelineVersion,
        *,
        params: Mapping[str, Any] | None = None,
        data_params: Mapping[str, Any] | None = None,
        csv_params: Mapping[str, Any] | None = None,
        samples: Sequence[Any] | None = None,
        nextflow_version: str | None = None,
    ) -> None:
        self.version = version
        self.nextflow_version = nextflow_version
        self.problems: list[RunProblem] = []
        self.slots: dict[str, _Slot] = {}
        aliases: dict[str, str] = {}
        for name, param, _ in version.run_schema.params():
            bucket = BUCKETS.get(param.type, "params")
            self.slots[name] = _Slot(name, param, bucket)
            aliases[name] = name
        for section in version.run_schema.inputs:  # the schema key also names its param
            for key, param in section.params.items():
                aliases.setdefault(key, param.param or key)
        for bucket, values in (
            ("params", params),
            ("data_params", data_params),
            ("csv_params", csv_params),
        ):
            for key, value in (values or {}).items():
                self._route(bucket, str(key), value, aliases)
        if samples is not None:
            self._route_samples(list(samples))

    # -- routing ----------------------------------------------------------------------------
    def _route(self, bucket: str, key: str, value: Any, aliases: Mapping[str, str]) -> None:
        name = aliases.get(key)
        if name is None:
            known = tuple(sorted(self.slots))
            self.problems.append(RunProblem(f"{bucket}.{key}", "unknown parameter", known))
            return
        slot = self.slots[name]
        if slot.given:
            self.problems.append(RunProblem(f"{slot.bucket}.{name}", "given more than once"))
            return
        slot.given, slot.value = True, value

    def _route_samples(self, samples: list[Any]) -> None:
        takers = [s for s in self.slots.values() if s.param.type == "csv" and s.param.takes_samples]
        if not takers:
            self.problems.append(RunProblem("samples", "this pipeline version takes no samples"))
        elif len(takers) > 1:
            names = tuple(s.name for s in takers)
            message = "more than one param takes samples; pass csv_params={name: samples}"
            self.problems.append(RunProblem("samples", message, names))
        elif takers[0].given:
            message = "given twice (samples= and csv_params)"
            self.problems.append(RunProblem(f"csv_params.{takers[0].name}", message))
        else:
            takers[0].given, takers[0].value = True, samples

    def data_ids(self) -> set[str]:
        """Ids of data given for ``data`` params (to look up before :meth:`body`)."""
        found = set()
        for slot in self.slots.values():
            if slot.param.type == "data" and slot.given and (key := ref_id(slot.value)):
                found.add(key)
        return found

    def sample_ids(self) -> set[str]:
        """Ids of samples given in csv params that take samples."""
        found: set[str] = set()
        for slot in self.slots.values():
            if slot.param.type == "csv" and slot.param.takes_samples and slot.given:
                rows = _rows(slot.value) or []
                found.update(key for row in rows if (key := ref_id(row.get("sample"))))
        return found

    # -- checking ---------------------------------------------------------------------------
    def body(
        self, *, data: Mapping[str, Data | None], samples: Mapping[str, Sample | None]
    ) -> dict[str, Any]:
        """The run body; raises :class:`InvalidRunError` with every problem found.

        ``data``/``samples`` map the ids of :meth:`data_ids`/:meth:`sample_ids` to what the
        server returned for them, or None when the caller cannot read them.
        """
        body: dict[str, Any] = {"params": {}, "data_params": {}, "csv_params": {}}
        problems = list(self.problems)
        for slot in self.slots.values():
            field = f"{slot.bucket}.{slot.name}"
            kind = slot.param.type
            if kind in VALUE_TYPES:
                value, found = _value(slot, field)
            elif kind == "data":
                value, found = _data(slot, field, data)
            elif kind == "csv":
                value, found = _csv(slot, field, samples)
            else:
                found = [RunProblem(field, f"unsupported parameter type {kind!r}")]
                value = None
            problems.extend(found)
            if value is not None:
                body[slot.bucket][slot.name] = value
        body["nextflow_version"], found = self._nextflow()
        problems.extend(found)
        if problems:
            raise InvalidRunError(self._title(), problems)
        return body

    def _nextflow(self) -> tuple[str | None, list[RunProblem]]:
        available = tuple(self.version.nextflow_versions)
        chosen = self.nextflow_version
        if chosen is None:
            if available:
                return available[0], []
            return None, [RunProblem("nextflow_version", "no Nextflow version is available")]
        if chosen not in available:
            return None, [RunProblem("nextflow_version", f"unknown {chosen!r}", available)]
        return chosen, []

    def _title(self) -> str:
        pipeline = self.version.pipeline.name if self.version.pipeline else None
        name = " ".join(x for x in (pipeline, self.version.name) if x)
        return f"{name} (version {self.version.id})"


def _missing(slot: _Slot, field: str, what: str = "required; no value given") -> RunProblem:
    return RunProblem(field, what, tuple(slot.param.valid or ()))


def _value(slot: _Slot, field: str) -> tuple[Any, list[RunProblem]]:
    """A string/number/boolean/hidden param as the string the server expects."""
    param = slot.param
    if not slot.given or slot.value is None:
        if param.default is None:
            return None, [_missing(slot, field)] if param.required else []
        return _text(param, param.default, field)
    return _text(param, slot.value, field)


def _text(param: SchemaParam, value: Any, field: str) -> tuple[str | None, list[RunProblem]]:
    valid = tuple(param.valid or ())
    if param.type == "boolean":
        if isinstance(value, bool):
            return ("true" if value else "false"), []
        text = _TRUE_FALSE.get(str(value).strip().lower())
        if text is None:
            return None, [RunProblem(field, f"expected true or false, got {value!r}")]
        return text, []
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None, [RunProblem(field, f"expected a {param.type}, got {type(value).__name__}")]
    if param.type == "number":
        try:
            number = float(value)
        except ValueError:
            return None, [RunProblem(field, f"expected a number, got {value!r}", valid)]
        if valid and all(_as_float(item) != number for item in valid):
            return None, [RunProblem(field, f"{value!r} is not allowed", valid)]
        return str(value).strip(), []
    text = str(value)
    if valid and text not in {str(item) for item in valid}:
        return None, [RunProblem(field, f"{value!r} is not allowed", valid)]
    return text, []


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _data(
    slot: _Slot, field: str, lookup: Mapping[str, Data | None]
) -> tuple[str | None, list[RunProblem]]:
    """A data param as a readable data id that fits the param's filters."""
    param = slot.param
    if not slot.given or slot.value is None:
        fallback = ref_id(param.default)
        if fallback is not None:
            return fallback, []
        return None, [_missing(slot, field)] if param.required else []
    key = ref_id(slot.value)
    if key is None:
        got = type(slot.value).__name__
        return None, [RunProblem(field, f"expected a Data object or a data id, got {got}")]
    data = lookup.get(key)
    if data is None:
        return None, [RunProblem(field, f"data {key} does not exist or you cannot read it")]
    problems = []
    if param.category is not None and data.category is not None and data.category != param.category:
        message = f"data {key} is of category {data.category}; this param needs {param.category}"
        problems.append(RunProblem(field, message))
    if param.pattern and data.filename and not re.search(param.pattern, data.filename):
        message = f"{data.filename!r} (data {key}) does not match {param.pattern!r}"
        problems.append(RunProblem(field, message))
    kind = _data_type(data)
    if param.data_types and kind is not None and kind not in param.data_types:
        allowed = tuple(param.data_types)
        problems.append(RunProblem(field, f"data {key} is of type {kind!r}", allowed))
    return key, problems


def _data_type(data: Data) -> str | None:
    value = data.data_type
    if isinstance(value, dict):
        found = value.get("identifier")
        return str(found) if found is not None else None
    return value


def _rows(value: Any) -> list[dict[str, Any]] | None:
    """Rows of a csv param: ``{"rows": [...]}``, a list of rows, or a list of samples."""
    if isinstance(value, Mapping):
        rows = value.get("rows")
        if not isinstance(rows, list | tuple):
            return None
        items: Iterable[Any] = rows
    elif isinstance(value, list | tuple):
        items = value
    else:
        return None
    found = []
    for item in items:
        if isinstance(item, Mapping):
            found.append(dict(item))
        elif (key := ref_id(item)) is not None:
            found.append({"sample": key, "values": {}})
        else:
            return None
    return found


def _csv(
    slot: _Slot, field: str, lookup: Mapping[str, Sample | None]
) -> tuple[dict[str, Any] | None, list[RunProblem]]:
    param = slot.param
    what = "required; give samples=[...]" if param.takes_samples else "required; no rows given"
    if not slot.given or slot.value is None:
        return None, [_missing(slot, field, what)] if param.required else []
    rows = _rows(slot.value)
    if rows is None:
        return None, [RunProblem(field, "expected {'rows': [...]} or a list of rows or samples")]
    if not rows:
        return None, [_missing(slot, field, what)] if param.required else []
    problems: list[RunProblem] = []
    cleaned = [_row(param, row, field, lookup, problems) for row in rows]
    result: dict[str, Any] = {"rows": cleaned}
    if isinstance(slot.value, Mapping):  # mode / paired pass through (notes)
        result.update({k: v for k, v in slot.value.items() if k != "rows"})
    return result, problems


def _row(
    param: SchemaParam,
    row: dict[str, Any],
    field: str,
    lookup: Mapping[str, Sample | None],
    problems: list[RunProblem],
) -> dict[str, Any]:
    values = dict(row.get("values") or {})
    for column in param.columns:
        # The server fills from_sample/from_fileset columns but not defaults (notes).
        filled = column.from_sample is not None or column.from_fileset is not None
        if not filled and column.default is not None and column.name not in values:
            values[column.name] = column.default
    cleaned: dict[str, Any] = {**row, "values": values}
    if "sample" in row:
        key = ref_id(row["sample"])
        cleaned["sample"] = key
        if param.takes_samples:
            _check_sample(param, key, field, lookup, problems)
    elif param.takes_samples:
        problems.append(RunProblem(field, "a row has no sample"))
    if "fileset" in row:
        cleaned["fileset"] = ref_id(row["fileset"])
    return cleaned


def _check_sample(
    param: SchemaParam,
    key: str | None,
    field: str,
    lookup: Mapping[str, Sample | None],
    problems: list[RunProblem],
) -> None:
    sample = lookup.get(key) if key is not None else None
    if sample is None:
        problems.append(RunProblem(field, f"sample {key} does not exist or you cannot read it"))
        return
    allowed = param.sample_types or []
    if not allowed:
        return
    kind = sample.sample_type
    names = {x.lower() for x in (kind.identifier, kind.name) if x} if kind is not None else set()
    if not names & {a.lower() for a in allowed}:
        shown = (kind.name or kind.identifier) if kind is not None else "no type"
        message = f"sample {key} ({sample.name}) is {shown}"
        problems.append(RunProblem(field, message, tuple(allowed)))
