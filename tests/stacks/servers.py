"""The three stacks the stack tests deploy, each a real server over a real front-end build:

- Litestar + litestar-vite (Inertia), examples/litestar_vite under uvicorn;
- Django + django-vite + inertia-django, under uvicorn (ASGI);
- Flask + htmx under ``gunicorn -w 2`` (by default a bust reaches every worker).

Each release's code sets ``window.appRelease`` to its number and lazily imports a chunk that says
``lazy <number>``, so a test can tell which release's code a tab runs, not only its label.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from skewguard.tokens import make_token

from ..conftest import ROOT
from ..processes import free_port, stop, wait_for_http

EXAMPLE = ROOT / "examples" / "litestar_vite"


class Stack:
    kind = ""  # "inertia" or "htmx": how a held tab talks to the server
    release = 0

    def __init__(self, work: Path, node_modules: Path):
        self.work = work
        self.node_modules = node_modules
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SKEWGUARD_SECRET_KEY": "s3cret",
            "SKEWGUARD_VITE_HOT_FILE": "",
            "SKEWGUARD_CLIENT_POLL_INTERVAL": "0.5",
        }

    # -- what a deploy does ----------------------------------------------------------------------

    def write_release(self, n: int) -> None:
        raise NotImplementedError

    def build(self) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def deploy(self, how: str) -> str:
        """Build the next release and put it live by ``how`` ("bust" or "restart"); returns the
        version the server then answers."""
        self.release += 1
        self.write_release(self.release)
        self.build()
        if how == "bust":
            answer = httpx.post(
                self.base + "/cache/bust",
                headers={"Authorization": "Bearer " + make_token("s3cret", 60)},
                timeout=30,
            )
            assert answer.status_code == 200 and answer.json()["status"] == "ok", answer.text
            return answer.json()["version"]
        self.stop()
        self.start()
        return self.version

    def first_release(self) -> None:
        self.release = 1
        self.write_release(1)
        self.build()
        self.start()

    # -- the server ------------------------------------------------------------------------------

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_http(self.base + "/version", self.proc, type(self).__name__, timeout=60)

    @property
    def cwd(self) -> Path:
        return self.work

    @property
    def version(self) -> str:
        return httpx.get(self.base + "/version").json()["version"]

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def vite_build(self, root: Path) -> None:
        subprocess.run(
            [str(self.node_modules / ".bin" / "vite"), "build", "--logLevel", "warn"],
            cwd=root,
            check=True,
            timeout=300,
        )

    def skewguard_build(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "skewguard", "build", *args, "-q", "--no-compress"],
            cwd=self.work,
            env=self.env,
            check=True,
            timeout=300,
        )


def vite_sources(root: Path, node_modules: Path) -> None:
    """The example's front end (an Inertia app bundled by Vite) in ``root``."""
    shutil.copytree(EXAMPLE / "src", root / "src")
    shutil.copy(EXAMPLE / "vite.config.js", root / "vite.config.js")
    shutil.copy(EXAMPLE / "package.json", root / "package.json")
    (root / "node_modules").symlink_to(node_modules)


def write_vite_release(root: Path, n: int) -> None:
    (root / "src" / "release.js").write_text(f'export const release = "{n}";\n')


class LitestarVite(Stack):
    """examples/litestar_vite as its docstring runs it; ``python app.py PORT`` builds dist/."""

    kind = "inertia"

    def __init__(self, work: Path, node_modules: Path):
        super().__init__(work, node_modules)
        shutil.copytree(EXAMPLE, work / "app", ignore=shutil.ignore_patterns("public", "dist"))
        (work / "app" / "node_modules").symlink_to(node_modules)
        self.env["SECRET_KEY"] = "s3cret"  # the example reads its key from SECRET_KEY

    @property
    def cwd(self) -> Path:
        return self.work / "app"

    def write_release(self, n: int) -> None:
        write_vite_release(self.cwd, n)

    def build(self) -> None:
        self.vite_build(self.cwd)
        self.skewguard_build("app/public", "--out", "app/dist")

    def command(self) -> list[str]:
        return [sys.executable, "app.py", str(self.port)]


class Django(Stack):
    """tests/stacks/django_site: Vite builds frontend/public, ``skewguard build`` writes
    STATIC_ROOT (Vite's names pass through), django-vite reads Vite's manifest. ``python`` runs
    the server: this venv's (Django 5.2 LTS on 3.11) or another (Django 6 on Python 3.13)."""

    kind = "inertia"

    def __init__(self, work: Path, node_modules: Path, python: str = sys.executable):
        super().__init__(work, node_modules)
        self.python = python
        vite_sources(work / "frontend", node_modules)
        self.env.update(
            DJANGO_SETTINGS_MODULE="tests.stacks.django_site.settings",
            STACK_STATIC_ROOT=str(work / "static_root"),
            STACK_VITE_MANIFEST=str(work / "frontend" / "public" / ".vite" / "manifest.json"),
        )

    def write_release(self, n: int) -> None:
        write_vite_release(self.work / "frontend", n)

    def build(self) -> None:
        self.vite_build(self.work / "frontend")
        self.skewguard_build("frontend/public", "--out", "static_root")

    def command(self) -> list[str]:
        return [
            self.python,
            "-m",
            "uvicorn",
            "--factory",
            "django.core.asgi:get_asgi_application",
            "--port",
            str(self.port),
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
        ]


class FlaskGunicorn(Stack):
    """tests/stacks/flask_site under ``gunicorn -w 2`` with default settings."""

    kind = "htmx"

    def __init__(self, work: Path, node_modules: Path):
        super().__init__(work, node_modules)
        (work / "src" / "js").mkdir(parents=True)
        (work / "src" / "css").mkdir()
        shutil.copy(
            node_modules / "htmx.org" / "dist" / "htmx.min.js", work / "src" / "js" / "htmx.min.js"
        )
        # No registry setting: a bust reaches both workers by default (the file registry).
        self.env.update(SKEWGUARD_STATIC_ROOT=str(work / "dist"))

    def write_release(self, n: int) -> None:
        src = self.work / "src"
        (src / "js" / "app.js").write_text(f'window.appRelease = "{n}";\n')
        (src / "js" / "lazy.js").write_text(f'export const lazyValue = "lazy {n}";\n')
        (src / "css" / "site.css").write_text(f"body {{ color: #{n:06d}; }}\n")

    def build(self) -> None:
        self.skewguard_build("src", "--out", "dist")

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",
            "tests.stacks.flask_site:app",
        ]


STACKS = {"litestar-vite": LitestarVite, "django": Django, "flask-gunicorn": FlaskGunicorn}
