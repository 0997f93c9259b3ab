"""Scenarios run in their own process (Django settings are per process): python -m ... NAME."""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.contrib.django_project.settings")


def collectstatic() -> None:
    django.setup()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


def check_collected() -> None:
    collectstatic()
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.template import Context, Template

    from skewguard.build.references import find_css_references
    from skewguard.build.urls import resolve

    root = os.environ["TEST_STATIC_ROOT"]
    manifest = json.load(open(os.path.join(root, "staticfiles.json")))
    paths = manifest["paths"]
    # Django's own lookups accept the manifest.
    assert staticfiles_storage.url("admin/css/base.css") == "/static/" + paths["admin/css/base.css"]
    rendered = Template("{% load static %}{% static 'admin/css/base.css' %}").render(Context())
    assert rendered == "/static/" + paths["admin/css/base.css"], rendered
    # Every reference in the admin's CSS resolves to a hashed file that exists.
    checked = 0
    for canonical, hashed in paths.items():
        if canonical.startswith("admin/") and canonical.endswith(".css"):
            data = open(os.path.join(root, hashed), "rb").read()
            for ref in find_css_references(data):
                target = resolve(ref.url, hashed, "/static/")
                if target is not None:
                    assert target.canonical in paths.values(), (canonical, ref.url)
                    assert os.path.exists(os.path.join(root, target.canonical)), (
                        canonical,
                        ref.url,
                    )
                    checked += 1
    assert checked > 5, checked
    print("OK", checked)


def middleware() -> None:
    collectstatic()
    from django.test import Client

    from skewguard.tokens import make_token

    root = os.environ["TEST_STATIC_ROOT"]
    paths = json.load(open(os.path.join(root, "staticfiles.json")))["paths"]
    version = json.load(open(os.path.join(root, "staticfiles.json")))["hash"]
    client = Client()
    page = client.get("/")
    html = page.content.decode()
    assert page["X-App-Version"] == version
    assert f'href="/static/{paths["css/site.css"]}"' in html  # Django's {% static %}
    assert html.count(f"/static/{paths['css/site.css']}") == 2  # and skewguard's {% static_url %}
    assert "data-skewguard" in html and f'<p id="version">{version}</p>' in html
    conflict = client.get("/", headers={"X-Inertia": "true", "X-Inertia-Version": "old"})
    assert conflict.status_code == 409 and conflict["X-Inertia-Location"] == "/"
    assert client.get("/version").json()["version"] == version
    assert client.get("/ops/version").json()["version"] == version  # include(...urls)
    assert client.post("/cache/bust").status_code == 401
    token = make_token("django-test-secret", 60)
    assert (
        client.post("/cache/bust", headers={"Authorization": f"Bearer {token}"}).json()["status"]
        == "ok"
    )
    assert (
        client.post("/ops/cache/bust", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    static = client.get("/static/" + paths["admin/css/base.css"])
    assert static.status_code == 200 and static["Cache-Control"].endswith("immutable")
    assert client.get("/static/../settings.py").status_code == 404
    print("OK")


def asgi() -> None:
    collectstatic()
    import asyncio

    from django.test import AsyncClient

    async def run():
        client = AsyncClient()
        page = await client.get("/")
        assert page["X-App-Version"] and "data-skewguard" in page.content.decode()
        conflict = await client.get("/", headers={"X-Inertia": "true", "X-Inertia-Version": "old"})
        assert conflict.status_code == 409

    asyncio.run(run())
    print("OK")


def asgi_blocking_endpoint() -> None:
    """Under ASGI Django a blocking endpoint (a bust waits on locks and on the other workers)
    runs in a worker thread: the page requests beside it are answered meanwhile."""
    collectstatic()
    import asyncio
    import time

    from django.test import AsyncClient

    from skewguard.contrib.django.conf import get_guard
    from skewguard.protocol import Respond

    def slow(request, state):
        time.sleep(1.5)  # as a bust waiting for the other workers' acknowledgements
        return Respond(200, (("Content-Type", "text/plain"),), b"done")

    get_guard().add_endpoint("/slow-endpoint", slow, blocking=True)

    async def slow_request():
        response = await AsyncClient().get("/slow-endpoint")
        return response, time.monotonic() - started

    async def page_soon():
        await asyncio.sleep(0.2)  # the slow endpoint is running by now
        response = await AsyncClient().get("/")
        return response, time.monotonic() - started  # blocked loop: this waits for the sleep

    async def run():
        nonlocal started
        started = time.monotonic()
        (slow_answer, slow_done), (page, page_done) = await asyncio.gather(
            slow_request(), page_soon()
        )
        assert slow_answer.status_code == 200 and slow_answer.content == b"done"
        assert slow_done >= 1.5, slow_done
        assert page.status_code == 200 and page["X-App-Version"]
        assert page_done < 1.2, (
            f"the page was answered after {page_done:.2f} s, behind the endpoint"
        )

    started = 0.0
    asyncio.run(run())
    print("OK")


def inertia() -> None:
    collectstatic()
    import html
    import re

    from django.test import Client

    client = Client()
    page = client.get("/")
    version = page["X-App-Version"]
    text = page.content.decode()
    embedded = re.search(
        r'<script data-page="app" type="application/json">(.*?)</script>', text, re.S
    )  # inertia-django 2
    data = (
        json.loads(embedded.group(1))
        if embedded
        else json.loads(html.unescape(re.search(r'data-page="([^"]+)"', text).group(1)))
    )
    assert data["version"] == version, (data["version"], version)  # one source of truth
    current = client.get("/", headers={"X-Inertia": "true", "X-Inertia-Version": version})
    assert current.status_code == 200 and current.json()["version"] == version
    # A held page at an older release: skewguard lets it through, and inertia-django agrees.
    held = client.get(
        "/", headers={"X-Inertia": "true", "X-Inertia-Version": "old", "X-Skewguard-Hold": "old"}
    )
    assert held.status_code == 200 and held["X-App-Stale"] == "1", held.status_code
    assert held.json()["version"] == version
    forced = client.get("/", headers={"X-Inertia": "true", "X-Inertia-Version": "old"})
    assert forced.status_code == 409 and forced["X-Inertia-Location"].endswith("/")
    print("OK")


def dev() -> None:
    django.setup()  # DEBUG on: no collectstatic, files from STATICFILES_DIRS
    import re

    from django.test import Client

    client = Client()
    page = client.get("/").content.decode()
    assert re.search(
        r'id="sg-static" rel="stylesheet" href="/static/css/site\.css\?v=[0-9a-f]{12}"', page
    ), page
    assert (
        client.get("/", headers={"X-Inertia": "true", "X-Inertia-Version": "old"}).status_code
        == 200
    )
    print("OK")


def checks() -> None:
    django.setup()
    from django.conf import settings
    from django.core.checks import run_checks

    # DEBUG off and nothing collected yet: a deploy check only, never one that blocks migrate.
    assert "skewguard.E001" not in {m.id for m in run_checks()}
    ids = {m.id for m in run_checks(include_deployment_checks=True)}
    assert "skewguard.E001" in ids, ids
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "skewguard" not in m]
    assert "skewguard.W001" in {m.id for m in run_checks()}
    print("OK")


if __name__ == "__main__":
    globals()[sys.argv[1]]()
