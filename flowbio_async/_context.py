"""The state shared by every resource of one client (filled in by the core work)."""
