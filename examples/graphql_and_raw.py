"""GraphQL and raw requests: page through samples by cursor, read one with its files, and
reach an endpoint the SDK has no method for.

Run against the local server (``make demo`` does this for you)::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/graphql_and_raw.py
"""

from __future__ import annotations

import os

import anyio

from flowbio_async import AsyncClient, ClientConfig, GraphQLError, UsernamePasswordCredentials

SAMPLES = """query samples($after: String, $first: Int) {
  samples(first: $first, after: $after) {
    edges { node { id name sampleType organism { name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

SAMPLE = """query sample($id: ID!) {
  sample(id: $id) { name initialData { data { filename size } } }
}"""


async def main() -> None:
    async with AsyncClient(config=ClientConfig(show_progress=False)) as client:
        await client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        # Every sample you can see, three per request, following pageInfo.endCursor.
        found = []
        async for sample in client.graphql.paginate(SAMPLES, "samples", page_size=3):
            organism = (sample["organism"] or {}).get("name", "-")
            print(
                f"  {sample['id']:>3}  {sample['name']:<14} {sample['sampleType']:<10} {organism}"
            )
            found.append(sample)
        print(f"{len(found)} samples")

        data = await client.graphql.execute(SAMPLE, {"id": found[0]["id"]})
        files = [d["data"]["filename"] for d in data["sample"]["initialData"]]
        print(f"{data['sample']['name']}: {', '.join(files) or 'no files'}")

        try:
            await client.graphql.execute('{ sample(id: "0") { name } }')
        except GraphQLError as exc:
            print(f"As expected: {exc}")

        # Raw requests: a project made, renamed and removed through /v2/projects.
        project = await client.post_json("v2/projects", {"name": "Scratch project"})
        renamed = await client.patch_json(f"v2/projects/{project['id']}", {"name": "Renamed"})
        print(f"Project {renamed['id']}: {project['name']} -> {renamed['name']}")
        await client.delete_json(f"v2/projects/{project['id']}")


if __name__ == "__main__":
    anyio.run(main)
