"""A minimal Litestar app with the skewguard plugin.

Run:  python examples/litestar/app.py        (builds static/ into dist/, serves on 127.0.0.1:8003)
"""

import os
import sys
from pathlib import Path

from litestar import Litestar, get
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from skewguard.build import BuildOptions, build
from skewguard.contrib.litestar import SkewguardPlugin
from skewguard.demo.releases import ASSETS

HERE = Path(__file__).resolve().parent
# htmx comes from the copy vendored in skewguard's demo, under the vendor/ prefix.
build([str(HERE / "static"), f"vendor={ASSETS / 'js'}"], str(HERE / "dist"), BuildOptions())


@get("/")
async def home() -> Template:
    return Template(template_name="index.html")


app = Litestar(
    route_handlers=[home],
    template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
    plugins=[
        SkewguardPlugin(
            static_root=str(HERE / "dist"),
            secret_key=os.environ.get("SECRET_KEY", "example-only"),
            vite_hot_file="",
        )
    ],
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]) if len(sys.argv) > 1 else 8003,
        log_level="warning",
    )
