"""Which part of skewguard answers a request path, and skewguard's own static answers.

One place for all adapters: the endpoints (``Guard.endpoints``: ``/version``, ``/cache/bust`` and
any added with ``Skewguard.add_endpoint``), the browser client under
``STATIC_URL + CLIENT_PREFIX``, the build directory under ``STATIC_URL``, and root files
(ROOT_FILES_DIR) at ``/``. Everything else is the application's. A HEAD answer of skewguard's
own (an endpoint's, a file's) loses its body here, for every adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import BinaryIO

from ..client import CLIENT_PREFIX, client_name
from ..protocol import RequestFacts, Respond
from ..settings import Settings
from ..state import Endpoint, GuardState
from .responder import StaticResponse, answer_file, head_of, not_found, respond

StaticAnswer = tuple[StaticResponse, BinaryIO | None]


def static_kind(path: str, settings: Settings) -> str | None:
    """ "client" or "static" for a (decoded) path skewguard serves under STATIC_URL, else None."""
    static_url = settings.STATIC_URL
    if not path.startswith(static_url):
        return None
    if path.startswith(CLIENT_PREFIX, len(static_url)):
        return "client"
    if settings.SERVE_STATIC and settings.STATIC_ROOT:
        return "static"
    return None


def is_root_file(path: str, state: GuardState) -> bool:
    return state.root_files is not None and path[1:] in state.root_files.entries


def endpoint_answer(endpoint: Endpoint, request: RequestFacts, state: GuardState) -> Respond:
    """What ``endpoint`` answers ``request``. A HEAD answer keeps the GET's headers and loses its
    body here, once for every adapter: some servers (wsgiref) send whatever body they are handed,
    and a body after a HEAD answer is read as the start of the next response on the connection."""
    answer = endpoint.handler(request, state)
    if request.method == "HEAD" and answer.body:
        return Respond(answer.status, answer.headers)
    return answer


def static_answer(
    state: GuardState, kind: str, name: str, method: str, headers: Mapping[str, str]
) -> StaticAnswer:
    """The answer for ``name`` (relative to STATIC_URL, or to ``/`` for kind "root"), with the
    file to send opened when there is one. Unknown names get skewguard's 404."""
    response, body = _static_answer(state, kind, name, method, headers)
    return (head_of(response) if method == "HEAD" else response), body


def _static_answer(
    state: GuardState, kind: str, name: str, method: str, headers: Mapping[str, str]
) -> StaticAnswer:
    extra = state.extra_headers
    if kind == "client":
        if name != client_name():
            return not_found(extra), None
        return respond(state.client, method, headers, None), None
    table = state.root_files if kind == "root" else state.static
    if table is None:
        return not_found(extra), None
    response, body = answer_file(table, name.lstrip("/"), method, headers)
    return (response if response is not None else not_found(extra)), body
