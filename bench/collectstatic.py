"""collectstatic speed: skewguard's storage vs ManifestStaticFilesStorage and WhiteNoise.

Run by hand (not part of the test suite), one command per medium:

    .venv/bin/python bench/collectstatic.py                     # outputs on tmpfs (/dev/shm)
    .venv/bin/python bench/collectstatic.py --work bench/.work  # outputs on the disk

The tree is the real-world npm fixture of the test suite (tests/fixtures/npm), as one
STATICFILES_DIRS entry. Every storage runs as its own ``django-admin collectstatic`` process into
the same place, in the same run; the table gives wall-clock and CPU time (user + system, the
process and its workers) and each ratio against its target. Rows:

- ManifestStaticFilesStorage (compresses nothing) and WhiteNoise's
  CompressedManifestStaticFilesStorage, each with a subclass that keeps a reference to a missing
  file as written (unmodified, both abort on the tree's first missing reference);
- skewguard's storage with ``SKEWGUARD_COMPRESS=0`` and with compression (the default);
- a rerun of skewguard's storage after one CSS file changed: the whole process, and skewguard's
  own part (``post_process``), timed inside the process.

Options: --repeat N (best of N), --skip-whitenoise (it takes minutes), --work DIR, --quick (a
few packages of the tree, no WhiteNoise: for iterating on the storage).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from harness import (
    BIN,
    DEFAULT_WORK,
    LENIENT_MANIFEST,
    LENIENT_WHITENOISE,
    SKEWGUARD_STORAGE,
    TREE,
    Timing,
    best,
    compressed_sizes,
    django_project,
    ensure_fixture,
    machine,
    timed,
    tree_stats,
)

WORK = DEFAULT_WORK.with_name(DEFAULT_WORK.name + "-cs")
# --quick: about a tenth of the tree, with CSS, JS modules, fonts and the rerun's CSS file.
QUICK_PACKAGES = ["bootstrap", "leaflet", "katex", "font-awesome", "quill", "@popperjs"]
RERUN_CSS = TREE / "bootstrap" / "dist" / "css" / "bootstrap.css"

# Runs collectstatic like django-admin does, and reports how long the storage's post_process
# took (skewguard's own part of a rerun) on the last line of stderr.
DRIVER = """
import json, sys, time
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
print(json.dumps({"wall": wall, "cpu": cpu}), file=sys.stderr)
"""


class Bench:
    def __init__(self, work: Path, dirs: list[object] | None) -> None:
        self.work = work
        self.dirs = dirs

    def collectstatic(self, name: str, backend: str, **env: str) -> Timing:
        out, environ = django_project(self.work, name, backend, self.dirs)
        shutil.rmtree(out, ignore_errors=True)
        return timed(
            [str(BIN / "django-admin"), "collectstatic", "--noinput", "-v0"], {**environ, **env}
        )

    def rerun_after_css_change(self, name: str) -> tuple[Timing, Timing]:
        """Change one CSS file of the tree (restored afterwards); time the rerun: the whole
        process, and its post_process (CPU of the main process: a rerun forks no workers)."""
        _, environ = django_project(self.work, name, SKEWGUARD_STORAGE, self.dirs)
        original = RERUN_CSS.read_bytes()
        driver = self.work / "driver.py"
        driver.write_text(DRIVER)
        try:
            RERUN_CSS.write_bytes(original + b"\n/* bench change */\n")
            whole = timed([sys.executable, str(driver)], environ)
        finally:
            RERUN_CSS.write_bytes(original)
        own = json.loads(whole.stderr.strip().splitlines()[-1])
        return whole, Timing(own["wall"], own["cpu"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-whitenoise", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a few packages, no WhiteNoise")
    parser.add_argument("--work", type=Path, default=WORK, help=f"output directory ({WORK})")
    args = parser.parse_args()
    work = args.work.resolve()
    ensure_fixture()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if args.quick:
        dirs: list[object] | None = [(p, str(TREE / p)) for p in QUICK_PACKAGES]
        files, size = tree_stats([TREE / p for p in QUICK_PACKAGES])
    else:
        dirs = None
        files, size = tree_stats([TREE])
    print(f"tree: {files} files, {size / 1e6:.0f} MB{' (--quick)' if args.quick else ''}")
    print(f"start: {machine(work)}")
    bench = Bench(work, dirs)
    skip_whitenoise = args.skip_whitenoise or args.quick

    django = best(args.repeat, lambda: bench.collectstatic("django", LENIENT_MANIFEST))
    off = best(
        args.repeat,
        lambda: bench.collectstatic("sg-off", SKEWGUARD_STORAGE, SKEWGUARD_COMPRESS="0"),
    )
    on = best(args.repeat, lambda: bench.collectstatic("sg-on", SKEWGUARD_STORAGE))
    reruns = [bench.rerun_after_css_change("sg-on") for _ in range(max(1, args.repeat))]
    rerun, own = min(reruns, key=lambda pair: pair[1].wall)
    whitenoise = None
    if not skip_whitenoise:
        whitenoise = best(
            args.repeat, lambda: bench.collectstatic("whitenoise", LENIENT_WHITENOISE)
        )

    def verdict(met_wall: bool, met_cpu: bool) -> str:
        if met_wall and met_cpu:
            return "met"
        if met_wall or met_cpu:
            return "met (wall only)" if met_wall else "met (CPU only)"
        return "NOT met"

    rows: list[tuple[str, Timing, str]] = [("ManifestStaticFilesStorage", django, "")]
    wall, cpu = django.wall / off.wall, django.cpu / off.cpu
    rows.append(
        (
            "skewguard, SKEWGUARD_COMPRESS=0",
            off,
            f"{wall:.1f}x / {cpu:.1f}x faster than Manifest; >= 3x: {verdict(wall >= 3, cpu >= 3)}",
        )
    )
    wall, cpu = on.wall / django.wall, on.cpu / django.cpu
    rows.append(
        (
            "skewguard, gzip + brotli + zstd",
            on,
            f"{wall:.2f}x / {cpu:.2f}x Manifest's time; <= 1.5x: {verdict(wall <= 1.5, cpu <= 1.5)}",
        )
    )
    if whitenoise is not None:
        wall, cpu = whitenoise.wall / on.wall, whitenoise.cpu / on.cpu
        rows.append(
            (
                "WhiteNoise CompressedManifestStaticFiles",
                whitenoise,
                f"skewguard {wall:.1f}x / {cpu:.1f}x faster; >= 10x: {verdict(wall >= 10, cpu >= 10)}",
            )
        )
    rows.append(("rerun, one CSS file changed: process", rerun, ""))
    rows.append(
        (
            "  of which skewguard's post_process",
            own,
            f"< 1 s: {verdict(own.wall < 1, own.cpu < 1)}",
        )
    )
    print()
    print(f"{'':<42} {'wall':>9} {'CPU':>9}  ratio wall / CPU; target")
    for label, timing, note in rows:
        print(f"{label:<42} {timing.wall:7.2f} s {timing.cpu:7.2f} s  {note}")
    print()
    if args.quick:
        print(
            "(--quick: a tenth of the tree, start-up weighs more; the targets are for the whole tree)"
        )
    print(f"end: {machine(work)}")
    print(f"compressed output: skewguard  {compressed_sizes(work / 'sg-on')}")
    if whitenoise is not None:
        print(f"                   WhiteNoise {compressed_sizes(work / 'whitenoise')}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
