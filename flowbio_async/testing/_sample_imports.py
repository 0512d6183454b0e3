"""Sample import jobs: samples made from public-archive accessions (docs/protocol.md §3.7, #11).

``POST /v2/sample-imports`` takes ``{"imports": [spec, ...]}``; each spec has ``accession``
and ``sample_type`` and may have ``name``, ``organism``, ``project``, ``pubmed`` and
``metadata`` (the official 0.14.1 client's ``SampleImportSpec``). Every spec is checked
before anything is stored; any problem refuses the whole batch with a 422 Problem Details
answer whose ``errors`` point at the fields (``/imports/0/accession``), and no job starts.
A job covers the batch: ``RUNNING`` until its simulated time is up (``execution_speed``
simulated seconds per real second, like pipeline runs; 0 pauses), then ``COMPLETED`` with
one sample per accession (paired FASTQ files ``<accession>_1/_2.fastq.gz``), or ``FAILED``
with an ``error`` when an accession is not in the (simulated) archive: any accession whose
digits are all zeros, e.g. ``ERR0000000``. Jobs carry no execution here (``execution_id``
null). Dates are timezone-aware ISO-8601 (docs/protocol.md §1.2).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from flowbio_async.testing._demo import fastq_bytes
from flowbio_async.testing._problems import issue, refused
from flowbio_async.testing._routes_upload import DEMULTIPLEXED, SampleUpload, reads_data_type
from flowbio_async.testing._security import ApiError
from flowbio_async.testing._store import Row, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sample_imports (
    id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, status TEXT NOT NULL,
    created REAL NOT NULL, started REAL, finished REAL, due REAL,
    specs TEXT NOT NULL, sample_ids TEXT NOT NULL DEFAULT '[]', error TEXT
)
"""
#: Run, experiment, sample or study accessions of ENA, SRA and DDBJ.
ACCESSION = re.compile(r"^(?:[EDS]R[RXSP])\d{6,}$")
FIELDS = ("accession", "sample_type", "name", "organism", "project", "pubmed", "metadata")
MAX_IMPORTS = 100
#: Simulated seconds a job takes: a fixed start plus a share per accession.
START_SECONDS, PER_ACCESSION_SECONDS = 10.0, 5.0
RUNNING, COMPLETED, FAILED = "RUNNING", "COMPLETED", "FAILED"


def ensure_table(store: Store) -> None:
    """Create the jobs table if missing (idempotent)."""
    store.execute(_SCHEMA)


def _iso(value: float | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value, UTC).isoformat()


# -- checking a batch -----------------------------------------------------------------------------
def check_batch(store: Store, user: Row, body: Any) -> list[dict[str, Any]]:
    """The specs of a valid batch; otherwise a 422 naming every problem (nothing stored)."""
    imports = body.get("imports") if isinstance(body, dict) else None
    if not isinstance(imports, list) or not imports:
        raise refused([issue("/imports", "required", "A non-empty list of imports is required.")])
    if len(imports) > MAX_IMPORTS:
        raise refused([issue("/imports", "max_items", f"At most {MAX_IMPORTS} imports.")])
    problems: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(imports):
        problems += _check_spec(store, user, index, spec, seen)
    if problems:
        raise refused(problems)
    return [dict(spec) for spec in imports]


def _check_spec(
    store: Store, user: Row, index: int, spec: Any, seen: dict[str, int]
) -> list[dict[str, Any]]:
    at = f"/imports/{index}"
    if not isinstance(spec, dict):
        return [issue(at, "invalid_type", "Each import is an object.")]
    found = [
        issue(f"{at}/{k}", "unknown_field", "This field is not known.")
        for k in spec
        if k not in FIELDS
    ]

    def text(name: str, *, required: bool = False) -> str | None:
        value = spec.get(name)
        if value is None or value == "":
            if required:
                found.append(issue(f"{at}/{name}", "required", "This field is required."))
            return None
        if not isinstance(value, str):
            found.append(issue(f"{at}/{name}", "invalid_type", "Expected a string."))
            return None
        return value.strip()

    accession = text("accession", required=True)
    if accession is not None:
        if not ACCESSION.match(accession):
            found.append(
                issue(
                    f"{at}/accession",
                    "invalid_accession",
                    f"'{accession}' is not an ENA/SRA/DDBJ run, experiment, sample or "
                    "study accession (e.g. ERR1160845).",
                )
            )
        elif accession in seen:
            found.append(
                issue(f"{at}/accession", "duplicate", f"Also given at /imports/{seen[accession]}.")
            )
        else:
            seen[accession] = index
    sample_type = text("sample_type", required=True)
    if sample_type is not None and not store.row(
        "SELECT 1 FROM sample_types WHERE identifier = ?", (sample_type,)
    ):
        found.append(
            issue(f"{at}/sample_type", "invalid_choice", f"Unknown sample type '{sample_type}'.")
        )
    name = text("name")
    if name is not None and " " in name:
        found.append(issue(f"{at}/name", "invalid", "Sample names cannot contain spaces."))
    organism = text("organism")
    if organism is not None and not store.row("SELECT 1 FROM organisms WHERE id = ?", (organism,)):
        found.append(issue(f"{at}/organism", "invalid_choice", f"Unknown organism '{organism}'."))
    project = text("project")
    if project is not None:
        row = store.get_project(project)
        if row is None or row["owner"] != user["id"]:
            found.append(
                issue(f"{at}/project", "not_owned", "Project not found or not owned by you.")
            )
    pubmed = text("pubmed")
    if pubmed is not None and not pubmed.isdigit():
        found.append(issue(f"{at}/pubmed", "invalid", "A PubMed id is a number, e.g. 12345678."))
    found += _check_metadata(store, at, spec.get("metadata"), sample_type)
    return found


def _check_metadata(
    store: Store, at: str, metadata: Any, sample_type: str | None
) -> list[dict[str, Any]]:
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(val, str) for k, val in metadata.items()
    ):
        return [issue(f"{at}/metadata", "invalid_type", "Metadata maps attribute ids to strings.")]
    known = {r["identifier"] for r in store.rows("SELECT identifier FROM metadata_attributes")}
    found = [
        issue(f"{at}/metadata/{k}", "unknown_field", "Not a metadata attribute.")
        for k in metadata
        if k not in known
    ]
    if sample_type is None:
        return found
    try:
        # The sample upload's rules: required attributes, options, regex validators.
        SampleUpload._check_metadata(store, sample_type, {k: [val] for k, val in metadata.items()})
    except ApiError as exc:
        problems = exc.body.get("error") if isinstance(exc.body, dict) else {}
        for attribute, messages in (problems or {}).items():
            code = "required" if "required" in " ".join(messages) else "invalid"
            found.append(issue(f"{at}/metadata/{attribute}", code, " ".join(messages)))
    return found


# -- jobs -----------------------------------------------------------------------------------------
def start_job(store: Store, user: Row, specs: list[dict[str, Any]], speed: float) -> int:
    """A RUNNING job for a checked batch; due after its simulated time (never when paused)."""
    now = time.time()
    seconds = START_SECONDS + PER_ACCESSION_SECONDS * len(specs)
    return store.insert(
        "sample_imports",
        {
            "owner": user["id"],
            "status": RUNNING,
            "created": now,
            "started": now,
            "due": now + seconds / speed if speed > 0 else None,
            "specs": json.dumps(specs),
        },
    )


def get_job(store: Store, job_id: Any, user: Row) -> Row | None:
    """The caller's job, brought up to date; None when unknown or another user's."""
    try:
        key = int(job_id)
    except (TypeError, ValueError):
        return None
    row = store.row("SELECT * FROM sample_imports WHERE id = ? AND owner = ?", (key, user["id"]))
    due = row is not None and row["status"] == RUNNING and row["due"] is not None
    if row is not None and due and time.time() >= row["due"]:
        _finish(store, row)
        row = store.row("SELECT * FROM sample_imports WHERE id = ?", (key,))
    return row


def _finish(store: Store, job: Row) -> None:
    specs: list[dict[str, Any]] = json.loads(job["specs"])
    missing = [s["accession"] for s in specs if not s["accession"].strip("EDSRXP").strip("0")]
    finished = float(job["due"])
    if missing:
        store.update(
            "sample_imports",
            "id",
            job["id"],
            {
                "status": FAILED,
                "finished": finished,
                "error": f"Not found in the archive: {', '.join(missing)}",
            },
        )
        return
    sample_ids = [_make_sample(store, int(job["owner"]), spec, finished) for spec in specs]
    store.update(
        "sample_imports",
        "id",
        job["id"],
        {"status": COMPLETED, "finished": finished, "sample_ids": json.dumps(sample_ids)},
    )


def _make_sample(store: Store, owner: int, spec: dict[str, Any], when: float) -> str:
    accession = spec["accession"].strip()
    sample_id = store.insert(
        "samples",
        {
            "name": (spec.get("name") or accession).strip(),
            "owner": owner,
            "project": int(spec["project"]) if spec.get("project") else None,
            "sample_type": spec["sample_type"],
            "organism": spec.get("organism") or None,
            "pubmed": spec.get("pubmed") or None,
            "created": int(when),
        },
    )
    for attribute, value in (spec.get("metadata") or {}).items():
        store.insert(
            "sample_metadata", {"sample": sample_id, "attribute": attribute, "value": value}
        )
    for read in ("1", "2"):
        filename = f"{accession}_{read}.fastq.gz"
        data = store.create_data(
            filename=filename,
            owner=owner,
            sample=sample_id,
            project=int(spec["project"]) if spec.get("project") else None,
            category=DEMULTIPLEXED,
            data_type=reads_data_type(store, filename),
            created=int(when),
        )
        store.write_blob(data["id"], fastq_bytes(f"{accession}_{read}", reads=50))
    return str(sample_id)


def job_view(row: Row) -> dict[str, Any]:
    """A job as ``GET /v2/sample-imports/<id>`` answers it (docs/protocol.md §3.7)."""
    specs: list[dict[str, Any]] = json.loads(row["specs"])
    return {
        "id": str(row["id"]),
        "status": row["status"],
        "created": _iso(row["created"]),
        "started": _iso(row["started"]),
        "finished": _iso(row["finished"]),
        "accessions": [s["accession"].strip() for s in specs],
        "sample_ids": json.loads(row["sample_ids"]),
        "execution_id": None,
        "error": row["error"],
    }
