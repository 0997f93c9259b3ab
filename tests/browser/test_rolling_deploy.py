"""The rolling-deploy scenario: real nginx round-robin over two uvicorn servers, each reading its
own manifest, both serving every retained release from one shared directory, a real Redis
registry, four Chromium tabs (one in a camera call), four rolling deploys. Each deploy builds a
release and busts server A onto it: a bust registers, activates and announces the release, so it
is the fleet's from then on while B, still behind, runs the old one for a few seconds (reloads
that land on B are retried); then B is busted onto it too. Measured across all deploys:
downgrades, swallowed clicks, tabs left on an old release, time to converge (from the moment the
active release runs on both servers), reloads of the held tab."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from skewguard.build import BuildOptions, build
from skewguard.tokens import make_token

from ..conftest import ROOT, require_tool
from ..deploys.conftest import RedisServer
from ..processes import free_port, stop, wait_for_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TOKEN = {
    "Authorization": "Bearer " + make_token("s3cret", 86400)
}  # minted at collection: outlives the suite
DEPLOYS = 4
ALONE_SECONDS = 3.0


class RollingFleet:
    def __init__(self, front_end: Path, work: Path, redis_url: str):
        self.work = work
        self.redis_url = redis_url
        self.src = work / "src"
        shutil.copytree(front_end / "static", self.src)
        self.vite = front_end / "inertia"
        self.out = work / "out"  # shared: every release's files stay reachable from both
        self.releases: list[str] = []
        self.build()
        self.servers = {name: self._start(name) for name in ("a", "b")}
        self.nginx = self._nginx()

    def build(self) -> str:
        n = len(self.releases)
        (self.src / "css" / "site.css").write_text(f"h1 {{ color: #{n:06x}; }} /* release {n} */\n")
        version = build(
            [str(self.src), f"inertia={self.vite}"], str(self.out), BuildOptions(compress=False)
        ).version
        self.releases.append(version)
        return version

    def _start(self, name: str) -> tuple[subprocess.Popen, int]:
        shutil.copy(self.out / "staticfiles.json", self.work / f"{name}.json")
        port = free_port()
        env = {
            **os.environ,
            "TEST_APP_KIND": "asgi",
            "SKEWGUARD_STATIC_ROOT": str(self.out),
            "SKEWGUARD_MANIFEST_PATH": str(self.work / f"{name}.json"),
            "SKEWGUARD_REDIS_URL": self.redis_url,
            "SKEWGUARD_SECRET_KEY": "s3cret",
            "SKEWGUARD_VITE_HOT_FILE": "",
            "PYTHONPATH": str(ROOT),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.browser.site:app", "--port", str(port)]
            + ["--host", "127.0.0.1", "--log-level", "warning"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_http(f"http://127.0.0.1:{port}/version", proc, f"server {name}")
        return proc, port

    def _nginx(self) -> tuple[subprocess.Popen, str]:
        nginx = require_tool("nginx")
        port = free_port()
        temp = self.work / "tmp"
        temp.mkdir()
        upstreams = " ".join(f"server 127.0.0.1:{p};" for _, p in self.servers.values())
        (self.work / "nginx.conf").write_text(f"""
worker_processes 1;
daemon off;
pid {self.work}/nginx.pid;
error_log {self.work}/error.log;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
    uwsgi_temp_path {temp}; scgi_temp_path {temp};
    upstream fleet {{ {upstreams} }}
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://fleet; proxy_set_header Host $host; }}
    }}
}}
""")
        proc = subprocess.Popen(
            [nginx, "-c", str(self.work / "nginx.conf"), "-p", str(self.work)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/version", proc, "nginx")
        return proc, base

    @property
    def base(self) -> str:
        return self.nginx[1]

    def replace(self, name: str) -> None:
        """The server moves onto the newest build (its manifest, then a bust of that server)."""
        shutil.copy(self.out / "staticfiles.json", self.work / f"{name}.json")
        port = self.servers[name][1]
        response = httpx.post(f"http://127.0.0.1:{port}/cache/bust", headers=TOKEN, timeout=10)
        assert response.status_code == 200 and response.json()["version"] == self.releases[-1]

    def serving(self) -> set[str]:
        return {
            httpx.get(f"http://127.0.0.1:{p}/version", timeout=5).json()["version"]
            for _, p in self.servers.values()
        }

    def active(self) -> str | None:
        from skewguard.releases.redis_registry import RedisRegistry

        release = RedisRegistry(self.redis_url).state().active
        return release.version if release else None

    def stop(self) -> None:
        stop(self.nginx[0])
        for proc, _ in self.servers.values():
            stop(proc)


class Tab:
    """A user in one tab: clicks every 1-3 s (or only polls, when idle), and what was seen."""

    def __init__(self, context, url: str, kind: str, rng: random.Random):
        self.page = context.new_page()
        self.kind = kind
        self.rng = rng
        self.page.goto(url)
        self.page.wait_for_function("window.skewguard !== undefined")
        self.versions = [self.version()]
        self.loaded_at: dict[str, float] = {}  # release -> when a page of it started running
        self.swallowed: list[str] = []
        self.clicks = 0
        self.next_action = time.monotonic() + rng.uniform(1, 3)
        self.flip = False

    def version(self) -> str:
        try:
            return self.page.evaluate("window.skewguard ? window.skewguard.version : ''")
        except Exception:  # mid-navigation
            return ""

    def state(self) -> str:
        """Where the page is and what the client thinks, for a failure report."""
        try:
            return self.page.evaluate(
                "JSON.stringify([location.href, window.skewguard && [skewguard.version,"
                " skewguard.serverVersion, skewguard.stale, skewguard.holding],"
                " sessionStorage.getItem('skewguard:reloads'), performance.timeOrigin])"
            )
        except Exception as exc:
            return f"? ({str(exc).splitlines()[0]})"

    def reloads(self) -> str:
        """The client's loop-guard memory (what it tried, what it ran), for a failure report."""
        try:
            return self.page.evaluate("sessionStorage.getItem('skewguard:reloads')")
        except Exception:
            return "?"

    def seen(self) -> str:
        version = self.version()
        if version and version != self.versions[-1]:
            self.versions.append(version)
            # The page's own clock: when the document running this release was ready, however
            # busy the test's driver was meanwhile.
            ready = self.page.evaluate(
                "performance.timeOrigin + performance.getEntriesByType('navigation')[0]"
                ".domContentLoadedEventEnd"
            )
            self.loaded_at.setdefault(version, ready / 1000)
        return version

    def act(self) -> None:
        if self.kind == "idle" or time.monotonic() < self.next_action:
            return
        self.next_action = time.monotonic() + self.rng.uniform(1, 3)
        self.flip = not self.flip
        self.clicks += 1
        if self.kind in ("inertia", "call"):
            link, expected = ("#other-link", "Other") if self.flip else ("#home-link", "Home")
            check = f"(document.getElementById('component') || {{}}).textContent === {expected!r}"
        else:
            link, expected = ("#next", "Next") if self.flip else ("#home", "Home")
            check = f"(document.getElementById('title') || {{}}).textContent === {expected!r}"
        try:
            self.page.click(link, timeout=5000)
            self.page.wait_for_function(check, timeout=5000)
            self.page.wait_for_function("window.skewguard !== undefined", timeout=5000)
        except Exception as exc:  # the click led nowhere: swallowed
            self.swallowed.append(
                f"{self.kind} {link} at {time.time():.2f}: {str(exc).splitlines()[0]} "
                f"(page: {self.state()})"
            )
        self.seen()


def test_rolling_deploys(front_end, browser, tmp_path):
    redis_server = RedisServer(tmp_path)
    fleet = RollingFleet(front_end, tmp_path / "fleet", redis_server.url)
    context = browser.new_context(permissions=["camera", "microphone"])
    rng = random.Random(19)
    try:
        base = fleet.base
        tabs = [
            Tab(context, f"{base}/inertia?policy=reload&poll=5000", "inertia", rng),
            Tab(context, f"{base}/htmx?policy=reload&poll=5000&htmx=2", "htmx", rng),
            Tab(context, f"{base}/form?policy=reload&poll=5000", "idle", rng),
            Tab(context, f"{base}/inertia?policy=reload&poll=5000", "call", rng),
        ]
        call = tabs[3]
        call.page.evaluate("window.startCall()")
        call.page.wait_for_function("window.skewguard.holding.includes('call')", timeout=10000)
        call_boot = call.page.evaluate("window.__boot")
        converge_times: list[float] = []
        left_behind: list[str] = []

        def run_for(seconds: float) -> None:
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                for tab in tabs:
                    tab.act()
                    tab.seen()
                call.page.wait_for_timeout(50)

        for _ in range(DEPLOYS):
            run_for(1.0)
            new = fleet.build()
            fleet.replace("a")
            assert fleet.active() == new  # the fleet's release, while B still runs the old one
            run_for(ALONE_SECONDS)  # A alone on the new release
            fleet.replace("b")
            active_at = time.time()  # B's bust answered: the active release runs on both
            assert fleet.serving() == {new}
            activated = time.monotonic()
            pending = {id(t): t for t in tabs if t is not call}
            while pending and time.monotonic() - activated < 15:
                for tab in list(pending.values()):
                    tab.act()
                    if tab.seen() == new:
                        converge_times.append(max(0.0, tab.loaded_at[new] - active_at))
                        del pending[id(tab)]
                call.page.wait_for_timeout(20)
            left_behind += [
                f"{t.kind} on {t.version()} after {new} (reloads: {t.reloads()})"
                for t in pending.values()
            ]
            run_for(1.0)

        # The held tab was never reloaded during the call; after it, it converges.
        assert call.page.evaluate("window.__boot") == call_boot
        assert call.page.evaluate("window.__call.a.connectionState") == "connected"
        call.page.evaluate("window.endCall()")
        call.page.wait_for_function(
            f"window.skewguard && window.skewguard.version === {fleet.releases[-1]!r}",
            timeout=10000,
        )
        call.seen()

        order = {v: i for i, v in enumerate(fleet.releases)}
        downgrades = [
            (t.kind, a, b)
            for t in tabs
            for a, b in zip(t.versions, t.versions[1:], strict=False)
            if order[b] < order[a]
        ]
        swallowed = [s for t in tabs for s in t.swallowed]
        converge_times.sort()
        p95 = converge_times[max(0, int(len(converge_times) * 0.95 + 0.5) - 1)]
        report = (
            f"clicks {sum(t.clicks for t in tabs)}, converge times {converge_times}, "
            f"p95 {p95:.2f} s, swallowed {swallowed}, downgrades {downgrades}, "
            f"left behind {left_behind}"
        )
        print(report)
        assert not downgrades, report
        assert not swallowed, report
        assert not left_behind, report
        assert p95 <= 2.0, report
    finally:
        context.close()
        fleet.stop()
        redis_server.stop()
