"""The bulk kind of the matrix: a zip job created, polled, fetched and extracted
(docs/protocol.md §5.3).

Resuming means what a user would do after an error: finish the *same* job again
(``downloads.finish``), so the archive's part file is reused rather than abandoned.
"""

from __future__ import annotations

import random

from flowbio_async import AsyncClient, BulkDownloadJob
from flowbio_async.testing._chaos._checks import md5_file, stray_files
from flowbio_async.testing._chaos._kinds import (
    Env,
    Outcome,
    pick_size,
    run_with_resume,
    server_file,
)
from flowbio_async.testing._chaos._plan import bulk_plan


async def bulk(env: Env, rng: random.Random) -> Outcome:
    """``downloads.download(ids, extract=True)``, resumed with ``downloads.finish(job)``."""
    work = env.scratch("bulk")
    dest = work / "out"
    wanted = [server_file(env, rng, pick_size(rng)) for _ in range(rng.randint(1, 3))]
    expected: dict[str, str] = {}
    for data_id, md5, _ in wanted:
        row = env.store.get_data(data_id)
        assert row is not None
        expected[str(row["filename"])] = md5
    plan = bulk_plan(rng, env.timing, sum(size for _, _, size in wanted) + 200)
    job: list[BulkDownloadJob] = []

    async def attempt(client: AsyncClient) -> list[str]:
        if not job:
            job.append(await client.downloads.create([data_id for data_id, _, _ in wanted]))
        done = await client.downloads.finish(job[0], dest, extract=True)
        got = {path.name: md5_file(path) for path in done.files}
        if got == expected:
            return []
        return [f"bulk job {job[0].id}: extracted {sorted(got)} differ from {sorted(expected)}"]

    outcome = await run_with_resume(env, work / "state", plan, attempt)
    outcome.kind, outcome.files = "bulk", len(wanted)
    finals = [dest / name for name in expected]
    outcome.strays = stray_files(work / "out", finals, resumable=not outcome.settled)
    return outcome
