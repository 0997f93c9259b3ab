"""Template helpers and the facade: static(), static_url(), app_version(), Jinja2 globals."""

from __future__ import annotations

import json
import logging

import jinja2
import pytest

from skewguard import Skewguard
from skewguard.build import BuildOptions, build
from skewguard.contrib.jinja import install
from skewguard.guard import UnknownStaticPath

from ..build.helpers import write_tree


@pytest.fixture
def out(tmp_path):
    src = write_tree(tmp_path / "src", {"css/app.css": "a{}", "js/app.js": "1"})
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions(compress=False))
    return out


def test_facade_as_in_the_spec(out):
    sg = Skewguard(
        static_root=str(out),
        static_url="/assets/",
        secret_key="k",
        APP_VERSION_MISMATCH="defer",
        vite_hot_file="",
    )
    paths = json.loads((out / "staticfiles.json").read_text())["paths"]
    assert sg.static("css/app.css") == "/assets/" + paths["css/app.css"]
    assert sg.static_url("css/app.css") == sg.static("css/app.css")  # production: the same
    assert sg.version == json.loads((out / "staticfiles.json").read_text())["hash"]
    assert sg.version_source == "manifest" and sg.app_version() == sg.version
    assert sg.settings.APP_VERSION_MISMATCH == "defer"


def test_unknown_static_path_warns_or_raises(out, caplog):
    sg = Skewguard(static_root=str(out), vite_hot_file="")
    with caplog.at_level(logging.WARNING, logger="skewguard"):
        assert sg.static("img/nope.png") == "/static/img/nope.png"
    assert "img/nope.png" in caplog.text
    strict = Skewguard(static_root=str(out), strict=True, vite_hot_file="")
    with pytest.raises(UnknownStaticPath):
        strict.static("img/nope.png")


def test_register_component_changes_the_version(out, tmp_path):
    templates = write_tree(tmp_path / "templates", {"base.html": "<html>"})
    sg = Skewguard(static_root=str(out), vite_hot_file="")
    before = sg.version
    sg.register_component("templates", ["**/*.html"], base=str(templates))
    assert sg.version != before and sg.version_source == "manifest+components"
    (templates / "base.html").write_text("<html lang=en>")
    previous = sg.version
    assert sg.reload().version != previous  # reload re-hashes the component files
    assert sg.snapshot.as_json()["components"] == {"templates": 1}


def test_jinja_globals(out):
    sg = Skewguard(static_root=str(out), vite_hot_file="")
    env = jinja2.Environment(autoescape=True)
    install(env, sg)
    html = env.from_string(
        "<link href='{{ static(\"css/app.css\") }}'><script src='{{ static_url(\"js/app.js\") }}'></script>"
        "<meta content='{{ app_version() }}'><!-- {{ vite_version }} -->"
    ).render()
    paths = json.loads((out / "staticfiles.json").read_text())["paths"]
    assert f"/static/{paths['css/app.css']}" in html and f"/static/{paths['js/app.js']}" in html
    assert html.count(sg.version) == 2
