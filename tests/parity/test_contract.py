"""The adapter contract: a public state object, endpoint dispatch in one place, the static
fallback source, adapters that do not import guard.py, and no import cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import skewguard
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


def _module_imports(package: Path) -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports when it is imported: the
    statements that run then (the top level, and the bodies of ``if``, ``try``, ``with``, loops
    and classes), but not ``if TYPE_CHECKING`` blocks or function bodies (deferred imports, which
    cannot form a cycle at import time)."""
    modules: dict[str, tuple[Path, list[str]]] = {}
    for path in package.rglob("*.py"):
        parts = ["skewguard", *path.relative_to(package).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
            modules[".".join(parts)] = (path, parts)
        else:
            modules[".".join(parts)] = (path, parts[:-1])

    graph: dict[str, set[str]] = {}
    for name, (path, package_parts) in modules.items():
        found: set[str] = set()

        def visit(body: list[ast.stmt], found: set[str] = found, parts: list[str] = package_parts):
            for node in body:
                if isinstance(node, ast.If):
                    if "TYPE_CHECKING" not in ast.unparse(node.test):
                        visit(node.body)
                    visit(node.orelse)
                elif isinstance(node, ast.Try):
                    visit(node.body)
                    visit(node.orelse)
                    visit(node.finalbody)
                    for handler in node.handlers:
                        visit(handler.body)
                elif isinstance(node, (ast.ClassDef, ast.With, ast.For, ast.While)):
                    visit(node.body)  # run as the module is imported, like the top level
                    visit(getattr(node, "orelse", []))
                elif isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom):
                    base = parts[: len(parts) - node.level + 1] if node.level else []
                    module = ".".join([*base, *([node.module] if node.module else [])])
                    for alias in node.names:
                        submodule = f"{module}.{alias.name}"
                        found.add(submodule if submodule in modules else module)

        visit(ast.parse(path.read_text()).body)
        graph[name] = {dep for dep in found if dep in modules and dep != name}
    return graph


def test_no_module_imports_itself_through_others() -> None:
    graph = _module_imports(Path(skewguard.__file__).parent)
    assert len(graph) > 50  # the whole package was read
    cycles = []
    for start in graph:  # depth-first from each module: is the module reachable from itself?
        stack, seen = [(start, [start])], set()
        while stack:
            module, route = stack.pop()
            for dep in graph[module]:
                if dep == start:
                    cycles.append(" -> ".join([*route, dep]))
                elif dep not in seen:
                    seen.add(dep)
                    stack.append((dep, [*route, dep]))
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles)[:10])
