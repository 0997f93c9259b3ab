"""Live tabs at scale: simulated open tabs beating on /version against uvicorn workers and Redis.

Run by hand:   .venv/bin/python bench/tabs.py [--tabs 100000] [--interval 60] [--seconds 60]
(``pip install -e '.[bench]'`` for Redis's client, httptools and uvloop; wrk from the system's
packages; py-spy for ``--profile``.)

Each simulated tab has its own id and release (two releases, a tenth stale on the older one, 2%
held by a call) and beats once per --interval, spread evenly: 100,000 tabs every 60 s is ~1,667
requests/s. The load comes from wrk (``--generator wrk``, the default when it is installed) with
bench/tabs.lua handing out send slots at the fixed rate, or from one asyncio process
(``--generator python``: open loop, but it costs far more CPU than the servers it measures).
Latency is from sending a request to the last byte of its answer; requests sent more than 10 ms
after their slot are counted as late, so a rate that was not reached shows.

Reports sustained req/s, p50/p99 of /version, server CPU (and per beat), Redis memory, CPU and
ops/s, and the counts the servers ended up with. ``--profile DIR`` records each worker with
py-spy (speedscope files). The generator shares the machine's cores with the servers: note the
load average it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from loopback import free_port, wait_for  # noqa: E402  (bench/ is on sys.path: run as a script)

TICKS = os.sysconf("SC_CLK_TCK")
# What production uvicorn runs with (uvicorn[standard]) when installed: httptools and uvloop.
try:
    import httptools  # noqa: F401
    import uvloop

    SERVER_OPTIONS = ["--http", "httptools", "--loop", "uvloop"]
except ImportError:
    uvloop = None
    SERVER_OPTIONS = ["--http", "h11", "--loop", "asyncio"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn's workers)."""
    total = 0.0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
        except OSError:
            pass
    return total


async def load(
    port: int, queries: list[str], rate: float, seconds: float, connections: int
) -> tuple[list[float], int]:
    """Send queries at ``rate``/s over keep-alive connections; latencies in ms, and errors."""
    latencies: list[float] = []
    behind: list[float] = []  # how late the load generator sent each request
    errors = 0
    queue: asyncio.Queue[tuple[float, str]] = asyncio.Queue()

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while True:
            due, query = await queue.get()
            if not query:
                writer.close()
                return
            sent_at = time.perf_counter()
            writer.write(
                f"GET /version?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            done = time.perf_counter()
            latencies.append((done - sent_at) * 1000)
            behind.append((sent_at - due) * 1000)

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    started = time.perf_counter()
    sent = 0
    total = int(rate * seconds)
    while sent < total:
        now = time.perf_counter()
        due_count = min(total, int((now - started) * rate) + 1)
        while sent < due_count:
            queue.put_nowait((started + sent / rate, queries[sent % len(queries)]))
            sent += 1
        await asyncio.sleep(0.002)
    for _ in workers:
        queue.put_nowait((0.0, ""))
    await asyncio.gather(*workers)
    behind.sort()
    print(
        f"  (load generator: sent p50 {statistics.median(behind):.0f} ms, p99"
        f" {behind[int(len(behind) * 0.99)]:.0f} ms behind schedule)"
    )
    return latencies, errors


def load_wrk(
    port: int, args: argparse.Namespace, rate: float, current: str, previous: str
) -> tuple[dict[str, float], float]:
    """wrk with bench/tabs.lua: its summary line, and wrk's own CPU seconds."""
    threads = max(1, min(args.threads, args.connections))
    env = {
        **os.environ,
        "TABS": str(args.tabs),
        "RATE": str(rate),
        "THREADS": str(threads),
        "CONNECTIONS": str(args.connections),
        "CURRENT": current,
        "PREVIOUS": previous,
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [shutil.which("wrk") or "wrk", "-t", str(threads), "-c", str(args.connections),
         "-d", f"{args.seconds:g}s", "--timeout", "5s", "-s", str(HERE / "tabs.lua"),
         f"http://127.0.0.1:{port}/version"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in result.stdout.splitlines() if x.startswith("TABS "))
    summary = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return summary, cpu


def worker_pids(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=100_000)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between beats")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--generator",
        choices=("wrk", "python"),
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator (default: wrk when installed)",
    )
    parser.add_argument("--profile", metavar="DIR", help="py-spy each worker into DIR")
    parser.add_argument(
        "--bare", action="store_true", help="the bare app without skewguard (HTTP cost alone)"
    )
    args = parser.parse_args()

    import redis

    from skewguard.build import BuildOptions, build
    from skewguard.releases.redis_registry import RedisRegistry

    work = Path(tempfile.mkdtemp(prefix="skewguard-tabs-"))
    src = work / "src"
    (src / "css").mkdir(parents=True)
    (src / "css" / "app.css").write_text("body { color: #123; }\n")
    out = work / "out"
    current = build([str(src)], str(out), BuildOptions(compress=False)).version
    previous = "0123456789ab"
    redis_port = free_port()
    redis_proc = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work),
        ],
        stdout=subprocess.DEVNULL,
    )
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    wait_for(redis_port, redis_proc, seconds=30)
    registry = RedisRegistry(redis_url)
    registry.register(previous, previous)  # an older release a tenth of the tabs still run
    registry.register(current, current, activate_if_first=False)
    registry.activate(current)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{HERE}{os.pathsep}{HERE.parent / 'src'}",
        "SKEWGUARD_STATIC_ROOT": str(out),
        "SKEWGUARD_REDIS_URL": redis_url,
        "SKEWGUARD_VITE_HOT_FILE": "",
        "SKEWGUARD_TELEMETRY_WINDOW": str(args.interval * 1.5),
        "SKEWGUARD_TELEMETRY_MAX_TABS": str(args.tabs),
        "TABS_BARE": "1" if args.bare else "",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tabs_app:app",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
            *SERVER_OPTIONS,
        ],
        env=env,
        cwd=HERE,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port, server, seconds=30)
        time.sleep(2)  # every worker up
        rate = args.tabs / args.interval
        queries = []
        if args.generator == "python":  # the same mix as bench/tabs.lua
            for i in range(args.tabs):
                release = previous if i % 10 == 0 else current
                stale = "1" if release == previous else "0"
                held = "call" if i % 50 == 0 else ""
                queries.append(f"tid=tab{i:012d}x&rel={release}&stale={stale}&held={held}&err=0")
            random.Random(1).shuffle(queries)
        profilers = []
        if args.profile:
            os.makedirs(args.profile, exist_ok=True)
            for pid in worker_pids(server.pid):
                profilers.append(
                    subprocess.Popen(
                        [
                            shutil.which("py-spy")
                            or os.path.join(os.path.dirname(sys.executable), "py-spy"),
                            "record",
                            "--pid",
                            str(pid),
                            "--duration",
                            f"{args.seconds:g}",
                            "--rate",
                            "250",
                            "--format",
                            "speedscope",
                            "--nonblocking",
                            "--output",
                            os.path.join(args.profile, f"worker-{pid}.speedscope.json"),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                )
        client = redis.Redis.from_url(redis_url)
        ops_before = client.info("stats")["total_commands_processed"]
        redis_cpu_before = cpu_seconds(redis_proc.pid)
        server_cpu_before = cpu_seconds(server.pid)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        generator_cpu = None
        if args.generator == "wrk":
            summary, generator_cpu = load_wrk(port, args, rate, current, previous)
            elapsed = summary["seconds"]
            requests = int(summary["requests"])
            errors = int(summary["errors"] + summary["status_errors"])
            p50, p99, worst = summary["p50_ms"], summary["p99_ms"], summary["max_ms"]
            late = f"{int(summary['late']):,} sent >10 ms after their slot"
            if summary["late"]:
                late += f" (by {summary['late_mean_ms']:.0f} ms on average)"
        else:
            latencies, errors = asyncio.run(
                load(port, queries, rate, args.seconds, args.connections)
            )
            elapsed = time.perf_counter() - started
            requests = len(latencies)
            latencies.sort()
            p50 = statistics.median(latencies)
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            worst = latencies[-1]
            late = "see the line above"
        time.sleep(0.5)  # the writers' last batches
        for profiler in profilers:
            profiler.wait(timeout=60)
        server_cpu = cpu_seconds(server.pid) - server_cpu_before
        redis_cpu = cpu_seconds(redis_proc.pid) - redis_cpu_before
        ops = client.info("stats")["total_commands_processed"] - ops_before
        memory = client.info("memory")["used_memory"]
        from skewguard.telemetry.redis_recorder import RedisRecorder

        report = RedisRecorder(redis_url, "skewguard", args.interval * 1.5, args.tabs).report()
        print(
            f"tabs {args.tabs:,} beating every {args.interval:g} s; target {rate:,.0f} req/s;"
            f" {args.workers} uvicorn workers ({' '.join(SERVER_OPTIONS)}) + Redis;"
            f" generator {args.generator}; load average before {load_before:.1f},"
            f" after {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        print(
            f"  sustained      {requests / elapsed:,.0f} req/s over {elapsed:.0f} s, {errors} errors"
        )
        print(f"  schedule       {late}")
        print(f"  /version       p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
        print(
            f"  server CPU     {server_cpu / elapsed * 100:.0f}% of one core (all workers),"
            f" {server_cpu / max(requests, 1) * 1e6:.0f} us per beat"
        )
        if generator_cpu is not None:
            print(f"  wrk CPU        {generator_cpu / elapsed * 100:.0f}% of one core")
        print(
            f"  Redis          {memory / 1e6:.1f} MB used, {ops / elapsed:,.0f} commands/s,"
            f" CPU {redis_cpu / elapsed * 100:.0f}% of one core"
        )
        counted = {r.version: (r.live, r.stale, r.held) for r in report.releases}
        print(f"  counted        {counted} (live, stale, held); dropped {report.dropped}")
    finally:
        server.terminate()
        server.wait(timeout=20)
        redis_proc.kill()
        redis_proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
