"""``create_app(settings)``: the local Flow server as a Starlette application.

Route modules each export ``routes: list[BaseRoute]``; the ones present are mounted under
``/api`` (docs/protocol.md §1.1), and the download modules also under ``/files`` (the files server,
docs/protocol.md §5.1 and §8 row 20). Missing modules are skipped so the server runs while other
route modules are still being written.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from flowbio_async.testing import _control
from flowbio_async.testing._counters import CountersMiddleware, RequestStats
from flowbio_async.testing._executions_sim import AdvanceMiddleware
from flowbio_async.testing._faults import FaultRegistry, FaultsMiddleware
from flowbio_async.testing._limits import LimitsMiddleware, RateLimiter
from flowbio_async.testing._network import NETWORK_ENV, ShapeBoard
from flowbio_async.testing._pipeline_store import ensure_tables, seed_pipelines
from flowbio_async.testing._routes_pipelines import control_routes as pipeline_control_routes
from flowbio_async.testing._security import ApiError, error_response
from flowbio_async.testing._settings import ServerSettings
from flowbio_async.testing._store import Store

#: Route modules mounted under ``/api``, in order.
API_MODULES = (
    "_routes_auth",
    "_routes_reads",
    "_routes_upload",
    "_routes_files",
    "_routes_download",
    "_routes_bulk",
    "_routes_pipelines",
    "_routes_projects_v2",
    "_routes_graphql",
    "_routes_imports",
)
#: Route modules also mounted under ``/files`` (the files server).
FILES_MODULES = ("_routes_download", "_routes_bulk")


def load_routes(module_name: str) -> list[BaseRoute]:
    """The ``routes`` of ``flowbio_async.testing.<module_name>``, or [] if it does not exist."""
    full = f"flowbio_async.testing.{module_name}"
    try:
        module = importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return []
        raise
    return list(getattr(module, "routes", []))


def build_routes(testing_control: bool) -> list[BaseRoute]:
    """Every route of the server (``/api``, ``/files``, health and maybe ``/_testing``)."""
    api: list[BaseRoute] = []
    for name in API_MODULES:
        api.extend(load_routes(name))
    files: list[BaseRoute] = []
    for name in FILES_MODULES:
        files.extend(load_routes(name))
    routes: list[BaseRoute] = [
        Mount("/api", routes=api),
        Mount("/files", routes=files),
        Route("/_health", _control.health, methods=["GET"]),
    ]
    if testing_control:
        routes.extend(_control.routes)
        routes.extend(pipeline_control_routes)
    return routes


def create_app(settings: ServerSettings) -> Starlette:
    """Return the server application for ``settings`` (opens or creates the data dir).

    Example:
        ```python
        app = create_app(ServerSettings(data_dir="/tmp/flow", demo=True))
        ```
    """
    if not settings.data_dir:
        raise ValueError("ServerSettings.data_dir is required")
    store = Store(settings.data_dir)
    ensure_tables(store)
    if settings.demo:
        from flowbio_async.testing._demo import seed_demo

        seed_demo(store)
        seed_pipelines(store)
    routes = build_routes(settings.testing_control)
    stats = RequestStats()
    faults = FaultRegistry()
    limiter = RateLimiter()
    app_box: list[Starlette] = []

    def current_settings() -> ServerSettings:
        return app_box[0].state.settings if app_box else settings

    middleware = [
        Middleware(AdvanceMiddleware),  # simulated pipeline runs move on (#11)
        Middleware(CountersMiddleware, stats=stats, routes=routes),
        Middleware(FaultsMiddleware, registry=faults, routes=routes),
        Middleware(
            LimitsMiddleware, limiter=limiter, settings=current_settings, secret=store.secret
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={ApiError: _api_error, 404: _bare_not_found},
    )
    app.state.settings = settings
    app.state.store = store
    app.state.stats = stats
    app.state.faults = faults
    app.state.limiter = limiter
    app.state.network = None  # the emulated network's shape board, behind a relay (#13)
    app_box.append(app)
    return app


def create_app_from_env() -> Starlette:
    """Factory granian calls in its worker: settings come from the environment."""
    app = create_app(ServerSettings.from_env())
    board = os.environ.get(NETWORK_ENV)
    if board:
        app.state.network = ShapeBoard.attach(board)
    return app


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc, request.app.state.settings)


async def _bare_not_found(request: Request, exc: Exception) -> Response:
    # Unknown paths: `{"error": "Not found"}` like production's reads (docs/protocol.md §4).
    return error_response(ApiError(404, {"error": "Not found"}), request.app.state.settings)


def route_names(routes: Sequence[Any]) -> list[str]:
    """Names of every route (walking mounts); handy for docs and tests."""
    names: list[str] = []
    for route in routes:
        if isinstance(route, Mount):
            names.extend(route_names(route.routes))
        elif getattr(route, "name", None):
            names.append(str(route.name))
    return names
