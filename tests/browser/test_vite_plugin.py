"""skewguard's Vite plugin in real Vite builds, 8 (Rolldown) and 7 (Rollup): each import() of the
app's own modules comes out wrapped for the client's hold, and the source maps Vite writes still
point every token after a wrapped import() at its own column (read back with
@jridgewell/trace-mapping, as a browser's devtools would). The hold itself, in Chromium, is in
tests/browser/test_vite_lazy_chunks.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from skewguard.client import VITE_PLUGIN

from .conftest import FIXTURE

pytestmark = pytest.mark.browser  # it needs the browser fixture's npm packages (Vite)

MAIN = (
    "// the entry\n"
    "export async function start() { const m = await import('./lazy.js');"
    " console.log('after-the-import', m.default); }\n"
    "start();\n"
)
TRACE = """
import { TraceMap, originalPositionFor } from "@jridgewell/trace-mapping";
import fs from "node:fs";
const [file, marker] = process.argv.slice(1);
const code = fs.readFileSync(file, "utf8");
const at = code.indexOf(marker) - 1; // the string's opening quote
const before = code.slice(0, at);
const position = { line: before.split("\\n").length, column: at - before.lastIndexOf("\\n") - 1 };
console.log(JSON.stringify(originalPositionFor(new TraceMap(fs.readFileSync(file + ".map", "utf8")), position)));
"""


def vite_build(work: Path, vite: str) -> Path:
    """Build a two-module app with the plugin and source maps; the entry chunk's path."""
    project = work / vite
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.js").write_text(MAIN)
    (project / "src" / "lazy.js").write_text('export default "lazy";\n')
    shutil.copy(VITE_PLUGIN, project / "skewguard-vite-plugin.mjs")  # as docs/client.md says
    (project / "vite.config.mjs").write_text(
        'import { defineConfig } from "vite";\n'
        'import skewguardImports from "./skewguard-vite-plugin.mjs";\n'
        "export default defineConfig({ plugins: [skewguardImports()], build: { sourcemap: true,"
        ' manifest: true, rollupOptions: { input: { main: "src/main.js" } } } });\n'
    )
    (project / "node_modules").symlink_to(FIXTURE / "node_modules")
    subprocess.run(
        ["node", str(FIXTURE / "node_modules" / vite / "bin" / "vite.js"), "build"]
        + ["--logLevel", "warn"],
        cwd=project,
        check=True,
        timeout=120,
        capture_output=True,
    )
    manifest = json.loads((project / "dist" / ".vite" / "manifest.json").read_text())
    return project / "dist" / manifest["src/main.js"]["file"]


@pytest.mark.parametrize("vite", ["vite", "vite7"])
def test_the_plugin_wraps_imports_and_keeps_the_source_map_true(front_end, tmp_path, vite):
    entry = vite_build(tmp_path, vite)
    code = entry.read_text()
    # Vite's preload helper goes inside the wrapper: the client counts the chunk and its
    # dependencies until all have loaded. (Vite 8's minifier drops the Object() around the
    # callee, which is the callee itself.)
    assert "__skewguardImport||Object)(" in code and code.count("__skewguardImport") == 1
    traced = subprocess.run(
        ["node", "--input-type=module", "-e", TRACE, str(entry), "after-the-import"],
        cwd=FIXTURE,
        check=True,
        capture_output=True,
        text=True,
    )
    position = json.loads(traced.stdout)
    line = MAIN.splitlines()[1]
    assert position["source"].endswith("src/main.js")
    assert (position["line"], position["column"]) == (2, line.index("'after-the-import'"))
