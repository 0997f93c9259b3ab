"""A minimal Starlette app with skewguard: hashed assets, htmx, the middleware.

Run:  python examples/starlette/app.py        (builds static/ into dist/, serves on 127.0.0.1:8001)
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import HTMLResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.templating import Jinja2Templates  # noqa: E402

from skewguard import Skewguard  # noqa: E402
from skewguard.build import BuildOptions, build  # noqa: E402
from skewguard.contrib.starlette import SkewguardMiddleware, install_templates, routes, static_mount  # noqa: E402
from skewguard.demo.releases import ASSETS  # noqa: E402

# htmx comes from the copy vendored in skewguard's demo, under the vendor/ prefix.
build([str(HERE / "static"), f"vendor={ASSETS / 'js'}"], str(HERE / "dist"), BuildOptions())
sg = Skewguard(
    static_root=str(HERE / "dist"),
    secret_key=os.environ.get("SECRET_KEY", "example-only"),
    vite_hot_file="",
)
templates = Jinja2Templates(directory=str(HERE / "templates"))
install_templates(templates, sg)


async def home(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", {})


async def clicked(request: Request) -> HTMLResponse:
    return HTMLResponse(f"<p id='clicked'>Clicked; the server runs {sg.version}.</p>")


app = Starlette(
    routes=[
        Route("/", home),
        Route("/clicked", clicked, methods=["POST"]),
        *routes(sg),
        static_mount(sg),
    ],
    middleware=[Middleware(SkewguardMiddleware, guard=sg, endpoints=False)],
)

if __name__ == "__main__":
    import uvicorn

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8001
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
