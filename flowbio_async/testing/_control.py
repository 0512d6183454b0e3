"""``/_testing/*`` control routes (mounted only with ``--testing-control``) and ``/_health``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from flowbio_async.testing._faults import FaultRegistry, FaultRule
from flowbio_async.testing._network import NetworkShape
from flowbio_async.testing._settings import NETWORK_FIELDS


async def health(request: Request) -> JSONResponse:
    """Liveness probe used by ``FlowServer`` and the launcher."""
    return JSONResponse({"status": "ok"})


async def _counters(request: Request) -> JSONResponse:
    if request.method == "DELETE":
        request.app.state.stats.reset()
    return JSONResponse(request.app.state.stats.snapshot())


async def _faults(request: Request) -> JSONResponse:
    registry: FaultRegistry = request.app.state.faults
    if request.method == "POST":
        body = await request.json()
        items = body if isinstance(body, list) else [body]
        try:
            rules = [FaultRule.from_mapping(item) for item in items]
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        for rule in rules:
            registry.add(rule)
    elif request.method == "DELETE":
        registry.clear()
    return JSONResponse({"faults": [rule.to_dict() for rule in registry.rules]})


async def _settings(request: Request) -> JSONResponse:
    if request.method == "POST":
        changes: dict[str, Any] = await request.json()
        try:
            updated = request.app.state.settings.replace(**changes)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        board = request.app.state.network
        if any(name in changes for name in NETWORK_FIELDS):
            if board is None:
                return JSONResponse(
                    {
                        "error": "the emulated network is off: start the server with "
                        "--emulate-network (FlowServer(emulate_network=True)) or a "
                        "--rtt-ms/--connection-rate/--link-rate value to shape it at run time"
                    },
                    status_code=400,
                )
            board.write(NetworkShape(updated.rtt_ms, updated.connection_rate, updated.link_rate))
        request.app.state.settings = updated
    return JSONResponse(request.app.state.settings.__dict__)


async def _reset(request: Request) -> JSONResponse:
    """Zero counters, clear faults and rate-limit windows in one call."""
    request.app.state.stats.reset()
    request.app.state.faults.clear()
    request.app.state.limiter.reset()
    return JSONResponse({"status": "ok"})


routes: list[BaseRoute] = [
    Route("/_testing/counters", _counters, methods=["GET", "DELETE"]),
    Route("/_testing/faults", _faults, methods=["GET", "POST", "DELETE"]),
    Route("/_testing/settings", _settings, methods=["GET", "POST"]),
    Route("/_testing/reset", _reset, methods=["POST"]),
]
