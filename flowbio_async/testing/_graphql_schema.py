"""The GraphQL schema of the local server (#11), built with graphql-core from SDL.

Field names and argument lists are the ones the official legacy client's documents select
(goodwright/flowbio ``flowbio/queries.py``, ``mutations.py``, ``client.py``): ``data``,
``sample``, ``execution`` with ``processExecutions`` and ``downstreamData``,
``pipelineCategories``, ``user``, ``accessToken``, the ``login`` and ``runPipeline``
mutations; ``params``/``dataParams``/``sampleParams`` and ``schema`` are ``JSONString``
(JSON text, as graphene's scalar of that name). Added for seed 003's example: cursor
connections ``samples(first, after)`` (also under ``project``) and ``executions`` with
``edges { node }``, ``pageInfo { hasNextPage endCursor }`` and ``totalCount``. The legacy
upload mutations (GraphQL multipart uploads) are not served: uploads use the REST
endpoints, which the legacy client itself moved to for samples.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_schema

SDL = """
"JSON text, decoded and encoded by the server (graphene's JSONString)."
scalar JSONString

type Query {
  "The logged-in user, or null."
  me: User
  user(username: String!): User
  "A new access token for the caller (from the refresh cookie or a valid token)."
  accessToken: String
  data(id: ID!): Data
  sample(id: ID!): Sample
  project(id: ID!): Project
  execution(id: ID!): Execution
  pipelineCategories: [PipelineCategory!]!
  pipeline(id: ID!): Pipeline
  pipelineVersion(id: ID!): PipelineVersion
  "Samples the caller can see, newest first, a page at a time (seed 003)."
  samples(first: Int, after: String, name: String, owned: Boolean): SampleConnection!
  "Executions the caller can see, newest first."
  executions(first: Int, after: String, status: String): ExecutionConnection!
}

type Mutation {
  login(username: String!, password: String!): LoginPayload
  runPipeline(
    id: ID!
    params: JSONString!
    dataParams: JSONString!
    sampleParams: JSONString!
    nextflowVersion: String!
    genome: ID
  ): RunPipelinePayload
}

type LoginPayload {
  accessToken: String!
  user: User!
}

type RunPipelinePayload {
  execution: Execution!
}

type User {
  id: ID!
  username: String!
  name: String
}

type Organism {
  id: ID!
  name: String!
  latinName: String
}

type Genome {
  id: ID!
  name: String!
  organism: Organism
}

type Project {
  id: ID!
  name: String!
  description: String
  private: Boolean!
  created: Int
  owner: User
  samples(first: Int, after: String): SampleConnection!
}

type InitialData {
  id: ID!
  created: Int
  data: Data!
}

type Sample {
  id: ID!
  name: String!
  private: Boolean!
  created: Int
  sampleType: String
  owner: User
  initialData: [InitialData!]!
  organism: Organism
  project: Project
  strandedness: String
  rnaSelectionMethod: String
  pubmed: String
  metadata: JSONString
  data: [Data!]!
  executions: [Execution!]!
}

type Data {
  id: ID!
  filename: String!
  filetype: String
  size: Float
  category: Int
  created: Int
  isDirectory: Boolean!
  isBinary: Boolean!
  isRemoved: Boolean!
  private: Boolean!
  md5: String
  upstreamProcessExecution: ProcessExecution
  sample: Sample
  project: Project
  owner: User
  genome: Genome
  genomeFasta: Genome
  genomeGtf: Genome
}

type ProcessExecution {
  id: ID!
  identifier: String
  name: String!
  processName: String!
  started: Float
  finished: Float
  stdout: String
  stderr: String
  bash: String
  status: String
  exitCode: Int
  execution: Execution
  upstreamData: [Data!]!
  upstreamSamples: [Sample!]!
  downstreamData: [Data!]!
}

type PipelineCategory {
  id: ID!
  name: String!
  description: String
  subcategories: [PipelineSubcategory!]!
}

type PipelineSubcategory {
  id: ID!
  name: String!
  description: String
  pipelines: [Pipeline!]!
}

type Pipeline {
  id: ID!
  name: String!
  description: String
  "The latest version the caller can run."
  version: PipelineVersion
  versions: [PipelineVersion!]!
}

type PipelineVersion {
  id: ID!
  name: String!
  description: String
  schema: JSONString
  nextflowVersions: [String!]!
  pipeline: Pipeline!
}

type Execution {
  id: ID!
  identifier: String
  pipelineVersion: PipelineVersion
  nextflowVersion: String
  forcedPublicProjectId: ID
  forcedPublicSampleId: ID
  canEdit: Boolean!
  canShare: Boolean!
  created: Int
  started: Float
  finished: Float
  taskStarted: Float
  taskFinished: Float
  private: Boolean!
  hasReport: Boolean!
  params: JSONString
  dataParams: JSONString
  sampleParams: JSONString
  stdout: String
  stderr: String
  status: String
  dependent: Boolean!
  command: String
  log: String
  upstreamData: [Data!]!
  owner: User
  upstreamSamples: [Sample!]!
  genome: Genome
  sample: Sample
  project: Project
  processExecutions: [ProcessExecution!]!
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type SampleEdge {
  cursor: String!
  node: Sample!
}

type SampleConnection {
  edges: [SampleEdge!]!
  pageInfo: PageInfo!
  totalCount: Int!
}

type ExecutionEdge {
  cursor: String!
  node: Execution!
}

type ExecutionConnection {
  edges: [ExecutionEdge!]!
  pageInfo: PageInfo!
  totalCount: Int!
}
"""


def build() -> GraphQLSchema:
    """The schema. ``JSONString`` passes text through both ways (graphql-core 3.2 and 3.3
    coerce custom scalars differently): resolvers decode the arguments with
    :func:`json_argument` and nodes encode their values with :func:`json_text`.

    Example:
        ```python
        schema = build()
        assert "samples" in schema.query_type.fields
        ```
    """
    return build_schema(SDL)


def json_argument(name: str, value: Any) -> Any:
    """A ``JSONString`` argument decoded; text that is not JSON is an error naming it."""
    if not isinstance(value, str):
        raise GraphQLError(f"{name}: JSONString values are JSON text")
    try:
        return json.loads(value)
    except ValueError as exc:
        raise GraphQLError(f"{name}: not valid JSON ({exc})") from None


def json_text(value: Any) -> str | None:
    """A value as a ``JSONString`` result (``None`` stays null)."""
    return None if value is None else json.dumps(value)


SCHEMA = build()
