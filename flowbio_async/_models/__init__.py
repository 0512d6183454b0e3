"""Pydantic models, one module per API area (extra fields kept; contract §8 rows 16-18)."""
