"""Demo data seeded into an empty data dir (users first; catalogue follows)."""

from __future__ import annotations

from flowbio_async.testing._store import Store

DEMO_USERS = (("demo", "demo-password", "Demo User"), ("other", "other-password", "Other User"))


def seed_demo(store: Store) -> None:
    """Seed the demo data once per data dir (a restart keeps what is there)."""
    if store.get_meta("demo_seeded"):
        return
    for username, password, name in DEMO_USERS:
        if store.get_user_by_username(username) is None:
            store.create_user(username, password, name=name)
    store.set_meta("demo_seeded", "1")
