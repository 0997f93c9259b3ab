"""The pure parts: settings, tokens, version resolution and the decision core, with plain data."""

from __future__ import annotations

import json
import logging

import pytest

from skewguard.build import BuildOptions, build
from skewguard.protocol import RequestFacts, authorize_bust, decide_inertia, version_endpoint
from skewguard.settings import Settings, SettingsError
from skewguard.tokens import make_token, verify_token
from skewguard.version import (
    Component,
    VersionError,
    VersionSnapshot,
    resolve,
    vite_manifest_version,
)

from ..build.helpers import write_tree

SNAP = VersionSnapshot("v2", "explicit")
SETTINGS = Settings(SECRET_KEY="s3cret")


def facts(method="GET", path="/page", query="", **headers):
    return RequestFacts(method, path, query, {k.replace("_", "-"): v for k, v in headers.items()})


# -- settings ------------------------------------------------------------------------------------


def test_settings_defaults_env_and_kwargs():
    s = Settings.load({}, environ={})
    assert (
        s.APP_VERSION,
        s.APP_VERSION_HEADER,
        s.APP_VERSION_MISMATCH,
        s.VERSION_ENDPOINT,
        s.STATIC_DEV_VERSION_QUERY,
    ) == (
        "",
        True,
        "reload",
        True,
        True,
    )
    env = {
        "SKEWGUARD_APP_VERSION": "abc123",
        "SKEWGUARD_APP_VERSION_HEADER": "false",
        "SKEWGUARD_STATIC_DIRS": "a:b",
    }
    s = Settings.load({}, environ=env)
    assert (
        s.APP_VERSION == "abc123" and s.APP_VERSION_HEADER is False and s.STATIC_DIRS == ("a", "b")
    )
    s = Settings.load({"app_version": "from-code"}, environ=env)
    assert s.APP_VERSION == "from-code"


@pytest.mark.parametrize(
    "overrides, env, message",
    [
        ({"APP_VERSION_MISMATCH": "explode"}, {}, "APP_VERSION_MISMATCH must be one of"),
        ({}, {"SKEWGUARD_APP_VERSION_HEADER": "maybe"}, "APP_VERSION_HEADER must be true or false"),
        ({"APP_VERSION": "bad version\r\n"}, {}, "APP_VERSION must be"),
        ({"STATIC_URL": "static"}, {}, "STATIC_URL must be a path"),
        ({"no_such_thing": 1}, {}, "unknown setting 'no_such_thing'"),
    ],
)
def test_invalid_settings_fail_with_one_line_naming_the_setting(overrides, env, message):
    with pytest.raises(SettingsError) as exc:
        Settings.load(overrides, environ=env)
    assert message in str(exc.value) and "\n" not in str(exc.value)


# -- tokens --------------------------------------------------------------------------------------


def test_tokens():
    token = make_token("key", 600, now=1000)
    assert verify_token("key", token, now=1500)
    assert not verify_token("key", token, now=1600)  # expired
    assert not verify_token("other", token, now=1500)  # wrong secret
    assert not verify_token("key", token, purpose="something-else", now=1500)  # wrong purpose
    version, expiry, sig = token.split(".")
    assert not verify_token(
        "key", f"{version}.{int(expiry) + 10**6}.{sig}", now=1500
    )  # edited expiry
    assert not verify_token(
        "key",
        f"{version}.{expiry}.{sig[:-1]}A" if sig[-1] != "A" else f"{version}.{expiry}.{sig[:-1]}B",
        now=1500,
    )
    for garbage in ("", "v1", "v1..", "x" * 5000, "v1.1.\x00", token + "x", "v2" + token[2:]):
        assert not verify_token("key", garbage, now=1500)
    assert not verify_token("", token, now=1500)  # no secret configured: nothing verifies


# -- the Inertia rule ----------------------------------------------------------------------------


def test_inertia_conflict():
    response = decide_inertia(
        facts(query="a=1&b=2", x_inertia="true", x_inertia_version="v1"), SNAP, SETTINGS
    )
    assert response is not None and response.status == 409
    headers = dict(response.headers)
    assert headers["X-Inertia-Location"] == "/page?a=1&b=2"
    assert headers["X-Inertia-Version"] == "v2"
    assert "X-Inertia" not in headers


@pytest.mark.parametrize(
    "request_facts, snapshot",
    [
        (facts(x_inertia="true", x_inertia_version="v2"), SNAP),  # same version
        (facts(x_inertia="true"), SNAP),  # no version header
        (facts(x_inertia_version="v1"), SNAP),  # not an Inertia request
        (facts(method="POST", x_inertia="true", x_inertia_version="v1"), SNAP),  # never for POST
        (facts(method="PUT", x_inertia="true", x_inertia_version="v1"), SNAP),
        (
            facts(x_inertia="true", x_inertia_version="v1"),
            VersionSnapshot("dev-1", "dev", dev=True),
        ),  # dev mode
    ],
)
def test_inertia_passes(request_facts, snapshot):
    assert decide_inertia(request_facts, snapshot, SETTINGS) is None


def test_inertia_location_is_header_safe():
    response = decide_inertia(
        facts(path="/a\r\nSet-Cookie: x=1", x_inertia="true", x_inertia_version="v1"),
        SNAP,
        SETTINGS,
    )
    location = dict(response.headers)["X-Inertia-Location"]
    assert "\r" not in location and "\n" not in location and " " not in location


@pytest.mark.parametrize("client_version", ["x" * 10_000, "v1\x00\x07\x1b", "vé\xff"])
def test_hostile_client_versions_are_just_mismatches(client_version):
    response = decide_inertia(
        facts(x_inertia="true", x_inertia_version=client_version), SNAP, SETTINGS
    )
    assert response.status == 409
    assert client_version not in repr(response.headers)


# -- endpoints -----------------------------------------------------------------------------------


def test_version_endpoint():
    response = version_endpoint(facts(), SNAP, SETTINGS)
    assert response.status == 200 and ("Cache-Control", "no-store") in response.headers
    assert json.loads(response.body) == {
        "version": "v2",
        "source": "explicit",
        "components": {},
        "release": None,
        "dev": False,
        "active": None,
        "behind": False,
    }
    head = version_endpoint(facts(method="HEAD"), SNAP, SETTINGS)
    assert head.status == 200 and head.body == b""
    post = version_endpoint(facts(method="POST"), SNAP, SETTINGS)
    assert post.status == 405 and ("Allow", "GET, HEAD") in post.headers


def test_bust_authorization():
    token = make_token("s3cret", 60)
    assert authorize_bust(facts(method="POST", authorization=f"Bearer {token}"), SETTINGS) is None
    get = authorize_bust(facts(method="GET", authorization=f"Bearer {token}"), SETTINGS)
    assert get.status == 405 and ("Allow", "POST") in get.headers
    refusals = [
        facts(method="POST"),
        facts(method="POST", authorization="Bearer"),
        facts(method="POST", authorization="Basic abc"),
        facts(method="POST", authorization="Bearer " + make_token("s3cret", 60, now=0)),  # expired
        facts(method="POST", authorization="Bearer " + make_token("s3cret", 60, purpose="other")),
        facts(method="POST", authorization="Bearer " + token[:-2] + "xx"),
    ]
    bodies = set()
    for request_facts in refusals:
        response = authorize_bust(request_facts, SETTINGS)
        assert response.status == 401
        assert dict(response.headers)["WWW-Authenticate"].startswith("Bearer")
        bodies.add(response.body)
    assert len(bodies) == 1  # nothing tells a bad token from an expired one
    assert (
        authorize_bust(facts(method="POST", authorization=f"Bearer {token}"), Settings()).status
        == 401
    )


# -- version resolution --------------------------------------------------------------------------


def built(tmp_path, files=None):
    src = write_tree(tmp_path / "src", files or {"a.css": "a{}"})
    out = tmp_path / "out"
    report = build([str(src)], str(out), BuildOptions(compress=False))
    return out, report.version


def test_resolution_order(tmp_path):
    out, manifest_version = built(tmp_path)
    none = str(tmp_path / "no-hot")
    assert (
        resolve(Settings(STATIC_ROOT=str(out), APP_VERSION="1.2.3", VITE_HOT_FILE=none)).source
        == "explicit"
    )
    snap = resolve(Settings(STATIC_ROOT=str(out), VITE_HOT_FILE=none))
    assert (snap.version, snap.source) == (manifest_version, "manifest")
    assert snap.release["id"] == manifest_version
    templates = write_tree(tmp_path / "tpl", {"base.html": "<html>", "pages/a.html": "a"})
    component = Component("templates", ("**/*.html",), str(templates))
    both = resolve(Settings(STATIC_ROOT=str(out), VITE_HOT_FILE=none), [component])
    assert both.source == "manifest+components" and both.version not in (
        manifest_version,
        "unknown",
    )
    assert both.as_json()["components"] == {"templates": 2}
    only = resolve(Settings(MANIFEST_REQUIRED=False, VITE_HOT_FILE=none), [component])
    assert only.source == "components"
    (templates / "pages/a.html").write_text("changed")
    assert (
        resolve(Settings(MANIFEST_REQUIRED=False, VITE_HOT_FILE=none), [component]).version
        != only.version
    )
    assert resolve(Settings(MANIFEST_REQUIRED=False, VITE_HOT_FILE=none)).version == "unknown"


def test_component_hash_covers_paths_and_reports_missing(tmp_path, caplog):
    a = write_tree(tmp_path / "a", {"x.txt": "same"})
    b = write_tree(tmp_path / "b", {"y.txt": "same"})
    settings = Settings(MANIFEST_REQUIRED=False, VITE_HOT_FILE="")
    va = resolve(settings, [Component("c", ("*.txt",), str(a))]).version
    vb = resolve(settings, [Component("c", ("*.txt",), str(b))]).version
    assert va != vb  # same bytes, different relative path
    with caplog.at_level(logging.WARNING, logger="skewguard"):
        resolve(settings, [Component("c", ("x.txt", "gone.txt"), str(a))])
    assert "gone.txt" in caplog.text


def test_vite_manifest_is_hashed_canonically(tmp_path):
    document = {
        "src/main.ts": {
            "file": "assets/main-abc.js",
            "css": ["assets/main-def.css"],
            "isEntry": True,
        }
    }
    compact = json.dumps(document).encode()
    pretty = json.dumps(dict(reversed(list(document.items()))), indent=4, sort_keys=False).encode()
    assert vite_manifest_version(compact) == vite_manifest_version(pretty) is not None
    path = tmp_path / "manifest.json"
    path.write_bytes(pretty)
    snap = resolve(Settings(MANIFEST_PATH=str(path), VITE_HOT_FILE=""))
    assert (snap.version, snap.source) == (vite_manifest_version(compact), "vite-manifest")


def test_vite_hot_file_means_dev_mode(tmp_path):
    hot = tmp_path / "hot"
    hot.write_text("http://127.0.0.1:5173\n")
    snap = resolve(Settings(VITE_HOT_FILE=str(hot), MANIFEST_PATH=str(tmp_path / "none.json")))
    assert snap.dev and snap.source == "dev" and snap.version.startswith("dev-")
    assert decide_inertia(facts(x_inertia="true", x_inertia_version="old"), snap, SETTINGS) is None


def test_missing_or_corrupt_manifest(tmp_path, caplog):
    missing = Settings(MANIFEST_PATH=str(tmp_path / "nope.json"), VITE_HOT_FILE="")
    with pytest.raises(VersionError, match="cannot be read.*skewguard build"):
        resolve(missing)
    corrupt = tmp_path / "staticfiles.json"
    corrupt.write_text("{broken")
    with pytest.raises(VersionError, match="not valid JSON"):
        resolve(Settings(MANIFEST_PATH=str(corrupt), VITE_HOT_FILE=""))
    with caplog.at_level(logging.WARNING, logger="skewguard"):
        lenient = resolve(
            Settings(MANIFEST_PATH=str(corrupt), VITE_HOT_FILE="", MANIFEST_REQUIRED=False)
        )
    assert lenient.version == "unknown" and lenient.problems and "not valid JSON" in caplog.text
