"""The official legacy flowbio client's GraphQL documents, copied verbatim (#11).

Source: the public repository goodwright/flowbio, as shipped in flowbio 0.14.1 on PyPI:
``flowbio/queries.py`` (DATA, SAMPLE, PIPELINE, EXECUTION), ``flowbio/mutations.py``
(RUN_PIPELINE) and ``flowbio/client.py`` (the login mutation, ``refresh_token``'s
``{ accessToken }`` and ``user``'s query). They are copied here because the official package
is not a test dependency; the tests run each one, unchanged, against the local server.
The upload mutations of ``mutations.py`` (GraphQL multipart uploads) are not served: the
local server takes uploads over REST (docs/graphql.md).
"""

# flowbio/queries.py
DATA = """query data($id: ID!) { data(id: $id) {
    id filename filetype size category created isDirectory isBinary private
    upstreamProcessExecution { id processName execution {
        id pipelineVersion { id pipeline { id name } }
    } }
    sample { id name } project { id name } owner { id username name }
    genome { id name organism { name } }
    genomeFasta { id name organism { name } }
    genomeGtf { id name organism { name } }
} }"""


SAMPLE = """query sample($id: ID!) {
    sample(id: $id) {
        id name private created sampleType owner { id name username }
        initialData { id created data { id filename } } organism { id name }
        project { id name }
        strandedness rnaSelectionMethod
        pubmed
    }
}"""


PIPELINE = """{ pipelineCategories {
    subcategories { pipelines { name version { id name } } } 
} }"""  # noqa: W291 - the trailing space is the original's

EXECUTION = """query execution($id: ID!) { execution(id: $id) {
    id pipelineVersion { id name description schema pipeline { id name } }
    nextflowVersion forcedPublicProjectId forcedPublicSampleId canEdit canShare
    created started finished taskStarted taskFinished identifier private hasReport
    params dataParams sampleParams stdout stderr status dependent command log
    upstreamData { id filename } owner { id name username }
    upstreamSamples { id name } genome { id name organism { id name } }
    sample { id name } project { id name }
    processExecutions {
        id identifier name processName started finished stdout stderr bash status exitCode
        upstreamData { id filename } upstreamSamples { id name }
        downstreamData { id filename filetype size created owner { name } isRemoved }
    }
} }"""

# flowbio/mutations.py
RUN_PIPELINE = """mutation runPipeline(
    $id: ID! $params: JSONString! $dataParams: JSONString!
    $sampleParams: JSONString! $nextflowVersion: String! $genome: ID
) { runPipeline(
    id: $id params: $params dataParams: $dataParams sampleParams: $sampleParams
    nextflowVersion: $nextflowVersion genome: $genome
) { execution { id } } }"""

# flowbio/client.py: Client.login, Client.refresh_token, Client.user
LOGIN = """mutation login(
            $username: String! $password: String!
        ) { login(username: $username password: $password) {
            accessToken
        } }"""

ACCESS_TOKEN = "{ accessToken }"

USER = """query user(
            $username: String!
        ) { user(username: $username) {
            id username name
        } }"""
