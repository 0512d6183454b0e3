"""API areas, one module per area. Classes are composed from per-capability mixins so that
reads, uploads and downloads live in separate small modules (see DEVELOPING.md)."""
