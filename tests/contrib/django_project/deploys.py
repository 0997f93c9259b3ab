"""Deploys in a Django project with django-vite, run in their own process (python -m ... NAME):
a bust must switch {% static %} and django-vite's tags to the new release, or say that a restart
is needed and keep serving the old one whole."""

import json
import os
import subprocess
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.contrib.django_project.deploy_settings")


def release(n: int, vite_manifest: str | None = None) -> None:
    """Write release ``n``'s sources (a stylesheet and a Vite-style bundle) and collectstatic:
    what a deploy does before its bust (or restart)."""
    src = os.environ["TEST_STATIC_SRC"]
    os.makedirs(os.path.join(src, "css"), exist_ok=True)
    os.makedirs(os.path.join(src, "assets"), exist_ok=True)
    with open(os.path.join(src, "css", "site.css"), "w") as fh:
        fh.write(f"body {{ color: #{n:06d}; }}\n")
    with open(os.path.join(src, "assets", f"main-{n:08d}.js"), "w") as fh:
        fh.write(f"window.release = {n};\n")
    # collectstatic copies a file only when it is newer by whole seconds: date each release apart.
    stamp = time.time() + 10 * n
    for name in (os.path.join("css", "site.css"), os.path.join("assets", f"main-{n:08d}.js")):
        os.utime(os.path.join(src, name), (stamp, stamp))
    entry = {
        "src/main.js": {"file": f"assets/main-{n:08d}.js", "isEntry": True, "src": "src/main.js"}
    }
    with open(os.environ["TEST_VITE_MANIFEST"], "w") as fh:
        fh.write(vite_manifest if vite_manifest is not None else json.dumps(entry))
    # In its own process, as a deploy runs it: never through this process's storage object.
    subprocess.run(
        [sys.executable, "-m", "django", "collectstatic", "--noinput", "-v0"], check=True
    )
    if n == 1:
        django.setup()  # the server process starts on release 1


def page(client) -> tuple[str, str]:
    response = client.get("/")
    assert response.status_code == 200, response.status_code
    return response["X-App-Version"], response.content.decode()


def bust(client) -> dict:
    from skewguard.tokens import make_token

    token = make_token("django-test-secret", 60)
    return client.post("/cache/bust", headers={"Authorization": f"Bearer {token}"}).json()


def staticfiles_url(name: str) -> str:
    root = os.environ["TEST_STATIC_ROOT"]
    with open(os.path.join(root, "staticfiles.json")) as fh:
        return "/static/" + json.load(fh)["paths"][name]


def bust_switches_renderers() -> None:
    release(1)
    from django.test import Client

    client = Client()
    old_version, html = page(client)
    old_css = staticfiles_url("css/site.css")
    assert old_css in html and "main-00000001" in html, html
    release(2)
    answer = bust(client)
    assert answer["status"] == "ok" and answer["version"] != old_version, answer
    version, html = page(client)
    assert version == answer["version"], (version, answer)
    new_css = staticfiles_url("css/site.css")
    assert new_css != old_css
    assert new_css in html, f"{{% static %}} still renders the old release: {html}"
    assert "main-00000002" in html and "main-00000001" not in html, f"django-vite: {html}"
    print("OK")


def bust_needs_restart() -> None:
    release(1)
    from django.test import Client

    client = Client()
    old_version, old_html = page(client)
    release(2, vite_manifest="{not json")  # django-vite cannot read the new release's manifest
    answer = bust(client)
    assert answer["status"] == "restart-needed" and answer["restart_needed"] is True, answer
    assert answer["version"] == old_version and "django-vite" in answer["error"], answer
    # Nothing switched: the old label over the old asset URLs, all of them.
    version, html = page(client)
    assert version == old_version and html == old_html, (old_html, html)
    assert client.get("/version").json()["version"] == old_version
    print("OK")


if __name__ == "__main__":
    globals()[sys.argv[1]]()
