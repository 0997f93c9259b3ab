"""Runtime speed: middleware overhead, and static file serving against ServeStatic, Starlette's
StaticFiles and nginx (the ceiling), all on the same machine in one run.

Run by hand:   make bench-runtime     (needs wrk and nginx, and valgrind for the instruction
               counts: apt-get install wrk nginx valgrind)

Every server is one uvicorn process (one worker) on a free loopback port, loaded by wrk with one
thread and 32 connections for --seconds (default 5) after a 1 s warm-up. "With skewguard" is the
default settings (telemetry on, REGISTRY=auto: the file registry and its watcher thread, since the
build directory is writable); the same app with SKEWGUARD_REGISTRY=none is measured beside it.
The middleware overhead is measured in --rounds alternating rounds (bare, defaults,
REGISTRY=none, and as a diagnostic the defaults with the registry's watcher thread not started),
because one pair of runs on a shared machine moves by more than the 5% it is meant to show; each
server's CPU time per request (user + sys, from /proc) is printed too, a figure that the other
processes on the machine disturb much less than req/s. The in-process figures time the same
middleware around a tiny ASGI app without any server or network. With valgrind installed, the
work per request is also counted in instructions (bench/runtime_work.py), a figure that does not
move with the machine's load at all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from loopback import free_port, wait_for  # noqa: E402  (bench/ is on sys.path: run as a script)


@dataclass(frozen=True)
class Run:
    """One server under wrk: throughput, and what the server process spent on it."""

    rps: float
    cpu_us: float | None  # the server's CPU time (user + sys, every thread) per request
    threads: int | None  # the server's threads at the end of the run
    other_threads_ms: float | None  # CPU time of every thread but the event loop's


def warm_up(url: str) -> None:
    subprocess.run(["wrk", "-t1", "-c32", "-d1s", url], capture_output=True)


def wrk(
    url: str, seconds: int, headers: dict[str, str] | None = None, warm: bool = True
) -> tuple[float, int]:
    """(requests per second, requests answered), after a 1 s warm-up unless ``warm`` is False."""
    args = ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency"]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    if warm:
        warm_up(url)
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"bench: {url} answered {errors.group(1)} errors under load")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, int(re.search(r"(\d+) requests in", out).group(1))


def _cpu_seconds(pid: int, task: int | None = None) -> float | None:
    """User + system CPU time of a process (or one of its threads) from /proc; None elsewhere."""
    path = f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def measure(pid: int, url: str, seconds: int, headers: dict[str, str] | None = None) -> Run:
    warm_up(url)
    before = _cpu_seconds(pid)
    loop_before = _cpu_seconds(pid, pid)
    rps, requests = wrk(url, seconds, headers, warm=False)
    after, loop_after = _cpu_seconds(pid), _cpu_seconds(pid, pid)
    threads = _threads(pid)
    if None in (before, after, loop_before, loop_after) or not requests:
        return Run(rps, None, len(threads) or None, None)
    cpu_us = (after - before) / requests * 1e6
    others = ((after - before) - (loop_after - loop_before)) * 1e3
    return Run(rps, cpu_us, len(threads), max(others, 0.0))


# uvicorn's HTTP parser and event loop, from the command line: "auto" takes httptools and uvloop
# when installed (uvicorn[standard], as production runs), else h11 and asyncio.
UVICORN = {"http": "auto", "loop": "auto"}


def uvicorn_rps(
    app: str,
    root: Path,
    url_path: str,
    seconds: int,
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Run:
    port = free_port()
    env = {
        **os.environ,
        **(env or {}),
        "BENCH_APP": app,
        "BENCH_ROOT": str(root),
        "PYTHONPATH": f"{HERE}:{HERE.parent / 'src'}",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "runtime_apps:app",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
            "--no-access-log",
            "--http",
            UVICORN["http"],
            "--loop",
            UVICORN["loop"],
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=HERE,
    )
    try:
        wait_for(port, proc)
        url = f"http://127.0.0.1:{port}{url_path}"
        check(url, app)
        return measure(proc.pid, url, seconds, headers)
    finally:
        proc.terminate()
        proc.wait()


def check(url: str, label: str) -> None:
    """One request before the load: a server that answers errors is not measured."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        if response.status != 200:
            raise SystemExit(f"bench: {label} answered {response.status} for {url}")


def nginx_rps(root: Path, url_path: str, seconds: int) -> float | None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        return None
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    (work / "nginx.conf").write_text(
        textwrap.dedent(f"""
        worker_processes 1;
        error_log {work}/error.log;
        pid {work}/nginx.pid;
        daemon off;
        events {{ worker_connections 1024; }}
        http {{
            access_log off;
            sendfile on;
            include /etc/nginx/mime.types;
            client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
            uwsgi_temp_path {work}; scgi_temp_path {work};
            server {{
                listen 127.0.0.1:{port};
                location /static/ {{ alias {root}/; add_header Cache-Control "public, max-age=31536000, immutable"; }}
            }}
        }}
    """)
    )
    proc = subprocess.Popen(
        [nginx, "-c", str(work / "nginx.conf"), "-p", str(work)], stderr=subprocess.PIPE
    )
    try:
        wait_for(port, proc)
        url = f"http://127.0.0.1:{port}{url_path}"
        check(url, "nginx")
        return wrk(url, seconds)[0]
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def in_process_overhead(root: Path, requests: int = 100_000) -> dict[str, float]:
    """Microseconds of this thread's CPU per request: the bare ASGI app, and the same wrapped by
    skewguard's middleware as the servers run it (REGISTRY=none; and the defaults, whose file
    registry's watcher thread runs beside the loop). Best of three."""
    import runtime_apps  # noqa: F401 - on sys.path below

    os.environ.setdefault("SKEWGUARD_VITE_HOT_FILE", "")

    def without_registry():
        os.environ["SKEWGUARD_REGISTRY"] = "none"
        try:
            return runtime_apps.with_skewguard(str(root))
        finally:
            del os.environ["SKEWGUARD_REGISTRY"]

    # Each app is built just before it is timed, and the defaults last: their watcher thread,
    # once started, runs until the process ends, and must not run beside the others.
    factories = {
        "bare": lambda: runtime_apps.bare,
        "REGISTRY=none": without_registry,
        "defaults": lambda: runtime_apps.with_skewguard(str(root)),
    }
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"accept", b"*/*"), (b"user-agent", b"bench")],
    }

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        pass

    async def run(app) -> float:
        started = time.thread_time()
        for _ in range(requests):
            await app(scope, receive, send)
        return (time.thread_time() - started) / requests * 1e6

    timings = {}
    for name, factory in factories.items():
        app = factory()
        timings[name] = min(asyncio.run(run(app)) for _ in range(3))
    return timings


def middleware_rounds(root: Path, seconds: int, rounds: int) -> dict[str, list[Run]]:
    """bare, defaults, REGISTRY=none and the defaults without the registry's watcher thread
    under uvicorn, alternated ``rounds`` times."""
    variants = {
        "bare": ("bare", {}),
        "defaults": ("skewguard_middleware", {}),
        "REGISTRY=none": ("skewguard_middleware", {"SKEWGUARD_REGISTRY": "none"}),
        "no watcher": ("skewguard_no_watcher", {}),  # diagnostic: the registry minus its thread
    }
    runs: dict[str, list[Run]] = {name: [] for name in variants}
    for n in range(rounds):
        for name, (app, env) in variants.items():
            runs[name].append(uvicorn_rps(app, root, "/", seconds, env=env))
        bare = runs["bare"][-1].rps
        print(
            f"  round {n + 1}: "
            + ", ".join(
                f"{name} {r[-1].rps:,.0f} req/s"
                + ("" if name == "bare" else f" ({r[-1].rps / bare:.0%} of bare)")
                for name, r in runs.items()
            )
            + f"; load average {os.getloadavg()[0]:.1f}"
        )
    return runs


def report_rounds(runs: dict[str, list[Run]]) -> None:
    bare = runs["bare"]
    for name in ("defaults", "REGISTRY=none", "no watcher"):
        losses = [(1 - r.rps / b.rps) * 100 for r, b in zip(runs[name], bare, strict=True)]
        print(
            f"  {name:<14} loss against bare (negative: faster), median of {len(losses)} rounds: "
            f"{statistics.median(losses):+.1f}% (from {min(losses):+.1f}% to {max(losses):+.1f}%)"
        )
    bare_cpu = [r.cpu_us for r in bare if r.cpu_us is not None]
    for name, rs in runs.items():
        cpu = [r.cpu_us for r in rs if r.cpu_us is not None]
        if not cpu:
            continue
        above = ""
        if name != "bare" and bare_cpu:
            above = f", {(statistics.median(cpu) / statistics.median(bare_cpu) - 1) * 100:+.1f}% on bare"
        others = [r.other_threads_ms for r in rs if r.other_threads_ms is not None]
        threads = sorted({r.threads for r in rs if r.threads})
        print(
            f"  {name:<14} server CPU per request, median {statistics.median(cpu):.1f} us "
            f"(min {min(cpu):.1f}{above}); threads {'/'.join(map(str, threads))}; "
            f"CPU of threads besides the event loop {max(others, default=0):.0f} ms per run at most"
        )


def build_files(work: Path) -> tuple[Path, str, str]:
    from skewguard.build import BuildOptions, build

    src = work / "src"
    (src / "css").mkdir(parents=True)
    (src / "js").mkdir(parents=True)
    css = "".join(
        f".rule-{i} {{ color: #{i % 4096:03x}; margin: {i % 17}px; }}\n" for i in range(400)
    )
    (src / "css" / "app.css").write_text(css[:10240].ljust(10240))
    (src / "js" / "big.js").write_bytes(
        os.urandom(512 * 1024).hex().encode()
    )  # 1 MB, incompressible-ish
    out = work / "out"
    build([str(src)], str(out), BuildOptions(compress=False))
    import json

    paths = json.loads((out / "staticfiles.json").read_text())["paths"]
    return out, "/static/" + paths["css/app.css"], "/static/" + paths["js/big.js"]


def _implementation(option: str) -> str:
    """What uvicorn's "auto" resolves to here, for the report."""
    choice = UVICORN[option]
    if choice != "auto":
        return choice
    fast = "httptools" if option == "http" else "uvloop"
    try:
        __import__(fast)
    except ImportError:
        return "h11" if option == "http" else "asyncio"
    return fast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds of the middleware overhead"
    )
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    UVICORN.update(http=args.http, loop=args.loop)
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is not installed (apt-get install wrk)")
    sys.path.insert(0, str(HERE))
    work = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    work.chmod(0o755)  # nginx's workers run unprivileged and must read the files
    try:
        root, small, big = build_files(work)
        s = args.seconds
        print(
            f"{os.cpu_count()} cores; Python {sys.version.split()[0]}; wrk -t1 -c32 -d{s}s; one uvicorn worker each "
            f"(--http {_implementation('http')}, --loop {_implementation('loop')})\n"
        )

        print(
            "(a) middleware overhead (defaults: telemetry on, REGISTRY=auto picks the file registry)"
        )
        per_request = in_process_overhead(root)
        bare_us = per_request["bare"]
        print(
            "  in-process, CPU per request: "
            + ", ".join(
                f"{name} {us:.2f} us" + ("" if name == "bare" else f" (+{us - bare_us:.2f} us)")
                for name, us in per_request.items()
            )
        )
        print(f"  uvicorn, {args.rounds} alternating rounds:")
        runs = middleware_rounds(root, s, args.rounds)
        report_rounds(runs)
        bare = statistics.median(r.rps for r in runs["bare"])
        if shutil.which("valgrind"):
            import runtime_work  # counted, not timed: immune to the machine's swings

            runtime_work.report(root, [_implementation("http")])
        else:
            print("  (instructions per request not counted: apt-get install valgrind)")
        print()

        print("(b) static files, 10 KB hashed CSS")
        bare_10k = uvicorn_rps("bare_10k", root, "/", s).rps
        results = {
            name: uvicorn_rps(name, root, small, s).rps
            for name in ("skewguard_static", "servestatic", "starlette_static")
        }
        ceiling = nginx_rps(root, small, s)
        print(f"  bare ASGI app answering 10 KB from memory: {bare_10k:,.0f} req/s")
        for name, rps in results.items():
            print(
                f"  {name:<18} {rps:>9,.0f} req/s  {rps / results['servestatic']:.1f}x ServeStatic, "
                f"{rps / bare:.0%} of the bare app, {rps / bare_10k:.0%} of bare 10 KB"
            )
        if ceiling:
            print(f"  {'nginx (ceiling)':<18} {ceiling:>9,.0f} req/s")

        print("\n(b) static files, 1 MB hashed JS")
        results = {
            name: uvicorn_rps(name, root, big, s).rps
            for name in ("skewguard_static", "servestatic", "starlette_static")
        }
        ceiling = nginx_rps(root, big, s)
        for name, rps in results.items():
            print(
                f"  {name:<18} {rps:>9,.0f} req/s  {rps / results['servestatic']:.2f}x ServeStatic"
            )
        if ceiling:
            print(f"  {'nginx (ceiling)':<18} {ceiling:>9,.0f} req/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
