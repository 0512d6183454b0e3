"""Quickstart: log in, say who you are, list the catalogue and your projects, read a sample.

Run against the local server (``make demo`` does this for you)::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/quickstart.py

Against flow.bio, set ``FLOW_API_URL`` to your instance (default ``https://app.flow.bio/api``).
"""

from __future__ import annotations

import os

import anyio

from flowbio_async import AsyncClient, ClientConfig, UsernamePasswordCredentials


async def main() -> None:
    config = ClientConfig(show_progress=False)
    # base_url defaults to $FLOW_API_URL, then https://app.flow.bio/api.
    async with AsyncClient(config=config) as client:
        await client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        me = await client.me()
        print(f"Logged in to {client.base_url} as {me.username} ({me.name})")

        print("Sample types:")
        for sample_type in await client.samples.get_types():
            print(f"  {sample_type.identifier}: {sample_type.name}")

        print("Organisms:")
        for organism in await client.samples.get_organisms():
            print(f"  {organism.id}: {organism.name} ({organism.latin_name})")

        # Every listing: ``await`` gives every item (as the official client does), ``async for``
        # streams them page by page, ``count()`` / ``first_page()`` cost one request.
        projects = await client.samples.get_owned_projects()
        print(f"Owned projects ({len(projects)}, every page):")
        for project in projects:
            print(f"  {project.id}: {project.name}")
        pager = client.samples.get_owned_projects(page_size=10)
        print(f"{await pager.count()} in total; streamed page by page:")
        async for project in pager:
            print(f"  {project.id}: {project.name}")

        # The newest sample visible to you, then its data files.
        found = await client.samples.search(sort="-created", page_size=1).first_page()
        if not found:
            print("No samples visible yet.")
            return
        sample = await client.samples.get(found[0].id)
        type_name = sample.sample_type.name if sample.sample_type else "?"
        print(f"Sample {sample.id}: {sample.name} [{type_name}]")
        async for data in client.samples.get_data(sample.id):
            details = await client.data.get(data.id)
            print(f"  data {details.id}: {details.filename} ({details.size} bytes)")
            print(f"    md5 {details.md5 or 'unknown'}, download from {details.download_url}")


if __name__ == "__main__":
    anyio.run(main)
