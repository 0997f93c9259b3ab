"""Several worker processes on one server, with no setting beyond STATIC_ROOT and SECRET_KEY:
a bust reaches every worker before it answers, activates the new release, and under load no
worker answers on a superseded release more than 1 s after the bust returned."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from skewguard.build import BuildOptions, build
from skewguard.tokens import make_token

from ..build.helpers import write_tree
from ..conftest import run_cli

TOKEN = {
    "Authorization": "Bearer " + make_token("s3cret", 86400)
}  # minted at collection: outlives the suite
CLOSE = {"Connection": "close"}  # a new connection each time: the kernel spreads them over workers
LINK = re.compile(r'href="([^"]+)"')
GRACE = 1.0  # seconds after a bust returned during which an older release may still answer


def rebuild(src, out, n: int) -> str:
    write_tree(src, {"css/app.css": f"a{{color:#{n:06x}}}"})
    return build([str(src)], str(out), BuildOptions(compress=False)).version


@pytest.fixture
def site(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    return src, out, rebuild(src, out, 0)


def answers(server, count: int) -> list[tuple[str, str, int]]:
    """(worker pid, version, status of the page's stylesheet) for ``count`` fresh connections."""
    seen = []
    with httpx.Client(timeout=5, headers=CLOSE) as client:
        for _ in range(count):
            page = client.get(server.base + "/")
            stylesheet = client.get(server.base + LINK.search(page.text).group(1))
            pid = client.get(server.base + "/pid").text
            seen.append((pid, page.headers["x-app-version"], stylesheet.status_code))
    return seen


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn", "gunicorn-preload"])
def test_a_bust_reaches_every_worker_by_default(servers, site, kind):
    src, out, v1 = site
    server = servers(kind, workers=2, STATIC_ROOT=str(out))
    v2 = rebuild(src, out, 1)
    bust = httpx.post(server.base + "/cache/bust", headers=TOKEN, timeout=15)
    assert bust.status_code == 200 and bust.json()["version"] == v2
    # From the moment the bust answered: every worker on v2, and v2's new files served.
    seen = answers(server, 30)
    assert {version for _, version, _ in seen} == {v2}, seen
    assert {status for _, _, status in seen} == {200}, seen
    assert len({pid for pid, _, _ in seen}) == 2  # both workers answered
    # The bust made v2 the active release; v1 is retained (its files still served) ...
    listed = run_cli("release", "list", "--json", "--static-root", str(out))
    states = {r["version"]: r["state"] for r in __import__("json").loads(listed.stdout)["releases"]}
    assert states == {v1: "retained", v2: "active"}, listed.stdout
    # ... so an Inertia visit from a v1 page gets the 409 on every worker (the reload policy).
    with httpx.Client(timeout=5, headers=CLOSE) as client:
        for _ in range(10):
            visit = client.get(
                server.base + "/", headers={"X-Inertia": "true", "X-Inertia-Version": v1}
            )
            assert visit.status_code == 409 and visit.headers["x-inertia-location"] == "/"


def test_a_restart_after_a_build_activates_the_new_release(servers, site):
    src, out, v1 = site
    first = servers("uvicorn", STATIC_ROOT=str(out))
    first.stop()
    v2 = rebuild(src, out, 1)
    second = servers("uvicorn", STATIC_ROOT=str(out))
    listed = run_cli("release", "list", "--static-root", str(out))
    assert re.search(rf"^{v2}\s+active", listed.stdout, re.M), listed.stdout
    visit = httpx.get(second.base + "/", headers={"X-Inertia": "true", "X-Inertia-Version": v1})
    assert visit.status_code == 409


@dataclass
class Load:
    """Clients requesting pages and the stylesheets they link, each on a fresh connection."""

    base: str
    clients: int = 3
    # (page request started, its version, stylesheet request started, the stylesheet's status)
    records: list[tuple[float, str, float, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        for _ in range(self.clients):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _run(self) -> None:
        with httpx.Client(timeout=10, headers=CLOSE) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    page = client.get(self.base + "/")
                    css_started = time.monotonic()
                    css = client.get(self.base + LINK.search(page.text).group(1))
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                    continue
                if page.status_code != 200:
                    self.errors.append(f"page {page.status_code}")
                version = page.headers["x-app-version"]
                self.records.append((started, version, css_started, css.status_code))


def bust_under_load(server, src, out, busts: int, between=None) -> dict:
    """``busts`` rebuilds and busts while clients load ``server``; what a late worker did."""
    history: list[tuple[float, str]] = []  # (when the bust returned, the version it made)
    versions = [server.version()]
    with Load(server.base) as load:
        for n in range(1, busts + 1):
            version = rebuild(src, out, n)
            if between is not None:
                between(n)
            bust = httpx.post(server.base + "/cache/bust", headers=TOKEN, timeout=30)
            assert bust.status_code == 200, bust.text
            assert bust.json()["version"] == version
            history.append((time.monotonic(), version))
            versions.append(version)
            time.sleep(0.15)
        time.sleep(GRACE + 0.2)
    order = {version: i for i, version in enumerate(versions)}
    returned = {version: at for at, version in history}
    late, missing = [], []
    for started, version, css_started, css_status in load.records:
        # The newest bust that had returned more than GRACE before this request started.
        due = [v for at, v in history if at + GRACE < started]
        if due and order[version] < order[due[-1]]:
            late.append((started, version, due[-1]))
        # Every worker serves a release's files from the moment its build finished: a page
        # rendered by the worker that received the bust never names a file another lacks.
        if css_status != 200:
            missing.append((css_started - returned.get(version, 0.0), version, css_status))
    return {
        "requests": len(load.records),
        "late": late,
        "missing": missing,
        "errors": load.errors,
        "versions": versions,
    }


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_twenty_busts_under_load_with_default_settings(servers, site, kind):
    src, out, _ = site
    server = servers(kind, workers=2, STATIC_ROOT=str(out))
    result = bust_under_load(server, src, out, 20)
    assert result["requests"] > 100, result["requests"]
    assert result["late"] == [] and result["errors"] == [], result
    assert result["missing"] == [], result  # every page's stylesheet was served


def test_twenty_busts_under_load_with_redis_killed_and_stopped(servers, site, redis_server):
    """Redis killed (and restarted empty) before some busts and stopped with SIGSTOP before
    others: each bust waits for Redis to answer, and then reaches the other worker."""
    src, out, _ = site
    server = servers("uvicorn", workers=2, STATIC_ROOT=str(out), REDIS_URL=redis_server.url)

    def fault(n: int) -> None:
        if n % 5 == 1:
            redis_server.stop()
            threading.Timer(0.8, redis_server.start).start()
        elif n % 5 == 3:
            redis_server.pause()
            threading.Timer(0.8, redis_server.resume).start()

    result = bust_under_load(server, src, out, 20, between=fault)
    assert result["requests"] > 100, result["requests"]
    assert result["late"] == [] and result["errors"] == [], result
    assert result["missing"] == [], result  # each worker serves a new build's files at once


def test_django_under_gunicorn_workers_with_no_extra_setting(tmp_path):
    """Django's own settings only (STATIC_ROOT, SECRET_KEY): collectstatic, two gunicorn
    workers, a rebuild and one bust reach both workers before the bust answers."""
    import os
    import subprocess
    import sys

    from skewguard.tokens import make_token as mint

    from ..conftest import ROOT
    from ..processes import free_port, stop, wait_for_http

    src, root = tmp_path / "src", tmp_path / "static_root"
    write_tree(src, {"css/site.css": "body{color:red}"})
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.deploys.django_site.settings",
        "TEST_STATIC_ROOT": str(root),
        "TEST_STATIC_SRC": str(src),
        "TEST_DEBUG": "0",
    }

    def collectstatic() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "django", "collectstatic", "--noinput", "-v0"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr

    collectstatic()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.deploys.django_site.wsgi:application"]
        + ["--bind", f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/ops/version", proc, "gunicorn (Django)")

        def versions(n: int) -> set[str]:
            with httpx.Client(timeout=5, headers=CLOSE) as client:
                return {client.get(base + "/ops/version").json()["version"] for _ in range(n)}

        old = versions(10)
        assert len(old) == 1
        write_tree(src, {"css/site.css": "body{color:blue}"})
        collectstatic()
        token = {"Authorization": "Bearer " + mint("django-test-secret", 600)}
        bust = httpx.post(base + "/ops/cache/bust", headers=token, timeout=15)
        assert bust.status_code == 200, bust.text
        new = bust.json()["version"]
        assert new not in old and versions(30) == {new}
    finally:
        stop(proc)


def test_a_new_build_s_files_are_served_before_the_bust(servers, site, tmp_path):
    """Hashed names are content-addressed: from the moment a build finished, every worker serves
    its files, while the version stays until the bust."""
    src, out, v1 = site
    server = servers("uvicorn", STATIC_ROOT=str(out))
    rebuild(src, out, 7)
    import json

    new_css = json.loads((out / "staticfiles.json").read_text())["paths"]["css/app.css"]
    response = httpx.get(f"{server.base}/static/{new_css}", timeout=5)
    assert response.status_code == 200 and response.text == "a{color:#000007}"
    assert "immutable" in response.headers["cache-control"]
    assert server.version() == v1  # the label moves only with the bust


def test_newer_build_files_serve_only_what_the_history_lists(tmp_path):
    import json

    from skewguard.releases.newer_files import NewerBuildFiles

    root = tmp_path / "out"
    write_tree(root, {"a.1234.css": "a{}", "a.1234.css.gz": "gz", "x.css": "x"})
    write_tree(tmp_path, {"secret.txt": "no"})
    record = {"id": "r", "hash": "h", "built_at": "", "originals": []}
    history = {"releases": [{**record, "files": ["a.1234.css", "../secret.txt"]}]}
    write_tree(root, {".skewguard/releases.json": json.dumps(history)})
    files = NewerBuildFiles(str(root), [])
    entry = files.lookup("a.1234.css")
    assert entry is not None and entry.immutable and "gzip" in entry.encoded
    assert files.lookup("x.css") is None  # on disk, but no build recorded it
    assert files.lookup("../secret.txt") is None  # recorded, but outside the directory
