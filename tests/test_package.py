"""Packaging sanity: the public surface imports and the version is exposed."""

import flowbio_async
import flowbio_sync


def test_version_is_shared() -> None:
    assert flowbio_async.__version__ == flowbio_sync.__version__
    assert flowbio_async.__version__.count(".") == 2


def test_all_names_resolve() -> None:
    for name in flowbio_async.__all__:
        assert hasattr(flowbio_async, name), name


def test_auth_modules_reexport_the_credentials_like_flowbio_v2_auth() -> None:
    """``from flowbio.v2.auth import UsernamePasswordCredentials`` (seed 001) ports by
    changing the package only; both modules hold the very classes of the top level."""
    from flowbio_async import auth as async_auth
    from flowbio_sync import auth as sync_auth
    from flowbio_sync.auth import TokenCredentials, UsernamePasswordCredentials

    official = {"Credentials", "TokenCredentials", "UsernamePasswordCredentials"}
    for module in (async_auth, sync_auth):
        assert official <= set(module.__all__)
        for name in module.__all__:
            assert (
                getattr(module, name) is getattr(flowbio_async, name) is getattr(flowbio_sync, name)
            ), name
            assert issubclass(getattr(module, name), flowbio_async.Credentials)
    assert sync_auth.__all__ == async_auth.__all__
    credentials = UsernamePasswordCredentials(username="alice", password="s3cret")
    assert "s3cret" not in repr(credentials)
    assert isinstance(TokenCredentials(token="a.b.c"), flowbio_async.Credentials)
