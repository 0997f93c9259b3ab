"""Build speed: skewguard vs Django's collectstatic (ManifestStaticFilesStorage) and WhiteNoise.

Run by hand (not part of the test suite):   make bench      (or: .venv/bin/python bench/build.py)

The tree is the real-world npm fixture of the test suite (tests/fixtures/npm: ~10,500 files,
~110 MB of fonts, icons, CSS frameworks, a rich-text editor, an API docs UI). Every tool runs as
its own command-line process, the way a deploy runs it, in the same run on the same machine, and
the ratios are printed at the end, with wall-clock and CPU time. Options: --repeat N (best of N,
default 1), --work DIR (default tmpfs; a directory on a disk measures the disk).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import harness
from harness import TREE, Timing

WORK = harness.DEFAULT_WORK
SKEWGUARD = [sys.executable, "-m", "skewguard"]


def django_collectstatic(work: Path, name: str, backend: str) -> Timing:
    out, env = harness.django_project(work, name, backend)
    shutil.rmtree(out, ignore_errors=True)
    return harness.timed([sys.executable, "-m", "django", "collectstatic", "--noinput", "-v0"], env)


def skewguard_build(out: Path, *extra: str, clean: bool = True) -> Timing:
    if clean:
        shutil.rmtree(out, ignore_errors=True)
    return harness.timed([*SKEWGUARD, "build", str(TREE), "--out", str(out), "-q", *extra])


def copy_tree(out: Path) -> Timing:
    """What copying the files costs with no hashing, parsing or manifest at all (GNU cp, in C)."""
    shutil.rmtree(out, ignore_errors=True)
    return harness.timed(["cp", "-r", str(TREE), str(out)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--work", type=Path, default=WORK, help=f"output directory (default {WORK})"
    )
    args = parser.parse_args()
    work = args.work.resolve()
    harness.ensure_fixture()
    work.mkdir(parents=True, exist_ok=True)
    files, size = harness.tree_stats([TREE])
    print(f"tree: {files} files, {size / 1e6:.0f} MB")
    print(f"start: {harness.machine(work)}")

    results: dict[str, Timing] = {}
    results["django"] = harness.best(
        args.repeat, lambda: django_collectstatic(work, "django", harness.LENIENT_MANIFEST)
    )
    results["skewguard"] = harness.best(
        args.repeat, lambda: skewguard_build(work / "sg", "--no-compress")
    )
    results["skewguard_1"] = harness.best(
        args.repeat, lambda: skewguard_build(work / "sg1", "--no-compress", "--jobs", "1")
    )
    results["cp"] = harness.best(args.repeat, lambda: copy_tree(work / "cp"))
    results["whitenoise"] = harness.best(
        args.repeat, lambda: django_collectstatic(work, "whitenoise", harness.LENIENT_WHITENOISE)
    )
    results["skewguard_compress"] = harness.best(args.repeat, lambda: skewguard_build(work / "sgc"))
    results["noop"] = harness.best(
        max(5, args.repeat), lambda: skewguard_build(work / "sgc", clean=False)
    )

    def row(label: str, key: str, faster_than: str = "") -> None:
        timing = results[key]
        note = ""
        if faster_than:
            note = f"{results[faster_than].wall / timing.wall:.1f}x faster"
        print(f"{label:<58} {timing.wall:8.2f} s {timing.cpu:8.2f} s  {note}")

    print()
    print(f"{'':<58} {'wall':>10} {'CPU':>10}")
    row("Django collectstatic, ManifestStaticFilesStorage", "django")
    row("skewguard build --no-compress", "skewguard", "django")
    row("skewguard build --no-compress --jobs 1 (no worker processes)", "skewguard_1", "django")
    row("cp -r of the same tree (copying alone: the floor for any tool)", "cp", "django")
    row("WhiteNoise collectstatic, CompressedManifestStaticFiles", "whitenoise")
    row("skewguard build (gzip + brotli + zstd)", "skewguard_compress", "whitenoise")
    row("skewguard build, no-op rebuild (best of 5, whole process)", "noop")
    print()
    print(f"end: {harness.machine(work)}")
    for label, out in (("WhiteNoise", work / "whitenoise"), ("skewguard", work / "sgc")):
        print(f"{label:<10} compressed output: {harness.compressed_sizes(out)}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
