"""Litestar + litestar-vite (Inertia) + skewguard.

Run:  cd examples/litestar_vite && npm install && npx vite build && python app.py [PORT]

Vite builds into public/; at start-up this app runs ``skewguard build public --out dist``.
skewguard serves /static/ from dist/ (Vite's files under their own names, earlier releases
retained); litestar-vite renders the asset tags and the Inertia pages. A deploy: rebuild with
Vite, run ``skewguard build public --out dist`` and POST /cache/bust (or restart).
"""

import os
import sys
from pathlib import Path

from litestar import Litestar, get, post
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.template.config import TemplateConfig
from litestar_vite import PathConfig, ViteConfig, VitePlugin
from litestar_vite.inertia import InertiaConfig

from skewguard.build import BuildOptions, build
from skewguard.contrib.litestar import SkewguardPlugin

HERE = Path(__file__).resolve().parent
if (HERE / "public").is_dir():
    build([str(HERE / "public")], str(HERE / "dist"), BuildOptions())
LIKES = {"n": 0}


@get("/", component="Home", sync_to_thread=False)
def home() -> dict:
    return {"likes": LIKES["n"]}


@get("/other", component="Other", sync_to_thread=False)
def other() -> dict:
    return {"likes": LIKES["n"]}


@post("/like", sync_to_thread=False)
def like() -> Redirect:
    LIKES["n"] += 1
    return Redirect("/", status_code=303)


app = Litestar(
    route_handlers=[home, other, like],
    template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
    plugins=[
        VitePlugin(
            config=ViteConfig(
                mode="template",
                dev_mode=False,
                inertia=InertiaConfig(root_template="index.html"),
                paths=PathConfig(
                    root=HERE, bundle_dir=HERE / "public", resource_dir=HERE / "src"
                ),
            )
        ),
        SkewguardPlugin(
            static_root=str(HERE / "dist"),
            secret_key=os.environ.get("SECRET_KEY", "example-only"),
            vite_hot_file="",
        ),
    ],
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]) if len(sys.argv) > 1 else 8005,
        log_level="warning",
    )
