"""One routing rule, two implementations that agree: the same hostile requests sent to real
nginx running the generated configuration, and to VersionRouter under uvicorn (ASGI) and
gunicorn (WSGI), get the same status, the same backend and the same refusal body."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from ..conftest import ROOT, require_tool, run_cli
from ..processes import free_port, stop, wait_for_http
from .conftest import raw_request

H = "X-App-Requested-Version"
# Versions nginx's map would misread as keywords or fold by case, and names that would collide
# once made into upstream names.
VERSIONS = ["v1", "v2", "V3", "v1.0", "v1_0", "default", "include", "hostnames", "volatile"]

CASES: list[list[tuple[str, str]]] = [
    [],
    [(H, "v2")],
    [(H, "V2")],
    [(H, "v3")],
    [(H, "V3")],
    [(H, "v1.0")],
    [(H, "v1_0")],
    [(H, "V1.0")],
    [(H, "v1-0")],
    [(H, "default")],
    [(H, "DEFAULT")],
    [(H, "include")],
    [(H, "hostnames")],
    [(H, "volatile")],
    [(H, " v2 ")],
    [(H, "v 2")],
    [(H, '"v2"')],
    [(H, "v2,v1")],
    [(H, "v2, v1")],
    [(H, "v2"), (H, "v1")],
    [(H, "v2"), (H, "v2")],
    [(H, ""), ("Cookie", "app_version=v2")],
    [("Cookie", "app_version=v2")],
    [("Cookie", "App_Version=v2")],
    [("Cookie", "APP_VERSION=v2")],
    [("Cookie", "app_version = v2")],
    [("Cookie", "app_version=v2 ; a=1")],
    [("Cookie", 'app_version="v2"')],
    [("Cookie", 'app_version="v2')],
    [("Cookie", 'app_version=v"2')],
    [("Cookie", "app_version=v2; app_version=v1")],
    [("Cookie", "a=1; app_version=v2")],
    [("Cookie", "a=1;app_version=v2")],
    [("Cookie", "xapp_version=v2")],
    [("Cookie", "app_versionx=v2")],
    [("Cookie", "app_version=")],
    [("Cookie", "app_version")],
    [("Cookie", "app_version=v3")],
    [("Cookie", "app_version=V3")],
    [("Cookie", "app_version=v2"), ("Cookie", "app_version=v1")],
    [("Cookie", "a=1"), ("Cookie", "app_version=v2")],
    [("Cookie", "app_version=v2,app_version=v1")],
    [("Cookie", "app_version=v%32")],
    [("Cookie", ";app_version=v2")],
    [("Cookie", "app_version=v2;")],
    [("Cookie", "app_version=\tv2")],
    [(H, "v2"), ("Cookie", "app_version=v1")],
    [(H, "v9"), ("Cookie", "app_version=v1")],
    [(H, "x" * 64)],
    [(H, "x" * 65)],
    [(H, "v1;rm")],
    [(H, "<script>")],
    [(H, "../../etc")],
    [(H, "v\xe9")],
    [(H, "\xc3\xa9")],
    [(H, "v1\t2")],
    [(H, "v2\xa0")],
    [("x-app-requested-version", "v2")],
    [("X-APP-REQUESTED-VERSION", "v2")],
    [(H, "-")],
    [(H, ".")],
    [(H, "v1.")],
    [(H, "v2"), ("Cookie", 'app_version="v1"')],
]
# nginx before 1.23 reads only the first of several same-named headers; later ones join them.
JOINED_HEADERS = [i for i, case in enumerate(CASES) if sum(name == H for name, _ in case) > 1]


def start(command: list[str], env: dict[str, str], port: int, what: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wait_for_http(f"http://127.0.0.1:{port}/", proc, what)
    return proc


@pytest.fixture(scope="module")
def deployments(tmp_path_factory):
    nginx = require_tool("nginx")
    tmp = tmp_path_factory.mktemp("agreement")
    backend_ports = {version: free_port() for version in VERSIONS}
    version_map = {version: f"127.0.0.1:{port}" for version, port in backend_ports.items()}
    front = free_port()
    args = [f"--backend={v}={b}" for v, b in version_map.items()]
    generated = run_cli("nginx-config", *args, "--default", "v1", "--listen", f"127.0.0.1:{front}")
    assert generated.returncode == 0, generated.stderr
    (tmp / "skewguard.conf").write_text(generated.stdout)
    (tmp / "tmp").mkdir()
    listens = "".join(f"listen 127.0.0.1:{port}; " for port in backend_ports.values())
    temp = f"{tmp}/tmp"
    (tmp / "nginx.conf").write_text(f"""
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
    uwsgi_temp_path {temp}; scgi_temp_path {temp};
    include {tmp}/skewguard.conf;
    server {{ {listens} location / {{ return 200 "ok"; }} }}
}}
""")
    checked = subprocess.run(
        [nginx, "-t", "-c", str(tmp / "nginx.conf"), "-p", str(tmp)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr  # every version expressed, none misread
    version = re.search(r"nginx/(\d+)\.(\d+)", checked.stderr + _nginx_version(nginx))
    procs = [start([nginx, "-c", str(tmp / "nginx.conf"), "-p", str(tmp)], {}, front, "nginx")]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ROUTER_MAP": json.dumps(version_map),
        "ROUTER_DEFAULT": "v1",
    }
    uvicorn_port, gunicorn_port = free_port(), free_port()
    procs.append(
        start(
            [sys.executable, "-m", "uvicorn", "tests.deploys.router_app:app", "--port"]
            + [str(uvicorn_port), "--host", "127.0.0.1", "--log-level", "warning"],
            {**env, "TEST_APP_KIND": "asgi"},
            uvicorn_port,
            "uvicorn",
        )
    )
    procs.append(
        start(
            [sys.executable, "-m", "gunicorn", "tests.deploys.router_app:app", "--bind"]
            + [f"127.0.0.1:{gunicorn_port}", "--log-level", "warning"],
            {**env, "TEST_APP_KIND": "wsgi"},
            gunicorn_port,
            "gunicorn",
        )
    )
    nginx_version = (int(version.group(1)), int(version.group(2))) if version else (0, 0)
    yield {"nginx": front, "uvicorn": uvicorn_port, "gunicorn": gunicorn_port}, nginx_version
    for proc in procs:
        stop(proc)


def _nginx_version(nginx: str) -> str:
    return subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr


def outcome(port: int, headers: list[tuple[str, str]]) -> tuple[int, str, object]:
    status, fields, body = raw_request(port, "/", headers)
    refusal = json.loads(body) if status in (400, 409) and body.startswith(b"{") else None
    return status, fields.get("x-backend-target", ""), refusal


def test_nginx_and_the_router_agree_on_every_hostile_request(deployments):
    ports, nginx_version = deployments
    table = []
    for index, case in enumerate(CASES):
        answers = {name: outcome(port, case) for name, port in ports.items()}
        if index in JOINED_HEADERS and nginx_version < (1, 23):
            del answers["nginx"]  # this nginx reads the first header only (documented)
        statuses = {name: a[0] for name, a in answers.items()}
        targets = {name: a[1] for name, a in answers.items()}
        # A server's own parser may refuse a request before any rule runs (no JSON body then):
        # the status must still agree, and a body, where the rule wrote one, too.
        bodies = {a[2] is None or json.dumps(a[2], sort_keys=True) for a in answers.values()}
        bodies.discard(True)
        if len(set(statuses.values())) > 1 or len(set(targets.values())) > 1 or len(bodies) > 1:
            table.append((case, answers))
    assert table == [], "\n".join(f"{case!r}: {answers}" for case, answers in table)
    routed = {outcome(ports["uvicorn"], case)[0] for case in CASES}
    assert routed == {200, 400, 409}  # the table exercises every branch of the rule


def test_the_rule_on_the_cases_that_used_to_disagree(deployments):
    ports, _ = deployments
    for name, port in ports.items():
        assert outcome(port, [(H, "V1.0")])[0] == 409, name  # case matters
        assert outcome(port, [("Cookie", "APP_VERSION=v2")])[1] == outcome(port, [])[1], name
        assert outcome(port, [("Cookie", 'app_version="v2"')])[1] == outcome(port, [(H, "v2")])[1]
        assert outcome(port, [("Cookie", "app_version = v2")])[1] == outcome(port, [(H, "v2")])[1]
        assert outcome(port, [(H, "default")])[0] == 200, name
        assert outcome(port, [(H, "v1_0")])[1] != outcome(port, [(H, "v1.0")])[1], name
        unknown = outcome(port, [(H, "v9")])
        assert unknown[0] == 409 and unknown[2] == {
            "error": "unknown version",
            "requested": "v9",
            "available": sorted(VERSIONS),
        }
