"""/metrics and the status page of a real Django project under gunicorn with two workers: the
token rules, the Prometheus text, tab gauges from the file registry (every worker's beats) and
counters summed across the workers (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from skewguard.tokens import make_token

from ..conftest import ROOT
from ..deploys.test_fleet import wait_until
from ..processes import free_port, stop, wait_for_http

METRICS = "/metrics"
STATUS = "/_skewguard/status"
AUTH = {"Authorization": "Bearer status-token"}


def scrape(base: str) -> str:
    with httpx.Client() as client:  # a new connection: either worker may answer
        response = client.get(base + METRICS, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.text


def value(text: str, sample: str) -> float:
    found = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(sample + " ")]
    return float(found[0]) if found else 0.0


def test_metrics_and_status_page_under_gunicorn_workers(tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.contrib.django_project.settings",
        "TEST_DEBUG": "0",
        "TEST_STATIC_ROOT": str(tmp_path / "static_root"),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "SKEWGUARD_REGISTRY": "file",
        "SKEWGUARD_METRICS_PATH": METRICS,
        "SKEWGUARD_STATUS_PATH": STATUS,
        "SKEWGUARD_STATUS_TOKEN": "status-token",
    }
    collected = subprocess.run(
        [sys.executable, "-m", "django", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stderr[-2000:]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "django.core.wsgi:get_wsgi_application()",
         "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for_http(base + "/version", server, "gunicorn")
        version = httpx.get(base + "/version").json()["version"]

        # The token rules: none or a wrong one is a 401 with no numbers; only GET and HEAD.
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            for path in (METRICS, STATUS, STATUS + "?format=json"):
                refused = httpx.get(base + path, headers=headers)
                assert refused.status_code == 401, (path, refused.text)
                assert refused.headers["www-authenticate"].startswith("Bearer")
                assert "skewguard_" not in refused.text and version not in refused.text
        assert httpx.post(base + METRICS, headers=AUTH).status_code == 405
        signed = {"Authorization": "Bearer " + make_token("django-test-secret", 60)}
        response = httpx.get(base + METRICS, headers=signed)  # a token signed with SECRET_KEY
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        assert response.headers["cache-control"] == "no-store"
        assert "# TYPE skewguard_conflicts_total counter" in response.text

        # Three tabs, each beat on a new connection: the workers share the counts.
        for n, extra in enumerate(({}, {"held": "media"}, {"stale": "1"})):
            with httpx.Client() as client:
                params = {"tid": f"tab-django-{n}", "rel": version, **extra}
                assert client.get(base + "/version", params=params).status_code == 200
        live = f'skewguard_live_tabs{{release="{version}"}}'
        wait_until(lambda: value(scrape(base), live) == 3, 10)  # workers write once a second
        text = scrape(base)
        assert value(text, f'skewguard_held_tabs{{reason="media",release="{version}"}}') == 1
        assert value(text, f'skewguard_stale_tabs{{release="{version}"}}') == 1

        # Counters from both workers, summed whichever worker answers the scrape.
        old = {"X-Inertia": "true", "X-Inertia-Version": "0123456789ab"}
        for _ in range(20):
            with httpx.Client() as client:
                assert client.get(base + "/", headers=old).status_code == 409
        assert len({p.name.rsplit("_", 1)[-1] for p in metrics_dir.iterdir()}) >= 2
        for _ in range(6):
            assert value(scrape(base), "skewguard_conflicts_total") == 20

        document = httpx.get(base + STATUS + "?format=json", headers=AUTH).json()
        (entry,) = [r for r in document["releases"] if r["version"] == version]
        assert (entry["live"], entry["held"], entry["stale"]) == (3, 1, 1)
        page = httpx.get(base + STATUS + "?token=status-token")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<svg" in page.text and version in page.text
    finally:
        stop(server)
