"""The HTTP layer: the only package that imports httpx and aiohttp (DEVELOPING.md).

One module per concept: ``_responses`` (what callers get back), ``_urls`` (base URLs,
trusted origins, URL checks), ``_client`` (the request loop: credentials, retries, the 401
refresh, redirects, deadlines and size caps), ``_transport`` (building the engine: aiohttp by
default, httpx's own transport on request; TLS, proxies, pool), ``_aiohttp`` (httpx's
transport interface on aiohttp) and ``_failures`` (library errors as typed errors).
"""

from flowbio_async._http._client import REFRESH_COOKIE, HttpClient, QueryParams, Timeout
from flowbio_async._http._failures import DeadlineError, StallError
from flowbio_async._http._responses import Headers, RateLimitInfo, Response, StreamResponse
from flowbio_async._http._urls import derive_files_url, normalise_base_url, split_url

__all__ = [
    "REFRESH_COOKIE",
    "DeadlineError",
    "Headers",
    "HttpClient",
    "QueryParams",
    "RateLimitInfo",
    "Response",
    "StallError",
    "StreamResponse",
    "Timeout",
    "derive_files_url",
    "normalise_base_url",
    "split_url",
]
