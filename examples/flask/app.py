"""A minimal Flask app with the skewguard extension.

Run:  python examples/flask/app.py        (builds static/ into dist/, serves on 127.0.0.1:8002)
"""

import os
import sys
from pathlib import Path

from flask import Flask, render_template

from skewguard.build import BuildOptions, build
from skewguard.contrib.flask import Skewguard
from skewguard.demo.releases import ASSETS

HERE = Path(__file__).resolve().parent
# htmx comes from the copy vendored in skewguard's demo, under the vendor/ prefix.
build([str(HERE / "static"), f"vendor={ASSETS / 'js'}"], str(HERE / "dist"), BuildOptions())

app = Flask(__name__, static_folder=None)  # skewguard serves /static/ from dist/
app.config.update(
    SECRET_KEY=os.environ.get("SECRET_KEY", "example-only"),
    APP_VERSION_MISMATCH="prompt",
    SKEWGUARD_STATIC_ROOT=str(HERE / "dist"),
    SKEWGUARD_VITE_HOT_FILE="",
)
skewguard = Skewguard(app)


@app.get("/")
def home():
    return render_template("index.html")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8002
    app.run(host="127.0.0.1", port=port)
