"""Download a pipeline execution's results, keeping their folders (docs/downloading.md).

Picks the demo user's finished execution, downloads its reports and tables under
``downloads/executions/<id>/``, then one result file by its relative path and one file the
HTML report links to::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/download_execution.py
"""

from __future__ import annotations

import os

import anyio

from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials


async def main() -> None:
    config = ClientConfig(show_progress=False, files_url=os.environ.get("FLOW_FILES_URL"))
    async with AsyncClient(config=config) as client:
        await client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        finished = [e async for e in client.executions.search(owned=True) if e.status == "OK"]
        execution = await client.executions.get(finished[0].id)
        print(f"execution {execution.id} ({execution.pipeline_name}, {execution.status})")
        for data in execution.outputs:
            print(f"  output {data.filename} ({data.size} bytes)")

        report = await client.executions.download_outputs(
            execution.id, f"downloads/executions/{execution.id}", include=["*.html", "*.tsv"]
        )
        report.raise_for_failures()
        for item in report.done:
            assert item.value is not None
            print(f"saved {item.value.path}")

        # One file by its path inside the results (seed 002: /executions/<id>/<path>).
        single = await client.executions.download_result(
            execution.id, "multiqc_report.html", "report.html"
        )
        print(f"saved {single.path} ({single.size} bytes)")

        # A file the HTML report links to, by its path relative to the report
        # (docs/protocol.md §5.1); a folder destination keeps the layout the report's links expect.
        html = next(data for data in execution.outputs if data.filename == "multiqc_report.html")
        folder = f"downloads/executions/{execution.id}/"
        asset = await client.data.download_asset(html, "multiqc_report_data/multiqc.log", folder)
        print(f"saved {asset.path} ({asset.size} bytes)")


if __name__ == "__main__":
    anyio.run(main)
