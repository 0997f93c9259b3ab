"""Build speed: skewguard vs Django's collectstatic (ManifestStaticFilesStorage) and WhiteNoise.

Run by hand (not part of the test suite):   make bench      (or: .venv/bin/python bench/build.py)

The tree is the real-world npm fixture of the test suite (tests/fixtures/npm: ~10,500 files,
~110 MB of fonts, icons, CSS frameworks, a rich-text editor, an API docs UI). Every tool runs as
its own command-line process, the way a deploy runs it, in the same run on the same machine, and
the ratios are printed at the end. Options: --repeat N (best of N, default 1).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "npm"
TREE = FIXTURE / "node_modules"
# Outputs go to tmpfs when there is one: on a VM disk, file creation alone swings 25x from run to
# run (seen here: 33 to 850 us per file), which would measure the disk, not the tools.
WORK = Path("/dev/shm/skewguard-bench") if Path("/dev/shm").is_dir() else ROOT / "bench" / ".work"
SKEWGUARD = [sys.executable, "-m", "skewguard"]

DJANGO_SETTINGS = """
SECRET_KEY = "bench"
INSTALLED_APPS = ["django.contrib.staticfiles"]
STATIC_URL = "/static/"
STATIC_ROOT = {root!r}
STATICFILES_DIRS = [{tree!r}]
STORAGES = {{"default": {{"BACKEND": "django.core.files.storage.FileSystemStorage"}},
            "staticfiles": {{"BACKEND": {backend!r}}}}}
"""
# Both Django storages abort on the first reference to a missing file (ValueError), and the real
# tree has some (extensionless ES module imports in leaflet/src, for one). This subclass keeps the
# missing reference as written -- what skewguard does -- so the peers can finish at all.
LENIENT_STORAGES = """
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


def ensure_fixture() -> None:
    if not TREE.is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=FIXTURE, check=True
        )


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def django_collectstatic(backend: str, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    settings_dir = Path(tempfile.mkdtemp(prefix="bench-settings-"))
    (settings_dir / "bench_settings.py").write_text(
        DJANGO_SETTINGS.format(root=str(out), tree=str(TREE), backend=backend)
    )
    (settings_dir / "bench_storages.py").write_text(LENIENT_STORAGES)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": str(settings_dir),
    }
    return timed([sys.executable, "-m", "django", "collectstatic", "--noinput", "-v0"], env)


def skewguard_build(out: Path, *extra: str, clean: bool = True) -> float:
    if clean:
        shutil.rmtree(out, ignore_errors=True)
    return timed([*SKEWGUARD, "build", str(TREE), "--out", str(out), "-q", *extra])


def copy_tree(out: Path) -> float:
    """What copying the files costs with no hashing, parsing or manifest at all (GNU cp, in C)."""
    shutil.rmtree(out, ignore_errors=True)
    return timed(["cp", "-r", str(TREE), str(out)])


def compressed_bytes(out: Path, suffix: str) -> int:
    return sum(p.stat().st_size for p in out.rglob(f"*{suffix}") if p.is_file())


def best(repeat: int, run) -> float:
    return min(run() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--work", type=Path, default=WORK, help=f"output directory (default {WORK})"
    )
    args = parser.parse_args()
    work = args.work
    ensure_fixture()
    work.mkdir(parents=True, exist_ok=True)
    files = sum(1 for p in TREE.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in TREE.rglob("*") if p.is_file())
    print(
        f"tree: {files} files, {size / 1e6:.0f} MB; {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"outputs in {work}"
    )

    results: dict[str, float] = {}
    results["django"] = best(
        args.repeat, lambda: django_collectstatic("bench_storages.LenientManifest", work / "django")
    )
    results["skewguard"] = best(args.repeat, lambda: skewguard_build(work / "sg", "--no-compress"))
    results["skewguard_1"] = best(
        args.repeat, lambda: skewguard_build(work / "sg1", "--no-compress", "--jobs", "1")
    )
    results["cp"] = best(args.repeat, lambda: copy_tree(work / "cp"))
    results["whitenoise"] = best(
        args.repeat,
        lambda: django_collectstatic("bench_storages.LenientWhiteNoise", work / "whitenoise"),
    )
    results["skewguard_compress"] = best(args.repeat, lambda: skewguard_build(work / "sgc"))
    results["noop"] = min(
        skewguard_build(work / "sgc", clean=False) for _ in range(max(5, args.repeat))
    )

    def row(label: str, seconds: float, note: str = "") -> None:
        print(f"{label:<58} {seconds:8.2f} s  {note}")

    print()
    row("Django collectstatic, ManifestStaticFilesStorage", results["django"])
    row(
        "skewguard build --no-compress",
        results["skewguard"],
        f"{results['django'] / results['skewguard']:.1f}x faster",
    )
    row(
        "skewguard build --no-compress --jobs 1 (no worker processes)",
        results["skewguard_1"],
        f"{results['django'] / results['skewguard_1']:.1f}x faster",
    )
    row(
        "cp -r of the same tree (copying alone: the floor for any tool)",
        results["cp"],
        f"{results['django'] / results['cp']:.1f}x faster",
    )
    row("WhiteNoise collectstatic, CompressedManifestStaticFiles", results["whitenoise"])
    row(
        "skewguard build (gzip + brotli + zstd)",
        results["skewguard_compress"],
        f"{results['whitenoise'] / results['skewguard_compress']:.1f}x faster",
    )
    row("skewguard build, no-op rebuild (best of 5, whole process)", results["noop"])
    print()
    for label, out in (("WhiteNoise", work / "whitenoise"), ("skewguard", work / "sgc")):
        print(
            f"{label:<10} compressed output: .gz {compressed_bytes(out, '.gz') / 1e6:.1f} MB, "
            f".br {compressed_bytes(out, '.br') / 1e6:.1f} MB, .zst {compressed_bytes(out, '.zst') / 1e6:.1f} MB"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
