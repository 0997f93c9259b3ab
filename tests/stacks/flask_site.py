"""The Flask + htmx site of the stack tests, served by gunicorn workers. Its static sources (a
release marker in js/app.js, a lazily imported js/lazy.js, htmx from npm) are rebuilt by each
deploy; SKEWGUARD_* from the environment says where."""

from __future__ import annotations

from flask import Flask, render_template_string

from skewguard.contrib.flask import Skewguard

app = Flask(__name__, static_folder=None)  # skewguard serves /static/
app.config.update(SECRET_KEY="s3cret")
Skewguard(app)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>flask + htmx</title>
<link rel="stylesheet" href="{{ static('css/site.css') }}">
<script src="{{ static('js/htmx.min.js') }}"></script>
<script src="{{ static('js/app.js') }}"></script>
<script>window.loadLazy = () => import("{{ static('js/lazy.js') }}").then((m) => m.lazyValue);</script>
</head><body>
<p>rendered by {{ app_version() }}</p>
<button id="load" hx-get="/fragment" hx-target="#out">Load</button>
<div id="out"></div>
</body></html>"""


@app.get("/")
def home() -> str:
    return render_template_string(PAGE)


@app.get("/fragment")
def fragment() -> str:
    return render_template_string("<p id='fragment'>fragment {{ app_version() }}</p>")
