"""Version routing for blue/green and canary deploys (seed 001).

A client may ask for a release with the ``X-App-Requested-Version`` header, else the
``app_version`` cookie. The value is validated (at most 64 characters of ``[A-Za-z0-9._-]``)
before anything else sees it; a known version names its backend (``x-backend-target``, for the
proxy), an unknown one gets 409 with the versions on offer. ``nginx_config`` writes nginx
``map``s and upstreams that apply the same rules at request time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .protocol import JSON

REQUEST_HEADER = "x-app-requested-version"
COOKIE = "app_version"
VERSION_VALUE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_BACKEND = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$|^unix:/[A-Za-z0-9._/-]+$")


class RoutingError(ValueError):
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


def cookie_value(cookie_header: str | None, name: str = COOKIE) -> str | None:
    if not cookie_header:
        return None
    for part in cookie_header[:8192].split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip().strip('"')
    return None


def decide_route(
    requested_header: str | None,
    cookie_header: str | None,
    version_map: Mapping[str, str],
    default_version: str,
) -> RouteDecision:
    requested = requested_header if requested_header else cookie_value(cookie_header)
    if not requested:
        return RouteDecision(version_map[default_version])
    if not VERSION_VALUE.match(requested):
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

    def asgi(self, app):
        router = self

        async def middleware(scope, receive, send):
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            requested = cookies = None
            for name, value in scope.get("headers", ()):
                if name == b"x-app-requested-version":
                    requested = value.decode("latin-1")
                elif name == b"cookie":
                    cookies = value.decode("latin-1")
            decision = router.decide(requested, cookies)
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

            async def send_with_target(message):
                if message["type"] == "http.response.start":
                    message = {
                        **message,
                        "headers": [*message.get("headers", ()), (b"x-backend-target", target)],
                    }
                await send(message)

            await app(scope, receive, send_with_target)

        return middleware

    def wsgi(self, app):
        router = self

        def middleware(environ, start_response):
            decision = router.decide(
                environ.get("HTTP_X_APP_REQUESTED_VERSION"), environ.get("HTTP_COOKIE")
            )
            if decision.target is None:
                status = "400 Bad Request" if decision.status == 400 else "409 Conflict"
                start_response(
                    status, [("Content-Type", JSON), ("Content-Length", str(len(decision.body)))]
                )
                return [decision.body]
            environ["skewguard.backend_target"] = decision.target

            def start_with_target(status, headers, exc_info=None):
                headers = [*headers, ("x-backend-target", decision.target)]
                return (
                    start_response(status, headers, exc_info)
                    if exc_info
                    else start_response(status, headers)
                )

            return app(environ, start_with_target)

        return middleware


def map_from_registry(state, backend_pattern: str) -> tuple[dict[str, str], str]:
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


def nginx_config(
    version_map: Mapping[str, str], default_version: str, listen: str = "127.0.0.1:8080"
) -> str:
    """nginx configuration for the ``http`` context: the same routing at request time.

    Backends are ``host:port`` addresses (one upstream per version)."""
    validate_map(version_map, default_version)
    for version, backend in version_map.items():
        if not _BACKEND.match(backend):
            raise RoutingError(
                f"backend {backend!r} of {version!r} must be host:port or unix:/path"
            )
    upstream = {version: "sg_" + re.sub(r"[^A-Za-z0-9_]", "_", version) for version in version_map}
    available = json.dumps(sorted(version_map), separators=(",", ":"))
    lines = [
        "# Generated by `skewguard nginx-config`: routes by X-App-Requested-Version, else the app_version",
        "# cookie, exactly as skewguard.routing.VersionRouter does. Include it in nginx's http { } context.",
        "map $http_x_app_requested_version $skewguard_requested {",
        "    default $http_x_app_requested_version;",
        '    ""      $cookie_app_version;',
        "}",
        "map $skewguard_requested $skewguard_backend {",
        '    default                 "unknown";',
        f'    ""                      {upstream[default_version]};',
        *(f'    "{version}" {name};' for version, name in upstream.items()),
        '    "~[^A-Za-z0-9._-]"      "invalid";',
        '    "~^.{65,}$"             "invalid";',
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
        "        add_header x-backend-target $skewguard_backend always;",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"
