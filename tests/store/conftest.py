"""A real S3-protocol server (moto's standalone server, over HTTP with signatures) on a free
loopback port, and small builds to publish. The production client code talks to it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from skewguard.build import BuildOptions, build

from ..conftest import IN_CI
from ..processes import free_port, stop, wait_for_http

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "skewguard-test",
    "AWS_SECRET_ACCESS_KEY": "skewguard-test-secret",
    "AWS_REGION": "us-east-1",
}
# werkzeug colours the lines of 4xx and 5xx answers (a 404 GET, a 412 PUT): skip the escapes.
_REQUEST_LINE = re.compile(
    r'"(?:\x1b\[[0-9;]*m)*(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP/[\d.]+(?:\x1b\[0m)?" (\d{3})'
)


def _moto_server() -> str:
    path = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which(
        "moto_server"
    )
    if path is None:
        message = "moto_server is not installed (pip install -e '.[test]')"
        if IN_CI:
            pytest.fail(f"CI: {message}")
        pytest.skip(message)
    return path


class S3Server:
    """One moto server process; its request log tells what the client really sent."""

    def __init__(self, work: Path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = work / f"moto-{self.port}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [_moto_server(), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **CREDENTIALS},
        )
        wait_for_http(self.endpoint + "/moto-api/", self.proc, "moto server")

    def client(self):  # an independent client to set up buckets and read objects back
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=CREDENTIALS["AWS_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        name = "sg-" + uuid.uuid4().hex[:12]
        self.client().create_bucket(Bucket=name)
        return name

    def url(self, bucket: str, prefix: str = "releases") -> str:
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&region={CREDENTIALS['AWS_REGION']}"

    def requests(self, bucket: str) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request the server logged for ``bucket``."""
        self._log.flush()
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            m = _REQUEST_LINE.search(line)
            if m and m.group(2).lstrip("/").startswith(bucket):
                found.append((m.group(1), m.group(2), int(m.group(3))))
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            stop(self.proc)
        self._log.close()


@pytest.fixture
def s3_env(monkeypatch) -> dict[str, str]:
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    return CREDENTIALS


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def s3_server_factory(tmp_path) -> Iterator:
    """Servers of the test's own, for tests that stop one (an outage)."""
    servers: list[S3Server] = []

    def make() -> S3Server:
        server = S3Server(tmp_path)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(params=["file", "s3"])
def store_url(request, tmp_path, s3_env) -> str:
    """A fresh store of each kind."""
    if request.param == "file":
        return (tmp_path / "store").as_uri()
    server = request.getfixturevalue("s3_server")
    return server.url(server.new_bucket())


# The page's script: a chunk lazy-imported on click, and the camera on a video.
APP_JS = """
document.getElementById("load").addEventListener("click", async () => {
  const chunk = await import("./chunk.js");
  document.getElementById("out").textContent = "chunk of release " + chunk.release;
});
window.startCamera = async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ video: true });
  const video = document.getElementById("clip");
  video.srcObject = stream;
  await video.play();
};
"""


def write_site(src: Path, release: int, extra_files: int = 0) -> None:
    """A small site: a page script that lazy-imports a chunk, a stylesheet with an image."""
    (src / "js").mkdir(parents=True, exist_ok=True)
    (src / "img").mkdir(exist_ok=True)
    (src / "js" / "chunk.js").write_text(f"export const release = {release};\n")
    (src / "js" / "app.js").write_text(APP_JS + "// padding\n" * 40)
    (src / "img" / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'></svg>\n")
    (src / "site.css").write_text(
        f"body {{ background: url(img/logo.svg); }}\n/* release {release} */\n" + "p{}\n" * 80
    )
    for i in range(extra_files):
        (src / f"shared-{i}.txt").write_text(f"shared file {i}\n" * 30)


def build_release(work: Path, name: str, release: int, extra_files: int = 0) -> Path:
    """Build release ``release`` into a fresh directory ``work/name`` (what a CI image holds)."""
    src = work / f"{name}-src"
    write_site(src, release, extra_files)
    out = work / name
    build([str(src)], str(out), BuildOptions(workers=1))
    return out


class AppServer:
    """tests/store/store_app.py of one kind under a real server (uvicorn, or a threaded WSGI
    server), on a free loopback port; its stderr (skewguard's log lines) goes to a file."""

    def __init__(
        self,
        kind: str,
        static_root: Path,
        store: str,
        work: Path,
        port: int | None = None,
        **settings: str,
    ):
        from ..conftest import ROOT
        from ..processes import WSGI_RUNNER

        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            **CREDENTIALS,
            "TEST_APP_KIND": kind,
            "SKEWGUARD_STATIC_ROOT": str(static_root),
            "SKEWGUARD_STORE": store,
            "SKEWGUARD_VITE_HOT_FILE": "",
            "PYTHONPATH": str(ROOT),
            **{f"SKEWGUARD_{k.upper()}": v for k, v in settings.items()},
        }
        if kind.startswith("asgi"):
            command = [sys.executable, "-m", "uvicorn", "tests.store.store_app:app"]
            command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        else:
            command = [
                sys.executable,
                "-c",
                WSGI_RUNNER.format(root=str(ROOT), port=self.port, module="tests.store.store_app"),
            ]
        self.log_path = work / f"server-{self.port}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=self._log, stderr=self._log)
        try:
            wait_for_http(self.base + "/version", self.proc, f"{kind} app")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{self.log()}") from None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            stop(self.proc)
        self._log.close()


@pytest.fixture
def app_server(tmp_path) -> Iterator:
    servers: list[AppServer] = []

    def start(kind: str, static_root: Path, store: str, **settings: str) -> AppServer:
        server = AppServer(kind, static_root, store, tmp_path, **settings)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
