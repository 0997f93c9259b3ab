"""Wrapping dynamic import() calls for the browser client (build/import_hook.py): which text is a
call and gets wrapped, which only looks like one, and what the build writes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from skewguard.build import BuildOptions, build
from skewguard.build.import_hook import HOOK, OPEN, wrap_dynamic_imports
from skewguard.build.references import find_js_references

from ..conftest import ROOT, require_tool
from .helpers import emitted, manifest, write_tree

W = OPEN.decode()  # "Object(globalThis.__skewguardImport||Object)("


def wrapped(text: str, es_modules: bool = True) -> str:
    data = text.encode()
    refs = find_js_references(data, es_modules=es_modules, dynamic_imports=True)
    return wrap_dynamic_imports(data, refs).decode()


WRAPPED = {
    'import("./a.js").then(f)': W + 'import("./a.js")).then(f)',
    "const m = await import(url);": "const m = await " + W + "import(url));",
    "import(`./${name}.js`)": W + "import(`./${name}.js`))",
    'import("./d.json", { with: { type: "json" } })': W
    + 'import("./d.json", { with: { type: "json" } }))',
    "import(f(a, (b)), c)": W + "import(f(a, (b)), c))",
    'import(import("./a.js"))': W + "import(" + W + 'import("./a.js"))))',
    "x = `page ${import(u)}`": "x = `page ${" + W + "import(u))}`",
    "import( /* ) */ u // )\n)": W + "import( /* ) */ u // )\n))",
    "import(x ? /\\)/ : y)": W + "import(x ? /\\)/ : y))",
    # A wrapper starting with an identifier keeps semicolon insertion as it was: the call below is
    # still a statement of its own, not a call of the line above's result.
    'go()\nimport("./a.js")': "go()\n" + W + 'import("./a.js"))',
}

UNTOUCHED = [
    "const s = \"import(a)\", t = 'import(b)';",
    "// import(a)\n/* import(b) */ f();",
    "const t = `import(${1 + 2})`;",
    "const r = /import\\(/g, q = /[import(]/;",
    "o.import(a); o?.import(b); o\n  .import(c);",
    "class A { #import(x) { return x } go() { return this.#import(1) } }",
    "class B { import(x) { return x } static import (y) /* body */ {} }",
    "const p = { import(x) { return x } };",
    "import.meta.url; reimport(a); $import(b); import_(c);",
    "import(a",  # never closed: left as it is
]


@pytest.mark.parametrize("source", list(WRAPPED))
def test_dynamic_import_calls_are_wrapped(source):
    assert wrapped(source) == WRAPPED[source]


@pytest.mark.parametrize("source", UNTOUCHED)
def test_text_that_only_looks_like_an_import_call_is_untouched(source):
    assert wrapped(source) == source


def test_wrapping_without_module_rewriting():
    # --no-es-modules: no specifier is a reference, and calls are wrapped all the same.
    data = b'import("./a.js")'
    refs = find_js_references(data, es_modules=False, dynamic_imports=True)
    assert [r.kind for r in refs] == ["dynamic-import"]
    assert wrapped('import("./a.js")', es_modules=False) == W + 'import("./a.js"))'
    # The lexer finds no call unless asked: the module specifier only.
    assert [r.kind for r in find_js_references(data)] == ["module"]


def test_wrapped_modules_are_valid_javascript(tmp_path):
    node = require_tool("node")
    sources = [*WRAPPED, *UNTOUCHED[:-1]]
    for i, source in enumerate(sources):
        path = tmp_path / f"m{i}.mjs"
        path.write_text("let f, go, u, x, y, o, a, b, c, name, url;\n" + wrapped(source) + "\n")
        checked = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, (source, checked.stderr)


def _site(root: Path) -> Path:
    return write_tree(
        root,
        {
            "js/app.js": 'window.load = () => import("./lazy.js");\nwindow.any = (u) => import(u);\n',
            "js/lazy.js": "export const v = 1;\n",
            "js/plain.js": "window.x = 1;\n",
            # A bundler's hashed output: its name promises its bytes, never changed.
            "vendor/chunk-AbCd1234.js": 'export const f = () => import("./other-EfGh5678.js");\n',
        },
    )


def test_the_build_wraps_calls_in_the_files_it_hashes_and_no_others(tmp_path):
    src = _site(tmp_path / "src")
    out = tmp_path / "out"
    options = BuildOptions(compress=False, passthrough=re.compile(r"-[\w]{8}\.js$"))
    build([str(src)], str(out), options)
    lazy = manifest(out)["paths"]["js/lazy.js"].rsplit("/", 1)[1]
    assert emitted(out, "js/app.js") == (
        f'window.load = () => {W}import("./{lazy}"));\nwindow.any = (u) => {W}import(u));\n'
    )
    assert emitted(out, "js/plain.js") == "window.x = 1;\n"
    vendor = (src / "vendor" / "chunk-AbCd1234.js").read_text()
    assert (out / "vendor" / "chunk-AbCd1234.js").read_text() == vendor


def test_the_wrapped_output_is_deterministic_and_named_by_its_bytes(tmp_path):
    src = _site(tmp_path / "src")
    build([str(src)], str(tmp_path / "a"), BuildOptions(compress=False, workers=1))
    build([str(src)], str(tmp_path / "b"), BuildOptions(compress=False, workers=1))
    a, b = manifest(tmp_path / "a")["paths"], manifest(tmp_path / "b")["paths"]
    assert a == b
    for name in a.values():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # Without the hook, other bytes: another name (never other bytes under one name).
    build([str(src)], str(tmp_path / "c"), BuildOptions(compress=False, import_hook=False))
    plain = manifest(tmp_path / "c")["paths"]
    assert plain["js/app.js"] != a["js/app.js"] and plain["js/lazy.js"] == a["js/lazy.js"]
    assert HOOK not in emitted(tmp_path / "c", "js/app.js")


def test_switching_the_hook_on_rebuilds_what_the_cache_knew_without_it(tmp_path):
    src = _site(tmp_path / "src")
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions(compress=False, import_hook=False))
    assert HOOK not in emitted(out, "js/app.js")
    build([str(src)], str(out), BuildOptions(compress=False))
    assert emitted(out, "js/app.js").count(W) == 2


def test_the_client_and_the_vite_plugin_use_the_same_hook():
    client = ROOT / "src" / "skewguard" / "client"
    assert f"window.{HOOK} = function" in (client / "skewguard.js").read_text()
    assert f"window.{HOOK}=" in (client / "skewguard.min.js").read_text()
    assert f'const OPEN = "{W}";' in (client / "vite-plugin.mjs").read_text()
