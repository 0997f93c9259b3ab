"""What the static-file benchmarks (build.py, collectstatic.py) share.

The real-world npm tree they run on, a throwaway Django project per storage, commands timed in
wall-clock and CPU time, and a description of the machine and of the medium the outputs go to.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "npm"
TREE = FIXTURE / "node_modules"
# tmpfs by default: on a VM disk, file creation alone swings 25x from run to run (seen here: 33
# to 850 us per file), which measures the disk, not the tools. ``--work DIR`` measures a disk.
DEFAULT_WORK = (
    Path("/dev/shm/skewguard-bench") if Path("/dev/shm").is_dir() else ROOT / "bench" / ".work"
)
# The venv's own scripts (django-admin), whether or not the venv is activated.
BIN = Path(sys.executable).parent

DJANGO_SETTINGS = """
SECRET_KEY = "bench"
INSTALLED_APPS = ["django.contrib.staticfiles"]
STATIC_URL = "/static/"
STATIC_ROOT = {root!r}
STATICFILES_DIRS = {dirs!r}
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
LENIENT_MANIFEST = "bench_storages.LenientManifest"
LENIENT_WHITENOISE = "bench_storages.LenientWhiteNoise"
SKEWGUARD_STORAGE = "skewguard.contrib.django.storage.ManifestStorage"


def ensure_fixture() -> None:
    if not TREE.is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=FIXTURE, check=True
        )


def tree_stats(dirs: list[Path]) -> tuple[int, int]:
    """Files and bytes under ``dirs``."""
    files = size = 0
    for directory in dirs:
        for path in directory.rglob("*"):
            if path.is_file():
                files += 1
                size += path.stat().st_size
    return files, size


@dataclass
class Timing:
    wall: float
    cpu: float  # user + system of the process and every process it started
    stderr: str = ""


def timed(command: list[str], env: dict[str, str] | None = None) -> Timing:
    """Run ``command`` to completion; exit the benchmark with its error output if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return Timing(wall, cpu, result.stderr)


def best(repeat: int, run: Callable[[], Timing]) -> Timing:
    """The fastest of ``repeat`` runs, by wall-clock time; CPU time is that run's."""
    return min((run() for _ in range(max(1, repeat))), key=lambda t: t.wall)


def django_project(
    work: Path, name: str, backend: str, dirs: list[object] | None = None
) -> tuple[Path, dict[str, str]]:
    """A settings module for one storage, and the environment that selects it.

    ``dirs``: STATICFILES_DIRS (default: the whole tree as one entry). STATIC_ROOT is
    ``work/name``.
    """
    settings_dir = work / f"settings-{name}"
    settings_dir.mkdir(parents=True, exist_ok=True)
    out = work / name
    (settings_dir / "bench_settings.py").write_text(
        DJANGO_SETTINGS.format(root=str(out), dirs=dirs or [str(TREE)], backend=backend)
    )
    (settings_dir / "bench_storages.py").write_text(LENIENT_STORAGES)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": str(settings_dir),
    }
    return out, env


def compressed_bytes(out: Path, suffix: str) -> int:
    return sum(p.stat().st_size for p in out.rglob(f"*{suffix}") if p.is_file())


def compressed_sizes(out: Path) -> str:
    """``.gz 41.6 MB, .br 37.3 MB, ...`` for the siblings found under ``out``."""
    totals = {s: compressed_bytes(out, s) for s in (".gz", ".br", ".zst")}
    return ", ".join(f"{s} {n / 1e6:.1f} MB" for s, n in totals.items() if n) or "none"


def medium(path: Path) -> str:
    """The file system ``path`` is on, as ``tmpfs`` or ``disk (ext4)``, from /proc/self/mounts."""
    target = os.path.realpath(path)
    found, kind = "", "unknown"
    try:
        with open("/proc/self/mounts") as fh:
            for line in fh:
                fields = line.split()
                mount, fstype = fields[1], fields[2]
                inside = target == mount or target.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(found):
                    found, kind = mount, fstype
    except OSError:
        return "unknown"
    return "tmpfs" if kind in ("tmpfs", "ramfs") else f"disk ({kind})"


def machine(work: Path) -> str:
    return (
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"Python {platform.python_version()}; outputs on {medium(work)} in {work}"
    )
