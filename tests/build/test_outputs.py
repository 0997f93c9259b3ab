"""Names the build owns: sources that would collide with them, real archives beside their
originals, and the temporaries a killed build leaves behind."""

from __future__ import annotations

import gzip
import os

import pytest

from skewguard.build import BuildError, BuildOptions, apply_prune, build, plan_prune
from skewguard.build.history import parse_duration

from ..conftest import run_cli
from .helpers import manifest, write_tree

CSV = "id,name\n" + "".join(f"{i},row number {i}\n" for i in range(200))


@pytest.mark.parametrize(
    "name", ["staticfiles.json", ".skewguard/releases.json", ".skewguard/registry.json"]
)
def test_a_source_on_a_name_the_build_writes_is_refused(tmp_path, name):
    src = write_tree(tmp_path / "src", {"app.css": "a{}", name: '{"version": "1.1"}'})
    out = tmp_path / "out"
    # Hidden files are skipped by the CLI's scan; Django's --no-default-ignore lets them through.
    from skewguard.build import build_collected
    from skewguard.build.sources import SourceFile, SourceSpec

    files = {
        p.relative_to(src).as_posix(): SourceFile(
            p.relative_to(src).as_posix(), str(p), p.stat().st_size, p.stat().st_mtime_ns
        )
        for p in src.rglob("*")
        if p.is_file()
    }
    with pytest.raises(BuildError) as raised:
        build_collected(files, [SourceSpec(str(src), "")], str(out))
    message = str(raised.value)
    assert "\n" not in message and str(src / name) in message and "rename it" in message
    assert not (out / "staticfiles.json").exists()


def test_cli_refuses_a_staticfiles_json_source_and_publishes_nothing(tmp_path):
    src = write_tree(tmp_path / "src", {"app.css": "a{}", "staticfiles.json": "{}"})
    result = run_cli("build", str(src), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "would be written over the build's manifest staticfiles.json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "out" / "staticfiles.json").exists()
    # Once renamed, the build runs.
    os.rename(src / "staticfiles.json", src / "data.json")
    assert run_cli("build", str(src), "--out", str(tmp_path / "out")).returncode == 0


def test_a_real_archive_beside_its_original_is_never_claimed_as_its_sibling(tmp_path):
    archive = gzip.compress(b"a different archive, not data.csv\n" * 50, mtime=0)
    src = write_tree(tmp_path / "src", {"dl/data.csv": CSV, "dl/data.csv.gz": archive})
    out = tmp_path / "out"
    build([str(src)], str(out))
    doc = manifest(out)
    hashed_csv = doc["paths"]["dl/data.csv"]
    assert "gzip" not in doc["files"][hashed_csv]["encodings"]
    assert "br" in doc["files"][hashed_csv]["encodings"]  # other encodings still apply
    assert not (out / (hashed_csv + ".gz")).exists()
    assert (out / "dl/data.csv.gz").read_bytes() == archive
    assert (out / doc["paths"]["dl/data.csv.gz"]).read_bytes() == archive
    # A rebuild into the same directory keeps both, too.
    (src / "dl/data.csv").write_text(CSV + "999,changed\n")
    build([str(src)], str(out))
    assert (out / "dl/data.csv.gz").read_bytes() == archive
    assert "gzip" not in manifest(out)["files"][manifest(out)["paths"]["dl/data.csv"]]["encodings"]


def test_a_passed_through_file_is_not_compressed_over_a_real_archive(tmp_path):
    archive = gzip.compress(b"the real archive\n" * 40, mtime=0)
    src = write_tree(
        tmp_path / "src", {"assets/app-AbC123.js": "x=1;" * 200, "assets/app-AbC123.js.gz": archive}
    )
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions(passthrough=__import__("re").compile(r"-AbC123\.")))
    doc = manifest(out)
    assert doc["paths"]["assets/app-AbC123.js"] == "assets/app-AbC123.js"
    assert "gzip" not in doc["files"]["assets/app-AbC123.js"]["encodings"]
    assert (out / "assets/app-AbC123.js.gz").read_bytes() == archive


def test_prune_keeps_a_real_archive_the_current_release_ships(tmp_path):
    archive = gzip.compress(b"the archive\n" * 40, mtime=0)
    src = write_tree(
        tmp_path / "src", {"dl/data.csv": CSV, "dl/data.csv.gz": archive, "a.txt": "1"}
    )
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions(release_id="one"))
    os.unlink(src / "dl/data.csv")  # the next release ships only the archive
    (src / "a.txt").write_text("2")
    build([str(src)], str(out), BuildOptions(release_id="two"))
    plan = plan_prune(str(out), 1, parse_duration("0s"))
    assert plan.dropped == ["one"]
    assert "dl/data.csv.gz" not in plan.delete and "dl/data.csv" in plan.delete
    apply_prune(str(out), plan)
    assert (out / "dl/data.csv.gz").read_bytes() == archive
    result = run_cli("prune", str(out), "--keep", "1", "--max-age", "0s")
    assert result.returncode == 0 and (out / "dl/data.csv.gz").exists()


def test_temporaries_of_a_killed_build_are_removed_by_the_next(tmp_path):
    src = write_tree(tmp_path / "src", {"app.css": "a{}"})
    out = tmp_path / "out"
    build([str(src)], str(out))
    leftovers = [
        out / ".staticfiles.json.4242.0a1b2c3d.tmp",
        out / ".skewguard" / ".releases.json.4242.deadbeef.tmp",
        out / ".skewguard" / ".build-cache.json.17.00ff00ff.tmp",
    ]
    others = [
        out / ".skewguard" / ".registry.json.4242.0a1b2c3d.tmp",  # a server's, not the build's
        out / "notes.4242.0a1b2c3d.tmp",
    ]
    for path in leftovers + others:
        path.write_text("partial")
    build([str(src)], str(out))  # up to date: the stamp path cleans up too
    assert [p for p in leftovers if p.exists()] == []
    assert all(p.exists() for p in others)


def test_refused_collision_leaves_the_previous_release(tmp_path):
    src = write_tree(tmp_path / "src", {"app.css": "a{}"})
    out = tmp_path / "out"
    build([str(src)], str(out))
    before = (out / "staticfiles.json").read_bytes()
    (src / "staticfiles.json").write_text("{}")
    with pytest.raises(BuildError):
        build([str(src)], str(out))
    assert (out / "staticfiles.json").read_bytes() == before
