"""Version routing for blue/green and canary deploys.

One rule, written once below (``RULES``) and applied twice: by ``VersionRouter`` in Python, and
by the nginx configuration ``nginx_config`` generates from the very same patterns:

1. The requested version is the ``X-App-Requested-Version`` header; when it is absent or empty,
   the first ``app_version`` cookie. Several of the header are one value joined by commas (as
   HTTP defines it, and as servers hand them over), so they are refused.
2. The cookie's name matches exactly (case matters); blanks around the name, the ``=`` and the
   value are ignored, and one pair of double quotes around the value is taken off. Several
   Cookie headers count as one, joined by ``;``.
3. Nothing requested: the default version. A value that is not 1-64 characters of
   ``[A-Za-z0-9._-]``: 400, never echoed. A well-formed version not in the map: 409 listing the
   versions on offer. Versions compare exactly (``V1`` is not ``v1``).

A routed request carries ``x-backend-target: <its backend>`` in both implementations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import SkewguardError
from .protocol import JSON

if TYPE_CHECKING:
    from .releases.model import RegistryState

Message = dict[str, Any]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

REQUEST_HEADER = "x-app-requested-version"
COOKIE = "app_version"


@dataclass(frozen=True)
class RoutingRules:
    """The patterns both implementations use, in the syntax Python's ``re`` and nginx's PCRE
    share (no look-behind, no possessive quantifiers)."""

    header: str = REQUEST_HEADER
    cookie: str = COOKIE
    version_chars: str = "A-Za-z0-9._-"
    max_length: int = 64

    @property
    def cookie_pattern(self) -> str:
        """The first ``<cookie>=value`` pair of a Cookie header; group 1 is the value."""
        name = re.escape(self.cookie)
        return rf'(?:^|[;,])[ \t]*{name}[ \t]*=[ \t]*"?([^;,]*?)"?[ \t]*(?:[;,]|$)'

    @property
    def invalid_patterns(self) -> tuple[str, ...]:
        """A requested value matching any of these is refused with 400."""
        return (f"[^{self.version_chars}]", f"^.{{{self.max_length + 1},}}$")


RULES = RoutingRules()
VERSION_VALUE = re.compile(rf"\A[{RULES.version_chars}]{{1,{RULES.max_length}}}\Z")
_COOKIE = re.compile(RULES.cookie_pattern)
_INVALID = tuple(re.compile(p) for p in RULES.invalid_patterns)
_LISTEN = re.compile(r"\A(?:[A-Za-z0-9.-]+:|\[[0-9A-Fa-f:.]+\]:)?[0-9]{1,5}\Z")
_BACKEND = re.compile(r"\A(?:[A-Za-z0-9.-]+:[0-9]{1,5}|unix:/[A-Za-z0-9._/-]+)\Z")


class RoutingError(SkewguardError, ValueError):
    """An invalid version map (one line)."""


@dataclass(frozen=True)
class RouteDecision:
    target: str | None  # the backend, when routed
    status: int = 200  # 400 (invalid value) or 409 (unknown version) when refused
    body: bytes = b""


def validate_map(version_map: Mapping[str, str], default_version: str) -> None:
    for version, backend in version_map.items():
        if not VERSION_VALUE.match(version):
            raise RoutingError(
                f"version {version!r} must be 1-64 characters of letters, digits and . _ -"
            )
        if not isinstance(backend, str) or not backend:
            raise RoutingError(f"backend of {version!r} must be a non-empty string")
    if default_version not in version_map:
        raise RoutingError(f"default version {default_version!r} is not in the version map")


def cookie_value(cookie_header: str | None) -> str | None:
    """The first app_version cookie of a Cookie header (several headers joined by ``; ``)."""
    if not cookie_header:
        return None
    m = _COOKIE.search(cookie_header)
    return None if m is None else m.group(1)


def joined(values: Iterable[str], separator: str) -> str | None:
    """Several fields of one header name as the one value HTTP says they are."""
    items = list(values)
    return separator.join(items) if items else None


def decide_route(
    requested_header: str | None,
    cookie_header: str | None,
    version_map: Mapping[str, str],
    default_version: str,
) -> RouteDecision:
    requested = requested_header if requested_header else cookie_value(cookie_header)
    if not requested:
        return RouteDecision(version_map[default_version])
    if any(p.search(requested) for p in _INVALID):
        # Never echoed: a hostile value reaches neither a header nor a body.
        return RouteDecision(None, 400, json.dumps({"error": "invalid requested version"}).encode())
    if requested not in version_map:
        body = {
            "error": "unknown version",
            "requested": requested,
            "available": sorted(version_map),
        }
        return RouteDecision(None, 409, json.dumps(body, separators=(",", ":")).encode())
    return RouteDecision(version_map[requested])


class VersionRouter:
    """``VersionRouter(version_map={"v1.0": "backend-blue", "v1.1": "backend-green"}, default_version="v1.1")``;
    ``router.asgi(app)`` / ``router.wsgi(app)`` wrap an app (or a proxy) with the routing rules."""

    def __init__(self, version_map: Mapping[str, str], default_version: str):
        validate_map(version_map, default_version)
        self.version_map = dict(version_map)
        self.default_version = default_version

    def decide(self, requested_header: str | None, cookie_header: str | None) -> RouteDecision:
        return decide_route(requested_header, cookie_header, self.version_map, self.default_version)

    def asgi(self, app: ASGIApp) -> ASGIApp:
        router = self

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            requested: list[str] = []
            cookies: list[str] = []
            # A field value has no leading or trailing whitespace (RFC 9110 5.5): h11 and nginx
            # strip it, httptools hands it over as sent, so strip it here for every server alike.
            for name, value in scope.get("headers", ()):
                if name == b"x-app-requested-version":
                    requested.append(value.decode("latin-1").strip(" \t"))
                elif name == b"cookie":
                    cookies.append(value.decode("latin-1").strip(" \t"))
            decision = router.decide(joined(requested, ", "), joined(cookies, "; "))
            if decision.target is None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": decision.status,
                        "headers": [
                            (b"content-type", JSON.encode()),
                            (b"content-length", str(len(decision.body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": decision.body})
                return
            scope = {
                **scope,
                "state": {**scope.get("state", {}), "backend_target": decision.target},
            }
            target = decision.target.encode()

            async def send_with_target(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {
                        **message,
                        "headers": [*message.get("headers", ()), (b"x-backend-target", target)],
                    }
                await send(message)

            await app(scope, receive, send_with_target)

        return middleware

    def wsgi(self, app: WSGIApp) -> WSGIApp:
        router = self

        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            decision = router.decide(
                environ.get("HTTP_X_APP_REQUESTED_VERSION"), environ.get("HTTP_COOKIE")
            )
            if decision.target is None:
                status = "400 Bad Request" if decision.status == 400 else "409 Conflict"
                start_response(
                    status, [("Content-Type", JSON), ("Content-Length", str(len(decision.body)))]
                )
                return [decision.body]
            target = decision.target
            environ["skewguard.backend_target"] = target

            def start_with_target(
                status: str, headers: list[tuple[str, str]], exc_info: Any = None
            ) -> Any:
                headers = [*headers, ("x-backend-target", target)]
                return (
                    start_response(status, headers, exc_info)
                    if exc_info
                    else start_response(status, headers)
                )

            return app(environ, start_with_target)

        return middleware


def map_from_registry(state: RegistryState, backend_pattern: str) -> tuple[dict[str, str], str]:
    """A version map from the release registry: every release not retired, each at
    ``backend_pattern.format(version=...)``; the active release is the default."""
    if "{version}" not in backend_pattern:
        raise RoutingError(
            "the backend pattern must contain {version} (for example app-{version}:8000)"
        )
    version_map = {
        r.version: backend_pattern.format(version=r.version)
        for r in state.releases
        if r.state != "retired"
    }
    active = state.active
    if active is None:
        raise RoutingError(
            "the registry has no active release (skewguard release activate VERSION)"
        )
    return version_map, active.version


def _nginx_string(text: str) -> str:
    """``text`` as one double-quoted nginx token: nginx reads ``\\"`` as a quote and ``\\\\``
    as a backslash, and leaves other escapes (``\\.``, ``\\t`` as a tab) to PCRE."""
    return '"' + text.replace('"', '\\"') + '"'


def nginx_config(
    version_map: Mapping[str, str], default_version: str, listen: str = "127.0.0.1:8080"
) -> str:
    """nginx configuration for the ``http`` context that applies ``RULES`` at request time.

    Backends are ``host:port`` or ``unix:/path`` (one upstream per version). Versions are matched
    by case-sensitive regular expressions, never by ``map``'s own string keys, which ignore case
    and treat words such as ``default``, ``include`` or ``hostnames`` as directives; upstreams
    are numbered, so versions such as ``v1.0`` and ``v1_0`` cannot collide. Every version the
    router accepts can therefore be expressed. Several ``X-App-Requested-Version`` headers are
    joined (and so refused) by nginx 1.23 and later; older nginx reads only the first.
    """
    validate_map(version_map, default_version)
    for version, backend in version_map.items():
        if not _BACKEND.match(backend):
            raise RoutingError(
                f"backend {backend!r} of {version!r} must be host:port or unix:/path"
            )
    if not _LISTEN.match(listen):
        raise RoutingError(f"--listen {listen!r} must be a port, host:port or [v6]:port")
    upstream = {
        version: f"skewguard_{i}_" + re.sub(r"[^A-Za-z0-9_]", "_", version)
        for i, version in enumerate(version_map)
    }
    available = json.dumps(sorted(version_map), separators=(",", ":"))
    cookie = _cookie_capture(RULES.cookie_pattern)
    lines = [
        "# Generated by `skewguard nginx-config`: routes by X-App-Requested-Version, else the",
        "# app_version cookie, with the rules of skewguard.routing.VersionRouter (same patterns).",
        "# Include it in nginx's http { } context.",
        "map $http_cookie $skewguard_cookie {",
        '    default "";',
        f"    {_nginx_string('~' + cookie)} $skewguard_cookie_value;",
        "}",
        "map $http_x_app_requested_version $skewguard_requested {",
        "    default $http_x_app_requested_version;",
        '    ""      $skewguard_cookie;',
        "}",
        "map $skewguard_requested $skewguard_backend {",
        '    default "unknown";',
        f'    ""      {upstream[default_version]};',
        *(f'    {_nginx_string("~" + p)} "invalid";' for p in RULES.invalid_patterns),
        *(
            f"    {_nginx_string('~^' + re.escape(version) + '$')} {name};"
            for version, name in upstream.items()
        ),
        "}",
        "map $skewguard_backend $skewguard_target {",
        '    default "";',
        *(f"    {upstream[v]} {_nginx_string(b)};" for v, b in version_map.items()),
        "}",
        *(
            f"upstream {upstream[version]} {{ server {backend}; }}"
            for version, backend in version_map.items()
        ),
        "server {",
        f"    listen {listen};",
        "    location / {",
        "        default_type application/json;",
        '        if ($skewguard_backend = "invalid") { return 400 \'{"error":"invalid requested version"}\'; }',
        f'        if ($skewguard_backend = "unknown") {{ return 409 \'{{"error":"unknown version","requested":"$skewguard_requested","available":{available}}}\'; }}',
        "        proxy_pass http://$skewguard_backend;",
        "        proxy_set_header Host $host;",
        "        add_header x-backend-target $skewguard_target always;",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _cookie_capture(pattern: str) -> str:
    """The cookie pattern with its one capturing group named, for nginx's map."""
    index = pattern.index("([")
    return pattern[:index] + "(?<skewguard_cookie_value>" + pattern[index + 1 :]
