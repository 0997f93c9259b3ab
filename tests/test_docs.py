"""Documentation cannot drift: generated references are current, every command in the
README and the quick start runs as written (in an empty directory), links resolve, the CLI
flags the pages name exist, and the client's quoted size is its size."""

from __future__ import annotations

import gzip
import os
import re
import shlex
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import ROOT

BLOCK = re.compile(r"```(sh|python)\n(.*?)```", re.DOTALL)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _package_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def is_pip_install(line: str) -> bool:
    """A page's `pip install` line. The suite's venv has it installed already (the test extra);
    this checks that the extras it names exist and that every other package it names is one the
    suite tests with, so a newcomer who types the line gets what the page then uses."""
    if not line.startswith("pip install "):
        return False
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    tested = {_package_name(r) for r in extras["test"]}
    for word in shlex.split(line)[2:]:
        named = re.fullmatch(r"skewguard\[([a-z,]+)\]", word)
        if named:
            assert set(named.group(1).split(",")) <= set(extras), line
        elif not word.startswith("-"):
            assert _package_name(word) in tested, f"{line}: {word} is not in the test extra"
    return True


def test_generated_references_are_current():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import importlib

        gen = importlib.import_module("gen-docs")
    finally:
        sys.path.pop(0)
    for path, render in gen.OUTPUTS.items():
        assert (ROOT / path).read_text() == render(), f"{path} is stale: run scripts/gen-docs.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_blocks(markdown: Path, workdir: Path) -> None:
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
                lines.append(line.replace("python ", f"{sys.executable} "))
            # A failing step must not leave a backgrounded server running.
            lines.insert(0, "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT")
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", "\n".join(lines)],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
        else:
            name = re.match(r"# (\S+\.py)\n", code)
            assert name, f"python blocks start with '# file.py' ({markdown.name})"
            (workdir / name.group(1)).write_text(code)
            result = subprocess.run(
                [sys.executable, name.group(1)],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert result.returncode == 0, f"{markdown.name}: {code}\n{result.stdout}\n{result.stderr}"
        if kind == "sh" and "/cache/bust" in code:
            assert '"status":"ok"' in result.stdout, result.stdout
        if "flask_app.py" in code and kind == "sh":
            assert result.stdout.split()[1] == "True"


@pytest.mark.parametrize("document", ["README.md", "docs/quickstart.md"])
def test_every_command_in_the_quick_starts_runs(document, tmp_path):
    run_blocks(ROOT / document, tmp_path)


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page: its headings' slugs and explicit <a id=...>."""
    text = page.read_text()
    headings = re.findall(r"^#+ (.*)$", re.sub(r"```.*?```", "", text, flags=re.DOTALL), re.M)
    slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}
    return slugs | set(re.findall(r'<a id="([^"]+)"', text))


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_links_between_pages_resolve(page):
    prose = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.name}: no #{anchor} in {linked.name}"


# `skewguard <command> ... --flag` in code spans and blocks (not `manage.py skewguard`, whose
# commands are the Django project's).
COMMAND = re.compile(
    r"(?<![\w/.-])(?<!manage\.py )(?<!django )skewguard ([a-z][a-z-]*)([^`|;&()\n]*)"
)


def test_every_cli_flag_the_pages_name_exists():
    import click

    from skewguard.cli import cli

    for page in PAGES:
        if page.name == "cli.md":  # generated from the CLI itself
            continue
        text = page.read_text()
        code = re.findall(r"`([^`\n]+)`", text) + re.findall(r"```\w*\n(.*?)```", text, re.DOTALL)
        for line in (line for span in code for line in span.splitlines()):
            for match in COMMAND.finditer(line):
                command: click.Command | None = cli.commands.get(match.group(1))
                if command is None:
                    continue  # prose ("skewguard serves ...") or Python ("skewguard import")
                rest = match.group(2).split()
                if isinstance(command, click.Group) and rest and rest[0] in command.commands:
                    command = command.commands[rest[0]]
                names = {o for p in command.params for o in [*p.opts, *p.secondary_opts]}
                for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", match.group(2)):
                    assert flag in names | {"--help"}, f"{page.name}: {match.group(0)}: {flag}"


def test_the_client_size_the_pages_quote_is_its_size():
    minified = ROOT / "src" / "skewguard" / "client" / "skewguard.min.js"
    size = len(gzip.compress(minified.read_bytes(), 9, mtime=0))
    quoted = re.search(
        r"Size: ([\d,]+) bytes minified and gzipped", (ROOT / "docs/client.md").read_text()
    )
    assert quoted and int(quoted.group(1).replace(",", "")) == size, (quoted, size)
    readme = re.search(r"\(([\d.]+) KB gzipped", (ROOT / "README.md").read_text())
    assert readme and float(readme.group(1)) == round(size / 1024, 1), (readme, size)


def test_every_environment_variable_the_pages_name_is_a_setting():
    import dataclasses

    from skewguard.settings import Settings

    known = {f.name for f in dataclasses.fields(Settings)} | {"FUZZ_EXAMPLES"}  # `make fuzz`
    for page in PAGES:
        for name in re.findall(r"SKEWGUARD_([A-Z][A-Z_]*[A-Z])", page.read_text()):
            assert name in known, f"{page.name}: SKEWGUARD_{name} is no setting"


def _installed_by(page_text: str) -> set[str]:
    """Distributions the page's `pip install` lines bring: those named, the extras' and
    skewguard's own requirements, and each named package's direct requirements."""
    import importlib.metadata

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    named = {_package_name(r) for r in project["dependencies"]}
    for line in re.findall(r"^pip install (.+)$", page_text, re.M):
        for word in shlex.split(line):
            extras = re.fullmatch(r"skewguard\[([a-z,]+)\]", word)
            if extras:
                for extra in extras.group(1).split(","):
                    named |= {_package_name(r) for r in project["optional-dependencies"][extra]}
            elif not word.startswith("-"):
                named.add(_package_name(word))
    brought = set(named)
    for name in named:
        for requirement in importlib.metadata.requires(name) or ():
            if "extra ==" not in requirement:
                brought.add(_package_name(requirement))
    return brought


PYTHON_PAGES = [p for p in PAGES if re.search(r"```python\n|python -m ", p.read_text())]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=[p.name for p in PYTHON_PAGES])
def test_every_import_of_a_page_is_installed_by_its_pip_lines(page):
    """A newcomer installs what the page says, then runs its code: each module a Python block
    imports comes from the standard library, skewguard, or a package the page installs."""
    import ast
    import importlib.metadata

    text = page.read_text()
    brought = _installed_by(text)
    providers = importlib.metadata.packages_distributions()
    for kind, code in BLOCK.findall(text):
        if kind == "sh":  # `python -m uvicorn ...`
            for root in set(re.findall(r"python -m (\w+)", code)) - set(sys.stdlib_module_names):
                dists = {_package_name(d) for d in providers.get(root, [])}
                assert dists & brought, f"{page.name}: `python -m {root}` needs {dists or root}"
            continue
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            for root in roots - set(sys.stdlib_module_names) - {"skewguard"}:
                dists = {_package_name(d) for d in providers.get(root, [])}
                assert dists & brought, f"{page.name}: `import {root}` needs {dists or root}"
