"""collectstatic speed: skewguard's storage vs ManifestStaticFilesStorage and WhiteNoise.

Run by hand (not part of the test suite):   .venv/bin/python bench/collectstatic.py

The tree is the real-world npm fixture of the test suite (tests/fixtures/npm), as one
STATICFILES_DIRS entry. Every tool runs as its own ``django-admin collectstatic`` process into
the same place (``--work``: tmpfs by default, or a directory on disk), in the same run, and the
ratios are printed at the end. Rows:

- ManifestStaticFilesStorage (compresses nothing) and WhiteNoise's
  CompressedManifestStaticFilesStorage, each with a subclass that keeps a reference to a missing
  file as written (unmodified, both abort on the tree's first missing reference);
- skewguard's storage with ``SKEWGUARD_COMPRESS=0`` and with compression (the default);
- a rerun of skewguard's storage after one CSS file changed: the whole process, and skewguard's
  own part (``post_process``), timed inside the process.

Options: --repeat N (best of N), --skip-whitenoise (it takes minutes), --work DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "npm"
TREE = FIXTURE / "node_modules"
WORK = (
    Path("/dev/shm/skewguard-bench-cs") if Path("/dev/shm").is_dir() else ROOT / "bench" / ".work"
)

SETTINGS = """
SECRET_KEY = "bench"
INSTALLED_APPS = ["django.contrib.staticfiles"]
STATIC_URL = "/static/"
STATIC_ROOT = {root!r}
STATICFILES_DIRS = [{tree!r}]
STORAGES = {{"default": {{"BACKEND": "django.core.files.storage.FileSystemStorage"}},
            "staticfiles": {{"BACKEND": {backend!r}}}}}
"""
STORAGES = """
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class _KeepMissing:
    def hashed_name(self, name, content=None, filename=None):
        try:
            return super().hashed_name(name, content, filename)
        except ValueError:
            return name


class LenientManifest(_KeepMissing, ManifestStaticFilesStorage):
    pass


class LenientWhiteNoise(_KeepMissing, CompressedManifestStaticFilesStorage):
    pass
"""
# Runs collectstatic like django-admin does, and reports how long the storage's post_process
# took (skewguard's own part of a rerun) on the last line of stderr.
DRIVER = """
import json, sys, time
import django
from django.core.management import execute_from_command_line
from skewguard.contrib.django.storage import ManifestStorage

original = ManifestStorage.post_process
spent = []

def timed_post_process(self, *args, **kwargs):
    started, cpu = time.perf_counter(), time.process_time()
    yield from original(self, *args, **kwargs)
    spent.append((time.perf_counter() - started, time.process_time() - cpu))

ManifestStorage.post_process = timed_post_process
execute_from_command_line(["django-admin", "collectstatic", "--noinput", "-v0"])
wall, cpu = (sum(s[i] for s in spent) for i in (0, 1))
print(json.dumps({"post_process": wall, "cpu": cpu}), file=sys.stderr)
"""
SKEWGUARD = "skewguard.contrib.django.storage.ManifestStorage"


def ensure_fixture() -> None:
    if not TREE.is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=FIXTURE, check=True
        )


def project(work: Path, name: str, backend: str) -> tuple[Path, dict[str, str]]:
    settings_dir = work / f"settings-{name}"
    settings_dir.mkdir(parents=True, exist_ok=True)
    out = work / name
    (settings_dir / "bench_settings.py").write_text(
        SETTINGS.format(root=str(out), tree=str(TREE), backend=backend)
    )
    (settings_dir / "bench_storages.py").write_text(STORAGES)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": str(settings_dir),
    }
    return out, env


# CPU seconds (user + system, the process and its workers) of every command run, by label: on a
# shared machine under load, wall-clock time measures the neighbours as much as the tools.
CPU: dict[str, float] = {}


def run(command: list[str], env: dict[str, str], label: str = "") -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if label:
        CPU[label] = min(CPU.get(label, cpu), cpu)
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return elapsed, result.stderr


def collectstatic(work: Path, name: str, backend: str, clean: bool = True, **env: str) -> float:
    out, environ = project(work, name, backend)
    if clean:
        shutil.rmtree(out, ignore_errors=True)
    seconds, _ = run(
        ["django-admin", "collectstatic", "--noinput", "-v0"], {**environ, **env}, label=name
    )
    return seconds


def rerun_after_css_change(work: Path, name: str) -> tuple[float, float]:
    """Change one CSS file of the tree (restored afterwards); time the rerun."""
    out, environ = project(work, name, SKEWGUARD)
    css = TREE / "bootstrap" / "dist" / "css" / "bootstrap.css"
    original = css.read_bytes()
    try:
        css.write_bytes(original + b"\n/* bench change */\n")
        driver = work / "driver.py"
        driver.write_text(DRIVER)
        seconds, stderr = run([sys.executable, str(driver)], environ, label="rerun")
    finally:
        css.write_bytes(original)
    spent = json.loads(stderr.strip().splitlines()[-1])
    CPU["post_process"] = min(CPU.get("post_process", spent["cpu"]), spent["cpu"])
    return seconds, spent["post_process"]


def sizes(out: Path) -> str:
    totals = {
        s: sum(p.stat().st_size for p in out.rglob(f"*{s}") if p.is_file())
        for s in (".gz", ".br", ".zst")
    }
    return ", ".join(f"{s} {n / 1e6:.1f} MB" for s, n in totals.items() if n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-whitenoise", action="store_true")
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args()
    work = args.work.resolve()
    ensure_fixture()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    files = sum(1 for p in TREE.rglob("*") if p.is_file())
    print(
        f"tree: {files} files; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
        f"Python {platform.python_version()}; outputs in {work}"
    )

    def best(fn) -> float:
        return min(fn() for _ in range(args.repeat))

    results: dict[str, float] = {}
    results["django"] = best(
        lambda: collectstatic(work, "django", "bench_storages.LenientManifest")
    )
    results["sg_off"] = best(
        lambda: collectstatic(work, "sg-off", SKEWGUARD, SKEWGUARD_COMPRESS="0")
    )
    results["sg_on"] = best(lambda: collectstatic(work, "sg-on", SKEWGUARD))
    rerun, own = min(rerun_after_css_change(work, "sg-on") for _ in range(max(1, args.repeat)))
    if not args.skip_whitenoise:
        results["whitenoise"] = best(
            lambda: collectstatic(work, "whitenoise", "bench_storages.LenientWhiteNoise")
        )

    def row(label: str, seconds: float, note: str = "", cpu: str = "") -> None:
        cpu_text = f"{CPU[cpu]:7.2f} s CPU" if cpu in CPU else " " * 13
        print(f"{label:<58} {seconds:8.2f} s {cpu_text}  {note}")

    print()
    print(f"{'':<58} {'wall':>10} {'CPU':>13}")
    row("ManifestStaticFilesStorage", results["django"], cpu="django")
    row(
        "skewguard ManifestStorage, SKEWGUARD_COMPRESS=0",
        results["sg_off"],
        f"{results['django'] / results['sg_off']:.1f}x faster than Manifest (target >= 3x)",
        cpu="sg-off",
    )
    row(
        "skewguard ManifestStorage (gzip + brotli + zstd)",
        results["sg_on"],
        f"{results['sg_on'] / results['django']:.2f}x Manifest's time (target <= 1.5x)",
        cpu="sg-on",
    )
    if "whitenoise" in results:
        row(
            "WhiteNoise CompressedManifestStaticFilesStorage",
            results["whitenoise"],
            cpu="whitenoise",
        )
        print(
            f"{'':<58} skewguard (compressing) {results['whitenoise'] / results['sg_on']:.1f}x "
            "faster than WhiteNoise (target >= 10x)"
        )
    row("skewguard rerun after one CSS file changed, whole process", rerun, cpu="rerun")
    row("  of which skewguard's post_process", own, "(target < 1 s)", cpu="post_process")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print()
    print(f"compressed output: skewguard {sizes(work / 'sg-on')}")
    if "whitenoise" in results:
        print(f"                   WhiteNoise {sizes(work / 'whitenoise')}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
