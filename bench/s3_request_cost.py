"""What one PUT costs the S3 server, for each variant of the request a client could send: the
server's CPU time (from /proc: steadier than wall time on a shared machine) per PUT, variants
alternated over several rounds, the median reported.

Run by hand:   .venv/bin/python bench/s3_request_cost.py [--servers moto,seaweedfs]
               [--puts 300] [--rounds 5]

The bodies are the first N hashed files of the npm fixture's build (real sizes); each variant of
each round writes its own keys. "as published" is what skewguard's publish sends: a conditional
create (If-None-Match: *), Content-Type and Cache-Control, a signed payload, 16 in flight.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from s3_servers import CREDENTIALS, Moto, S3Server, SeaweedFS, boto3_client  # noqa: E402
from store import TREE, limited_tree  # noqa: E402

ATTRIBUTES = {
    "Content-Type": "text/javascript",
    "Cache-Control": "public, max-age=31536000, immutable",
}


def _obstore(server: S3Server, bucket: str, **options: Any) -> Any:
    from obstore.store import S3Store

    client = {"allow_http": True, "timeout": timedelta(seconds=30), **options.pop("client", {})}
    return S3Store(
        bucket, endpoint=server.endpoint, region="us-east-1", client_options=client, **options
    )


def variants(server: S3Server, bucket: str) -> dict[str, Callable[[str, bytes], None]]:
    import obstore

    plain = _obstore(server, bucket)
    unsigned = _obstore(server, bucket, unsigned_payload=True)
    http1 = _obstore(server, bucket, client={"http1_only": True})
    boto = boto3_client(server.endpoint)

    def put(store: Any, mode: str = "create", attributes: bool = True) -> Callable:
        def one(key: str, body: bytes) -> None:
            try:
                obstore.put(
                    store, key, body, mode=mode, attributes=ATTRIBUTES if attributes else None
                )
            except Exception as exc:  # a refused create would not be a PUT that stored
                raise SystemExit(f"bench: {key}: {exc}") from None

        return one

    def boto3_put(key: str, body: bytes) -> None:
        boto.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=ATTRIBUTES["Content-Type"],
            CacheControl=ATTRIBUTES["Cache-Control"],
        )

    def tiny(one: Callable[[str, bytes], None]) -> Callable[[str, bytes], None]:
        return lambda key, body: one(key, b"x" * 16)

    minimal = put(unsigned, mode="overwrite", attributes=False)
    return {
        "as published (16 in flight)": put(plain),
        "no If-None-Match (plain PUT)": put(plain, mode="overwrite"),
        "no metadata headers": put(plain, attributes=False),
        "UNSIGNED-PAYLOAD (no body hash)": put(unsigned),
        "16-byte bodies": tiny(put(plain)),
        "HTTP/1 only": put(http1),
        "1 in flight": put(plain),
        "64 in flight": put(plain),
        "all of the above cut (1 in flight)": tiny(minimal),
        "boto3 put_object (django-storages)": boto3_put,
    }


def in_flight(name: str) -> int:
    if "1 in flight" in name:
        return 1
    return 64 if "64 in flight" in name else 16


def measure(server: S3Server, bodies: list[tuple[str, bytes]], rounds: int) -> dict[str, list]:
    bucket = server.new_bucket("bench-request-cost")
    calls = variants(server, bucket)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
    with ThreadPoolExecutor(16) as pool:  # untimed: a fresh store allocates its volumes
        list(
            pool.map(
                calls["as published (16 in flight)"],
                [f"warm/{k}" for k, _ in bodies],
                [body for _, body in bodies],
            )
        )
    for round_ in range(rounds):
        for index, (name, one) in enumerate(calls.items()):
            prefix = f"r{round_}/v{index}/"
            time.sleep(0.2)  # let the previous variant's connections settle
            cpu, wall = server.cpu(), time.perf_counter()
            with ThreadPoolExecutor(in_flight(name)) as pool:
                keys = [prefix + key for key, _ in bodies]
                list(pool.map(one, keys, [body for _, body in bodies]))
            wall = time.perf_counter() - wall
            results[name].append(((server.cpu() - cpu) / len(bodies), wall / len(bodies)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="moto,seaweedfs")
    parser.add_argument("--puts", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    kinds = {"moto": Moto, "seaweedfs": SeaweedFS}
    os.environ.update(CREDENTIALS)
    work = Path(tempfile.mkdtemp(prefix="skewguard-bench-cost-"))
    tree = limited_tree(args.puts, work) if TREE.is_dir() else None
    if tree is None:
        raise SystemExit("bench: run `npm ci` in tests/fixtures/npm first (or bench/store.py)")
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    bodies = [(str(p.relative_to(tree)), p.read_bytes()) for p in files]
    print(
        f"{len(bodies)} PUTs per variant per round ({sum(len(b) for _, b in bodies) / 1e6:.1f} MB), "
        f"{args.rounds} rounds alternated; load {os.getloadavg()[0]:.1f} at start"
    )
    for name in args.servers.split(","):
        (work / name).mkdir()
        server = kinds[name.strip()](work / name).start()
        try:
            results = measure(server, bodies, args.rounds)
        finally:
            server.stop()
        print(f"\n== {server.label}: server CPU per PUT (median; each round) and wall per PUT")
        for variant, runs in results.items():
            cpu = [c * 1000 for c, _ in runs]
            wall = statistics.median(w for _, w in runs) * 1000
            rounds = " ".join(f"{c:.2f}" for c in cpu)
            print(
                f"{variant:<38} {statistics.median(cpu):6.2f} ms   ({rounds})   wall {wall:5.2f} ms"
            )
    print(f"\nload {os.getloadavg()[0]:.1f} at the end")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
