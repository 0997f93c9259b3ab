"""The integration recipes in docs/integrations/ run as written, in an empty directory, like the
quick start: real servers, a real Vite build, a real deploy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT
from ..processes import free_port
from ..test_docs import BLOCK, is_pip_install

RECIPES = sorted((ROOT / "docs" / "integrations").glob("*.md"))


# The recipes' `npm install` lines name the versions the browser fixture installs.
NPM_FIXTURE_PACKAGES = json.loads((ROOT / "tests/fixtures/browser/package.json").read_text())


def run_recipe(markdown: Path, workdir: Path) -> None:
    port = str(free_port())
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "SKEWGUARD_VITE_HOT_FILE": "",
    }
    for kind, code in BLOCK.findall(markdown.read_text()):
        code = code.replace("8000", port)
        if kind == "sh":
            lines = []
            for line in code.splitlines():
                if is_pip_install(line):
                    continue
                if line.startswith("npm install"):  # node_modules: the browser tests' packages
                    for package in (w for w in line.split()[2:] if not w.startswith("-")):
                        name, _, version = package.rpartition("@")
                        wanted = NPM_FIXTURE_PACKAGES["dependencies"].get(name)
                        assert version == wanted, f"{line}: the suite tests {name}@{wanted}"
                    continue
                lines.append(line.replace("python ", f"{sys.executable} "))
            # A failing step must not leave a backgrounded server running.
            lines.insert(0, "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT")
            command = ["bash", "-euo", "pipefail", "-c", "\n".join(lines)]
        else:
            name = re.match(r"# (\S+\.py)\n", code)
            assert name, f"python blocks start with '# file.py' ({markdown.name})"
            (workdir / name.group(1)).write_text(code)
            continue  # a module the next commands import
        result = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, f"{markdown.name}: {code}\n{result.stdout}\n{result.stderr}"
        if re.search(r"curl .*/cache/bust", code):
            assert '"status":"ok"' in result.stdout, result.stdout


def test_there_is_a_recipe_for_each_stack():
    names = {p.stem for p in RECIPES}
    assert {
        "django-vite-inertia",
        "litestar-vite",
        "flask-gunicorn-htmx",
        "vite-any-backend",
    } <= names
    for recipe in RECIPES:
        text = recipe.read_text()
        for question in ("Who serves `/static`", "How a deploy is done", "What keeps the old"):
            assert question in text, (recipe.name, question)


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_runs_as_written(recipe, tmp_path, node_modules):
    (tmp_path / "node_modules").symlink_to(node_modules)
    run_recipe(recipe, tmp_path)
