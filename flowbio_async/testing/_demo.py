"""Demo data seeded into an empty data dir: users, catalogue, projects, samples, files.

Everything is deterministic (fixed timestamps, seeded random reads) so tests and docs can
rely on names and counts: user ``demo`` owns :data:`DEMO_PROJECT_COUNT` projects (more than
one default page of 10), the first project holds paired-end RNA-Seq samples with gzipped
FASTQ files, and an execution on the first sample has output files (among them an HTML
report with two assets in ``multiqc_report_data/``).
"""

from __future__ import annotations

import gzip
import random
from typing import Any

from flowbio_async.testing._pipeline_catalogue import version_ids
from flowbio_async.testing._store import Store

DEMO_USERS = (("demo", "demo-password", "Demo User"), ("other", "other-password", "Other User"))
DEMO_PROJECT_COUNT = 25
#: Fixed clock for seeded rows: 2024-01-01T00:00:00Z.
EPOCH = 1_704_067_200
DAY = 86_400

SAMPLE_TYPES = (
    ("ATAC-Seq", "ATAC-Seq", "Chromatin accessibility by transposase insertion."),
    ("ChIP-Seq", "ChIP-Seq", "Protein-DNA binding by chromatin immunoprecipitation."),
    ("RNA-Seq", "RNA-Seq", "Bulk transcriptome sequencing."),
    ("generic", "Generic", "Any other kind of sample."),
    ("scRNA-Seq", "scRNA-Seq", "Single-cell transcriptome sequencing."),
)
ORGANISMS = (("Hs", "Human", "Homo sapiens"), ("Mm", "Mouse", "Mus musculus"))
DATA_TYPES = (
    ("fastq", "FASTQ", "Raw sequencing reads."),
    ("bam", "BAM", "Aligned reads."),
    ("bigwig", "bigWig", "Coverage tracks."),
    ("tsv", "TSV", "Tab-separated tables."),
    ("html", "HTML report", "Reports such as MultiQC."),
    ("annotation", "Annotation sheet", "Sample annotation spreadsheets."),
)
#: (identifier, name, description, required-for-all, has_options, allow_user_terms, regex,
#:  in_table, sample types it is linked to with their `required` flag)
ATTRIBUTES: tuple[tuple[Any, ...], ...] = (
    ("scientist", "Scientist", "Who prepared the sample.", True, False, True, None, True, {}),
    (
        "strandedness",
        "Strandedness",
        "Library strandedness.",
        False,
        True,
        False,
        None,
        True,
        {"RNA-Seq": True, "scRNA-Seq": False},
    ),
    ("cell_type", "Cell type", "Cell type or tissue.", False, False, True, None, True, {}),
    (
        "purification_target",
        "Purification target",
        "Antibody target of the pull-down.",
        False,
        True,
        True,
        None,
        False,
        {"ChIP-Seq": True},
    ),
    ("replicate", "Replicate", "Replicate number.", False, False, True, r"^\d+$", False, {}),
)
OPTIONS = {
    "strandedness": ("forward", "reverse", "unstranded"),
    "purification_target": ("CTCF", "H3K27ac", "H3K4me3", "Pol II"),
}


#: Files a MultiQC report links to, next to it (``multiqc_report_data/`` beside the report).
REPORT_ASSETS = {
    "multiqc_report_data/multiqc.log": b"[INFO] multiqc: This is MultiQC v1.21\n"
    b"[INFO] multiqc: Report written to multiqc_report.html\n",
    "multiqc_report_data/multiqc_general_stats.txt": b"Sample\tpercent_gc\ttotal_sequences\n"
    b"liver_1\t48.2\t250\n",
}


def fastq_bytes(seed: str, reads: int = 250, length: int = 76) -> bytes:
    """Deterministic gzipped FASTQ content (``mtime=0`` so bytes never change)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    lines: list[str] = []
    for index in range(reads):
        sequence = "".join(rng.choice("ACGT") for _ in range(length))
        quality = "".join(chr(33 + rng.randint(20, 40)) for _ in range(length))
        lines += [f"@{seed}.{index + 1} length={length}", sequence, "+", quality]
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def seed_demo(store: Store) -> None:
    """Seed the demo data once per data dir (a restart keeps what is there)."""
    if store.get_meta("demo_seeded"):
        return
    users = {}
    for username, password, name in DEMO_USERS:
        user = store.get_user_by_username(username) or store.create_user(
            username, password, name=name
        )
        users[username] = int(user["id"])
    _seed_catalogue(store)
    _seed_projects(store, users["demo"], users["other"])
    store.set_meta("demo_seeded", "1")


def _seed_catalogue(store: Store) -> None:
    store.many("INSERT OR IGNORE INTO sample_types VALUES (?, ?, ?)", SAMPLE_TYPES)
    store.many("INSERT OR IGNORE INTO organisms VALUES (?, ?, ?)", ORGANISMS)
    store.many("INSERT OR IGNORE INTO data_types VALUES (?, ?, ?)", DATA_TYPES)
    for order, attribute in enumerate(ATTRIBUTES):
        ident, name, desc, required, options, user_terms, regex, in_table, links = attribute
        store.insert(
            "metadata_attributes",
            {
                "identifier": ident,
                "name": name,
                "description": desc,
                "required": int(required),
                "has_options": int(options),
                "allow_user_terms": int(user_terms),
                "regex_validator": regex,
                "in_table": int(in_table),
                "ordering": order,
                "all_sample_types": int(not links),
            },
        )
        for sample_type, link_required in links.items():
            store.insert(
                "metadata_links",
                {"attribute": ident, "sample_type": sample_type, "required": int(link_required)},
            )
        for value in OPTIONS.get(ident, ()):
            store.insert("metadata_options", {"attribute": ident, "value": value})


def _seed_projects(store: Store, demo: int, other: int) -> None:
    project_ids = []
    for index in range(DEMO_PROJECT_COUNT):
        name = "Liver RNA-Seq" if index == 0 else f"Demo project {index + 1:02d}"
        if index == 1:
            name = "Mouse ChIP-Seq"
        project_ids.append(
            store.insert(
                "projects",
                {
                    "name": name,
                    "description": f"Demo project number {index + 1}.",
                    "owner": demo,
                    "private": int(index != 2),  # one public project of demo's
                    "created": EPOCH + index * DAY,
                },
            )
        )
    rna = [
        _sample(store, demo, project_ids[0], f"liver_{n}", "RNA-Seq", "Hs", n, paired=True)
        for n in range(1, 5)
    ]
    for n in range(1, 3):
        _sample(store, demo, project_ids[1], f"ctcf_chip_{n}", "ChIP-Seq", "Mm", 10 + n)
    public = store.insert(
        "projects",
        {
            "name": "Public atlas",
            "description": "A public project owned by another user.",
            "owner": other,
            "private": 0,
            "created": EPOCH + 40 * DAY,
        },
    )
    _sample(store, other, public, "atlas_1", "ATAC-Seq", "Hs", 31, private=False)
    hidden = store.insert(
        "projects",
        {
            "name": "Other private",
            "description": "Invisible to demo.",
            "owner": other,
            "private": 1,
            "created": EPOCH + 41 * DAY,
        },
    )
    _sample(store, other, hidden, "secret_1", "RNA-Seq", "Mm", 32)
    _execution(store, demo, project_ids[0], rna[0], "OK", 1)
    failed = _execution(store, demo, project_ids[0], rna[1], "ERROR", 2)
    _execution(store, demo, project_ids[0], rna[1], "CANCELED", 3, retries=failed)


def _sample(
    store: Store,
    owner: int,
    project: int,
    name: str,
    sample_type: str,
    organism: str,
    day: int,
    *,
    paired: bool = False,
    private: bool = True,
) -> int:
    created = EPOCH + day * DAY
    sample = store.insert(
        "samples",
        {
            "name": name,
            "owner": owner,
            "project": project,
            "sample_type": sample_type,
            "organism": organism,
            "private": int(private),
            "created": created,
        },
    )
    metadata = {"scientist": "Ada Lovelace", "cell_type": "hepatocyte", "replicate": str(day)}
    if sample_type == "RNA-Seq":
        metadata["strandedness"] = "reverse"
    if sample_type == "ChIP-Seq":
        metadata["purification_target"] = "CTCF"
    for attribute, value in metadata.items():
        store.insert("sample_metadata", {"sample": sample, "attribute": attribute, "value": value})
    for read in ("R1", "R2") if paired else ("R1",):
        data = store.create_data(
            filename=f"{name}_{read}.fastq.gz",
            owner=owner,
            sample=sample,
            project=project,
            category=4,
            data_type="fastq",
            private=int(private),
            created=created,
        )
        store.write_blob(data["id"], fastq_bytes(f"{name}_{read}"))
    return sample


#: What the demo runs ran: RNA-Seq 3.14.0 of the demo catalogue, whose ids come from
#: :data:`~flowbio_async.testing._pipeline_catalogue.PIPELINES` (one source for both).
DEMO_PIPELINE_NAME = "RNA-Seq"
DEMO_VERSION_NAME = "3.14.0"
DEMO_PIPELINE_ID, DEMO_VERSION_ID = version_ids(DEMO_PIPELINE_NAME, DEMO_VERSION_NAME)
NEXTFLOW_VERSION = "24.04.4"
#: Terminal output of the runs that did not succeed (``/executions/search?terminal=``).
_TERMINAL = {
    "ERROR": ("", "ERROR ~ Process `STAR_ALIGN (liver_2)` terminated with exit status 137\n"),
    "CANCELED": ("Execution cancelled by user\n", ""),
}


def _execution(
    store: Store,
    owner: int,
    project: int,
    sample: int,
    status: str,
    number: int,
    *,
    retries: int | None = None,
) -> int:
    created = EPOCH + (50 + number) * DAY
    # demo-run-3 is a retry that was cancelled a minute in.
    started, finished = (30.0, 75.0) if status == "CANCELED" else (60.5, 3600.25)
    stdout, stderr = _TERMINAL.get(status, ("", ""))
    execution = store.insert(
        "executions",
        {
            "identifier": f"demo-run-{number}",
            "pipeline_name": DEMO_PIPELINE_NAME,
            "pipeline_version": DEMO_VERSION_NAME,
            "pipeline_id": DEMO_PIPELINE_ID,
            "pipeline_version_id": DEMO_VERSION_ID,
            "nextflow_version": NEXTFLOW_VERSION,
            "stdout": stdout,
            "stderr": stderr,
            "retries": retries,
            "status": status,
            "owner": owner,
            "sample": sample,
            "project": project,
            "created": created,
            "started": created + started,
            "finished": created + finished,
        },
    )
    if status != "OK":
        return execution
    rng = random.Random(number)  # noqa: S311 - test data
    genes = "\n".join(
        f"ENSG{index:011d}\tGENE{index}\t{rng.randint(0, 5000)}" for index in range(1, 400)
    )
    outputs: dict[str, tuple[str, str, bytes]] = {
        "multiqc_report.html": (
            "MULTIQC",
            "html",
            b"<!doctype html><html><head><title>MultiQC report</title></head>"
            b"<body><h1>MultiQC</h1><p>All samples passed.</p>"
            b'<a href="multiqc_report_data/multiqc_general_stats.txt">General statistics</a>'
            b"</body></html>\n",
        ),
        "results/counts/all.gene_counts.tsv": (
            "SUBREAD_FEATURECOUNTS",
            "tsv",
            ("gene_id\tgene_name\tcount\n" + genes + "\n").encode(),
        ),
        "results/bam/liver_1.sorted.bam": (
            "SAMTOOLS_SORT",
            "bam",
            gzip.compress(rng.randbytes(20_000), mtime=0),
        ),
    }
    for path, (process, data_type, content) in outputs.items():
        data = store.create_data(
            filename=path.rsplit("/", 1)[-1],
            owner=owner,
            sample=sample,
            project=project,
            execution=execution,
            process_name=process,
            path=path,
            category=1,
            data_type=data_type,
            created=created + 3600,
        )
        store.write_blob(data["id"], content)
    # The report's relative assets (docs/protocol.md §5.1 "HTML reports"): outputs of the run, not
    # attached to the sample, so sample listings keep their two reads plus three outputs.
    for path, content in REPORT_ASSETS.items():
        data = store.create_data(
            filename=path.rsplit("/", 1)[-1],
            owner=owner,
            project=project,
            execution=execution,
            process_name="MULTIQC",
            path=path,
            category=1,
            created=created + 3600,
        )
        store.write_blob(data["id"], content)
    return execution
