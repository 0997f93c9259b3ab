"""Hostile HTTP, end to end: raw bytes on a socket to real servers running every adapter.

Each server (uvicorn with httptools and with h11, gunicorn's sync worker, threaded wsgiref,
Django under gunicorn and under uvicorn, the Flask extension, the Litestar plugin) gets the same
corpus of requests: traversal spellings, odd Range and Accept-Encoding values, conditional
headers with garbage, hostile Inertia/htmx/hold headers, forged heartbeats and tokens, chunked
and oversized bodies, odd methods and request targets. For every answer: no 5xx, the body is
exactly Content-Length long (none for HEAD, 204 and 304), no byte of a file outside the served
roots, file bodies are the file's bytes (or the range asked for) in an encoding the client
accepted, fragments (htmx, Inertia) never get the client; when the corpus is done, no traceback
in the server's stderr.

Besides: kept-alive connections stay in step after HEAD answers; HEAD declares the GET's length;
the snippet lands once where it belongs; clients that reset mid-response; a flood of forged
heartbeats stays within TELEMETRY_MAX_TABS (in-process and file recorders); megabyte header
values do not pile up in memory; VersionRouter takes hostile cookies.

Requests are written by hand (no HTTP client normalises them); each asks ``Connection: close``
and the reply is read to EOF, so a wrong Content-Length cannot hide in a kept-alive connection.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from skewguard.build import BuildOptions, build
from skewguard.client import client_name
from skewguard.tokens import make_token

from ..build.helpers import write_tree
from ..conftest import ROOT, require_tool
from ..processes import WSGI_RUNNER, free_port, stop, wait_for_http
from .hostile_app import DOCUMENT, DRIP, GZIPPED, NO_HEAD

SECRET = "s3cret"
STATUS_TOKEN = "status-token"
OUTSIDE = b"OUTSIDE-THE-ROOT-0xdeadbeef"  # in a file beside STATIC_ROOT: must never be served
SOURCES: dict[str, str | bytes] = {
    "css/app.css": "a{color:red}" * 200,
    "js/app.js": "console.log(1);" * 200,
    "img/café.svg": "<svg/>",
    "index.html": "<html><head></head><body>static</body></html>",
    "js/big.js": "// big\n" + "let x = 1;\n" * 200_000,
}
APP = "tests.fuzz.hostile_app:app"


# -- raw HTTP ---------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # as received after the head (chunked bodies decoded)
    declared: int | None  # Content-Length, when there was one
    closes: bool = False  # the server closes the connection after this answer

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


def exchange(port: int, raw: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def parse(raw: bytes, head_request: bool) -> Reply:
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, f"no complete response head: {raw[:300]!r}"
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    reply = Reply(status, headers, rest, None)
    reply.closes = lines[0].startswith(b"HTTP/1.0") or (
        (reply.header("connection") or "").lower() == "close"
    )
    lengths = [v for k, v in headers if k.lower() == "content-length"]
    assert len(set(lengths)) <= 1, f"several Content-Length headers: {lengths}"
    if lengths:
        reply.declared = int(lengths[0])
    if (reply.header("transfer-encoding") or "").lower() == "chunked" and not head_request:
        reply.body = dechunk(rest)
    return reply


def dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        assert sep, "truncated chunked body"
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out += data[:size]
        assert data[size : size + 2] == b"\r\n", "bad chunk framing"
        data = data[size + 2 :]


def _wire(text: str) -> bytes:
    """Latin-1 where it can be (one byte per character, as a server decodes), else UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


def request(
    method: str,
    target: str | bytes,
    headers: list[tuple[str, str | bytes]] | None = None,
    body: bytes = b"",
    version: bytes = b"HTTP/1.1",
) -> bytes:
    if isinstance(target, str):
        target = target.encode("latin-1")
    lines = [method.encode("latin-1") + b" " + target + b" " + version, b"Host: 127.0.0.1"]
    for name, value in headers or []:
        value = _wire(value) if isinstance(value, str) else value
        lines.append(name.encode("latin-1") + b": " + value)
    names = {n.lower() for n, _ in headers or []}
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# -- the servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerKind:
    name: str
    app_kind: str
    runner: str  # uvicorn-httptools, uvicorn-h11, gunicorn, wsgiref
    django_asgi: bool = False


SERVERS = [
    ServerKind("asgi-httptools", "asgi", "uvicorn-httptools"),
    ServerKind("asgi-h11", "asgi", "uvicorn-h11"),
    ServerKind("wsgi-gunicorn", "wsgi", "gunicorn"),
    ServerKind("wsgi-wsgiref", "wsgi", "wsgiref"),
    ServerKind("flask-gunicorn", "flask", "gunicorn"),
    ServerKind("django-gunicorn", "django", "gunicorn"),
    ServerKind("django-asgi", "django", "uvicorn-h11", django_asgi=True),
    ServerKind("litestar", "litestar", "uvicorn-httptools"),
]


@dataclass
class Running:
    kind: ServerKind
    port: int
    out: Path
    stderr_path: Path
    hashed: dict[str, str]  # canonical name -> hashed name

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("hostile")
    src = write_tree(base / "src", SOURCES)
    out = base / "www" / "static_root"
    build([str(src)], str(out), BuildOptions())
    (base / "www" / "secret.txt").write_bytes(OUTSIDE)
    (out / ".." / "static_root.txt").resolve().write_bytes(OUTSIDE)
    root_files = write_tree(base / "www" / "root", {"robots.txt": "User-agent: *\n"})
    (base / "www" / "root.secret").write_bytes(OUTSIDE)
    return out, root_files


def start(
    kind: ServerKind, out: Path, root_files: Path, work: Path, **settings: str
) -> tuple[subprocess.Popen, Running]:
    port = free_port()
    env = {
        **os.environ,
        "TEST_APP_KIND": kind.app_kind,
        "TEST_DJANGO_ASGI": "1" if kind.django_asgi else "0",
        "SKEWGUARD_STATIC_ROOT": str(out),
        "SKEWGUARD_SECRET_KEY": SECRET,
        "SKEWGUARD_VITE_HOT_FILE": "",
        "SKEWGUARD_ROOT_FILES_DIR": str(root_files),
        "SKEWGUARD_METRICS_PATH": "/metrics",
        "SKEWGUARD_STATUS_PATH": "/_skewguard/status",
        "SKEWGUARD_STATUS_TOKEN": STATUS_TOKEN,
        "SKEWGUARD_TELEMETRY_MAX_TABS": "50",
        "PYTHONPATH": os.pathsep.join(filter(None, (os.environ.get("PYTHONPATH"), str(ROOT)))),
        **{f"SKEWGUARD_{name}": value for name, value in settings.items()},
    }
    if kind.runner.startswith("uvicorn"):
        http = kind.runner.split("-")[1]
        command = [sys.executable, "-m", "uvicorn", APP, "--port", str(port), "--http", http]
        command += ["--host", "127.0.0.1", "--log-level", "warning"]
    elif kind.runner == "gunicorn":
        if shutil.which("gunicorn", path=os.path.dirname(sys.executable)) is None:
            require_tool("gunicorn")
        command = [sys.executable, "-m", "gunicorn", APP, "-b", f"127.0.0.1:{port}"]
        command += ["--workers", "1", "--worker-class", "sync", "--log-level", "warning"]
    else:
        command = [
            sys.executable,
            "-c",
            WSGI_RUNNER.format(root=str(ROOT), port=port, module="tests.fuzz.hostile_app"),
        ]
    stderr_path = work / f"{kind.name}.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/version", proc, kind.name)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}\n{stderr_path.read_text()[-3000:]}") from None
    paths = json.loads((out / "staticfiles.json").read_text())["paths"]
    return proc, Running(kind, port, out, stderr_path, paths)


@pytest.fixture(scope="module", params=SERVERS, ids=lambda k: k.name)
def server(request: pytest.FixtureRequest, site, tmp_path_factory):  # type: ignore[no-untyped-def]
    out, root_files = site
    proc, running = start(request.param, out, root_files, tmp_path_factory.mktemp("logs"))
    yield running
    stop(proc)


# -- the corpus -------------------------------------------------------------------------------------

TRAVERSALS = [
    "/static/../secret.txt",
    "/static/..%2fsecret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/%252e%252e%252fsecret.txt",
    "/static/..\\secret.txt",
    "/static/..%5csecret.txt",
    "/static/%c0%ae%c0%ae/secret.txt",
    "/static/%c0%ae%c0%ae%c0%afsecret.txt",
    "/static/css/../../secret.txt",
    "/static//..//..//secret.txt",
    "/static/./../secret.txt",
    "/STATIC/../secret.txt",
    "/static/css/app.css%00.js",
    "/static/css/app.css\x00",
    "/static/css/app.css.",
    "/static/css/app.css/",
    "/static/CSS/APP.CSS",
    "/static/" + "a" * 5000,
    "/static/" + "%2e%2e/" * 400 + "etc/passwd",
    "/static/%ff%fe",
    "/static/%",
    "/static/%zz",
    "/static/..",
    "/static/.",
    "/static/",
    "/static",
    "/static/staticfiles.json",
    "/static/.skewguard/registry.json",
    "/static/_skewguard/",
    "/static/_skewguard/../../secret.txt",
    "/../root.secret",
    "/%2e%2e/root.secret",
    "/robots.txt/../../root.secret",
    "/robots.txt%00",
    "/robots.txt.",
    "/ROBOTS.TXT",
    "/..%2fstatic_root.txt",
    "http://127.0.0.1/static/../secret.txt",
    "http://evil.example/static/css/app.css",
    "*",
]

RANGES = [
    "bytes=0-0",
    "bytes=-0",
    "bytes=-1",
    "bytes=0-",
    "bytes=99999999999999999999999999999-",
    "bytes=0-99999999999999999999999999999",
    "bytes=-99999999999999999999999999999",
    "bytes=5-1",
    "bytes=-5-",
    "bytes=0-1,3-4",
    "bytes=0-1," * 500,
    "bytes = 0 - 9",
    "bytes=\t0-9",
    "bytes=0x10-0x20",
    "bytes=١-٢",  # Arabic-Indic digits: \d in a str regex matches them
    "bytes=0-9\x00",
    "items=0-9",
    "bytes=",
    "bytes=-",
    "=",
    "bytes=" + "9" * 5000 + "-",
]

ACCEPT_ENCODINGS = [
    "*;q=0",
    "gzip;q=0, *;q=0",
    "br;q=1.0000000001",
    "gzip;q=nan",
    "gzip;q=inf",
    "gzip;q=-1",
    "gzip;q=1e-400",
    "gzip;q=0.5;q=1",
    ",".join(f"enc{i};q=0.{i % 10}" for i in range(3000)),
    "gzip, " * 3000,
    "GZIP",
    "br;q=٠.٥",  # non-ASCII digits float() accepts
    "\x00gzip",
    "identity;q=0",
    "identity;q=0, *;q=0",
]

CONDITIONALS = [
    ("If-None-Match", "*"),
    ("If-None-Match", '"' + "x" * 10000 + '"'),
    ("If-None-Match", ", " * 4000),
    ("If-None-Match", "W/"),
    ("If-Modified-Since", "garbage"),
    ("If-Modified-Since", "Mon, 99 Foo 99999 99:99:99 GMT"),
    ("If-Modified-Since", "Sat, 01 Jan 10000 00:00:00 GMT"),
    ("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 +9999"),
    ("If-Modified-Since", "Thu, 01 Jan 0001 00:00:00 -2359"),
    ("If-Modified-Since", "9" * 200),
    ("If-Range", "garbage"),
    ("If-Range", "Thu, 01 Jan 1970 00:00:00 GMT"),
    ("If-Range", "W/" + '"x"'),
]

HOSTILE_HEADER_VALUES: list[str | bytes] = [
    "x" * 10240,
    "old",
    "",
    " ",
    "unknown",
    "\xff\xfe\xe9",
    b"\xc3\xa9t\xc3\xa9",  # UTF-8 bytes
    b"v1\r\nX-Injected: 1".replace(b"\r\n", b"%0d%0a"),
    "../../etc/passwd",
    "<script>alert(1)</script>",
]


def corpus(server: Running) -> list[tuple[str, bytes]]:
    """(label, raw request) for one server."""
    css = "/static/" + server.hashed["css/app.css"]
    html = "/static/" + server.hashed["index.html"]
    token = make_token(SECRET, 60)
    cases: list[tuple[str, bytes]] = []

    def add(label: str, raw: bytes) -> None:
        cases.append((label, raw))

    for target in TRAVERSALS:
        for method in ("GET", "HEAD"):
            add(f"{method} {target[:60]!r}", request(method, target))
    for name in (css, "/static/css/app.css", html, "/robots.txt"):
        for value in RANGES:
            add(f"Range {value[:40]!r} {name}", request("GET", name, [("Range", value)]))
            add(
                f"Range+If-Range {value[:30]!r}",
                request("GET", name, [("Range", value), ("If-Range", "Mon, 32 Foo")]),
            )
        for value in ACCEPT_ENCODINGS:
            add(f"AE {value[:40]!r} {name}", request("GET", name, [("Accept-Encoding", value)]))
        for header, value in CONDITIONALS:
            add(f"{header} {value[:30]!r}", request("GET", name, [(header, value)]))
            add(f"HEAD {header}", request("HEAD", name, [(header, value), ("Range", "bytes=0-")]))
        for method in ("OPTIONS", "POST", "PUT", "DELETE", "TRACE", "PATCH", "FOO", "get"):
            add(f"{method} {name}", request(method, name, body=b"x" * 10))
        add(f"query on {name}", request("GET", name + "?v=1&%ff=%00&" + "a=b&" * 500))
        add(f"absolute-form {name}", request("GET", "http://127.0.0.1" + name))
        add(f"HTTP/1.0 {name}", request("GET", name, version=b"HTTP/1.0"))
    for client in (client_name(), "skewguard.js", "nope.js", "../" * 5 + "secret.txt", "x" * 3000):
        add(f"client {client[:30]}", request("GET", "/static/_skewguard/" + client))
        add(f"HEAD client {client[:30]}", request("HEAD", "/static/_skewguard/" + client))

    # /version with hostile heartbeats
    beats = [
        "tid=abcdefgh12345678&rel=old&stale=1&held=media,form&err=5&from=x&waited=1e308",
        "tid=abcdefgh12345678&rel=%ff%fe&held=%00",
        "tid=" + "a" * 32 + "&rel=" + "r" * 400,
        "tid=abcdefgh&rel=v1&err=nan&waited=-inf&from=v1",
        "tid=abcdefgh&rel=v1&err=1e999&waited=inf",
        "tid=%&rel=%%%",
        "client=%ff%fe%00&tid=x",
        "client=" + "x" * 5000,
        "tid=abcdefgh&" * 200,
        "&&&&==&&",
        "tid=abcdefgh\x00&rel=v1",
        "held=" + ",".join(["media"] * 1000) + "&tid=abcdefgh&rel=v1",
    ]
    for query in beats:
        for method in ("GET", "HEAD"):
            add(f"{method} /version?{query[:40]}", request(method, "/version?" + query))
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "FOO"):
        add(f"{method} /version", request(method, "/version", body=b"{}"))

    # /cache/bust with hostile tokens (none valid except the last two)
    authorizations: list[str | bytes] = [
        "Bearer garbage",
        "Bearer " + "A" * 100000,
        "Bearer " + make_token(SECRET, 60, purpose="other"),
        "Bearer " + make_token("another-secret", 60),
        "Bearer " + token.replace("v1.", "v1.0"),
        "Bearer " + token + "\x00",
        "Bearer " + token + "é",
        b"Bearer \xc3\xa9\xc3\xa9",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "",
        "bearer  " + token,
    ]
    for value in authorizations:
        add(f"bust {value[:30]!r}", request("POST", "/cache/bust", [("Authorization", value)]))
    add(
        "bust, many Authorization headers",
        request(
            "POST",
            "/cache/bust",
            [("Authorization", "Bearer x")] * 50 + [("Authorization", "Bearer " + token)],
        ),
    )
    add("GET /cache/bust", request("GET", "/cache/bust"))
    add(
        "bust with a chunked body",
        request(
            "POST",
            "/cache/bust",
            [("Authorization", "Bearer garbage"), ("Transfer-Encoding", "chunked")],
            body=b"5\r\nhello\r\n" * 100 + b"0\r\n\r\n",
        ),
    )
    add(
        "bust with a 2 MB body",
        request(
            "POST", "/cache/bust", [("Authorization", "Bearer garbage")], body=b"x" * (2 << 20)
        ),
    )
    add("valid bust", request("POST", "/cache/bust", [("Authorization", "Bearer " + token)]))

    # /metrics and the status page
    for path in ("/metrics", "/_skewguard/status"):
        for query in (
            "",
            "?token=wrong",
            "?token=" + STATUS_TOKEN,
            "?token=%ff%00",
            "?token=" + "x" * 9000,
        ):
            add(f"{path}{query[:20]}", request("GET", path + query))
        for value in (
            "Bearer " + STATUS_TOKEN,
            "Bearer é",
            "Bearer " + "x" * 5000,
            "Bearer " + token,
        ):
            add(f"{path} {value[:20]}", request("GET", path, [("Authorization", value)]))
            add(f"HEAD {path}", request("HEAD", path, [("Authorization", value)]))
        add(f"POST {path}", request("POST", path, body=b"x"))
    add(
        "status json with a hostile token",
        request(
            "GET", "/_skewguard/status?format=json&token=" + STATUS_TOKEN + "&token=%3Cscript%3E"
        ),
    )

    # Inertia, htmx and the hold marker, hostile
    for value in HOSTILE_HEADER_VALUES:
        for extra in ([], [("X-Inertia", "true")], [("HX-Request", "true")]):
            headers: list[tuple[str, str | bytes]] = [("X-Inertia-Version", value), *extra]
            add(f"X-Inertia-Version {value[:20]!r} {extra}", request("GET", "/", headers))
            add(
                f"hold {value[:20]!r}",
                request("GET", "/drip", [("X-Skewguard-Hold", value), *extra]),
            )
        add(
            f"cookie {value[:20]!r}",
            request(
                "GET",
                "/",
                [
                    (
                        "Cookie",
                        b"app_version="
                        + (value if isinstance(value, bytes) else value.encode("latin-1")),
                    )
                ],
            ),
        )
    add(
        "duplicate Inertia headers",
        request(
            "GET",
            "/",
            [
                ("X-Inertia", "true"),
                ("X-Inertia", "false"),
                ("X-Inertia-Version", "a"),
                ("X-Inertia-Version", "b"),
            ],
        ),
    )
    add(
        "Inertia 409 on an odd path",
        request(
            "GET",
            "/%2f%2fevil.example/%0d%0aX:%20y?q=%0d%0a",
            [("X-Inertia", "true"), ("X-Inertia-Version", "old")],
        ),
    )
    add(
        "Inertia 409 on a non-UTF-8 path",
        request(
            "GET", b"/caf\xe9/\xff?\xfe=1", [("X-Inertia", "true"), ("X-Inertia-Version", "old")]
        ),
    )
    add(
        "Inertia POST",
        request("POST", "/echo", [("X-Inertia", "true"), ("X-Inertia-Version", "old")], b"x"),
    )

    # bodies and odd HTML responses
    add(
        "chunked POST",
        request(
            "POST", "/echo", [("Transfer-Encoding", "chunked")], b"3\r\nabc\r\n" * 50 + b"0\r\n\r\n"
        ),
    )
    add("2 MB POST", request("POST", "/echo", body=b"y" * (2 << 20)))
    for path in ("/", "/nohead", "/gzip", "/notmodified", "/drip"):
        for method in ("GET", "HEAD"):
            add(f"{method} {path}", request(method, path))
            add(f"{method} {path} If-None-Match", request(method, path, [("If-None-Match", "*")]))
    add("GET /gzip AE", request("GET", "/gzip", [("Accept-Encoding", "gzip")]))
    return cases


SNIPPET_MARK = b"data-skewguard"


def check(server: Running, label: str, raw: bytes, reply_bytes: bytes) -> str | None:
    method = raw.split(b" ", 1)[0]
    reply = parse(reply_bytes, method == b"HEAD")
    if reply.status >= 500:
        return f"{label}: {reply.status} {reply.body[:200]!r}"
    if OUTSIDE in reply.body:
        return f"{label}: served a file outside the root"
    # A server's own refusal of a request it cannot parse (400, 414, 431) carries no header of
    # skewguard's: whether it has a body for HEAD is the server's business, not skewguard's.
    ours = reply.header("x-app-version") is not None or reply.status not in (400, 413, 414, 431)
    if method == b"HEAD" or reply.status in (204, 304) or reply.status < 200:
        if reply.body and (ours or method != b"HEAD"):
            return f"{label}: {reply.status} to {method!r} with a body of {len(reply.body)} bytes"
    elif reply.declared is not None and reply.declared != len(reply.body):
        return f"{label}: Content-Length {reply.declared}, body {len(reply.body)} bytes"
    for name, value in reply.headers:
        if any(c in value for c in "\r\n\x00"):
            return f"{label}: header {name} carries a control character"
    if label == "valid bust" and reply.status != 200:
        return f"{label}: {reply.status} {reply.body[:200]!r}"
    request_head = raw.split(b"\r\n\r\n", 1)[0].lower()
    if (b"\r\nhx-request:" in request_head or b"\r\nx-inertia:" in request_head) and (
        SNIPPET_MARK in reply.body
    ):
        return f"{label}: the client was injected into a fragment (htmx or Inertia request)"
    target = raw.split(b" ", 2)[1].split(b"?")[0]
    if target.startswith(b"/static/") and target.endswith(b"/") and reply.status < 300:
        return f"{label}: {reply.status} for a directory-like name"
    if method == b"GET" and reply.status in (200, 206):
        return check_bytes(server, label, raw, reply)
    return None


def decoded(reply: Reply) -> bytes:
    encoding = reply.header("content-encoding")
    if encoding == "gzip":
        return gzip.decompress(reply.body)
    if encoding == "br":
        import brotli

        return bytes(brotli.decompress(reply.body))
    if encoding == "zstd":
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompress(reply.body))
    assert encoding in (None, "identity"), encoding
    return reply.body


def check_bytes(server: Running, label: str, raw: bytes, reply: Reply) -> str | None:
    """The bytes of a file answer are the file's (or the range asked for), in an encoding the
    client accepted; an app's gzip-encoded page is passed through untouched."""
    target = raw.split(b" ", 2)[1].decode("latin-1").split("?")[0]
    if target == "/gzip":
        return None if reply.body == GZIPPED else f"{label}: the gzip page was altered"
    files = {"/static/" + hashed: canonical for canonical, hashed in server.hashed.items()}
    files.update({"/static/" + canonical: canonical for canonical in server.hashed})
    canonical = files.get(target)
    if canonical is None:
        return None
    expected = (server.out / server.hashed[canonical]).read_bytes()
    accept = next(
        (line for line in raw.split(b"\r\n") if line.lower().startswith(b"accept-encoding:")),
        b"",
    )
    encoding = reply.header("content-encoding")
    if encoding and encoding.encode() not in accept.lower():
        return f"{label}: {encoding} sent to a client that did not ask for it"
    try:
        body = decoded(reply)
    except Exception as exc:  # noqa: BLE001 - a body that does not decode is the finding
        return f"{label}: {encoding} body does not decode: {exc!r}"
    if reply.status == 206:
        first, last = map(
            int, (reply.header("content-range") or "").split()[1].split("/")[0].split("-")
        )
        expected = expected[first : last + 1]
    return None if body == expected else f"{label}: wrong bytes ({len(body)} of {len(expected)})"


def test_hostile_requests_through_a_real_server(server: Running) -> None:
    problems = []
    for label, raw in corpus(server):
        try:
            reply = exchange(server.port, raw)
        except OSError as exc:
            # A server may answer a body it will not read (2 MB to an endpoint that takes none)
            # and close while the client still sends: the client's send then fails. That loses
            # nothing; any other request must get an answer.
            if len(raw) < 1 << 20:
                problems.append(f"{label}: {exc!r}")
            continue
        if not reply:
            # The server refused to parse the request and closed: no answer is not a 5xx.
            continue
        problem = check(server, label, raw, reply)
        if problem:
            problems.append(problem)
    time.sleep(0.3)  # let the server flush what it logs
    log = server.stderr()
    assert "Traceback" not in log, log[-4000:]
    assert not problems, "\n".join(problems[:40])


def read_response(sock: socket.socket, buffer: bytes, head_request: bool) -> tuple[Reply, bytes]:
    """One response from a kept-alive connection (framed by Content-Length); the rest after it."""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        assert data, f"connection closed before a response head: {buffer[:200]!r}"
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    reply = parse(head + b"\r\n\r\n", True)
    length = 0 if head_request or reply.status in (204, 304) else (reply.declared or 0)
    while len(rest) < length:
        data = sock.recv(65536)
        assert data, "connection closed inside a body"
        rest += data
    reply.body = rest[:length]
    return reply, rest[length:]


def test_kept_alive_connections_stay_in_step(server: Running) -> None:
    """HEAD answers (skewguard's 404, endpoints' refusals, files, injected pages) send no body,
    so the response after them on the same connection starts where the client expects it."""
    css = "/static/" + server.hashed["css/app.css"]
    heads = [
        "/static/" + server.hashed["js/big.js"],  # sent from disk, not from memory
        "/static/no-such-file.css",
        "/static/_skewguard/nope.js",
        "/static/_skewguard/" + client_name(),
        css,
        "/robots.txt",
        "/metrics",
        "/_skewguard/status",
        "/cache/bust",
        "/version",
        "/",
    ]
    for path in heads:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\nGET /version HTTP/1.1\r\nHost: x\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            head, rest = read_response(sock, b"", True)
            assert head.status < 500, (path, head.status)
            if head.closes:
                # gunicorn's sync worker and wsgiref close after each answer: nothing may follow.
                while data := sock.recv(65536):
                    rest += data
                assert rest == b"", (path, rest[:200])
                continue
            after, _ = read_response(sock, rest, False)
            assert after.status == 200 and json.loads(after.body)["version"], (path, after)


def test_head_declares_the_length_get_sends(server: Running) -> None:
    """Injected pages and files: HEAD's Content-Length is the GET body's length."""
    for path in ("/", "/nohead", "/static/" + server.hashed["index.html"], "/robots.txt"):
        get = parse(exchange(server.port, request("GET", path)), False)
        head = parse(exchange(server.port, request("HEAD", path)), True)
        if head.status == 405 and server.kind.app_kind == "litestar":
            continue  # Litestar's @get handlers take no HEAD: the app's answer, not skewguard's
        assert get.status == head.status == 200, (path, get.status, head.status)
        if path != "/" and path != "/nohead":  # files: skewguard's answer always declares it
            assert head.declared is not None, (path, "no Content-Length")
        if head.declared is not None:
            assert head.declared == len(get.body), (path, head.declared, len(get.body))


def test_clients_that_leave_mid_response_leave_no_traceback(server: Running) -> None:
    """A client that resets the connection inside a large body (a static file, an app's body,
    an HTML page streamed through the injector) costs the server nothing but that response."""
    targets = ["/static/" + server.hashed["js/big.js"], "/static/js/big.js", "/big", "/drip"]
    for _ in range(3):
        for path in targets:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(request("GET", path, [("Accept-Encoding", "identity")]))
            sock.recv(100)
            # SO_LINGER 0: close() sends a RST, as a browser tab that is closed may.
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            sock.close()
    time.sleep(0.5)
    version = parse(exchange(server.port, request("GET", "/version")), False)
    assert version.status == 200
    log = server.stderr()
    assert "Traceback" not in log, log[-4000:]


FLOOD_SERVERS = [
    (ServerKind("asgi-httptools", "asgi", "uvicorn-httptools"), "none"),  # in process
    (ServerKind("wsgi-gunicorn", "wsgi", "gunicorn"), "file"),  # one file per worker
]


@pytest.mark.parametrize(("kind", "registry"), FLOOD_SERVERS, ids=lambda v: getattr(v, "name", v))
def test_a_flood_of_forged_heartbeats_stays_within_the_bound(
    kind: ServerKind, registry: str, site, tmp_path: Path
) -> None:
    """Unique tab ids, garbage and unknown releases through the real server: the count of the
    current release stops at TELEMETRY_MAX_TABS (50 here), the rest only add to ``dropped``."""
    out, root_files = site
    proc, running = start(kind, out, root_files, tmp_path, REGISTRY=registry)
    try:
        current = json.loads(parse(exchange(running.port, request("GET", "/version")), False).body)[
            "version"
        ]
        pipelined = []
        for i in range(600):
            release = (current, "0123456789ab", "%ff%00", "x" * 40)[i % 4]
            query = f"tid=flood{i:08d}&rel={release}&stale=1&held=media,zzz&err=99999&from=a"
            pipelined.append(f"GET /version?{query} HTTP/1.1\r\nHost: x\r\n".encode())
        sent = 0
        if running.kind.runner == "gunicorn":  # a sync worker: one request per connection
            for raw in pipelined:
                reply = exchange(running.port, raw + b"Connection: close\r\n\r\n")
                sent += parse(reply, False).status == 200
        else:  # kept alive, 50 requests a connection
            for i in range(0, len(pipelined), 50):
                batch = pipelined[i : i + 50]
                with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
                    sock.sendall(b"\r\n".join(batch) + b"\r\n")
                    rest = b""
                    for _ in batch:
                        reply, rest = read_response(sock, rest, False)
                        sent += reply.status == 200
        time.sleep(1.5)  # the file recorder writes once a second
        status = parse(
            exchange(
                running.port,
                request(
                    "GET",
                    "/_skewguard/status?format=json",
                    [("Authorization", "Bearer " + STATUS_TOKEN)],
                ),
            ),
            False,
        )
        document = json.loads(status.body)
        live = {r["version"]: r["live"] for r in document["releases"]}
        assert sent == 600
        assert live.get(current) == 50, live  # 150 distinct ids of the current release sent
        assert sum(live.values()) == 50, live  # garbage and unknown releases are never counted
        # 100 new ids past the cap and 150 beats of a release nobody registered, at least
        # (malformed releases are not beats at all).
        assert document["dropped"] >= 250, document["dropped"]
        if registry == "file":
            tabs = out / ".skewguard" / "tabs"
            for name in os.listdir(tabs):
                assert len(json.loads((tabs / name).read_text())["tabs"]) <= 50
        assert "Traceback" not in running.stderr()
    finally:
        stop(proc)


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        line = next(line for line in fh if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def test_huge_distinct_header_values_do_not_pile_up(site, tmp_path: Path) -> None:
    """uvicorn with httptools takes header values of megabytes. Forty distinct 1 MB
    Accept-Encoding values for a file (what a cache keyed by the whole value would keep) leave
    the server's memory where it was."""
    out, root_files = site
    proc, running = start(SERVERS[0], out, root_files, tmp_path)
    try:
        css = "/static/" + running.hashed["css/app.css"]
        for i in range(3):  # warm up: the file in memory, the first answers made
            exchange(running.port, request("GET", css, [("Accept-Encoding", f"gzip{i}")]))
        before = rss_bytes(proc.pid)
        for i in range(40):
            value = f"{i:04d}," + "x" * (1 << 20)
            reply = parse(
                exchange(running.port, request("GET", css, [("Accept-Encoding", value)])), False
            )
            assert reply.status == 200
        grown = rss_bytes(proc.pid) - before
        assert grown < 20 << 20, f"the server grew by {grown >> 20} MB"
        assert "Traceback" not in running.stderr()
    finally:
        stop(proc)


def test_the_client_is_injected_once_where_it_belongs(server: Running) -> None:
    """Whole pages, a page without </head> or </body>, and a page streamed one byte at a time:
    the same snippet, once, before </head> (else at the end); every other byte as the app sent."""
    page = parse(exchange(server.port, request("GET", "/")), False).body
    head_at = DOCUMENT.index(b"</head>")
    assert page.startswith(DOCUMENT[:head_at]) and page.endswith(DOCUMENT[head_at:]), page
    snippet = page[head_at : len(page) - (len(DOCUMENT) - head_at)]
    assert SNIPPET_MARK in snippet and snippet.count(b"<script") == 1
    nohead = parse(exchange(server.port, request("GET", "/nohead")), False).body
    assert nohead == NO_HEAD + snippet
    drip = parse(exchange(server.port, request("GET", "/drip")), False).body
    at = DRIP.index(b"</head>")
    assert drip == DRIP[:at] + snippet + DRIP[at:]


ROUTER_VALUES: list[str | bytes] = [
    "v1",
    "v9",
    "x" * 10240,
    "",
    " v1 ",
    "v1\t",
    "\xff\xfe",
    b"\xc3\xa9",
    "v1%0d%0aX-Injected:%201",
    "<script>",
    "v1; app_version=v2",
    '"v1"',
]


@pytest.mark.parametrize("runner", ["uvicorn-httptools", "gunicorn"])
def test_the_version_router_takes_hostile_cookies_and_headers(runner: str, tmp_path: Path) -> None:
    """VersionRouter under a real server: hostile app_version cookies and requested-version
    headers get a routed answer, a 400 or a 409, never a 5xx, and a refused value is never
    echoed back."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ROUTER_MAP": json.dumps({"v1": "127.0.0.1:1", "v2": "127.0.0.1:2"}),
        "ROUTER_DEFAULT": "v1",
        "TEST_APP_KIND": "asgi" if runner.startswith("uvicorn") else "wsgi",
    }
    app = "tests.deploys.router_app:app"
    if runner == "gunicorn":
        command = [sys.executable, "-m", "gunicorn", app, "-b", f"127.0.0.1:{port}"]
    else:
        command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--http", "httptools"]
        command += ["--host", "127.0.0.1", "--log-level", "warning"]
    stderr_path = tmp_path / "router.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", proc, runner)
        for value in ROUTER_VALUES:
            raw_value = _wire(value) if isinstance(value, str) else value
            for headers in (
                [("Cookie", b"app_version=" + raw_value)],
                [("Cookie", b"a=1"), ("Cookie", b"app_version=" + raw_value)],
                [("X-App-Requested-Version", raw_value)],
                [("X-App-Requested-Version", raw_value), ("X-App-Requested-Version", b"v2")],
            ):
                reply = parse(exchange(port, request("GET", "/", headers)), False)
                assert reply.status in (200, 400, 409, 431), (value, headers, reply.status)
                if reply.declared is not None:
                    assert reply.declared == len(reply.body)
                if reply.status == 400 and len(raw_value) > 2:
                    assert raw_value not in reply.body, (value, reply.body)
                if reply.status == 409:
                    assert json.loads(reply.body)["error"] == "unknown version"
        assert "Traceback" not in stderr_path.read_text(errors="replace")
    finally:
        stop(proc)
