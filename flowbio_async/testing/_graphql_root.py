"""The GraphQL root: what each ``Query`` and ``Mutation`` field resolves to (#11).

graphql-core's default resolver calls ``Root.<field>(info, **arguments)``; the arguments keep
the schema's camelCase names. Unknown or invisible objects resolve to ``null`` with an error
naming the field (the legacy client raises on any ``errors`` entry). ``runPipeline`` goes
through the same check and simulated run as ``POST /pipelines/versions/<id>/run``
(``_pipeline_runs.start_run``): a refused run creates nothing.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from flowbio_async.testing import _graphql_nodes as n
from flowbio_async.testing._graphql_schema import json_argument
from flowbio_async.testing._pipeline_runs import start_run
from flowbio_async.testing._pipeline_store import get_version
from flowbio_async.testing._security import REFRESH_COOKIE, ApiError, make_token, read_token

#: graphql-core's ``GraphQLResolveInfo`` (generic from 3.3 on, plain in 3.2: both are served).
Info = Any


def _ctx(info: Info) -> n.Context:
    context: n.Context = info.context
    return context


def _found(node: Any, what: str) -> Any:
    if node is None:
        raise GraphQLError(f"{what} not found")
    return node


def _object(name: str, text: Any) -> dict[str, Any]:
    value = json_argument(name, text)
    if not isinstance(value, dict):
        raise GraphQLError(f"{name}: expected a JSON object, got {type(value).__name__}")
    return value


def legacy_rows(sample_params: dict[str, Any]) -> dict[str, Any]:
    """The legacy ``sampleParams`` as ``csv_params``: a list of sample ids (or rows) per
    param becomes ``{"rows": [{"sample": id, "values": {}}]}``; rows pass through."""
    csv: dict[str, Any] = {}
    for name, value in sample_params.items():
        if isinstance(value, dict):
            csv[name] = value
            continue
        items = value if isinstance(value, list) else [value]
        csv[name] = {
            "rows": [
                item if isinstance(item, dict) else {"sample": str(item), "values": {}}
                for item in items
            ]
        }
    return csv


class Root:
    """Resolvers of the ``Query`` and ``Mutation`` fields."""

    # -- queries ----------------------------------------------------------------------------
    def me(self, info: Info) -> Any:
        user = _ctx(info).user
        return None if user is None else n.user_node(user)

    def user(self, info: Info, username: str) -> Any:
        row = _ctx(info).store.get_user_by_username(username)
        return n.user_node(_found(row, f"user {username!r}"))

    def accessToken(self, info: Info) -> str:
        """A new token from the refresh cookie, else for the caller's valid token."""
        ctx = _ctx(info)
        secret = ctx.store.secret()
        cookie = ctx.request.cookies.get(REFRESH_COOKIE)
        user_id = read_token(secret, cookie, "refresh") if cookie else None
        if user_id is None and ctx.user is not None:
            user_id = int(ctx.user["id"])
        if user_id is None or ctx.store.get_user(user_id) is None:
            raise GraphQLError("Not authorized")
        return make_token(secret, user_id, "access", ctx.settings.access_token_ttl)

    def data(self, info: Info, id: str) -> Any:
        ctx = _ctx(info)
        return _found(n.data_node(ctx, n.data_row(ctx, id)), f"data {id!r}")

    def sample(self, info: Info, id: str) -> Any:
        ctx = _ctx(info)
        return _found(n.sample_node(ctx, n.sample_row(ctx, id)), f"sample {id!r}")

    def project(self, info: Info, id: str) -> Any:
        ctx = _ctx(info)
        return _found(n.project_node(ctx, n.project_row(ctx, id)), f"project {id!r}")

    def execution(self, info: Info, id: str) -> Any:
        ctx = _ctx(info)
        row = _found(n.execution_row(ctx, id), f"execution {id!r}")
        return n.execution_node(ctx, row)

    def pipelineCategories(self, info: Info) -> Any:
        return n.categories(_ctx(info))

    def pipeline(self, info: Info, id: str) -> Any:
        try:
            key = int(id)
        except ValueError:
            key = -1
        return _found(n.pipeline_node(_ctx(info), key), f"pipeline {id!r}")

    def pipelineVersion(self, info: Info, id: str) -> Any:
        return _found(n.version_node(_ctx(info), id), f"pipeline version {id!r}")

    def samples(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        name: str | None = None,
        owned: bool | None = None,
    ) -> Any:
        return n.sample_connection(_ctx(info), first, after, name=name, owned=owned)

    def executions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: str | None = None,
    ) -> Any:
        return n.execution_connection(_ctx(info), first, after, status=status)

    # -- mutations --------------------------------------------------------------------------
    def login(self, info: Info, username: str, password: str) -> Any:
        ctx = _ctx(info)
        user = ctx.store.authenticate(username, password) if username and password else None
        if user is None:
            raise GraphQLError("Invalid credentials")
        secret = ctx.store.secret()
        refresh = make_token(secret, int(user["id"]), "refresh", ctx.settings.refresh_token_ttl)
        ctx.refresh_tokens.append((int(user["id"]), refresh))
        return {
            "accessToken": make_token(
                secret, int(user["id"]), "access", ctx.settings.access_token_ttl
            ),
            "user": n.user_node(user),
        }

    def runPipeline(self, info: Info, **args: Any) -> Any:
        ctx = _ctx(info)
        if ctx.user is None:
            raise GraphQLError("Not authorized")
        if not ctx.user["can_run_pipelines"]:
            raise GraphQLError("User cannot run pipelines")
        version = get_version(ctx.store, args["id"], ctx.user)
        if version is None:
            raise GraphQLError(f"pipeline version {args['id']!r} not found")
        body = {
            "params": _object("params", args["params"]),
            "data_params": _object("dataParams", args["dataParams"]),
            "csv_params": legacy_rows(_object("sampleParams", args["sampleParams"])),
            "nextflow_version": args["nextflowVersion"],
            "fileset": args.get("genome"),
        }
        try:
            execution_id = start_run(ctx.store, version, ctx.user, body)
        except ApiError as exc:
            problems = exc.body.get("error") if isinstance(exc.body, dict) else None
            if not isinstance(problems, dict):
                raise GraphQLError(str(problems or "the run was refused")) from None
            listed = "; ".join(f"{field}: {' '.join(m)}" for field, m in problems.items())
            raise GraphQLError(
                f"the run was refused: {listed}",
                extensions={"code": "BAD_REQUEST", "fields": problems},
            ) from None
        row = n.execution_row(ctx, execution_id)
        assert row is not None
        return {"execution": n.execution_node(ctx, row)}


ROOT = Root()
