"""Scenarios for skewguard's collectstatic storage, each in its own process (Django's settings are
per process): ``python -m tests.contrib.django_storage_scenarios NAME WORKDIR``.

Each builds a small project in WORKDIR (sources under ``src/``, ``app/``, STATIC_ROOT ``root/``),
runs the real ``collectstatic`` command and checks what landed on disk and what Django's and
skewguard's APIs say. Prints ``OK`` on success.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path

WORK = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(".")
SRC = WORK / "src"
ROOT = WORK / "root"
STORAGE = "skewguard.contrib.django.storage.ManifestStorage"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def setup(**overrides) -> None:
    from django.conf import settings

    options = overrides.pop("OPTIONS", {})
    values = dict(
        DEBUG=False,
        SECRET_KEY="scenario-secret",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        DATABASES={},
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.staticfiles", "skewguard.contrib.django"],
        MIDDLEWARE=["skewguard.contrib.django.middleware.SkewguardMiddleware"],
        STATIC_URL="/static/",
        STATIC_ROOT=str(ROOT),
        STATICFILES_DIRS=[str(SRC)],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": STORAGE, "OPTIONS": options},
        },
        SKEWGUARD={"VITE_HOT_FILE": ""},
    )
    values.update(overrides)
    settings.configure(**values)
    import django

    django.setup()


urlpatterns: list = []


def collect(**options) -> tuple[str, str]:
    """Run collectstatic; return (stdout, stderr)."""
    from django.core.management import call_command

    out, err = io.StringIO(), io.StringIO()
    options.setdefault("verbosity", 1)
    call_command("collectstatic", interactive=False, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def manifest() -> dict:
    return json.loads((ROOT / "staticfiles.json").read_text())


def hashed(canonical: str) -> Path:
    return ROOT / manifest()["paths"][canonical]


def fresh_storage():
    """The storage as a new process would see it."""
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.files.storage import storages

    storages._storages.clear()  # the handler caches instances and the STORAGES it read
    storages.__dict__.pop("backends", None)
    storages._backends = None
    staticfiles_storage._setup()
    return staticfiles_storage


# -- scenarios ---------------------------------------------------------------------------------


def stale_output() -> None:
    """A change within the same second, and a restore with an older mtime, are both built."""
    css = write(SRC / "css/app.css", "a{color:red}")
    setup()
    collect()
    first = manifest()["paths"]["css/app.css"]
    css.write_text("a{color:blu}")  # same size, same second: Django's copy step skips it
    collect()
    second = manifest()["paths"]["css/app.css"]
    assert second != first and hashed("css/app.css").read_text() == "a{color:blu}", second
    assert (ROOT / "css/app.css").read_text() == "a{color:blu}"
    # Restore the first version with an mtime older than every output.
    css.write_text("a{color:red}")
    old = time.time() - 3600
    os.utime(css, (old, old))
    collect()
    assert manifest()["paths"]["css/app.css"] == first, manifest()["paths"]
    assert (ROOT / "css/app.css").read_text() == "a{color:red}"
    assert not (ROOT / ".skewguard" / "collected").exists()  # no staging copy
    print("OK")


def static_url() -> None:
    """References under STATIC_URL (not only /static/) are rewritten."""
    write(SRC / "img/a.png", b"\x89PNG fake")
    write(SRC / "css/app.css", "a{background:url(/assets/img/a.png)}")
    setup(STATIC_URL="/assets/")
    collect()
    body = hashed("css/app.css").read_text()
    assert body == f"a{{background:url(/assets/{manifest()['paths']['img/a.png']})}}", body
    print("OK")


def missing_references() -> None:
    """Reported at normal verbosity with file and line; STRICT (setting, env, option) fails."""
    from django.core.management import CommandError

    write(
        SRC / "css/app.css",
        "a{}\nb{background:url(gone.png)}\n"
        + "".join(f"i{n}{{background:url(gone{n}.png)}}\n" for n in range(7)),
    )
    setup()
    _, err = collect()
    assert "skewguard: 8 missing reference(s)" in err, err
    assert "css/app.css:2: missing reference 'gone.png'" in err, err
    assert "... and 3 more" in err, err
    assert "Skipped post-processing" not in err
    _, quiet = collect(verbosity=0)
    assert quiet == "", quiet
    from django.conf import settings

    for how in ("setting", "env", "option"):
        if how == "setting":
            settings.SKEWGUARD = {"VITE_HOT_FILE": "", "STRICT": True}
        elif how == "env":
            settings.SKEWGUARD = {"VITE_HOT_FILE": ""}
            os.environ["SKEWGUARD_STRICT"] = "1"
        else:
            os.environ.pop("SKEWGUARD_STRICT")
            settings.STORAGES = {
                **settings.STORAGES,
                "staticfiles": {"BACKEND": STORAGE, "OPTIONS": {"strict": True}},
            }
        fresh_storage()
        try:
            collect(verbosity=0)
        except CommandError as exc:
            assert "8 missing reference(s), the first: css/app.css:2" in str(exc), str(exc)
        else:
            raise AssertionError(f"strict ({how}) did not fail")
    print("OK")


def default_ignore() -> None:
    """Django's ignore patterns decide; --no-default-ignore lets .well-known/ through."""
    write(SRC / ".well-known/security.txt", "Contact: mailto:sec@example.com\n")
    write(SRC / "app.js", "1")
    write(SRC / "notes.txt~", "backup")
    setup()
    collect()
    assert ".well-known/security.txt" not in manifest()["paths"]
    assert "notes.txt~" not in manifest()["paths"]
    collect(use_default_ignore_patterns=False, ignore_patterns=["*~"])
    paths = manifest()["paths"]
    assert ".well-known/security.txt" in paths and "notes.txt~" not in paths, paths
    assert (ROOT / ".well-known/security.txt").read_text().startswith("Contact:")
    from django.templatetags.static import static

    fresh_storage()
    url = static(".well-known/security.txt")
    assert (ROOT / url.removeprefix("/static/")).exists(), url
    print("OK")


def storage_api() -> None:
    """open/path/exists/url and staticfiles.json live in STATIC_ROOT; --clear clears it."""
    write(SRC / "css/app.css", "a{}")
    write(SRC / "old.txt", "old")
    setup()
    collect()
    storage = fresh_storage()
    name = manifest()["paths"]["css/app.css"]
    assert storage.path(name) == str(ROOT / name)
    assert storage.exists(name) and storage.exists("staticfiles.json")
    with storage.open(name) as fh:
        assert fh.read() == b"a{}"
    assert storage.url("css/app.css") == "/static/" + name
    assert storage.path("staticfiles.json") == str(ROOT / "staticfiles.json")
    assert not (ROOT / ".skewguard" / "collected").exists()
    os.unlink(SRC / "old.txt")
    write(ROOT / "stray.txt", "left by hand")
    collect(clear=True)
    assert not (ROOT / "old.txt").exists() and not (ROOT / "stray.txt").exists()
    assert "old.txt" not in manifest()["paths"] and (ROOT / name).exists()
    print("OK")


def custom_manifest_storage() -> None:
    """A manifest_storage gets skewguard's manifest, fields and all."""
    write(SRC / "css/app.css", "a{}")
    elsewhere = WORK / "manifests"
    setup(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": __name__ + ".ElsewhereManifestStorage",
                "OPTIONS": {"manifest_location": str(elsewhere)},
            },
        }
    )
    collect()
    stored = json.loads((elsewhere / "staticfiles.json").read_text())
    assert stored == manifest() and "files" in stored and "release" in stored
    storage = fresh_storage()
    assert storage.url("css/app.css") == "/static/" + stored["paths"]["css/app.css"]
    print("OK")


def save_manifest_keeps_fields() -> None:
    """The inherited save_manifest() never drops skewguard's fields."""
    write(SRC / "css/app.css", "a{}")
    write(SRC / "js/app.js", "x" * 400)
    setup()
    collect()
    before = manifest()
    storage = fresh_storage()
    storage.save_manifest()
    assert manifest() == before
    storage.hashed_files.pop("js/app.js")
    storage.save_manifest()
    after = manifest()
    assert "js/app.js" not in after["paths"] and after["release"] == before["release"]
    name = after["paths"]["css/app.css"]
    assert after["files"][name] == before["files"][name] and after["version"] == "1.1"
    assert storage.manifest_hash == after["hash"] != before["hash"]
    print("OK")


def compression_switch() -> None:
    """Compression is on by default; SKEWGUARD COMPRESS and SKEWGUARD_COMPRESS turn it off."""
    write(SRC / "js/app.js", "console.log('hello');\n" * 50)
    mode = os.environ.get("SCENARIO_COMPRESS", "default")
    setup(SKEWGUARD={"VITE_HOT_FILE": "", **({"COMPRESS": False} if mode == "setting" else {})})
    collect()
    name = manifest()["paths"]["js/app.js"]
    siblings = sorted(p.name for p in (ROOT / "js").iterdir() if p.name.startswith(Path(name).stem))
    if mode == "default":
        assert (ROOT / (name + ".gz")).exists() and manifest()["files"][name]["encodings"], siblings
    else:
        assert not (ROOT / (name + ".gz")).exists(), siblings
        assert manifest()["files"][name]["encodings"] == []
    print("OK")


def dry_run() -> None:
    """--dry-run writes nothing at all."""
    write(SRC / "css/app.css", "a{}")
    setup()
    collect(dry_run=True)
    assert not ROOT.exists() or list(ROOT.iterdir()) == [], list(ROOT.iterdir())
    print("OK")


def non_local_output() -> None:
    """An output storage that writes elsewhere fails with one clear line."""
    from django.core.management import CommandError

    write(SRC / "css/app.css", "a{}")
    setup(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": __name__ + ".RemoteStorage"},
        }
    )
    try:
        collect(verbosity=0)
    except CommandError as exc:
        message = str(exc)
    else:
        raise AssertionError("a remote output storage was accepted")
    assert "\n" not in message and "RemoteStorage" in message and "docs/deployment.md" in message
    assert not (ROOT / "staticfiles.json").exists()
    print("OK")


def incremental() -> None:
    """A rerun with one changed file rewrites it and what references it, nothing else."""
    for n in range(30):
        write(SRC / f"img/i{n}.png", b"\x89PNG" + bytes([n]) * 300)
    write(SRC / "css/theme.css", "a{color:red}")
    write(SRC / "css/app.css", "@import 'theme.css';\nb{background:url(../img/i1.png)}")
    write(SRC / "css/other.css", "c{background:url(../img/i2.png)}")
    setup()
    collect()
    before = {
        p: p.stat().st_ino for p in ROOT.rglob("*") if p.is_file() and ".skewguard" not in p.parts
    }
    old_app = manifest()["paths"]["css/app.css"]
    (SRC / "css/theme.css").write_text("a{color:green}")
    collect()
    changed = {
        p.relative_to(ROOT).as_posix()
        for p in ROOT.rglob("*")
        if p.is_file() and ".skewguard" not in p.parts and before.get(p) != p.stat().st_ino
    }
    new = manifest()["paths"]
    expected = {
        "staticfiles.json",
        new["css/theme.css"],
        new["css/app.css"],
        "css/theme.css",
        "css/app.css",
    }
    assert new["css/app.css"] != old_app
    assert changed == expected, sorted(changed ^ expected)
    print("OK")


def copy_step_counts() -> None:
    """collectstatic's copy step copies nothing with this storage, yet counts as Django's does:
    every file copied at first, unmodified files skipped by Django's rule (target no older than
    its source) on a rerun, a changed one copied again; files from an app's directory too."""
    write(SRC / "css/app.css", "a{background:url(../img/a.png)}")
    write(SRC / "img/a.png", b"\x89PNG-a")
    write(WORK / "app2/vendor.js", "export const v = 1;")
    setup(STATICFILES_DIRS=[str(SRC), ("lib", str(WORK / "app2"))])
    from django.contrib.staticfiles.management.commands.collectstatic import Command

    opened = []
    original_open = Command.copy_file

    def copy_file(self, path, prefixed_path, source_storage):
        original = source_storage.open
        source_storage.open = lambda name, *a: opened.append(name) or original(name, *a)
        try:
            return original_open(self, path, prefixed_path, source_storage)
        finally:
            del source_storage.open

    out, _ = collect()
    assert "3 static files copied" in out and "3 post-processed" in out, out
    assert (ROOT / "lib/vendor.js").read_text() == "export const v = 1;"
    out, _ = collect()
    assert "0 static files copied" in out and "3 unmodified" in out, out
    later = time.time() + 5  # newer than its output, to the second
    os.utime(write(SRC / "img/a.png", b"\x89PNG-b"), (later, later))
    out, _ = collect()
    assert "1 static file copied" in out and "2 unmodified" in out, out
    assert hashed("img/a.png").read_bytes() == b"\x89PNG-b"
    assert "url(../img/" + Path(manifest()["paths"]["img/a.png"]).name + ")" in (
        hashed("css/app.css").read_text()
    )
    # Django's own copy step, for comparison, opens every source it copies; this one at most the
    # first (before the storage sees the command).
    Command.copy_file = copy_file
    try:
        os.utime(SRC / "css/app.css", (later + 5, later + 5))
        out, _ = collect(verbosity=2)
    finally:
        Command.copy_file = original_open
    # img/a.png is still newer than its output (its mtime is in the future): copied again.
    assert "2 static files copied" in out and "1 unmodified" in out, out
    assert "Copying '" in out and "Skipping 'vendor.js' (not modified)" in out, out
    assert opened == [], opened
    print("OK")


def link_flag() -> None:
    """--link cannot apply: outputs are real files, never links to the sources; it says so."""
    write(SRC / "css/app.css", "a{}")
    setup()
    _, err = collect(link=True)
    assert "--link does not apply" in err, err
    canonical = ROOT / "css/app.css"
    assert not canonical.is_symlink() and canonical.read_text() == "a{}"
    collect(link=True)  # a second run, when canonical names already exist
    assert not canonical.is_symlink()
    assert os.path.samefile(canonical, hashed("css/app.css"))
    print("OK")


VITE_MANIFEST = {
    "src/main.js": {
        "file": "assets/main-8_3y83gF.js",
        "isEntry": True,
        "dynamicImports": ["src/lazy.js"],
        "css": ["assets/main-Bx1yQ2aa.css"],
    },
    "src/lazy.js": {"file": "assets/lazy-Dd9kP0qq.js", "isDynamicEntry": True},
}


def write_vite(dist: Path, manifest_doc: dict, tag: str) -> None:
    write(dist / ".vite/manifest.json", json.dumps(manifest_doc))
    for chunk in manifest_doc.values():
        write(dist / chunk["file"], f"/* {tag} */ export const v = '{tag}';\n" * 20)
        for css in chunk.get("css", ()):
            write(dist / css, f"/* {tag} */ body{{color:red}}\n" * 20)


def vite() -> None:
    """Vite's output through collectstatic: its names kept, immutable, retained and pruned;
    the version depends on the current files alone."""
    dist = WORK / "frontend" / "dist"
    write_vite(dist, VITE_MANIFEST, "one")
    write(SRC / "css/site.css", "a{}")
    setup(STATICFILES_DIRS=[str(SRC), str(dist)])
    collect()  # default ignore patterns: .vite/ itself is not collected, but it is read
    paths = manifest()["paths"]
    for name in ("assets/main-8_3y83gF.js", "assets/lazy-Dd9kP0qq.js", "assets/main-Bx1yQ2aa.css"):
        assert paths[name] == name, paths  # no second hash
        assert (ROOT / name).is_file()
    assert paths["css/site.css"] != "css/site.css"
    from django.test import Client

    client = Client()
    for name in ("assets/main-8_3y83gF.js", "assets/lazy-Dd9kP0qq.js"):
        answer = client.get("/static/" + name)
        assert answer.status_code == 200, (name, answer.status_code)
        assert "immutable" in answer["Cache-Control"], (name, answer["Cache-Control"])
    long_lived = manifest()["hash"]

    # A new Vite build: new chunk names. The old ones stay for open tabs, until pruned.
    second = json.loads(
        json.dumps(VITE_MANIFEST).replace("8_3y83gF", "Zz9new00").replace("Dd9kP0qq", "Qq1new11")
    )
    for path in list((dist / "assets").iterdir()):
        path.unlink()
    write_vite(dist, second, "two")
    collect()
    assert (ROOT / "assets/main-8_3y83gF.js").exists()  # retained
    assert manifest()["paths"]["assets/main-Zz9new00.js"] == "assets/main-Zz9new00.js"
    version_two = manifest()["hash"]

    # The same sources into a fresh STATIC_ROOT give the same version.
    from django.conf import settings

    fresh_root = WORK / "fresh"
    settings.STATIC_ROOT = str(fresh_root)
    fresh_storage()
    collect()
    fresh = json.loads((fresh_root / "staticfiles.json").read_text())
    assert fresh["hash"] == version_two and fresh["paths"] == manifest()["paths"], (
        fresh["hash"],
        version_two,
    )
    assert long_lived != version_two
    assert not (fresh_root / "assets/main-8_3y83gF.js").exists()

    from click.testing import CliRunner

    from skewguard.cli import cli

    result = CliRunner().invoke(cli, ["prune", str(ROOT), "--keep", "1", "--max-age", "0s"])
    assert result.exit_code == 0, result.output
    assert not (ROOT / "assets/main-8_3y83gF.js").exists()
    assert not (ROOT / "assets/lazy-Dd9kP0qq.js").exists()
    assert (ROOT / "assets/main-Zz9new00.js").exists() and (ROOT / "css/site.css").exists()
    print("OK")


# -- storages used by the scenarios ----------------------------------------------------------------

from skewguard.contrib.django.storage import ManifestStorage  # noqa: E402


class ElsewhereManifestStorage(ManifestStorage):
    def __init__(self, *args, manifest_location=None, **kwargs):
        from django.contrib.staticfiles.storage import StaticFilesStorage

        kwargs["manifest_storage"] = StaticFilesStorage(location=manifest_location)
        super().__init__(*args, **kwargs)


class RemoteStorage(ManifestStorage):
    """Stands for a storage that uploads (django-storages' S3 mixed in)."""

    def _save(self, name, content):
        raise AssertionError("nothing may be uploaded")


def no_post_process() -> None:
    """--no-post-process: a plain copy of the originals, no build."""
    write(SRC / "css/app.css", "a{}")
    setup()
    collect(post_process=False)
    assert (ROOT / "css/app.css").read_text() == "a{}"
    assert not (ROOT / "staticfiles.json").exists()
    print("OK")


def import_hook_option() -> None:
    """Dynamic imports are wrapped for the client by default; OPTIONS import_hook False keeps
    them as written (as Django's own storage does)."""
    write(SRC / "js" / "lazy.js", "export const lazy = 1;\n")
    write(SRC / "js" / "app.js", 'export const load = () => import("./lazy.js");\n')
    wrapped = os.environ["IMPORT_HOOK_MODE"] == "default"
    setup(OPTIONS={} if wrapped else {"import_hook": False})
    collect()
    paths = manifest()["paths"]
    app = (ROOT / paths["js/app.js"]).read_text()
    lazy = paths["js/lazy.js"].rsplit("/", 1)[-1]
    assert f'import("./{lazy}")' in app, app
    assert ("__skewguardImport" in app) is wrapped, app
    print("OK")


if __name__ == "__main__":
    globals()[sys.argv[1]]()
