"""The response plan: what skewguard does to an application's answer, decided once for all adapters.

In the sans-IO style of h11 and of ``protocol.decide``: the ASGI, WSGI and Django adapters read the
few facts below from a request and from the application's response start, and carry out the
``ResponsePlan`` they get back. Which headers to add and drop, whether and what to inject, and the
new Content-Length are written here once, so the adapters cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .web.inject import should_inject

# The request headers skewguard's decisions read; adapters decode no others.
REQUEST_HEADERS = (
    "x-inertia",
    "x-inertia-version",
    "x-skewguard-hold",
    "hx-request",
    "cookie",
    "authorization",
    "accept-encoding",
    "if-none-match",
    "if-modified-since",
    "range",
    "if-range",
)
ASGI_REQUEST_HEADERS = frozenset(name.encode() for name in REQUEST_HEADERS)
# The same names as WSGI environ keys (PEP 3333: HTTP_ + upper case, "-" as "_").
ENVIRON_REQUEST_HEADERS = {"HTTP_" + n.upper().replace("-", "_"): n for n in REQUEST_HEADERS}
# Requests that say which release they run: only these need the decision core.
VERSIONED_HEADERS = ("x-inertia-version", "x-skewguard-hold")
# Requests whose HTML answers are fragments (htmx) or that expect JSON (Inertia): never injected.
FRAGMENT_HEADERS = ("hx-request", "x-inertia")
VERSIONED_ENVIRON = frozenset(
    k for k, n in ENVIRON_REQUEST_HEADERS.items() if n in VERSIONED_HEADERS
)
FRAGMENT_ENVIRON = frozenset(k for k, n in ENVIRON_REQUEST_HEADERS.items() if n in FRAGMENT_HEADERS)
# Response headers skewguard owns: an application's own values give way.
OWN_RESPONSE_HEADERS = frozenset(("x-app-version", "x-app-stale"))

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """What the plan needs of an application's response start."""

    status: int
    content_type: str | None = None
    content_encoding: str | None = None
    content_length: str | None = None  # as declared; None when the body's size is not declared


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """What an adapter does to the response: drop ``drop`` (lower-case names), then add ``add``;
    put ``snippet`` into the body (before ``</head>``, else before ``</body>``, else at the end,
    see ``web.inject.HtmlInjector``) when it is not None; set Content-Length to
    ``content_length`` when that is not None."""

    add: Headers
    drop: frozenset[str] = OWN_RESPONSE_HEADERS
    snippet: bytes | None = None
    content_length: str | None = None


def is_fragment(headers: Mapping[str, str]) -> bool:
    return any(name in headers for name in FRAGMENT_HEADERS)


def plan_response(
    method: str,
    head: ResponseHead,
    add: Headers,
    *,
    inject: bool,
    fragment: bool,
    snippet: Callable[[], bytes],
) -> ResponsePlan:
    """The plan for one response.

    ``inject``: the policy injects the client (APP_VERSION_MISMATCH is not "ignore"). Only whole
    HTML documents get it (``should_inject``). A HEAD answer has no body, but its Content-Length
    is the one the GET would have, snippet included. A declared Content-Length that is not a
    number means a body of unknown size: it is left alone, without injection.
    """
    if not inject or fragment:
        return ResponsePlan(add)
    head_request = method == "HEAD"
    if not should_inject(
        "GET" if head_request else method,
        head.status,
        head.content_type,
        head.content_encoding,
        False,
    ):
        return ResponsePlan(add)
    code = snippet()
    length = None
    if head.content_length is not None:
        try:
            declared = int(head.content_length)
        except ValueError:
            return ResponsePlan(add)
        if declared < 0:
            return ResponsePlan(add)
        length = str(declared + len(code))
    return ResponsePlan(add, OWN_RESPONSE_HEADERS, None if head_request else code, length)
