"""Sync quickstart: the same SDK without ``await`` (scripts, notebooks), via ``flowbio_sync``.

Run against the local server (``make demo`` or ``tests/test_examples.py`` do this for you)::

    FLOW_API_URL=http://127.0.0.1:8000/api FLOW_USERNAME=demo FLOW_PASSWORD=demo-password \
        python examples/sync_quickstart.py

``flowbio_sync.Client`` runs one private event loop in a background thread, so it also works
inside Jupyter (where an event loop is already running) without ``nest_asyncio``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from flowbio_sync import Client, ClientConfig, ProgressEvent, UsernamePasswordCredentials


def main() -> None:
    config = ClientConfig(show_progress=False)
    # base_url defaults to $FLOW_API_URL, then https://app.flow.bio/api.
    with Client(config=config) as client:
        client.log_in(
            UsernamePasswordCredentials(
                username=os.environ["FLOW_USERNAME"], password=os.environ["FLOW_PASSWORD"]
            )
        )
        print(f"Logged in as {client.me().username}")

        # A listing is a lazy sequence, as in the official client: len() after one page,
        # indexing and slices fetch only the pages they need, iteration the rest on demand.
        projects = client.samples.get_owned_projects(page_size=5)
        first, last = projects[0], projects[-1]
        print(f"{len(projects)} projects; the first is {first.name}, the last {last.name}")
        print(f"first page: {[p.name for p in projects.first_page()]}")
        for project in projects:  # every project; the pages fetched above are not fetched again
            print(f"  {project.id}: {project.name}")

        # Progress callbacks are plain functions; they run in a worker thread, never on the
        # event loop, so a slow one cannot stall the transfer.
        def on_progress(event: ProgressEvent) -> None:
            if event.kind == "finish":
                print(f"  {event.description}: {event.completed} bytes")

        path = Path("hello.txt")
        path.write_text("hello from a plain script\n" * 1000)
        data = client.data.upload_data(path, progress=on_progress)
        print(f"Uploaded {data.filename} as data {data.id}")

        result = client.data.download(data.id, "downloads/", progress=on_progress)
        assert result.path.read_bytes() == path.read_bytes()
        print(f"Downloaded it back to {result.path}")

        # One client may be shared by many threads: each call is its own task on its loop.
        names: list[str] = []
        threads = [
            threading.Thread(target=lambda: names.append(client.me().username or ""))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(f"4 threads asked who we are: {sorted(set(names))}")


if __name__ == "__main__":
    main()
