"""The demo pipeline catalogue: categories, pipelines, versions, run schemas and run plans.

Schemas follow the shape the Flow maintainers' notes describe for ``GET /pipelines/versions/
<id>`` (flow-skills ``endpoints/pipelines.md``): ``inputs`` is a list of sections, each with a
``params`` map keyed by the command-line name; a param has a ``type`` (string, number,
boolean, hidden, data, csv), maybe ``required``, ``default``, ``valid``; data params filter by
``pattern``/``category``; csv params that ``takes_samples`` carry ``columns`` filled from the
sample. The *plan* of a version (processes, how long each takes in simulated seconds, which
files it writes, where it fails) is the local server's own invention and never leaves it.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

#: Nextflow versions, sorted by version string descending as the notes say ([0] is default).
NEXTFLOW_RECENT = ["24.04.4", "23.10.1", "23.04.3"]
NEXTFLOW_OLDER = ["23.10.1", "23.04.3", "22.10.6"]

CATEGORIES: list[Json] = [
    {
        "name": "Core",
        "description": "Flow's maintained analysis pipelines.",
        "subcategories": [
            {"name": "RNA", "description": "Transcriptomics.", "pipelines": ["RNA-Seq"]},
            {
                "name": "DNA",
                "description": "Genomics and epigenomics.",
                "pipelines": ["ChIP-Seq", "Variant Calling"],
            },
        ],
    },
    {
        "name": "Utilities",
        "description": "Preparing inputs for other pipelines.",
        "subcategories": [
            {
                "name": "Genomes",
                "description": "Reference genomes and indexes.",
                "pipelines": ["Prepare Genome"],
            },
            {
                "name": "Demultiplexing",
                "description": "Splitting multiplexed reads into samples.",
                "pipelines": ["Demultiplex"],
            },
        ],
    },
]


def _samplesheet(sample_types: list[str] | None, description: str) -> Json:
    """A csv param taking one row per sample, its columns filled from each sample."""
    param: Json = {
        "name": "Samples",
        "type": "csv",
        "required": True,
        "takes_samples": True,
        "description": description,
        "columns": [
            {"name": "sample", "from_sample": "name"},
            {"name": "fastq_1", "from_sample": 0},
            {"name": "fastq_2", "from_sample": 1},
            {"name": "strandedness", "from_sample": "strandedness"},
            {"name": "replicate", "default": "1"},
        ],
    }
    if sample_types:
        param["sample_types"] = sample_types
    return param


def _rnaseq_schema(aligners: list[str], genomes: list[str], extra: bool) -> Json:
    options: Json = {
        "skip_trimming": {"name": "Skip trimming", "type": "boolean", "default": False},
        "save_reference": {"name": "Save reference indexes", "type": "boolean"},
        "custom_config_base": {"type": "hidden", "default": "/flow/configs"},
        "outdir": {"type": "hidden", "default": "results"},
    }
    if extra:
        options["min_mapped_reads"] = {
            "name": "Minimum mapped reads (%)",
            "type": "number",
            "default": 5,
        }
    return {
        "inputs": [
            {
                "name": "Samples",
                "description": "The RNA-Seq samples to quantify.",
                # The schema key differs from the submitted name: ``param`` overrides it.
                "params": {
                    "samplesheet": {
                        **_samplesheet(["RNA-Seq"], "One row per sample."),
                        "param": "input",
                    }
                },
            },
            {
                "name": "Reference",
                "description": "Genome and aligner.",
                "params": {
                    "genome": {
                        "name": "Genome",
                        "type": "string",
                        "required": True,
                        "valid": genomes,
                        "description": "iGenomes reference.",
                    },
                    "aligner": {
                        "name": "Aligner",
                        "type": "string",
                        "default": aligners[0],
                        "valid": aligners,
                    },
                },
            },
            {"name": "Options", "advanced": True, "params": options},
        ]
    }


def _per_sample(name: str, seconds: float, outputs: list[Json] | None = None) -> Json:
    return {"process": name, "seconds": seconds, "per_sample": True, "outputs": outputs or []}


def _once(name: str, seconds: float, outputs: list[Json] | None = None) -> Json:
    return {"process": name, "seconds": seconds, "per_sample": False, "outputs": outputs or []}


# Output ``kind`` values are rendered by ``_executions_sim`` into file contents.
_RNASEQ_PLAN: list[Json] = [
    _per_sample(
        "NFCORE_RNASEQ:RNASEQ:FASTQC",
        40,
        [{"path": "results/fastqc/{sample}_fastqc.html", "kind": "fastqc", "type": "html"}],
    ),
    _per_sample("NFCORE_RNASEQ:RNASEQ:FASTQ_FASTQC_UMITOOLS_TRIMGALORE:TRIMGALORE", 60),
    _per_sample(
        "NFCORE_RNASEQ:RNASEQ:ALIGN_STAR:STAR_ALIGN",
        180,
        [{"path": "results/star_salmon/{sample}.markdup.sorted.bam", "kind": "bam", "type": "bam"}],
    ),
    _per_sample(
        "NFCORE_RNASEQ:RNASEQ:QUANTIFY_STAR_SALMON:SALMON_QUANT",
        90,
        [{"path": "results/star_salmon/{sample}/quant.sf", "kind": "quant", "type": "tsv"}],
    ),
    _once(
        "NFCORE_RNASEQ:RNASEQ:QUANTIFY_STAR_SALMON:SALMON_TXIMPORT",
        20,
        [
            {"path": "results/counts/all.gene_counts.tsv", "kind": "counts", "type": "tsv"},
            {"path": "results/counts/all.gene_tpm.tsv", "kind": "tpm", "type": "tsv"},
        ],
    ),
    _once(
        "NFCORE_RNASEQ:RNASEQ:MULTIQC",
        30,
        [
            {"path": "multiqc_report.html", "kind": "multiqc", "type": "html"},
            {"path": "multiqc_report_data/multiqc.log", "kind": "multiqc_log"},
            {"path": "multiqc_report_data/multiqc_general_stats.txt", "kind": "multiqc_stats"},
        ],
    ),
]

_CHIPSEQ_PLAN: list[Json] = [
    _per_sample("NFCORE_CHIPSEQ:CHIPSEQ:FASTQC", 30),
    _per_sample(
        "NFCORE_CHIPSEQ:CHIPSEQ:FASTQ_ALIGN_BWA:BWA_MEM",
        120,
        [{"path": "results/bwa/{sample}.sorted.bam", "kind": "bam", "type": "bam"}],
    ),
    _per_sample(
        "NFCORE_CHIPSEQ:CHIPSEQ:MACS3_CALLPEAK",
        60,
        [{"path": "results/macs3/{sample}_peaks.narrowPeak", "kind": "peaks"}],
    ),
    _once(
        "NFCORE_CHIPSEQ:CHIPSEQ:MULTIQC",
        20,
        [{"path": "multiqc_report.html", "kind": "multiqc", "type": "html"}],
    ),
]

#: The pipeline that fails on purpose: GATK runs out of memory on every input.
VARIANT_FAILURE = "java.lang.OutOfMemoryError: Java heap space"
_VARIANT_PLAN: list[Json] = [
    _per_sample(
        "NFCORE_SAREK:SAREK:FASTQC",
        30,
        [{"path": "results/fastqc/{sample}_fastqc.html", "kind": "fastqc", "type": "html"}],
    ),
    _per_sample("NFCORE_SAREK:SAREK:FASTQ_ALIGN_BWAMEM:BWAMEM1_MEM", 120),
    {
        **_per_sample("NFCORE_SAREK:SAREK:BAM_VARIANT_CALLING:GATK4_HAPLOTYPECALLER", 90),
        "fails": {"exit_code": 137, "stderr": VARIANT_FAILURE},
    },
    _once("NFCORE_SAREK:SAREK:MULTIQC", 20),
]

_DEMUX_PLAN: list[Json] = [
    _once(
        "DEMULTIPLEX:ULTRAPLEX",
        90,
        [
            {"path": "demux/ultraplex_demux_5bc_AAAT.fastq.gz", "kind": "fastq", "type": "fastq"},
            {"path": "demux/ultraplex_demux_5bc_CCGA.fastq.gz", "kind": "fastq", "type": "fastq"},
            {"path": "demux/ultraplex_demux_5bc_GTTC.fastq.gz", "kind": "fastq", "type": "fastq"},
        ],
    ),
    _once(
        "DEMULTIPLEX:REPORT",
        10,
        [{"path": "demux/demultiplex_report.html", "kind": "report", "type": "html"}],
    ),
]

_GENOME_PLAN: list[Json] = [
    _once("PREPARE_GENOME:GUNZIP_FASTA", 20),
    _once(
        "PREPARE_GENOME:STAR_GENOMEGENERATE",
        240,
        [{"path": "results/genome/star/SAindex", "kind": "index"}],
    ),
]

FASTQ_PATTERN = r"\.f(ast)?q(\.gz)?$"

#: Pipelines with their versions (oldest first; the API lists them newest first). Pipeline and
#: version ids are fixed here, so anything that refers to a version (the demo data's seeded
#: runs, tests) takes its id from this one list: :func:`version_ids`.
PIPELINES: list[Json] = [
    {
        "id": 1,
        "name": "RNA-Seq",
        "description": "Quantify gene expression from RNA-Seq reads.",
        "is_nfcore": True,
        "repo": "https://github.com/nf-core/rnaseq",
        "versions": [
            {
                "id": 1,
                "name": "3.12.0",
                "created": 1_690_000_000,
                "nextflow_versions": NEXTFLOW_OLDER,
                "schema": _rnaseq_schema(
                    ["star_salmon", "star_rsem"], ["GRCh38", "GRCh37", "GRCm39"], extra=False
                ),
                "plan": _RNASEQ_PLAN,
                "workflow": "nf-core/rnaseq",
            },
            {
                "id": 2,
                "name": "3.14.0",
                "created": 1_705_000_000,
                "nextflow_versions": NEXTFLOW_RECENT,
                "schema": _rnaseq_schema(
                    ["star_salmon", "star_rsem", "hisat2"], ["GRCh38", "GRCm39"], extra=True
                ),
                "plan": _RNASEQ_PLAN,
                "workflow": "nf-core/rnaseq",
            },
        ],
    },
    {
        "id": 2,
        "name": "ChIP-Seq",
        "description": "Peak calling for ChIP-Seq.",
        "is_nfcore": True,
        "repo": "https://github.com/nf-core/chipseq",
        "versions": [
            {
                "id": 3,
                "name": "2.0.0",
                "created": 1_680_000_000,
                "nextflow_versions": NEXTFLOW_RECENT,
                "schema": {
                    "inputs": [
                        {
                            "name": "Samples",
                            "params": {
                                "input": _samplesheet(["ChIP-Seq"], "ChIP and control samples.")
                            },
                        },
                        {
                            "name": "Reference",
                            "params": {
                                "genome": {
                                    "type": "string",
                                    "required": True,
                                    "valid": ["GRCh38", "GRCm39"],
                                },
                                "macs_gsize": {"type": "number", "default": 2.7e9},
                            },
                        },
                    ]
                },
                "plan": _CHIPSEQ_PLAN,
                "workflow": "nf-core/chipseq",
            }
        ],
    },
    {
        "id": 3,
        "name": "Prepare Genome",
        "description": "Build indexes for a genome.",
        "prepares_genome": True,
        "repo": "https://github.com/goodwright/prepare-genome",
        "versions": [
            {
                "id": 5,
                "name": "1.0.0",
                "created": 1_670_000_000,
                "nextflow_versions": NEXTFLOW_RECENT,
                "schema": {
                    "inputs": [
                        {
                            "name": "Genome files",
                            "params": {
                                "fasta": {
                                    "type": "data",
                                    "required": True,
                                    "pattern": r"\.fa(sta)?(\.gz)?$",
                                },
                                "gtf": {
                                    "type": "data",
                                    "required": True,
                                    "pattern": r"\.gtf(\.gz)?$",
                                },
                                "name": {"type": "string", "required": True},
                            },
                        }
                    ]
                },
                "plan": _GENOME_PLAN,
                "workflow": "goodwright/prepare-genome",
            }
        ],
    },
    {
        "id": 4,
        "name": "Variant Calling",
        "description": "Germline variant calling. Demo: always fails at GATK4_HAPLOTYPECALLER.",
        "is_nfcore": True,
        "repo": "https://github.com/nf-core/sarek",
        "versions": [
            {
                "id": 4,
                "name": "3.4.0",
                "created": 1_700_000_000,
                "nextflow_versions": NEXTFLOW_RECENT,
                "schema": {
                    "inputs": [
                        {"name": "Samples", "params": {"input": _samplesheet(None, "Any reads.")}},
                        {
                            "name": "Reference",
                            "params": {
                                "genome": {
                                    "type": "string",
                                    "default": "GATK.GRCh38",
                                    "valid": ["GATK.GRCh38", "GATK.GRCh37"],
                                }
                            },
                        },
                    ]
                },
                "plan": _VARIANT_PLAN,
                "workflow": "nf-core/sarek",
            }
        ],
    },
    {
        "id": 5,
        "name": "Demultiplex",
        "description": "Split multiplexed reads into samples using an annotation sheet.",
        "repo": "https://github.com/goodwright/demultiplex",
        "versions": [
            {
                "id": 6,
                "name": "1.2.0",
                "created": 1_695_000_000,
                "nextflow_versions": NEXTFLOW_RECENT,
                "schema": {
                    "inputs": [
                        {
                            "name": "Inputs",
                            "params": {
                                "reads": {
                                    "name": "Multiplexed reads",
                                    "type": "data",
                                    "required": True,
                                    "category": 3,
                                    "pattern": FASTQ_PATTERN,
                                },
                                "annotation": {
                                    "name": "Annotation sheet",
                                    "type": "data",
                                    "required": True,
                                    "category": 2,
                                },
                                "barcode_mismatches": {
                                    "type": "number",
                                    "default": 1,
                                    "valid": [0, 1, 2],
                                },
                            },
                        }
                    ]
                },
                "plan": _DEMUX_PLAN,
                "workflow": "goodwright/demultiplex",
            }
        ],
    },
]


def version_ids(pipeline_name: str, version_name: str) -> tuple[int, int]:
    """``(pipeline id, version id)`` of a catalogue version, by names.

    Example:
        ```python
        version_ids("RNA-Seq", "3.14.0")  # (1, 2)
        ```
    """
    for pipeline in PIPELINES:
        if pipeline["name"] == pipeline_name:
            for version in pipeline["versions"]:
                if version["name"] == version_name:
                    return int(pipeline["id"]), int(version["id"])
    raise KeyError(f"no {pipeline_name} {version_name} in the demo catalogue")
