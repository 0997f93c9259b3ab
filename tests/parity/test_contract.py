"""The adapter contract: a public state object, endpoint dispatch in one place, the static
fallback source, and adapters that do not import guard.py."""

from __future__ import annotations

import subprocess
import sys

from skewguard.protocol import Respond, json_response
from skewguard.state import GuardState
from skewguard.web.responder import StaticEntry, memory_entry

from .conftest import make_guard


def test_current_is_the_state_requests_read(site) -> None:
    out, _ = site
    guard = make_guard(out)
    state = guard.current()
    assert isinstance(state, GuardState) and state.snapshot.version == guard.version
    assert state.extra_headers == [(b"x-app-version", guard.version.encode())]
    guard.reload()
    assert guard.current() is not state  # swapped whole, never mutated


def test_added_endpoints_answer_in_every_adapter(site, adapter_for) -> None:
    out, _ = site
    guard = make_guard(out)
    seen: list[str] = []

    def metrics(request, state: GuardState) -> Respond:
        seen.append(request.query)
        return json_response(200, {"version": state.snapshot.version})

    adapter = adapter_for(guard)  # made before the endpoint is added: it still sees it
    guard.add_endpoint("/metrics", metrics)
    reply = adapter.request("GET", "/metrics?x=1")
    assert reply.status == 200 and guard.version.encode() in reply.body
    assert seen == ["x=1"]


def test_endpoints_false_leaves_only_the_builtin_ones_to_the_framework(site) -> None:
    from starlette.testclient import TestClient

    out, _ = site
    guard = make_guard(out)
    guard.add_endpoint("/metrics", lambda request, state: json_response(200, {"ok": True}))

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    client = TestClient(guard.asgi(app, endpoints=False))
    assert client.get("/version").status_code == 299  # the framework's route
    assert client.get("/metrics").status_code == 200  # added ones stay skewguard's


class OlderReleases:
    """A fallback source: hashed files of releases no longer on local disk."""

    def __init__(self, files: dict[str, bytes]):
        self.entries = {name: memory_entry(body, name, []) for name, body in files.items()}
        self.asked: list[str] = []

    def lookup(self, name: str) -> StaticEntry | None:
        self.asked.append(name)
        return self.entries.get(name)


def test_a_fallback_source_serves_names_the_table_lacks(site, adapter_for) -> None:
    out, _ = site
    source = OlderReleases({"js/old.0123456789ab.js": b"old release();\n"})
    adapter = adapter_for(make_guard(out, static_fallback=source))
    reply = adapter.request("GET", "/static/js/old.0123456789ab.js")
    assert reply.status == 200 and reply.body == b"old release();\n"
    assert int(reply.headers["content-length"]) == len(reply.body)
    ranged = adapter.request("GET", "/static/js/old.0123456789ab.js", {"Range": "bytes=0-2"})
    assert ranged.status == 206 and ranged.body == b"old"
    assert adapter.request("GET", "/static/js/gone.0123456789ab.js").status == 404
    assert "js/gone.0123456789ab.js" in source.asked


def test_a_fallback_source_can_come_after_the_guard(site) -> None:
    out, _ = site
    guard = make_guard(out)
    table = guard.current().static
    assert table is not None and table.respond("js/old.0123456789ab.js", "GET", {}) is None
    guard.use_static_fallback(OlderReleases({"js/old.0123456789ab.js": b"x"}))
    table = guard.current().static
    assert table is not None and table.respond("js/old.0123456789ab.js", "GET", {}) is not None


def test_adapters_do_not_import_guard_py_and_import_stays_light() -> None:
    code = (
        "import sys, skewguard.web.asgi, skewguard.web.wsgi, skewguard.plan;"
        "assert 'skewguard.guard' not in sys.modules, 'an adapter imports guard.py'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    light = subprocess.run(
        [sys.executable, "-c", "import sys, skewguard; print(sorted(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "skewguard.guard" not in light and "skewguard.web" not in light
