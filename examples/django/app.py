"""A single-file Django project with the skewguard app: collectstatic builds with skewguard.

Run:  python examples/django/app.py        (collectstatic into dist/, serves on 127.0.0.1:8004)
"""

import os
import sys
from pathlib import Path

import django
from django.conf import settings

from skewguard.demo.releases import ASSETS

HERE = Path(__file__).resolve().parent
settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("SECRET_KEY", "example-only"),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.staticfiles", "skewguard.contrib.django"],
    MIDDLEWARE=["skewguard.contrib.django.middleware.SkewguardMiddleware"],
    TEMPLATES=[
        {"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [HERE / "templates"]}
    ],
    STATIC_URL="/static/",
    STATIC_ROOT=HERE / "dist",
    # htmx comes from the copy vendored in skewguard's demo, under the vendor/ prefix.
    STATICFILES_DIRS=[HERE / "static", ("vendor", ASSETS / "js")],
    STORAGES={"staticfiles": {"BACKEND": "skewguard.contrib.django.storage.ManifestStorage"}},
    APP_VERSION_MISMATCH="prompt",
    SKEWGUARD={"VITE_HOT_FILE": ""},
)
django.setup()

from django.core.management import call_command  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.urls import include, path  # noqa: E402

urlpatterns = [
    path("", lambda request: render(request, "index.html")),
    path("ops/", include("skewguard.contrib.django.urls")),
]

if __name__ == "__main__":
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIServer, make_server

    from django.core.wsgi import get_wsgi_application

    call_command("collectstatic", interactive=False, verbosity=0)

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8004
    print(f"http://127.0.0.1:{port}/")
    make_server("127.0.0.1", port, get_wsgi_application(), server_class=Server).serve_forever()
