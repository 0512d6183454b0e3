"""``pipelines list``, ``pipelines show`` and ``run`` (#11).

``run`` takes params from ``--param KEY=VALUE`` flags and/or a JSON or YAML file
(``--params-file``, as nf-core's ``-params-file`` takes): either a flat mapping of params, or
one with any of ``params``, ``data_params``, ``csv_params``, ``samples`` and
``nextflow_version``. It prints the execution id and its web link; ``--wait`` then follows the
run to its end (exit 0 only when it ends OK).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from flowbio_async._cli._command import Invocation, Verbs
from flowbio_async._cli._credentials import Auth
from flowbio_async._cli._exit import CliUsageError
from flowbio_async._cli._output import Output, jsonable
from flowbio_async._models._executions import Execution
from flowbio_async._models._pipelines import PipelineVersion

STRUCTURED_KEYS = frozenset({"params", "data_params", "csv_params", "samples", "nextflow_version"})
PARAM_COLUMNS = [
    ("name", "Param"),
    ("type", "Type"),
    ("required", "Required"),
    ("default", "Default"),
    ("valid", "Valid values"),
    ("section", "Section"),
]


def register(verbs: Verbs) -> None:
    """Add the ``pipelines`` group and ``run``."""
    pipelines = verbs.group("pipelines", "the pipeline catalogue")
    pipelines.add("list", _list, "list pipelines by category", auth=Auth.OPTIONAL)
    show = pipelines.add(
        "show",
        _show,
        "show a pipeline's versions and run parameters",
        "Show a pipeline (by id or name), its versions newest first, and the run parameters "
        "of its latest version (or of --version).",
        auth=Auth.OPTIONAL,
    )
    show.add_argument("pipeline", metavar="PIPELINE", help="pipeline id or name")
    show.add_argument("--version", metavar="NAME", help="version name (default: the latest)")

    run = verbs.add(
        "run",
        _run,
        "run a pipeline version",
        "Run a pipeline (by id or name; its latest version unless --version or --version-id). "
        "Params come from --param flags and/or a JSON or YAML --params-file (.json, .yaml, "
        ".yml; any other name is read as JSON, then as YAML). "
        "Every problem is reported before anything is sent; nothing starts on a bad input.",
    )
    run.add_argument("pipeline", nargs="?", metavar="PIPELINE", help="pipeline id or name")
    run.add_argument("--version", metavar="NAME", help="version name (default: the latest)")
    run.add_argument("--version-id", metavar="ID", help="version id (instead of PIPELINE)")
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a run parameter (repeatable); see `pipelines show`",
    )
    run.add_argument(
        "--data", action="append", default=[], metavar="KEY=ID", help="a data param (repeatable)"
    )
    run.add_argument(
        "--sample",
        action="append",
        default=[],
        metavar="ID",
        help="a sample for the samplesheet (repeatable)",
    )
    run.add_argument(
        "--params-file", type=Path, metavar="FILE", help="params as JSON or YAML (.yaml, .yml)"
    )
    run.add_argument("--nextflow-version", metavar="VERSION", help="default: the newest listed")
    add_wait_options(run)
    run.add_argument("--wait", action="store_true", help="follow the run until it ends")


def add_wait_options(parser: Any) -> None:
    """``--poll-interval`` and ``--timeout`` for commands that follow a run."""
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="first delay between polls (grows while nothing changes; default 5)",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="give up waiting (the run goes on)"
    )


async def _list(inv: Invocation) -> int:
    catalogue = await inv.client.pipelines.get_catalogue()
    rows = []
    for category in catalogue:
        for sub in category.subcategories:
            for pipeline in sub.pipelines:
                rows.append(
                    {
                        "id": pipeline.id,
                        "name": pipeline.name,
                        "category": f"{category.name} / {sub.name}",
                        "description": pipeline.description,
                    }
                )
    columns = [("id", "ID"), ("name", "Name"), ("category", "Category"), ("description", "About")]
    inv.output.table(rows, columns, document=catalogue)
    return 0


async def _resolve(inv: Invocation, pipeline: str, version: str | None) -> PipelineVersion:
    """A version from a pipeline id or name and an optional version name."""
    client = inv.client
    text = pipeline.strip()
    if text.isdigit():
        found = await client.pipelines.get(text)
        name = found.name
    else:
        name = text
    return await client.pipelines.find(name, version)


def param_rows(version: PipelineVersion) -> list[dict[str, Any]]:
    """One row per run parameter of a version."""
    rows = []
    for name, param, section in version.run_schema.params():
        rows.append(
            {
                "name": name,
                "type": param.type + (" (samples)" if param.takes_samples else ""),
                "required": param.required,
                "default": param.default,
                "valid": ", ".join(str(v) for v in param.valid or []),
                "section": section.name,
                "description": param.description,
            }
        )
    return rows


async def _show(inv: Invocation) -> int:
    client = inv.client
    version = await _resolve(inv, inv.args.pipeline, inv.args.version)
    ref = version.pipeline.id if version.pipeline else None
    pipeline = await client.pipelines.get(ref) if ref else None
    if inv.output.json_mode:
        inv.output.result(
            {"pipeline": pipeline, "version": version.model_dump(mode="json", by_alias=True)}
        )
        return 0
    versions = ", ".join(
        f"{v.name} (id {v.id}{', latest' if index == 0 else ''})"
        for index, v in enumerate(pipeline.versions if pipeline else [])
    )
    title = f"{pipeline.name} (id {pipeline.id})" if pipeline else version.name
    lines = [title]
    if pipeline and pipeline.description:
        lines.append(pipeline.description)
    nextflow = ", ".join(version.nextflow_versions)
    lines += [
        f"versions: {versions}",
        f"version {version.name} (id {version.id}), Nextflow {nextflow}",
        "",
    ]
    inv.output.result(None, "\n".join(lines))
    inv.output.table(param_rows(version), PARAM_COLUMNS)
    return 0


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliUsageError(f"{flag} takes KEY=VALUE, got {item!r}")
        found[key.strip()] = value
    return found


class _ParamsLoader(yaml.SafeLoader):
    """YAML's safe loader, keeping timestamps as the text written (``2024-05-01`` is a param
    value, not a date object the run body could not send)."""


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_ParamsLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
YAML_SUFFIXES = frozenset({".yaml", ".yml"})


def _load(path: Path, text: str) -> Any:
    """The document in ``text``: YAML for ``.yaml``/``.yml``, JSON for ``.json``, and for
    any other name JSON first, then YAML."""
    suffix = path.suffix.lower()
    if suffix != ".json" and suffix not in YAML_SUFFIXES:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliUsageError(f"{path}: not JSON: {exc}") from None
    try:
        return yaml.load(text, Loader=_ParamsLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        kind = "YAML" if suffix in YAML_SUFFIXES else "JSON or YAML"
        raise CliUsageError(f"{path}: not {kind}: {' '.join(str(exc).split())}") from None


def _check_keys(path: Path, value: Any, where: str = "") -> None:
    """Every mapping key is text (YAML allows ``1:`` or ``yes:``; Flow's params are named)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CliUsageError(
                    f"{path}: key {key!r}{' in ' + where if where else ''} is not text; quote it"
                )
            _check_keys(path, item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for item in value:
            _check_keys(path, item, where)


def read_params_file(path: Path) -> dict[str, Any]:
    """The run inputs of a JSON or YAML params file (flat params, or the structured form)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliUsageError(f"{path}: cannot read: {exc}") from None
    loaded = _load(path, text)
    if loaded is None:
        raise CliUsageError(f"{path}: the file holds no params")
    if not isinstance(loaded, dict):
        kind = "a list" if isinstance(loaded, list) else f"a {type(loaded).__name__}"
        raise CliUsageError(f"{path}: expected a mapping of params (an object), not {kind}")
    _check_keys(path, loaded)
    if loaded and set(loaded) <= STRUCTURED_KEYS:
        return loaded
    return {"params": loaded}


def run_inputs(args: Any) -> dict[str, Any]:
    """Keyword arguments of ``pipelines.run`` from the flags and the params file."""
    inputs: dict[str, Any] = read_params_file(args.params_file) if args.params_file else {}
    for key in ("params", "data_params", "csv_params"):
        value = inputs.get(key, {})
        if not isinstance(value, dict):
            raise CliUsageError(f"{key} in the params file must be an object")
        inputs[key] = dict(value)
    inputs["params"].update(_pairs(args.param, "--param"))
    inputs["data_params"].update(_pairs(args.data, "--data"))
    samples = list(inputs.get("samples") or []) + list(args.sample)
    inputs["samples"] = samples or None
    if args.nextflow_version:
        inputs["nextflow_version"] = args.nextflow_version
    return inputs


async def _run(inv: Invocation) -> int:
    args = inv.args
    client = inv.client
    if bool(args.pipeline) == bool(args.version_id):
        raise CliUsageError("give PIPELINE (id or name) or --version-id, not both")
    if args.version_id and args.version:
        raise CliUsageError("--version goes with PIPELINE, not with --version-id")
    inputs = run_inputs(args)
    if args.version_id:
        version = await client.pipelines.get_version(args.version_id)
    else:
        version = await _resolve(inv, args.pipeline, args.version)
    execution = await client.pipelines.run(version, **inputs)
    url = client.executions.web_url(execution)
    what = f"{execution.pipeline_name or ''} {execution.pipeline_version or ''}".strip()
    if args.wait:
        inv.output.advisory(f"Started execution {execution.id} ({what}): {url}")
        execution = await client.executions.wait(
            execution, poll_interval=args.poll_interval, timeout=args.timeout
        )
    report_execution(inv.output, execution, url)
    return 0


def report_execution(output: Output, execution: Execution, url: str) -> None:
    """The execution id and link on stdout (or the JSON document with ``web_url``)."""
    document = {**jsonable(execution), "web_url": url}
    status = {"": "queued", "-": "running"}.get((execution.status or "").strip(), execution.status)
    what = " ".join(x for x in (execution.pipeline_name, execution.pipeline_version) if x)
    lines = [f"execution {execution.id} ({what}) {status}", url]
    if execution.is_terminal:
        lines.append(
            f"{len(execution.outputs)} output files: flowbio-async download --execution "
            f"{execution.id}"
        )
    output.result(document, "\n".join(lines))
