"""A local Flow server for tests, demos and benchmarks (see docs/local-server.md)."""
