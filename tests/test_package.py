"""Packaging sanity: the public surface imports and the version is exposed."""

import flowbio_async
import flowbio_sync


def test_version_is_shared() -> None:
    assert flowbio_async.__version__ == flowbio_sync.__version__
    assert flowbio_async.__version__.count(".") == 2


def test_all_names_resolve() -> None:
    for name in flowbio_async.__all__:
        assert hasattr(flowbio_async, name), name
