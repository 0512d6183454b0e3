"""Pydantic models, one module per API area (extra fields kept; docs/protocol.md §8 rows 16-18)."""
