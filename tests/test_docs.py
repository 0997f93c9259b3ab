"""Documentation cannot drift: generated references are current, and every command in the
README and the quick start runs as written (in an empty directory)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import ROOT

BLOCK = re.compile(r"```(sh|python)\n(.*?)```", re.DOTALL)


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
                lines.append(line.replace("python ", f"{sys.executable} "))
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
