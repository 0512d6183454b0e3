"""pytest plugin: provides the ``flow_server`` fixture (filled in by the local-server work)."""
