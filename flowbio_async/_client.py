"""AsyncClient: lifecycle (``async with``), login, and the resources of each API area."""

from __future__ import annotations

import contextlib
import os
from types import TracebackType

from flowbio_async._auth import Credentials, TokenCredentials
from flowbio_async._config import DEFAULT_BASE_URL, ClientConfig
from flowbio_async._context import ClientContext
from flowbio_async._errors import AuthenticationError, FlowApiError, FlowTransportError
from flowbio_async._http import HttpClient, RateLimitInfo
from flowbio_async._models._parse import parse_model
from flowbio_async._models._search import SearchResults
from flowbio_async._models._users import User
from flowbio_async._raw import RawRequests
from flowbio_async._resources._data import DataResource
from flowbio_async._resources._downloads import DownloadsResource
from flowbio_async._resources._executions import ExecutionResource
from flowbio_async._resources._files import FilesResource
from flowbio_async._resources._graphql import GraphQLResource
from flowbio_async._resources._pipelines import PipelineResource
from flowbio_async._resources._projects import ProjectResource
from flowbio_async._resources._samples import SampleResource
from flowbio_async._resources._search import SearchResource
from flowbio_async._resources._users import UserResource
from flowbio_async._secrets import watch

BASE_URL_ENV = "FLOW_API_URL"


class AsyncClient(RawRequests):
    """Asynchronous client for the Flow REST API.

    ``base_url`` defaults to ``$FLOW_API_URL``, else ``https://app.flow.bio/api``. Use it as an
    async context manager (or call :meth:`aclose`) so connections are released.

    Example:
        ```python
        async with AsyncClient() as client:
            await client.log_in(UsernamePasswordCredentials(username="alice", password="s3cret"))
            for sample_type in await client.samples.get_types():
                print(sample_type.identifier, sample_type.name)
        ```
    """

    def __init__(self, base_url: str | None = None, config: ClientConfig | None = None) -> None:
        self._config = config or ClientConfig()
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        self._http = HttpClient(url, self._config)
        # Whatever token and refresh cookie this client holds is scrubbed from messages (#14).
        watch(self._http, HttpClient.refresh_cookie)
        watch(self._http.auth, lambda state: state.token)
        self._ctx = ClientContext.create(self._http, self._config)
        self._samples = SampleResource(self._ctx)
        self._data = DataResource(self._ctx)
        self._projects = ProjectResource(self._ctx)
        self._executions = ExecutionResource(self._ctx)
        self._pipelines = PipelineResource(self._ctx)
        self._files = FilesResource(self._ctx)
        self._users = UserResource(self._ctx)
        self._search = SearchResource(self._ctx)
        self._downloads = DownloadsResource(self._ctx)
        self._graphql = GraphQLResource(self._ctx)

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self.base_url!r}, logged_in={self.is_logged_in})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- configuration -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def files_url(self) -> str:
        """Base of the files server used for downloads (docs/protocol.md §8 row 20)."""
        return self._http.files_url

    @property
    def config(self) -> ClientConfig:
        return self._config

    @property
    def rate_limit(self) -> RateLimitInfo | None:
        """The last ``X-RateLimit-*`` values the server sent, if any (docs/protocol.md §6.3)."""
        return self._http.rate_limit

    @property
    def is_logged_in(self) -> bool:
        return self._http.auth.token is not None

    # -- resources ---------------------------------------------------------------------------

    @property
    def samples(self) -> SampleResource:
        """Sample operations: types, metadata, organisms, search, upload, download."""
        return self._samples

    @property
    def data(self) -> DataResource:
        """Data-file operations: get, search, upload, download."""
        return self._data

    @property
    def projects(self) -> ProjectResource:
        """Project operations: owned, search, get, samples, executions."""
        return self._projects

    @property
    def executions(self) -> ExecutionResource:
        """Execution operations: get, search, wait, watch, logs, outputs."""
        return self._executions

    @property
    def pipelines(self) -> PipelineResource:
        """Pipelines: the catalogue, versions and their run schemas, running a version."""
        return self._pipelines

    @property
    def downloads(self) -> DownloadsResource:
        """Bulk (zip) download jobs: create, status, wait, fetch, extract
        (docs/protocol.md §5.3)."""
        return self._downloads

    @property
    def files(self) -> FilesResource:
        """Workspace Files API (seed 004): list, upload, download, delete."""
        return self._files

    @property
    def graphql(self) -> GraphQLResource:
        """GraphQL: run documents, follow connections by cursor (``POST /graphql``)."""
        return self._graphql

    @property
    def users(self) -> UserResource:
        """User search."""
        return self._users

    async def search(self, query: str) -> SearchResults:
        """Search samples, projects, executions and data at once (``/search?q=``).

        Example:
            ```python
            results = await client.search("BRCA1")
            for sample in results.samples:
                print(sample.id, sample.name)
            ```
        """
        return await self._search.search(query)

    # -- authentication ----------------------------------------------------------------------

    async def log_in(self, credentials: Credentials, *, verify: bool | None = None) -> None:
        """Authenticate; later requests carry the token and refresh it when it expires.

        A token handed in (``TokenCredentials``, ``EnvCredentials``, a token file) is checked
        with ``GET /me`` unless ``verify=False``: Flow's searches treat an unknown token as an
        anonymous caller instead of answering 401, and every later search would then quietly
        see only public data. ``/me`` refuses such a token with 401 (older servers answer 200
        with a null ``id``; both fail the login). A password login is not checked again.

        Raises:
            BadRequestError: the server refused the username or password.
            AuthenticationError: the server did not accept the token.
        """
        await credentials.authenticate(self._http)
        if verify is None:
            verify = isinstance(credentials, TokenCredentials)
        if not verify:
            return
        try:
            me = await self.me()
        except AuthenticationError:
            self._http.auth.clear()
            raise
        if me.id is None:
            self._http.auth.clear()
            raise AuthenticationError(
                "the server did not accept the token: it answers as for an anonymous caller "
                "(an unknown or revoked token)",
                status_code=200,  # GET /me succeeded, for nobody
            )

    async def log_out(self) -> None:
        """Forget the token and the refresh cookie (and tell the server, best effort)."""
        if self._http.auth.token is not None:
            # Best effort: /logout is listed only by [W-REF] (docs/protocol.md §2.1).
            with contextlib.suppress(FlowApiError, FlowTransportError):
                await self._http.request("POST", "logout", retry=False, cookies=True)
        self._http.auth.clear()
        self._http.clear_cookies()

    async def me(self) -> User:
        """The logged-in user.

        Without a valid token Flow answers 401 (``AuthenticationError``); older servers answer
        200 with null fields instead, giving a ``User`` whose ``id`` is ``None`` (users.md).

        Example:
            ```python
            me = await client.me()
            print(me.username)
            ```
        """
        response = await self._http.request("GET", "me")
        return parse_model(
            User, response.json(), endpoint="GET me", status_code=response.status_code
        )
