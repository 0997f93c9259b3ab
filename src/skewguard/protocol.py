"""Pure decisions: given a request's method, path and headers and a version snapshot, what happens.

No I/O here (the sans-IO style of h11): the ASGI, WSGI and Django adapters turn requests into
``RequestFacts`` and carry out the ``Respond`` / ``Proceed`` they get back, so the Inertia rule and
the endpoints are written once and cannot drift between adapters. Which part of skewguard answers
a path is ``web.dispatch``; what happens to the application's response is ``plan``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_plus

from .settings import VERSION_PATTERN, Settings
from .tokens import bearer_token, verify_token
from .version import VersionSnapshot

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class RequestFacts:
    method: str  # upper case
    path: str  # percent-encoded, as sent
    query: str  # raw query string, without "?"
    headers: Mapping[str, str]  # lower-case names; values decoded as latin-1 (never fails)


@dataclass(frozen=True, slots=True)
class Respond:
    """Answer without calling the application."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Proceed:
    """Call the application; add these headers to its response."""

    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    held: bool = False  # answered normally only because the page is held (a 409 otherwise)


# -- the Inertia rule and the hold marker --------------------------------------------------------

HOLD_HEADER = "x-skewguard-hold"  # value: the release the held page runs
STALE = (("X-App-Stale", "1"),)


SERVER_STALE = (("X-App-Stale", "server"),)
# Policies under which the server may force an older (retained) client to reload. Under defer,
# prompt and warn the browser client converges on its own terms; under ignore nothing is
# injected, so Inertia's own 409 handling is all there is.
FORCING_POLICIES = ("reload", "ignore")


def is_held(request: RequestFacts, client_version: str) -> bool:
    """Does the request carry the browser client's hold marker for its own version?

    A page that something holds (a call, a playing video, a dirty form) marks each of its
    requests with a header naming the release it runs, so the server answers them normally
    instead of forcing a reload. The marker travels on the request itself, never in a cookie:
    one tab's hold must not change how another tab of the same release is answered. It only
    counts when it names the version the request claims (one exact value).
    """
    return request.headers.get(HOLD_HEADER) == client_version


def decide(
    request: RequestFacts, snapshot: VersionSnapshot, settings: Settings
) -> Respond | Proceed | None:
    """What a request from a page at another version gets.

    Where the client stands (``releases.classify``): at this server's or the fleet's active
    release -- nothing to say; newer than this server (a rolling deploy) -- answered normally,
    tagged ``X-App-Stale: server``, never forced; at an older retained release -- tagged
    ``X-App-Stale: 1``, and an Inertia GET gets the 409 under the reload policy unless the page is
    held; at a retired release, or one neither the registry nor this server's files know -- the
    409, unless held (RETIRED_FORCES_RELOAD: even then). Never a 409 for other methods (a POST
    must not be lost), in dev mode, or without a version. None: nothing to add.
    """
    if snapshot.dev:
        return None
    inertia = request.headers.get("x-inertia", "").lower() == "true"
    client_version = request.headers.get("x-inertia-version") if inertia else None
    if client_version is None:
        client_version = request.headers.get(HOLD_HEADER)
    if client_version is None:
        return None
    from .releases.model import classify

    status = classify(client_version, snapshot.version, snapshot.registry, snapshot.held)
    if status == "current":
        return None
    if status == "newer":
        return Proceed(SERVER_STALE)
    if inertia and request.method == "GET":
        held = is_held(request, client_version)
        if status == "stale":
            would_force = settings.APP_VERSION_MISMATCH in FORCING_POLICIES
            force = would_force and not held
        else:
            would_force = True
            force = not held or settings.RETIRED_FORCES_RELOAD
        if not force:
            return Proceed(STALE, held=would_force and held)
        location = same_origin_location(request.path, request.query)
        return Respond(
            409,
            (
                ("X-Inertia-Location", location),
                ("X-Inertia-Version", snapshot.version),
                *version_headers(snapshot, settings),
            ),
        )
    return Proceed(STALE)


def decide_inertia(
    request: RequestFacts, snapshot: VersionSnapshot, settings: Settings
) -> Respond | None:
    """The 409 of ``decide`` alone (None when the request goes through)."""
    decision = decide(request, snapshot, settings)
    return decision if isinstance(decision, Respond) else None


def version_headers(snapshot: VersionSnapshot, settings: Settings) -> tuple[tuple[str, str], ...]:
    return (("X-App-Version", snapshot.version),) if settings.APP_VERSION_HEADER else ()


def safe_path(path: str) -> str:
    """A path fit for a header: percent-encode anything outside the URL-safe set (no CR/LF)."""
    return quote(path, safe="/%:@!$&'()*+,;=-._~") or "/"


def same_origin_location(path: str, query: str) -> str:
    """Where Inertia should reload: always a path on this origin. A browser reads ``//host``,
    ``/\\host`` and ``///host`` as another host, so any leading run of slashes and backslashes
    (``/%2f%2fhost`` arrives as ``///host`` from servers that decode the path) becomes one."""
    location = "/" + safe_path(path).lstrip("/\\")
    return location + ("?" + safe_query(query) if query else "")


def safe_query(query: str) -> str:
    return quote(query, safe="/%:@!$&'()*+,;=-._~?")


# -- /version and /cache/bust -------------------------------------------------------------------


def version_endpoint(
    request: RequestFacts, snapshot: VersionSnapshot, settings: Settings
) -> Respond:
    if request.method not in ("GET", "HEAD"):
        return json_response(405, {"error": "method not allowed"}, (("Allow", "GET, HEAD"),))
    # Every tab polls this: the answer depends only on the snapshot and where ?client= stands,
    # so it is worked out and encoded once per snapshot and standing, not once per poll.
    answers = snapshot.derived.get("version")
    if answers is None:
        answers = snapshot.derived["version"] = _VersionAnswers(snapshot)
    client = _query_value(request.query[:1024], "client")
    standing = answers.standing(client) if VERSION_PATTERN.match(client) else None
    key = (standing, settings.APP_VERSION_HEADER)
    response = answers.responses.get(key)
    if response is None:
        body = {**snapshot.as_json(), "behind": answers.behind}
        if standing is not None:
            body["client"] = standing
        response = json_response(
            200, body, (("Cache-Control", "no-store"), *version_headers(snapshot, settings))
        )
        answers.responses[key] = response  # at most five standings, two header settings
    if request.method == "HEAD":
        return Respond(response.status, response.headers, b"")
    return response


class _VersionAnswers:
    """``/version``'s answers for one snapshot: where the fleet stands, and the encoded bodies.

    ``behind``: this server runs a release older than the fleet's active one, as a rolling
    deploy leaves it for a while. ``standing(client)``: where a tab's version stands against the
    fleet's release: "current", "newer" (never reload toward the older one), "stale"
    (retained: still served and routable) or "retired" (retired, or unknown to the registry and
    to this server's files: must reload). Together they let a tab converge on the fleet's
    release, not on whichever server answered."""

    def __init__(self, snapshot: VersionSnapshot) -> None:
        from .releases.model import classify

        self.snapshot = snapshot
        self.registry = registry = snapshot.registry
        active = registry.active.version if registry is not None and registry.active else None
        self.target = active or snapshot.version
        self.behind = active is not None and classify(snapshot.version, active, registry) in (
            "stale",
            "retired",
        )
        self.responses: dict[tuple[str | None, bool], Respond] = {}
        self._classify = classify

    def standing(self, client: str) -> str:
        return str(self._classify(client, self.target, self.registry, self.snapshot.held))


def _query_value(query: str, name: str) -> str:
    """The first value of ``name`` in a query string, decoded as ``parse_qs`` would (a scan:
    ``/version`` polls carry a heartbeat, and parsing all of it per poll cost more than the rest
    of the answer)."""
    key = name + "="
    if key not in query:
        return ""
    for part in query.split("&"):
        if part.startswith(key):
            return unquote_plus(part[len(key) :])
    return ""


_UNAUTHORIZED_BODY = {"error": "a valid bearer token is required (skewguard token --ttl 10m)"}


def authorize_bust(
    request: RequestFacts, settings: Settings, now: float | None = None
) -> Respond | None:
    """None when the bust may proceed; otherwise the refusal (405, 401)."""
    if request.method != "POST":
        return json_response(405, {"error": "method not allowed"}, (("Allow", "POST"),))
    token = bearer_token(request.headers.get("authorization"))
    if (
        not settings.SECRET_KEY
        or token is None
        or not verify_token(settings.SECRET_KEY, token, now=now)
    ):
        # The same answer for missing, malformed, wrongly signed and expired tokens.
        return json_response(
            401, _UNAUTHORIZED_BODY, (("WWW-Authenticate", 'Bearer realm="skewguard"'),)
        )
    return None


def bust_succeeded(
    previous: VersionSnapshot, current: VersionSnapshot, settings: Settings
) -> Respond:
    body = {
        "status": "ok",
        "version": current.version,
        "previous": previous.version,
        "source": current.source,
    }
    return json_response(
        200, body, (("Cache-Control", "no-store"), *version_headers(current, settings))
    )


def bust_failed(
    current: VersionSnapshot, error: str, settings: Settings, restart_needed: bool = False
) -> Respond:
    """The reload failed (corrupt manifest, say): the old snapshot stays; say so without a 500.
    ``restart_needed``: the new release is fine but this process cannot render it until restarted."""
    body: dict[str, object] = {
        "status": "restart-needed" if restart_needed else "error",
        "error": error,
        "version": current.version,
    }
    if restart_needed:
        body["restart_needed"] = True
    return json_response(
        422, body, (("Cache-Control", "no-store"), *version_headers(current, settings))
    )


def json_response(status: int, body: object, headers: tuple[tuple[str, str], ...] = ()) -> Respond:
    data = json.dumps(body, separators=(",", ":")).encode()
    return Respond(
        status, (("Content-Type", JSON), ("Content-Length", str(len(data))), *headers), data
    )
