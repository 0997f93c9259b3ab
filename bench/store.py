"""Release store speed: first publish of the npm tree to an S3 server, skewguard vs Django's
collectstatic with django-storages' S3ManifestStaticStorage against the same server in the same
run; a no-op republish; and serving an old release's file through the store cache vs a local
hashed file of the same size (uvicorn, wrk).

Run by hand (not part of the test suite):   .venv/bin/python bench/store.py
Needs the bench extra (django-storages, boto3), moto's server (test extra) and wrk.
Options: --limit N (only the first N files of the tree, sorted; default: all), --seconds S,
--no-serving (skip the wrk pair). Request counts come from the S3 server's own log.

The S3 server is moto's standalone server on a loopback port: every tool talks S3 over HTTP to
the same process, so the figures compare clients, not storage back ends.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
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

from runtime import free_port, wait_for, wrk  # noqa: E402

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_REGION": "us-east-1",
}
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


def start_moto(work: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    moto = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
    log = open(work / "moto.log", "w")  # noqa: SIM115 - one request line per request
    proc = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **CREDENTIALS},
    )
    wait_for(port, proc)
    return proc, f"http://127.0.0.1:{port}"


_REQUEST_LINE = re.compile(r'"(GET|PUT|POST|HEAD|DELETE) /([^/? ]+)')


def requests_by_method(work: Path, bucket: str) -> dict[str, int]:
    """What the S3 server was asked for ``bucket``, from its request log: counted server-side,
    so neither client can under-report."""
    counts: dict[str, int] = {}
    for line in (work / "moto.log").read_text(errors="replace").splitlines():
        m = _REQUEST_LINE.search(line)
        if m and m.group(2) == bucket:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def request_cost(endpoint: str) -> tuple[float, float, float]:
    """The S3 server's own speed on this machine: ms per small PUT from one obstore client,
    ms per PUT from one boto3 client (what django-storages uses), and PUT/s with 16 in flight."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    from skewguard.store import open_store

    bucket = new_bucket(endpoint, "bench-cost")
    store = open_store(f"s3://{bucket}/cost?endpoint={endpoint}&region=us-east-1")
    client = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
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


def new_bucket(endpoint: str, name: str) -> str:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, **_boto_credentials()).create_bucket(Bucket=name)
    return name


def _boto_credentials() -> dict[str, str]:
    return {
        "region_name": "us-east-1",
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench-secret",
    }


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


def serving(endpoint: str, work: Path, seconds: int) -> tuple[float, float]:
    """req/s of an old release's file through the store cache, and of a local file of the same
    size, from one uvicorn worker with the store configured."""
    from skewguard.build import BuildOptions, build
    from skewguard.store import open_store
    from skewguard.store.publish import publish

    os.environ.update(CREDENTIALS)
    url = f"s3://{new_bucket(endpoint, 'bench-serving')}/site?endpoint={endpoint}&region=us-east-1"
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


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used: the S3 server's share."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Phase:
    """Wall time, the client's CPU time (a finished subprocess) and the S3 server's CPU time of
    one step: CPU times barely move with the machine's load, wall times do."""

    def __init__(self, server: subprocess.Popen):
        self.server = server

    def __enter__(self) -> Phase:
        self._wall = time.perf_counter()
        self._client = _children_cpu()
        self._server = _process_cpu(self.server.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.client = _children_cpu() - self._client
        self.server_cpu = _process_cpu(self.server.pid) - self._server

    def row(self, label: str, requests: dict[str, int] | None = None) -> str:
        counted = f"   {_describe(requests)}" if requests is not None else ""
        return (
            f"{label:<56} {self.wall:8.2f} s  (CPU: client {self.client:6.2f} s, "
            f"S3 server {self.server_cpu:6.2f} s){counted}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--no-serving", action="store_true", help="Skip the serving pair (wrk).")
    args = parser.parse_args()
    if not TREE.is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=TREE.parent,
            check=True,
        )
    work = Path(tempfile.mkdtemp(prefix="skewguard-bench-store-"))
    moto, endpoint = start_moto(work)
    skewguard = [sys.executable, "-m", "skewguard"]
    try:
        tree = limited_tree(args.limit, work)
        files = sum(1 for p in tree.rglob("*") if p.is_file())
        env = {**os.environ, **CREDENTIALS}
        os.environ.update(CREDENTIALS)
        obstore_ms, boto_ms, parallel = request_cost(endpoint)

        def store_url(name: str) -> str:
            bucket = new_bucket(endpoint, name)
            return f"s3://{bucket}/static?endpoint={endpoint}&region=us-east-1"

        out = work / "out"
        with Phase(moto) as build_phase:
            run([*skewguard, "build", str(tree), "-o", str(out), "-q"])
        store = store_url("bench-skewguard")
        publish = [*skewguard, "publish", str(out), "--store", store]
        with Phase(moto) as first:
            done = subprocess.run([*publish, "--json"], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(done.stderr)
        report = json.loads(done.stdout)
        first_requests = requests_by_method(work, "bench-skewguard")
        with Phase(moto) as noop:
            run([*publish, "-q"], env)
        noop_requests = _minus(requests_by_method(work, "bench-skewguard"), first_requests)
        from skewguard.store import open_store
        from skewguard.store.publish import publish as publish_in_process

        started = time.perf_counter()
        assert publish_in_process(str(out), open_store(store)).uploaded == 0
        noop_in_process_s = time.perf_counter() - started
        # The same work as collectstatic (hash, rewrite references, upload; no compression).
        plain = work / "plain"
        with Phase(moto) as plain_phase:
            run([*skewguard, "build", str(tree), "-o", str(plain), "-q", "--no-compress"])
            run([*skewguard, "publish", str(plain), "--store", store_url("bench-plain"), "-q"], env)
        with Phase(moto) as django:
            collectstatic(tree, endpoint, new_bucket(endpoint, "bench-django"), work)
        django_requests = requests_by_method(work, "bench-django")
        if not args.no_serving:
            from_store, from_disk = serving(endpoint, work, args.seconds)
    finally:
        moto.terminate()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
        f"{load[0]:.1f}/{load[1]:.1f}; Python {sys.version.split()[0]}; moto server on loopback"
    )
    print(
        f"S3 server: {obstore_ms:.1f} ms per PUT (obstore, serial), {boto_ms:.1f} ms (boto3, "
        f"serial), {parallel:.0f} PUT/s with 16 in flight"
    )
    print(
        f"tree: {files} files; skewguard publishes {report['objects']} objects "
        f"({report['bytes'] / 1e6:.1f} MB)"
    )
    print(build_phase.row("skewguard build"))
    print(first.row("skewguard publish (first)", first_requests))
    print(plain_phase.row("skewguard build --no-compress + publish"))
    print(django.row("Django collectstatic, S3ManifestStaticStorage", django_requests))
    both = build_phase.wall + first.wall
    print(f"{'  ratio (collectstatic / publish)':<56} {django.wall / first.wall:8.1f}x")
    print(f"{'  ratio (collectstatic / build + publish)':<56} {django.wall / both:8.1f}x")
    print(
        f"{'  ratio (collectstatic / build --no-compress + publish)':<56} "
        f"{django.wall / plain_phase.wall:8.1f}x"
    )
    django_cpu = django.client + django.server_cpu
    print(
        f"{'  CPU ratio (collectstatic / publish, client + server)':<56} "
        f"{django_cpu / (first.client + first.server_cpu):8.1f}x"
    )
    print(
        f"{'  requests (collectstatic / publish)':<56} "
        f"{sum(django_requests.values()) / sum(first_requests.values()):8.1f}x"
    )
    print(noop.row("skewguard publish (no-op republish)", noop_requests))
    print(f"{'  of which the publish itself (in-process)':<56} {noop_in_process_s:8.2f} s")
    if args.no_serving:
        return
    print(f"{'old file through the store cache':<56} {from_store:8.0f} req/s")
    print(f"{'local hashed file, same size':<56} {from_disk:8.0f} req/s")
    print(f"{'  ratio':<56} {from_store / from_disk:8.0%}")


if __name__ == "__main__":
    main()
