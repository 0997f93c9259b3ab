"""Flask extension.

    from skewguard.contrib.flask import Skewguard
    skewguard = Skewguard(app)            # or: skewguard = Skewguard(); skewguard.init_app(app)

Settings come from ``app.config`` -- the plain names (``APP_VERSION``, ``APP_VERSION_HEADER``,
``APP_VERSION_MISMATCH``, ``VERSION_ENDPOINT``, ``STATIC_DEV_VERSION_QUERY``, ``SECRET_KEY``) or any
setting as ``SKEWGUARD_<NAME>`` -- then keyword arguments. It adds the middleware, the Jinja
globals (``static``, ``static_url``, ``app_version``, ``vite_version``), a ``skewguard``
blueprint answering ``/version`` and ``/cache/bust`` (``url_for("skewguard.version")``), and
``flask skewguard build|prune|token|version``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import Skewguard as Guard
from ..protocol import RequestFacts, Respond, authorize_bust, version_endpoint
from ..settings import Settings
from .jinja import template_globals

PLAIN_NAMES = (
    "APP_VERSION",
    "APP_VERSION_HEADER",
    "APP_VERSION_MISMATCH",
    "VERSION_ENDPOINT",
    "STATIC_DEV_VERSION_QUERY",
    "SECRET_KEY",
)


def settings_from_config(config: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    known = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {name: config[name] for name in PLAIN_NAMES if name in config}
    values.update(
        {
            k[len("SKEWGUARD_") :]: v
            for k, v in config.items()
            if k.startswith("SKEWGUARD_") and k[len("SKEWGUARD_") :] in known
        }
    )
    values.update(overrides)
    return values


class Skewguard:
    def __init__(self, app: Any = None, **options: Any):
        self.options = options
        self.guard: Guard | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Any) -> Guard:
        from flask import Blueprint, Response, request

        guard = Guard(**settings_from_config(app.config, self.options))
        self.guard = guard
        app.extensions["skewguard"] = guard
        app.jinja_env.globals.update(template_globals(guard))
        app.wsgi_app = guard.wsgi(app.wsgi_app, endpoints=False)

        blueprint = Blueprint("skewguard", __name__)

        def answer(respond: Respond) -> Response:
            return Response(respond.body, status=respond.status, headers=list(respond.headers))

        def facts() -> RequestFacts:
            from ..web.wsgi import facts_from_environ

            return facts_from_environ(request.environ)

        if guard.settings.VERSION_ENDPOINT:

            @blueprint.route(
                guard.settings.VERSION_PATH,
                methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            )
            def version() -> Response:
                guard.note_beat(request.environ.get("QUERY_STRING", ""))
                return answer(version_endpoint(facts(), guard.snapshot, guard.settings))

            @blueprint.route(
                guard.settings.BUST_PATH, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
            )
            def bust() -> Response:
                refusal = authorize_bust(facts(), guard.settings)
                return answer(refusal if refusal is not None else guard.bust())

        app.register_blueprint(blueprint)
        app.cli.add_command(_cli_group(guard))
        return guard


def _cli_group(guard: Guard) -> Any:
    from ..cli import framework_commands

    return framework_commands(guard)
