"""The site the browser tests drive, as a plain ASGI app (uvicorn) and a plain WSGI app, both
wrapped by skewguard. Configured by environment: SKEWGUARD_* for skewguard, TEST_APP_KIND.

Pages take ?policy=&poll= (the client's policy and polling interval in ms) and render the
version they were rendered by, so a test can tell which release a tab shows.
"""

from __future__ import annotations

import json
import os
import threading
from html import escape
from urllib.parse import parse_qs

from skewguard import Skewguard

LOG: list[dict] = []  # what reached the app (after skewguard), read by tests via /__log
LOG_LOCK = threading.Lock()
LIKES = {"n": 0}


def client_options(context) -> dict:
    query = (
        context.get("query_string", b"").decode()
        if "query_string" in context
        else context.get("QUERY_STRING", "")
    )
    params = parse_qs(query)
    options = {}
    if "policy" in params:
        options["policy"] = params["policy"][0]
    if "poll" in params:
        options["poll"] = int(params["poll"][0])
    if "fetch" in params:
        options["fetch"] = True
    if "tab" in params:  # tells the tabs' /version polls apart in the log
        options["versionUrl"] = "/version?tab=" + params["tab"][0]
    return options


guard = Skewguard(client_options=client_options)


def page(title: str, body: str, head: str = "", body_attrs: str = "") -> tuple[int, list, bytes]:
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<link rel='stylesheet' href='{guard.static('css/site.css')}'>{head}</head>"
        f"<body {body_attrs}><p>rendered by <span id='rendered-version'>{guard.version}</span></p>{body}"
        # Set once per real page load (htmx re-runs inline scripts in swapped content).
        "<script>if (!window.__boot) { window.__boot = Math.random();"
        " sessionStorage.setItem('loads', String(1 + Number(sessionStorage.getItem('loads') || 0)));"
        " document.addEventListener('skewguard:stale', e => { window.__staleSource = e.detail.source; }); }</script>"
        "</body></html>"
    )
    return 200, [("Content-Type", "text/html; charset=utf-8")], html.encode()


CALL_PANEL = """
<div id="call">
  <video id="remote" muted playsinline width="160" height="120"></video>
  <button id="start-call" type="button" onclick="startCall()">Start call</button>
  <button id="end-call" type="button" onclick="endCall()">End call</button>
</div>
<script>
  // Two peers in the page, wired over loopback, with the fake camera: a real call.
  window.startCall = async () => {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    const a = new RTCPeerConnection(), b = new RTCPeerConnection();
    a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
    b.ontrack = (e) => { const v = document.getElementById("remote"); v.srcObject = e.streams[0]; v.play(); };
    stream.getTracks().forEach((t) => a.addTrack(t, stream));
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    window.__call = { a, b, stream };
  };
  window.endCall = () => {
    const call = window.__call;
    if (!call) return;
    call.stream.getTracks().forEach((t) => t.stop());
    call.a.close(); call.b.close();
    document.getElementById("remote").pause();
    window.__call = null;
  };
</script>
"""


def handle(
    method: str, path: str, query: str, headers: dict, body: bytes
) -> tuple[int, list, bytes]:
    qs = "?" + query if query else ""
    if path == "/__log":
        with LOG_LOCK:
            return 200, [("Content-Type", "application/json")], json.dumps(LOG).encode()
    if path in ("/htmx", "/htmx/next"):
        version = parse_qs(query).get("htmx", ["4"])[0]
        script = guard.static("js/htmx4.min.js" if version == "4" else "js/htmx2.min.js")
        boost = 'hx-boost:inherited="true"' if version == "4" else 'hx-boost="true"'
        title = "Next" if path == "/htmx/next" else "Home"
        return page(
            title,
            f"""
            <h1 id="title">{title}</h1>
            <a id="next" href="/htmx/next{escape(qs)}">Next</a> <a id="home" href="/htmx{escape(qs)}">Home</a>
            <button id="load" hx-get="/fragment" hx-target="#out">Load</button><div id="out"></div>""",
            head=f"<script src='{script}'></script>",
            body_attrs=boost,
        )
    if path == "/fragment":
        return (
            200,
            [("Content-Type", "text/html; charset=utf-8")],
            f"<p id='fragment'>fragment {guard.version}</p>".encode(),
        )
    if path in ("/inertia", "/inertia/other", "/inertia/like"):
        if path == "/inertia/like" and method == "POST":
            LIKES["n"] += 1
            return 303, [("Location", "/inertia" + qs)], b""
        component = "Other" if path == "/inertia/other" else "Home"
        page_object = {
            "component": component,
            "props": {"likes": LIKES["n"]},
            "url": path + qs,
            "version": guard.version,
        }
        if headers.get("x-inertia") == "true":
            return (
                200,
                [
                    ("Content-Type", "application/json"),
                    ("X-Inertia", "true"),
                    ("Vary", "X-Inertia"),
                ],
                json.dumps(page_object).encode(),
            )
        data = escape(json.dumps(page_object), quote=True)
        return page(
            "Inertia",
            f"{CALL_PANEL}<div id='app' data-page=\"{data}\"></div>",
            head=f"<script type='module' src='{guard.static('inertia/assets/' + INERTIA_ENTRY)}'></script>",
        )
    if path == "/form":
        if method == "POST":
            return 303, [("Location", "/form" + qs)], b""
        return page(
            "Form",
            """
            <form id="form" method="post" data-skewguard-protect>
              <textarea id="message" name="message"></textarea><button id="save" type="submit">Save</button>
            </form>""",
        )
    if path == "/media":
        return page(
            "Media",
            CALL_PANEL
            + """
            <video id="clip" muted playsinline loop width="160" height="120"></video>
            <script>
              window.playClip = () => {
                const canvas = document.createElement("canvas"); canvas.width = 64; canvas.height = 48;
                const ctx = canvas.getContext("2d"); let n = 0;
                setInterval(() => { ctx.fillStyle = n++ % 2 ? "#c00" : "#00c"; ctx.fillRect(0, 0, 64, 48); }, 100);
                const v = document.getElementById("clip"); v.srcObject = canvas.captureStream(10); return v.play();
              };
              window.pauseClip = () => document.getElementById("clip").pause();
            </script>
            <a id="next" href="/media/next">Next</a>""",
        )
    if path == "/media/next":
        return page("Media next", "<h1 id='title'>Next</h1>")
    if path == "/lazy":
        return page(
            "Lazy",
            f"""
            <button id="lazy" type="button" onclick="import('{guard.static("js/lazy.js")}').then(m => window.__lazy = m.value)">Load chunk</button>""",
        )
    return 404, [("Content-Type", "text/plain")], b"not found"


def _inertia_entry() -> str:
    manifest = guard.snapshot.manifest
    for name in manifest.paths if manifest else ():
        if name.startswith("inertia/assets/inertia-app-") and name.endswith(".js"):
            return name.rsplit("/", 1)[1]
    return "missing.js"


INERTIA_ENTRY = _inertia_entry()


def record(
    method: str, path: str, headers: dict, status: int, response_headers: list, query: str = ""
) -> None:
    if path.startswith("/static/") or path == "/__log":
        return
    with LOG_LOCK:
        LOG.append(
            {
                "method": method,
                "path": path,
                "query": query,
                "status": status,
                "hold_header": headers.get("x-skewguard-hold"),
                "cookie": headers.get("cookie", ""),
                "inertia_version": headers.get("x-inertia-version"),
                "stale": dict((k.lower(), v) for k, v in response_headers).get("x-app-stale"),
            }
        )


# -- ASGI ----------------------------------------------------------------------------------------


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
    status, response_headers, content = handle(
        scope["method"], scope["path"], scope["query_string"].decode(), headers, body
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.lower().encode(), v.encode()) for k, v in response_headers],
        }
    )
    await send({"type": "http.response.body", "body": content})


def logging_asgi(app):
    """Outermost: sees what the browser sent and what it finally got (409s included)."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}

        async def logging_send(message):
            if message["type"] == "http.response.start":
                record(
                    scope["method"],
                    scope["path"],
                    headers,
                    message["status"],
                    [(k.decode(), v.decode("latin-1")) for k, v in message.get("headers", [])],
                    scope["query_string"].decode(),
                )
            await send(message)

        await app(scope, receive, logging_send)

    return wrapped


# -- WSGI ----------------------------------------------------------------------------------------


def wsgi_app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {
        k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
    }
    status, response_headers, content = handle(
        environ["REQUEST_METHOD"],
        environ.get("PATH_INFO", "/"),
        environ.get("QUERY_STRING", ""),
        headers,
        body,
    )
    from http import HTTPStatus

    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        response_headers + [("Content-Length", str(len(content)))],
    )
    return [content]


def logging_wsgi(app):
    def wrapped(environ, start_response):
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }

        def logging_start(status, response_headers, exc_info=None):
            record(
                environ["REQUEST_METHOD"],
                environ.get("PATH_INFO", "/"),
                headers,
                int(status.split()[0]),
                response_headers,
                environ.get("QUERY_STRING", ""),
            )
            return (
                start_response(status, response_headers, exc_info)
                if exc_info
                else start_response(status, response_headers)
            )

        return app(environ, logging_start)

    return wrapped


# -- a server whose version flips on every request (two releases behind one address) ------------


def flipping_asgi():
    guards = [
        Skewguard(
            app_version=v,
            manifest_required=False,
            static_root=os.environ["SKEWGUARD_STATIC_ROOT"],
            client_options=client_options,
        )
        for v in ("flipA", "flipB")
    ]
    apps = [g.asgi(asgi_app) for g in guards]
    counter = {"n": 0}

    async def app(scope, receive, send):
        counter["n"] += 1
        await apps[counter["n"] % 2](scope, receive, send)

    return app


KIND = os.environ.get("TEST_APP_KIND", "asgi")
if KIND == "asgi":
    app = logging_asgi(guard.asgi(asgi_app))
elif KIND == "flip":
    app = logging_asgi(flipping_asgi())
else:
    app = logging_wsgi(guard.wsgi(wsgi_app))
