"""/metrics under two uvicorn worker processes: prometheus-client's multiprocess mode sums the
workers' counters, whichever worker answers the scrape."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from ..conftest import ROOT
from ..deploys.test_fleet import built, wait_until
from ..processes import free_port, stop, wait_for_http


def test_counters_add_up_across_workers(tmp_path):
    _, out, version = built(tmp_path, "green")
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "SKEWGUARD_STATIC_ROOT": str(out),
        "SKEWGUARD_REGISTRY": "file",
        "SKEWGUARD_VITE_HOT_FILE": "",
        "SKEWGUARD_METRICS_PATH": "/metrics",
        "SKEWGUARD_STATUS_TOKEN": "status-token",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.runtime.server_app:app", "--workers", "2",
         "--port", str(port), "--host", "127.0.0.1", "--log-level", "warning"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/version", proc, "uvicorn workers")
        conflict = {"X-Inertia": "true", "X-Inertia-Version": "0123456789ab"}
        for _ in range(40):  # a new connection each time: both workers get some
            with httpx.Client() as client:
                response = client.get(base + "/", headers=conflict)
                assert response.status_code == 409
        files = {p.name for p in metrics_dir.iterdir()}  # counter_<pid>.db, one per worker
        assert len({name.rsplit("_", 1)[-1] for name in files}) >= 2, files

        def total() -> float:
            text = httpx.get(
                base + "/metrics", headers={"Authorization": "Bearer status-token"}
            ).text
            line = next(x for x in text.splitlines() if x.startswith("skewguard_conflicts_total"))
            return float(line.split()[-1])

        for _ in range(6):  # whichever worker answers, the sum is the same
            assert total() == 40
        params = {"tid": "tab-0000001", "rel": version}
        httpx.get(base + "/version", params=params)
        wait_until(
            lambda: (
                f'skewguard_live_tabs{{release="{version}"}} 1.0'
                in httpx.get(
                    base + "/metrics", headers={"Authorization": "Bearer status-token"}
                ).text
            ),
            10,
        )
    finally:
        stop(proc)
