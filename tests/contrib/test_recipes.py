"""The integration recipes in docs/integrations/ run as written, in an empty directory, like the
quick start: real servers, a real Vite build, a real deploy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ..conftest import ROOT
from ..processes import free_port
from ..test_docs import BLOCK

RECIPES = sorted((ROOT / "docs" / "integrations").glob("*.md"))


def run_recipe(markdown: Path, workdir: Path) -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
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
                m = re.match(r"pip install 'skewguard\[([a-z,]+)\]'", line)
                if m:  # installed already: check the extras it names exist
                    assert set(m.group(1).split(",")) <= set(extras), line
                    continue
                if line.startswith("npm install"):  # node_modules: the browser tests' packages
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
