"""The site the browser tests drive, as a plain ASGI app (uvicorn) and a plain WSGI app, both
wrapped by skewguard. Configured by environment: SKEWGUARD_* for skewguard, TEST_APP_KIND.

Pages take ?policy=&poll= (the client's policy and polling interval in ms) and render the
version they were rendered by, so a test can tell which release a tab shows.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from html import escape
from urllib.parse import parse_qs

from skewguard import Skewguard

LOG: list[dict] = []  # what reached the app (after skewguard), read by tests via /__log
LOG_LOCK = threading.Lock()
LIKES = {"n": 0}
NOTE: dict = {}  # the Inertia note form's flash message or errors, shown by the next page


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
    if path == "/htmx/form":
        return htmx_form_page(query)
    if path == "/htmx/form/save" and method == "POST":
        note = parse_qs(body.decode()).get("note", [""])[0]
        if not note.strip():  # re-rendered with the error and what was typed
            return (
                422,
                [("Content-Type", "text/html; charset=utf-8")],
                NOTE_FORM.format(
                    value=escape(note, quote=True), error="a note is required"
                ).encode(),
            )
        return (
            200,
            [("Content-Type", "text/html; charset=utf-8")],
            f"<p id='saved'>saved {escape(note)}</p>".encode(),
        )
    if path in ("/inertia", "/inertia/other", "/inertia/like", "/inertia/note"):
        if path == "/inertia/like" and method == "POST":
            LIKES["n"] += 1
            return 303, [("Location", "/inertia" + qs)], b""
        if path == "/inertia/note" and method == "POST":
            note = str(json.loads(body or b"{}").get("note", ""))
            NOTE.clear()
            if note.strip():
                NOTE["flash"] = f"saved {note}"
            else:
                NOTE.update(errors={"note": "a note is required"}, note=note)
            return 303, [("Location", "/inertia" + qs)], b""
        component = "Other" if path == "/inertia/other" else "Home"
        props = {"likes": LIKES["n"], **NOTE}
        NOTE.clear()
        page_object = {
            "component": component,
            "props": props,
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
            head=f"<script type='module' src='{guard.static('inertia/assets/' + inertia_entry(query))}'></script>",
        )
    if path == "/form":
        if method == "POST":
            return 303, [("Location", "/form" + qs)], b""
        # ?hold=1: the page holds itself from the start (a restored page that is still busy).
        hold = (
            "<script>window.__release = window.skewguard.hold('test');</script>"
            if "hold=1" in query
            else ""
        )
        return page(
            "Form",
            """
            <form id="form" method="post" data-skewguard-protect>
              <textarea id="message" name="message"></textarea><button id="save" type="submit">Save</button>
            </form><a id="away" href="/media/next">Away</a>"""
            + hold,
        )
    if path == "/slow-module.js":  # a chunk that takes a while (ASGI sleeps before answering)
        return (
            200,
            [("Content-Type", "text/javascript")],
            b"export const slow = 'slow module';",
        )
    if path == "/slow":
        return page(
            "Slow chunk",
            """<script>
              // What a chunk loader does: a module preload, then the import itself.
              window.loadSlow = () => {
                const link = document.createElement('link');
                link.rel = 'modulepreload'; link.href = '/slow-module.js';
                document.head.appendChild(link);
                return import('/slow-module.js').then((m) => { window.__slow = m.slow; });
              };
              document.addEventListener('skewguard:reload', () => {
                sessionStorage.setItem('slow-at-reload', String(window.__slow));
              });
            </script>""",
        )
    if path == "/media":
        # ?call=1: a call starts as the page loads (a restored page with a live camera).
        autostart = "<script>window.startCall();</script>" if "call=1" in query else ""
        return page(
            "Media",
            CALL_PANEL
            + autostart
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


NOTE_FORM = """<form id="note-form" data-skewguard-protect hx-post="/htmx/form/save" hx-target="this"
  hx-swap="outerHTML"><input id="note" name="note" value="{value}"><span id="note-error">{error}</span>
  <button id="send-note" type="submit">Send</button></form>"""


def htmx_form_page(query: str) -> tuple[int, list, bytes]:
    """A protected form posted by htmx; its answer (a message, or the form again with an error)
    is swapped in. What the page shows when skewguard reloads it is kept in sessionStorage."""
    version = parse_qs(query).get("htmx", ["4"])[0]
    script = guard.static("js/htmx4.min.js" if version == "4" else "js/htmx2.min.js")
    # htmx 2 swaps no 4xx by default; apps showing validation errors configure it like this.
    config = (
        ""
        if version == "4"
        else '<meta name="htmx-config" content=\'{"responseHandling": [{"code": "422", "swap": true},'
        ' {"code": "[23]..", "swap": true}, {"code": "[45]..", "swap": false, "error": true}]}\'>'
    )
    return page(
        "Form",
        NOTE_FORM.format(value="", error="")
        + """<div id="out"></div><script>
          document.addEventListener('skewguard:reload', () => {
            const saved = document.querySelector('#saved'), error = document.querySelector('#note-error');
            sessionStorage.setItem('shown-at-reload', JSON.stringify({
              saved: saved ? saved.textContent : null,
              settled: !document.querySelector('.htmx-added, .htmx-settling, .htmx-swapping'),
              error: error ? error.textContent : null }));
          });</script>""",
        head=f"{config}<script src='{script}'></script>",
    )


def inertia_entry(query: str) -> str:
    """The Vite entry of the Inertia major a page asks for (?inertia=0|1|2|3; 0 is 0.11)."""
    major = parse_qs(query).get("inertia", ["3"])[0]
    pattern = re.compile(
        r"inertia-app-[A-Za-z0-9_-]{8}\.js$"
        if major == "3"
        else rf"inertia-app-{re.escape(major)}-[A-Za-z0-9_-]{{8}}\.js$"
    )
    manifest = guard.snapshot.manifest
    for name in manifest.paths if manifest else ():
        if name.startswith("inertia/assets/") and pattern.match(name.rsplit("/", 1)[1]):
            return name.rsplit("/", 1)[1]
    return "missing.js"


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
                "pin": headers.get("x-app-requested-version"),
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
    if scope["path"] == "/slow-module.js":
        await asyncio.sleep(1.5)
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


def flipping_asgi(registry: bool = False):
    """Two releases behind one address, answering in turn. With ``registry``, both share a file
    registry in which flipA (registered first) is active and flipB a newer retained release."""
    settings = (
        {"registry": "file", "registry_path": os.environ["TEST_REGISTRY_PATH"]}
        if registry
        else {"registry": "none"}  # no shared word on the active release: the misconfigured case
    )
    guards = [
        Skewguard(
            app_version=v,
            manifest_required=False,
            static_root=os.environ["SKEWGUARD_STATIC_ROOT"],
            client_options=client_options,
            **settings,
        )
        for v in ("flipA", "flipB")
    ]
    if registry:  # each guard activated its own release as it started: flipA is the fleet's
        guards[0].registry.activate("flipA")
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
elif KIND == "flip-registry":
    app = logging_asgi(flipping_asgi(registry=True))
else:
    app = logging_wsgi(guard.wsgi(wsgi_app))
