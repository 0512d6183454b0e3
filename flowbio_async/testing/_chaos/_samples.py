"""The sample kind of the matrix: a paired-end sample, two chunk series chained
(docs/protocol.md §3.4).

The second file's chunks name the first file's data id (``previous_data``) and the sample
only exists after the last chunk of the last file, so an interruption between or inside the
files is the hard case for resuming. Checked from the server's store: the sample has exactly
the two files, in order, each byte-exact.
"""

from __future__ import annotations

import random

from flowbio_async import AsyncClient
from flowbio_async.testing._chaos._checks import md5_file, stray_files
from flowbio_async.testing._chaos._kinds import Env, Outcome, payload, run_with_resume, server_md5
from flowbio_async.testing._chaos._plan import upload_plan

SAMPLE_PATH = "^/api/upload/sample$"
METADATA = {"scientist": "Chaos Monkey", "strandedness": "reverse"}


async def sample(env: Env, rng: random.Random) -> Outcome:
    """``samples.upload_sample`` with ``reads1`` and ``reads2`` under faults."""
    work = env.scratch("sample")
    tag = f"{rng.getrandbits(32):08x}"
    reads = {}
    for key in ("reads1", "reads2"):
        path = work / "src" / f"chaos_{tag}_{key}.fastq.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload(rng, rng.randint(1, 160 * 1024)))
        reads[key] = path
    chunk = env.config.chunk_size
    chunks = sum(max(1, -(-p.stat().st_size // chunk)) for p in reads.values())
    plan = upload_plan(rng, env.timing, chunk, chunks, path=SAMPLE_PATH)
    expected = [(reads[k].name, md5_file(reads[k])) for k in ("reads1", "reads2")]

    async def attempt(client: AsyncClient) -> list[str]:
        created = await client.samples.upload_sample(f"chaos_{tag}", "RNA-Seq", reads, METADATA)
        rows = env.store.rows(
            "SELECT id, filename, md5 FROM data WHERE sample = ? ORDER BY id", (int(created.id),)
        )
        got = [(str(row["filename"]), server_md5(env, str(row["id"]))[0]) for row in rows]
        recorded = [(str(row["filename"]), row["md5"]) for row in rows]
        if got == expected == recorded:
            return []
        return [f"sample {created.id}: server holds {got}, sent {expected}"]

    outcome = await run_with_resume(env, work / "state", plan, attempt)
    outcome.kind, outcome.files = "sample", 2
    outcome.strays = stray_files(work, list(reads.values()), resumable=not outcome.settled)
    return outcome
