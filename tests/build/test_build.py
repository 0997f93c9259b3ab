"""skewguard build: naming, rewriting, graph order, cycles, manifest, incremental, bad input."""

from __future__ import annotations

import json
import os
import re

import pytest

from skewguard.build import BuildError, BuildOptions, MissingReferences, build
from skewguard.manifest import Manifest

from .helpers import emitted, manifest, write_tree

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def opts(**kw) -> BuildOptions:
    kw.setdefault("compress", False)
    return BuildOptions(**kw)


def test_hashed_names_originals_and_manifest(tmp_path):
    src = write_tree(
        tmp_path / "src", {"css/app.css": "body{color:red}", "img/logo.png": PNG, "README": "hi"}
    )
    out = tmp_path / "out"
    report = build([str(src)], str(out), opts())
    m = manifest(out)
    hashed = m["paths"]["css/app.css"]
    assert re.fullmatch(r"css/app\.[0-9a-f]{12}\.css", hashed)
    assert re.fullmatch(r"README\.[0-9a-f]{12}", m["paths"]["README"])
    assert (out / hashed).read_text() == "body{color:red}"
    assert (out / "css/app.css").read_text() == "body{color:red}"  # canonical copy
    assert m["version"] == "1.1" and m["hash"] == report.version and len(m["hash"]) == 12
    info = m["files"][hashed]
    assert info["size"] == 15 and info["integrity"].startswith("sha384-")
    assert m["release"]["id"] == m["hash"] and m["release"]["built_at"]
    # The hash in the name is of the emitted bytes.
    import base64
    import hashlib

    digest = hashlib.sha384(b"body{color:red}").digest()
    assert info["integrity"] == "sha384-" + base64.b64encode(digest).decode()
    assert hashed.split(".")[1] == digest.hex()[:12]


def test_no_originals_and_hash_length(tmp_path):
    src = write_tree(tmp_path / "src", {"a.js": "1"})
    out = tmp_path / "out"
    build([str(src)], str(out), opts(originals=False, hash_length=20))
    assert not (out / "a.js").exists()
    assert re.fullmatch(r"a\.[0-9a-f]{20}\.js", manifest(out)["paths"]["a.js"])


def test_css_rewrites_keep_form_query_and_fragment(tmp_path):
    src = write_tree(
        tmp_path / "src",
        {
            "css/app.css": (
                "@import 'base.css';\n@import url(\"../vendor/x.css\");\n"
                "a{background:url(../img/logo.png)}\n"
                "b{background:url('/static/img/logo.png')}\n"
                "@font-face{src:url(../fonts/f.eot?#iefix) format('eot'),url(\"../fonts/f.woff2?v=3\")}\n"
                "c{background:url(./sprite.svg#icon)}\n"
                "/*# sourceMappingURL=app.css.map */"
            ),
            "css/base.css": "p{}",
            "vendor/x.css": "q{}",
            "img/logo.png": PNG,
            "fonts/f.eot": "eot",
            "fonts/f.woff2": "woff2",
            "css/sprite.svg": "<svg/>",
            "css/app.css.map": "{}",
        },
    )
    out = tmp_path / "out"
    build([str(src)], str(out), opts())
    paths = manifest(out)["paths"]
    text = emitted(out, "css/app.css")

    def base(p):
        return paths[p].rsplit("/", 1)[1]

    assert f"@import '{base('css/base.css')}';" in text
    assert f'@import url("../vendor/{base("vendor/x.css")}");' in text
    assert f"url(../img/{base('img/logo.png')})" in text
    assert f"url('/static/img/{base('img/logo.png')}')" in text
    assert f"url(../fonts/{base('fonts/f.eot')}?#iefix)" in text
    assert f'url("../fonts/{base("fonts/f.woff2")}?v=3")' in text
    assert f"url(./{base('css/sprite.svg')}#icon)" in text
    assert f"sourceMappingURL={base('css/app.css.map')} */" in text


def test_untouched_references(tmp_path):
    original = (
        "a{background:url(data:image/png;base64,AAAA)}"
        "b{background:url(https://cdn.example.com/x.png)}"
        "c{background:url(//cdn.example.com/y.png)}"
        "d{filter:url(#blur)}"
        "e{background:url(../../outside.png)}"
        "f{background:url(/other-root/z.png)}"
        "/* g{background:url(commented.png)} */"
    )
    src = write_tree(tmp_path / "src", {"css/app.css": original})
    out = tmp_path / "out"
    report = build([str(src)], str(out), opts())
    assert emitted(out, "css/app.css") == original
    assert report.missing == []


def test_js_module_specifiers_and_source_map(tmp_path):
    src = write_tree(
        tmp_path / "src",
        {
            "js/main.js": (
                'import {a} from "./lib/a.js";\nimport "/static/js/side.js";\n'
                'const b = await import("./lib/b.js");\nimport React from "react";\n'
                'export * from "../shared/util.js";\n//# sourceMappingURL=main.js.map'
            ),
            "js/lib/a.js": "export const a = 1;",
            "js/lib/b.js": "export default 2;",
            "js/side.js": "1",
            "shared/util.js": "export const u = 1;",
            "js/main.js.map": "{}",
        },
    )
    out = tmp_path / "out"
    build([str(src)], str(out), opts())
    paths = manifest(out)["paths"]

    def base(p):
        return paths[p].rsplit("/", 1)[1]

    text = emitted(out, "js/main.js")
    assert f'from "./lib/{base("js/lib/a.js")}"' in text
    assert f'import "/static/js/{base("js/side.js")}"' in text
    assert f'import("./lib/{base("js/lib/b.js")}")' in text
    assert 'from "react"' in text
    assert f'from "../shared/{base("shared/util.js")}"' in text
    assert f"sourceMappingURL={base('js/main.js.map')}" in text
    # Switched off: specifiers stay, the source map is still rewritten.
    out2 = tmp_path / "out2"
    build([str(src)], str(out2), opts(es_modules=False))
    text2 = emitted(out2, "js/main.js")
    assert (
        'from "./lib/a.js"' in text2
        and "sourceMappingURL=main.js." in text2
        and "main.js.map" not in text2
    )


def test_transitive_renames_through_a_deep_chain(tmp_path):
    depth = 7
    files = {f"c{i}.css": f"@import 'c{i + 1}.css';" for i in range(depth)}
    files[f"c{depth}.css"] = "a{background:url(leaf.png)}"
    files["leaf.png"] = PNG
    src = write_tree(tmp_path / "src", files)
    out1, out2 = tmp_path / "o1", tmp_path / "o2"
    build([str(src)], str(out1), opts())
    (src / "leaf.png").write_bytes(PNG + b"changed")
    build([str(src)], str(out2), opts())
    p1, p2 = manifest(out1)["paths"], manifest(out2)["paths"]
    for i in range(depth + 1):
        assert p1[f"c{i}.css"] != p2[f"c{i}.css"], f"c{i}.css was not renamed"
    # And each file points at its dependency's final name.
    for i in range(depth):
        assert p2[f"c{i + 1}.css"] in emitted(out2, f"c{i}.css")


@pytest.mark.parametrize("length", [2, 3])
def test_cycles_hash_as_a_unit_deterministically(tmp_path, length):
    names = [f"m{i}.css" for i in range(length)]
    files = {
        name: f"@import '{names[(i + 1) % length]}'; x{{background:url(leaf.png)}}"
        for i, name in enumerate(names)
    }
    files["leaf.png"] = PNG
    files["top.css"] = "@import 'm0.css';"
    src = write_tree(tmp_path / "src", files)
    results = []
    for attempt in range(3):
        out = tmp_path / f"o{attempt}"
        report = build([str(src)], str(out), opts())
        assert report.missing == []
        results.append((out / "staticfiles.json").read_text().split('"release"')[0])
        paths = manifest(out)["paths"]
        for i, name in enumerate(names):  # every member references the others' final names
            assert paths[names[(i + 1) % length]].rsplit("/", 1)[-1] in emitted(out, name)
        assert paths["m0.css"] in emitted(out, "top.css")
    assert results[0] == results[1] == results[2]
    # A change in the leaf renames the whole cycle.
    (src / "leaf.png").write_bytes(PNG + b"x")
    out = tmp_path / "changed"
    build([str(src)], str(out), opts())
    before = json.loads(results[0] + "}") if False else manifest(tmp_path / "o0")["paths"]
    after = manifest(out)["paths"]
    assert all(before[n] != after[n] for n in names + ["top.css"])


def test_self_reference_is_a_cycle_of_one(tmp_path):
    src = write_tree(tmp_path / "src", {"a.css": "@import 'a.css';"})
    out = tmp_path / "out"
    build([str(src)], str(out), opts())
    paths = manifest(out)["paths"]
    assert paths["a.css"].rsplit("/", 1)[-1] in emitted(out, "a.css")


def test_missing_references_warn_with_file_and_line_and_strict_fails(tmp_path):
    src = write_tree(
        tmp_path / "src",
        {
            "css/app.css": "a{}\nb{background:url(gone.png)}\n/*# sourceMappingURL=app.css.map */",
            "js/app.js": "import x from './nope.js';\n//# sourceMappingURL=app.js.map",
        },
    )
    out = tmp_path / "out"
    report = build([str(src)], str(out), opts())
    assert "css/app.css:2: missing reference 'gone.png'" in report.missing
    assert "js/app.js:1: missing reference './nope.js'" in report.missing
    assert any("app.css.map" in w and "source map" in w for w in report.warnings)
    assert len(report.missing) == 2  # missing source maps do not count against a non-strict build
    assert "url(gone.png)" in emitted(out, "css/app.css")  # left as written
    with pytest.raises(MissingReferences) as exc:
        build([str(src)], str(tmp_path / "strict"), opts(strict=True))
    assert len(exc.value.missing) == 4  # strict: source maps too
    assert not (tmp_path / "strict" / "staticfiles.json").exists()


def test_vite_manifest_files_pass_through(tmp_path):
    src = write_tree(
        tmp_path / "src",
        {
            ".vite/manifest.json": json.dumps(
                {
                    "src/main.ts": {
                        "file": "assets/main-4f3aB9c1.js",
                        "css": ["assets/main-Dk2s9aQe.css"],
                        "isEntry": True,
                    },
                    "src/logo.svg": {"file": "assets/logo-B1x2y3z4.svg"},
                }
            ),
            "assets/main-4f3aB9c1.js": 'import "./dep-77aa88bb.js";',
            "assets/dep-77aa88bb.js": "1",
            "assets/main-Dk2s9aQe.css": "a{background:url(logo-B1x2y3z4.svg)}",
            "assets/logo-B1x2y3z4.svg": "<svg/>",
            "css/site.css": "a{background:url(../assets/logo-B1x2y3z4.svg)}",
        },
    )
    out = tmp_path / "out"
    report = build([str(src)], str(out), opts(passthrough=re.compile(r"-[0-9a-f]{8}\.js$")))
    paths = manifest(out)["paths"]
    for name in (
        "assets/main-4f3aB9c1.js",
        "assets/main-Dk2s9aQe.css",
        "assets/logo-B1x2y3z4.svg",
        "assets/dep-77aa88bb.js",
    ):
        assert paths[name] == name
        assert name in manifest(out)["files"]
    assert (out / "assets/main-Dk2s9aQe.css").read_text() == "a{background:url(logo-B1x2y3z4.svg)}"
    assert "url(../assets/logo-B1x2y3z4.svg)" in emitted(out, "css/site.css")
    assert report.passed_through == 4


def test_precompression_siblings(tmp_path):
    big_css = "".join(f".c{i}{{color:#{i:06x};margin:{i}px}}\n" for i in range(400))
    src = write_tree(
        tmp_path / "src",
        {
            "app.css": big_css,
            "tiny.css": "a{}",
            "noise.js": os.urandom(4000).hex()[:4000] + "\x00" * 0,
            "img.png": PNG * 100,
        },
    )
    (src / "random.svg").write_bytes(os.urandom(5000))  # incompressible: siblings not worth keeping
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions())
    m = manifest(out)
    hashed = m["paths"]["app.css"]
    assert set(m["files"][hashed]["encodings"]) == {"gzip", "br", "zstd"}
    import gzip

    import brotli
    import zstandard

    assert gzip.decompress((out / (hashed + ".gz")).read_bytes()).decode() == big_css
    assert brotli.decompress((out / (hashed + ".br")).read_bytes()).decode() == big_css
    assert (
        zstandard.ZstdDecompressor().decompress((out / (hashed + ".zst")).read_bytes()).decode()
        == big_css
    )
    assert (out / "app.css.br").read_bytes() == (
        out / (hashed + ".br")
    ).read_bytes()  # canonical sibling
    assert m["files"][m["paths"]["tiny.css"]]["encodings"] == []
    assert m["files"][m["paths"]["img.png"]]["encodings"] == []
    random_svg = m["paths"]["random.svg"]
    assert m["files"][random_svg]["encodings"] == []
    assert not (out / (random_svg + ".gz")).exists()


def test_existing_outputs_are_never_recompressed(tmp_path):
    src = write_tree(tmp_path / "src", {"app.css": "a{color:red}\n" * 200, "b.css": "b{}\n" * 200})
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions())
    hashed = manifest(out)["paths"]["app.css"]
    gz = out / (hashed + ".gz")
    before = gz.stat().st_mtime_ns
    (src / "b.css").write_text("b{color:blue}\n" * 200)  # another file changes
    build([str(src)], str(out), BuildOptions())
    assert gz.stat().st_mtime_ns == before


def test_determinism_across_directories_and_creation_order(tmp_path):
    files = {
        f"d{i}/f{j}.css": f"a{{background:url(../img/i{j}.png)}}"
        for i in range(5)
        for j in range(5)
    }
    files.update({f"img/i{j}.png": PNG + bytes([j]) for j in range(5)})
    files["app.js"] = 'import "./d0/x.js";'
    files["d0/x.js"] = "1"
    a = write_tree(tmp_path / "a", dict(files))
    b = write_tree(tmp_path / "elsewhere" / "b", dict(reversed(list(files.items()))))
    os.utime(b / "app.js", (1, 1))  # different mtimes must not matter
    build([str(a)], str(tmp_path / "oa"), BuildOptions())
    build([str(b)], str(tmp_path / "ob"), BuildOptions())

    def strip(p):
        return re.sub(r'"built_at": "[^"]*"', "", (p / "staticfiles.json").read_text())

    assert strip(tmp_path / "oa") == strip(tmp_path / "ob")


def test_incremental_noop_rewrites_nothing(tmp_path):
    src = write_tree(
        tmp_path / "src",
        {
            "css/a.css": "a{background:url(x.png)}",
            "css/x.png": PNG,
            "j.js": "import './k.js'",
            "k.js": "1",
        },
    )
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions())
    past = 1_600_000_000
    for path in src.rglob("*"):  # sources older than the racy window, as in real life
        os.utime(path, (past, past))
    build([str(src)], str(out), BuildOptions())
    snapshot = {
        p: p.stat().st_mtime_ns
        for p in out.rglob("*")
        if p.is_file() and ".skewguard" not in p.parts
    }
    report = build([str(src)], str(out), BuildOptions())
    assert report.written == 0
    after = {
        p: p.stat().st_mtime_ns
        for p in out.rglob("*")
        if p.is_file() and ".skewguard" not in p.parts
    }
    assert after == snapshot
    # A change rebuilds only what depends on it.
    (src / "css/x.png").write_bytes(PNG + b"new")
    report = build([str(src)], str(out), BuildOptions())
    assert report.written == 2  # x.png and the a.css that references it


def test_incremental_detects_change_with_same_size_and_mtime_in_racy_window(tmp_path):
    src = write_tree(tmp_path / "src", {"a.css": "a{color:red}"})
    out = tmp_path / "out"
    build([str(src)], str(out), opts())
    st = (src / "a.css").stat()
    (src / "a.css").write_text("a{color:tan}")  # same size
    os.utime(src / "a.css", ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
    build([str(src)], str(out), opts())
    assert emitted(out, "a.css") == "a{color:tan}"


def test_releases_accumulate_and_old_files_stay(tmp_path):
    src = write_tree(tmp_path / "src", {"a.css": "a{color:red}"})
    out = tmp_path / "out"
    build([str(src)], str(out), opts())
    first = manifest(out)["paths"]["a.css"]
    (src / "a.css").write_text("a{color:blue}")
    build([str(src)], str(out), opts())
    second = manifest(out)["paths"]["a.css"]
    assert first != second and (out / first).exists() and (out / second).exists()
    history = json.loads((out / ".skewguard/releases.json").read_text())["releases"]
    assert [r["files"] for r in history] == [[first], [second]]


def test_prefixed_sources_and_first_source_wins(tmp_path):
    one = write_tree(
        tmp_path / "one",
        {"app.css": "a{background:url(/static/vendor/lib.css)}", "dup.txt": "first"},
    )
    two = write_tree(tmp_path / "two", {"dup.txt": "second"})
    lib = write_tree(tmp_path / "lib", {"lib.css": "b{}"})
    out = tmp_path / "out"
    report = build([str(one), str(two), f"vendor={lib}"], str(out), opts())
    paths = manifest(out)["paths"]
    assert "vendor/lib.css" in paths
    assert paths["vendor/lib.css"] in emitted(out, "app.css")
    assert emitted(out, "dup.txt") == "first"
    assert sum("dup.txt" in w for w in report.warnings) == 1


def test_hidden_files_are_ignored(tmp_path):
    src = write_tree(
        tmp_path / "src", {".DS_Store": "x", "a.css~": "x", ".git/config": "x", "a.css": "a{}"}
    )
    out = tmp_path / "out"
    build([str(src)], str(out), opts())
    assert set(manifest(out)["paths"]) == {"a.css"}


def test_undecodable_bytes_are_rewritten_byte_for_byte(tmp_path):
    src = write_tree(
        tmp_path / "src",
        {"a.css": b"/* \xff\xfe latin-1 \xe9 */ a{background:url(x.png)}", "x.png": PNG},
    )
    out = tmp_path / "out"
    report = build([str(src)], str(out), opts())
    data = (out / manifest(out)["paths"]["a.css"]).read_bytes()
    assert (
        data.startswith(b"/* \xff\xfe latin-1 \xe9 */")
        and manifest(out)["paths"]["x.png"].encode() in data
    )
    assert any("not valid UTF-8" in w for w in report.warnings)


def test_bad_input_errors_are_one_line_and_keep_the_previous_manifest(tmp_path):
    src = write_tree(tmp_path / "src", {"a.css": "a{}"})
    with pytest.raises(BuildError, match="does not exist"):
        build([str(tmp_path / "missing")], str(tmp_path / "out"), opts())
    # A corrupt manifest is never replaced without --force.
    out = tmp_path / "out"
    out.mkdir()
    (out / "staticfiles.json").write_text("{not json")
    with pytest.raises(BuildError, match="not valid JSON.*--force"):
        build([str(src)], str(out), opts())
    assert (out / "staticfiles.json").read_text() == "{not json"
    # A foreign (Django) manifest likewise.
    (out / "staticfiles.json").write_text(
        json.dumps({"version": "1.1", "paths": {"a.css": "a.123.css"}})
    )
    with pytest.raises(BuildError, match="not written by skewguard"):
        build([str(src)], str(out), opts())
    report = build([str(src)], str(out), opts(force=True))
    assert any("not written by skewguard" in w for w in report.warnings)
    Manifest.load(str(out / "staticfiles.json"))


def test_unwritable_output(tmp_path):
    src = write_tree(tmp_path / "src", {"a.css": "a{}"})
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(BuildError, match="cannot create output directory"):
        build([str(src)], str(blocker / "out"), opts())


def test_file_vanishing_mid_build_is_skipped_with_a_warning(tmp_path, monkeypatch):
    src = write_tree(tmp_path / "src", {"a.css": "a{background:url(gone.png)}", "gone.png": PNG})
    import skewguard.build.leaves as leaves

    real_read = leaves.read_source

    def vanishing_read(source):  # the file goes between the directory scan and its reading
        if source.canonical == "gone.png":
            os.unlink(source.path)
        return real_read(source)

    monkeypatch.setattr(leaves, "read_source", vanishing_read)
    out = tmp_path / "out"
    report = build([str(src)], str(out), opts())
    assert any("gone.png: vanished" in w for w in report.warnings)
    assert "gone.png" not in manifest(out)["paths"]
    assert any("missing reference 'gone.png'" in w for w in report.missing)


def test_output_directory_inside_a_source_is_not_scanned(tmp_path):
    src = write_tree(tmp_path / "src", {"a.css": "a{}"})
    out = src / "dist"
    build([str(src)], str(out), opts())
    build([str(src)], str(out), opts(force=True))  # a second build must not pick up dist/ itself
    assert set(manifest(out)["paths"]) == {"a.css"}


def test_djangos_manifest_storage_reads_the_manifest(tmp_path):
    django = pytest.importorskip("django")
    from django.conf import settings

    src = write_tree(
        tmp_path / "src", {"css/app.css": "a{background:url(../img/x.png)}", "img/x.png": PNG}
    )
    out = tmp_path / "out"
    build([str(src)], str(out), opts())
    if not settings.configured:
        settings.configure(STATIC_URL="/static/", STATIC_ROOT=str(out), DEBUG=False)
    django.setup()
    from django.contrib.staticfiles.storage import ManifestStaticFilesStorage

    storage = ManifestStaticFilesStorage(location=str(out), base_url="/static/")
    paths = manifest(out)["paths"]
    assert storage.url("css/app.css") == "/static/" + paths["css/app.css"]
    assert storage.url("img/x.png") == "/static/" + paths["img/x.png"]
    assert storage.manifest_hash == manifest(out)["hash"]


def test_a_source_that_changed_size_since_the_scan_is_read_whole(tmp_path):
    from skewguard.build.leaves import read_source
    from skewguard.build.sources import SourceFile

    path = tmp_path / "grown.js"
    content = b"x" * 3_000_000  # several reads' worth
    path.write_bytes(content)
    for scanned_size in (0, 10, len(content), len(content) + 50):
        data, warning = read_source(SourceFile("grown.js", str(path), scanned_size, 0))
        assert data == content and warning is None
    path.write_bytes(b"")
    assert read_source(SourceFile("grown.js", str(path), 5, 0)) == (b"", None)
    path.unlink()
    assert read_source(SourceFile("grown.js", str(path), 5, 0)) == (
        None,
        "grown.js: vanished during the build; skipped",
    )
