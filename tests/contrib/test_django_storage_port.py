"""Django's own hashed-files tests (staticfiles_tests/test_storage.py), taken from the source
distribution of the installed Django and run against skewguard's storage.

Nothing of Django's is kept in this repository: the sdist is downloaded by pip (through its
cache) into ``~/.cache/skewguard-tests``. Run on the default interpreter (Python 3.11, Django 5.2
LTS) and, when ``make test`` created it, on ``.venv313`` (Python 3.13, Django 6).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ..conftest import IN_CI, ROOT

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "skewguard-tests"
VENV313 = ROOT / ".venv313" / "bin" / "python"
# Django 5.2 has 45 of the ported tests, later versions more; the port lists the ones it leaves
# out, with the reason.
MIN_TESTS = 45


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"CI: {message}")
    pytest.skip(message)


def django_version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import django; print(django.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def upstream_tests(python: str, version: str) -> Path:
    """``tests/`` of Django ``version``'s sdist, with ``staticfiles_tests`` extracted."""
    target = CACHE / f"django-{version}"
    marker = target / "tests" / "staticfiles_tests" / "test_storage.py"
    if marker.exists():
        return target / "tests"
    downloads = CACHE / "sdists"
    downloads.mkdir(parents=True, exist_ok=True)
    sdist = next(downloads.glob(f"[dD]jango-{version}.tar.gz"), None)
    if sdist is None:
        result = subprocess.run(
            [python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
            + ["-d", str(downloads), f"django=={version}"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        sdist = next(downloads.glob(f"[dD]jango-{version}.tar.gz"), None)
        if sdist is None:
            _unavailable(f"cannot download Django {version}'s sdist: {result.stderr[-500:]}")
    assert sdist is not None
    prefix = f"{sdist.name[: -len('.tar.gz')]}/tests/staticfiles_tests/"
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
        for member in members:
            member.name = member.name[len(sdist.name[: -len(".tar.gz")]) + 1 :]
        archive.extractall(target, members=members, filter="data")
    return target / "tests"


def interpreters() -> list:
    return [
        pytest.param(sys.executable, id="default"),
        pytest.param(str(VENV313), id="py313-django6"),
    ]


@pytest.mark.parametrize("python", interpreters())
def test_djangos_hashed_files_tests_pass_against_skewguards_storage(python):
    if not os.path.exists(python):
        _unavailable(f"{python} missing (make test creates .venv313 with Python 3.13 and Django 6)")
    version = django_version(python)
    if python == str(VENV313):
        assert version.startswith("6."), version
    tests = upstream_tests(python, version)
    result = subprocess.run(
        [python, "-m", "tests.contrib.django_storage_port", str(tests)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    summary = [line.split() for line in result.stdout.splitlines() if line.startswith("RAN ")]
    assert len(summary) == 1 and summary[0][2:] == ["FAILED", "0"], output[-3000:]
    assert int(summary[0][1]) >= MIN_TESTS, summary
    assert " ... ok" in result.stdout and "skipped" not in result.stdout.lower()
