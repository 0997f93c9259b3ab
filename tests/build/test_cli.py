"""The command line as a user runs it: exit codes, one-line errors, summary, --json, prune, version."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from skewguard.manifest import Manifest

from ..conftest import run_cli
from .helpers import manifest, write_tree

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def test_build_summary_and_version(tmp_path):
    src = write_tree(tmp_path / "src", {"a.css": "a{background:url(b.png)}", "b.png": PNG})
    result = run_cli("build", str(src), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "built 2 files" in result.stdout and "version" in result.stdout
    version = manifest(tmp_path / "out")["hash"]
    result = run_cli("version", str(tmp_path / "out"))
    assert result.returncode == 0 and result.stdout.strip() == f"{version} (source: manifest)"


def test_build_json_and_quiet(tmp_path):
    src = write_tree(tmp_path / "src", {"a.css": "a{background:url(nope.png)}"})
    result = run_cli("build", str(src), "--out", str(tmp_path / "out"), "--json")
    summary = json.loads(result.stdout)
    assert summary["files"] == 1 and summary["missing"] == ["a.css:1: missing reference 'nope.png'"]
    result = run_cli("build", str(src), "--out", str(tmp_path / "out2"), "--quiet")
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""


def test_jobs_sets_the_worker_processes(tmp_path):
    # Enough files that a build with workers takes the parallel path.
    src = write_tree(tmp_path / "src", {f"f{i}.txt": f"line {i}\n" * 60 for i in range(300)})
    summaries = {}
    for jobs in ("1", "2"):
        result = run_cli(
            "build", str(src), "--out", str(tmp_path / f"out{jobs}"), "--jobs", jobs, "--json"
        )
        assert result.returncode == 0, result.stderr
        summaries[jobs] = json.loads(result.stdout)
    assert summaries["1"]["processes"] == 1 and summaries["2"]["processes"] == 2
    assert summaries["1"]["version"] == summaries["2"]["version"]
    assert summaries["1"]["compressed"] == summaries["2"]["compressed"] > 0


def test_strict_lists_every_missing_reference_and_exits_1(tmp_path):
    src = write_tree(
        tmp_path / "src", {"a.css": "a{background:url(x.png)}\nb{background:url(y.png)}"}
    )
    result = run_cli("build", str(src), "--out", str(tmp_path / "out"), "--strict")
    assert result.returncode == 1
    assert "a.css:1: missing reference 'x.png'" in result.stderr
    assert "a.css:2: missing reference 'y.png'" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_errors_are_one_line_without_traceback(tmp_path):
    src = write_tree(tmp_path / "src", {"a.css": "a{}"})
    cases = [
        (["build", str(tmp_path / "nope"), "--out", str(tmp_path / "o")], 1, "does not exist"),
        (
            ["build", str(src), "--out", str(tmp_path / "o"), "--passthrough", "("],
            2,
            "regular expression",
        ),
        (["prune", str(tmp_path / "o2"), "--max-age", "soon"], 2, "invalid duration"),
        (["version", str(tmp_path / "nowhere")], 1, "manifest not found"),
        (["build"], 2, "Missing argument"),
        (["build", str(src), "--out", str(tmp_path / "o"), "--jobs", "0"], 2, "--jobs"),
    ]
    for args, code, text in cases:
        result = run_cli(*args)
        assert result.returncode == code, (args, result.stderr)
        assert text in result.stderr
        assert "Traceback" not in result.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "staticfiles.json").write_text("garbage")
    result = run_cli("build", str(src), "--out", str(tmp_path / "bad"))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "bad" / "staticfiles.json").read_text() == "garbage"


def test_every_command_has_help():
    for command in ([], ["build"], ["prune"], ["version"]):
        result = run_cli(*command, "--help")
        assert result.returncode == 0 and "Usage:" in result.stdout


def _set_built_at(out: Path, release_index: int, when: datetime) -> None:
    path = out / ".skewguard" / "releases.json"
    history = json.loads(path.read_text())
    history["releases"][release_index]["built_at"] = when.isoformat()
    path.write_text(json.dumps(history))


def test_prune_keeps_window_and_deletes_only_unneeded_files(tmp_path):
    src = write_tree(tmp_path / "src", {"shared.png": PNG, "a.css": "v0"})
    out = tmp_path / "out"
    names = []
    for version in range(5):
        (src / "a.css").write_text(f"a{{content:'v{version}'}}" * 30)
        assert run_cli("build", str(src), "--out", str(out), "-q").returncode == 0
        names.append(manifest(out)["paths"]["a.css"])
    old = datetime.now(UTC) - timedelta(days=30)
    for index in range(5):
        _set_built_at(out, index, old)
    shared = manifest(out)["paths"]["shared.png"]

    dry = run_cli("prune", str(out), "--keep", "2", "--max-age", "7d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert all((out / n).exists() for n in names)  # dry run deletes nothing
    assert f"would delete {names[0]}" in dry.stdout

    result = run_cli("prune", str(out), "--keep", "2", "--max-age", "7d")
    assert result.returncode == 0, result.stderr
    for n in names[:3]:
        assert not (out / n).exists() and not (out / (n + ".gz")).exists()
    for n in names[3:]:
        assert (out / n).exists()
    assert (out / shared).exists()  # needed by the kept releases
    assert (out / "a.css").exists()  # the current canonical copy
    history = json.loads((out / ".skewguard/releases.json").read_text())["releases"]
    assert len(history) == 2


def test_prune_keeps_young_releases_and_always_the_current_one(tmp_path):
    src = write_tree(tmp_path / "src", {"a.css": "v0"})
    out = tmp_path / "out"
    names = []
    for version in range(3):
        (src / "a.css").write_text(f"v{version}")
        run_cli("build", str(src), "--out", str(out), "-q")
        names.append(manifest(out)["paths"]["a.css"])
    # Only the first release is old; with --keep 1 the young second one stays too.
    _set_built_at(out, 0, datetime.now(UTC) - timedelta(days=30))
    assert run_cli("prune", str(out), "--keep", "1").returncode == 0
    assert not (out / names[0]).exists() and (out / names[1]).exists() and (out / names[2]).exists()
    # Everything old, --keep 1: the current release survives.
    for i in range(2):
        _set_built_at(out, i, datetime.now(UTC) - timedelta(days=30))
    assert run_cli("prune", str(out), "--keep", "1", "--max-age", "1s").returncode == 0
    assert (out / names[2]).exists() and not (out / names[1]).exists()


def test_a_build_killed_at_any_moment_leaves_the_previous_release_serving(tmp_path):
    files = {
        f"pkg{i}/style{j}.css": (f".c{j}{{background:url(../img/{j}.png)}}\n" * 200)
        for i in range(20)
        for j in range(40)
    }
    files.update({f"img/{j}.png": PNG + bytes([j]) for j in range(40)})
    src = write_tree(tmp_path / "src", files)
    out = tmp_path / "out"
    assert run_cli("build", str(src), "--out", str(out), "-q").returncode == 0
    for delay in (0.3, 0.6, 0.9, 1.2, 1.5):
        before = (out / "staticfiles.json").read_bytes()
        for path in (src / "img").iterdir():  # every CSS file changes name
            path.write_bytes(path.read_bytes() + str(delay).encode())
        proc = subprocess.Popen(
            [sys.executable, "-m", "skewguard", "build", str(src), "--out", str(out), "-q"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        now = (out / "staticfiles.json").read_bytes()
        current = Manifest.parse(now)
        assert now == before or current.is_skewguard  # old or new, never torn
        for hashed in current.paths.values():  # whatever the manifest names exists, complete
            assert (out / hashed).is_file()
        for name, info in current.files.items():
            assert (out / name).stat().st_size == info.size
    # And the next build completes normally.
    assert run_cli("build", str(src), "--out", str(out), "-q").returncode == 0


def test_one_build_at_a_time_and_a_killed_build_frees_the_directory(tmp_path):
    from skewguard.build.lock import exclusive

    files = {f"pkg{i}/data{j}.txt": f"{i} {j}\n" * 4000 for i in range(30) for j in range(100)}
    src = write_tree(tmp_path / "src", files)
    out = tmp_path / "out"
    (out / ".skewguard").mkdir(parents=True)
    with exclusive(str(out / ".skewguard")):
        result = run_cli("build", str(src), "--out", str(out), "-q")
    assert result.returncode == 1 and "another build or prune is running" in result.stderr

    # SIGKILL to the main process alone (an OOM kill, a deploy tool's kill -9): its worker
    # processes may still be finishing a chunk, but the directory is free at once.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skewguard",
            "build",
            str(src),
            "--out",
            str(out),
            "-q",
            "--jobs",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while (
        not any(out.glob("pkg*/data*.txt")) and time.monotonic() < deadline
    ):  # workers are writing
        time.sleep(0.01)
    workers = _children(proc.pid)
    assert workers, "the build should have started worker processes"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    result = run_cli("build", str(src), "--out", str(out), "-q")
    assert result.returncode == 0, result.stderr
    assert len(manifest(out)["paths"]) == len(files)
    # The orphaned workers do not linger.
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)


def test_a_worker_killed_mid_build_is_one_line_and_publishes_nothing(tmp_path):
    files = {
        f"pkg{i}/data{j}.css": f".a{j}{{color:red}}\n" * 3000 for i in range(30) for j in range(100)
    }
    src = write_tree(tmp_path / "src", files)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "skewguard", "build", str(src), "--out", str(out), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while (
        not any(out.glob("pkg*/data*.css")) and time.monotonic() < deadline
    ):  # workers are writing
        time.sleep(0.01)
    workers = _children(proc.pid)
    assert workers
    os.kill(workers[0], signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    assert stderr.strip().splitlines() == [
        "skewguard: error: a worker process of the build died (killed, or out of memory?); "
        "the previous release is untouched: build again, or with --jobs 1"
    ]
    assert not (out / "staticfiles.json").exists()
    assert run_cli("build", str(src), "--out", str(out), "-q").returncode == 0


def _children(pid: int) -> list[int]:
    """Child processes of ``pid`` (Linux /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def test_progress_bar_on_a_terminal_only(tmp_path):
    src = write_tree(tmp_path / "src", {f"f{i}.txt": f"line {i}\n" * 60 for i in range(300)})
    # stderr is a pseudo-terminal: the bar is drawn there and reaches the total.
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "skewguard", "build", str(src), "--out", str(tmp_path / "tty")],
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
    )
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    text = drawn.decode(errors="replace")
    assert "building" in text and "300/300" in text, text
    assert "built 300 files" in stdout
    # Not a terminal (a pipe, a CI log): no bar, just the summary.
    result = run_cli("build", str(src), "--out", str(tmp_path / "pipe"))
    assert (
        result.returncode == 0
        and "building" not in result.stderr
        and "built 300 files" in result.stdout
    )
