"""Property-based fuzzing (hypothesis) of the decision core, the response plan, the static
responder (through the three adapters) and the version router.

Invariants: nothing raises (and no adapter answers 5xx); no 409 for a non-GET; no CR or LF in any
header value; no file outside the static root is ever opened; Content-Length always equals the
body that is sent. The suite runs a bounded number of examples; ``make fuzz`` runs many more
(SKEWGUARD_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skewguard import Skewguard
from skewguard.build import BuildOptions, build
from skewguard.plan import OWN_RESPONSE_HEADERS, ResponseHead, plan_response
from skewguard.protocol import RequestFacts, Respond, decide
from skewguard.routing import VersionRouter

from ..build.helpers import write_tree
from ..parity.harness import ADAPTERS, Adapter

EXAMPLES = int(os.environ.get("SKEWGUARD_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text that reaches header values and paths: latin-1 (what a server can hand over), CR/LF and NUL
# included on purpose.
header_text = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=80)
methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "G\u00c9T"])
versions = st.one_of(st.sampled_from(["", "v1", "old", "v1\n", "unknown"]), header_text)


def no_crlf(headers: Any) -> bool:
    return all("\r" not in str(v) and "\n" not in str(v) for _, v in headers)


@pytest.fixture(scope="module")
def guard(tmp_path_factory: pytest.TempPathFactory) -> Skewguard:
    root = tmp_path_factory.mktemp("guarded")
    src = write_tree(root / "src", {"js/app.js": "1;\n" * 200, "img/café.svg": "<svg/>" * 100})
    out = root / "out"
    build([str(src)], str(out), BuildOptions())
    write_tree(root / "secret", {"key.txt": "top secret"})
    os.symlink(root / "secret" / "key.txt", out / "js" / "link.txt")
    return Skewguard(static_root=str(out), secret_key="s3cret", vite_hot_file="")


@FUZZ
@given(
    method=methods,
    path=st.text(max_size=60).map(lambda p: "/" + p),  # a request target is a path
    query=header_text,
    inertia=st.sampled_from([None, "true", "TRUE", "false", ""]),
    client=st.one_of(st.none(), versions),
    hold=st.one_of(st.none(), versions),
    cookie=st.one_of(st.none(), header_text),
)
def test_decide(guard: Skewguard, method, path, query, inertia, client, hold, cookie) -> None:
    headers = {
        name: value
        for name, value in (
            ("x-inertia", inertia),
            ("x-inertia-version", client),
            ("x-skewguard-hold", hold),
            ("cookie", cookie),
        )
        if value is not None
    }
    decision = decide(RequestFacts(method, path, query, headers), guard.snapshot, guard.settings)
    if decision is None:
        return
    assert no_crlf(decision.headers)
    if isinstance(decision, Respond):
        assert decision.status == 409 and method == "GET"
        location = dict(decision.headers)["X-Inertia-Location"]
        assert location.startswith("/")


@FUZZ
@given(
    method=methods,
    status=st.integers(min_value=0, max_value=999),
    content_type=st.one_of(st.none(), st.sampled_from(["text/html", "TEXT/HTML; x"]), header_text),
    content_encoding=st.one_of(st.none(), st.sampled_from(["gzip", "identity", ""]), header_text),
    content_length=st.one_of(st.none(), st.integers(-5, 10**30).map(str), header_text),
    inject=st.booleans(),
    fragment=st.booleans(),
)
def test_response_plan(
    method, status, content_type, content_encoding, content_length, inject, fragment
) -> None:
    head = ResponseHead(status, content_type, content_encoding, content_length)
    snippet = b"<script>x</script>"
    plan = plan_response(
        method,
        head,
        (("X-App-Version", "v1"),),
        inject=inject,
        fragment=fragment,
        snippet=lambda: snippet,
    )
    assert plan.drop >= OWN_RESPONSE_HEADERS and no_crlf(plan.add)
    if plan.snippet is not None:
        assert inject and not fragment and method != "HEAD"
    if plan.content_length is not None:
        assert int(plan.content_length) == int(content_length) + len(snippet)
    if method == "HEAD" or not inject or fragment:
        assert plan.snippet is None


_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], (str, bytes)):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # hooks cannot be removed: it records only while a test asks it to

path_parts = st.sampled_from(
    [
        "js",
        "app.js",
        "..",
        ".",
        "",
        "%2e%2e",
        "%2F",
        "img",
        "caf%C3%A9.svg",
        "link.txt",
        "secret",
        "key.txt",
        "__skewguard",
        "staticfiles.json",
        ".skewguard",
        "%00",
        "\\",
    ]
)
ranges = st.one_of(
    st.none(),
    st.builds(
        lambda a, b: f"bytes={a}-{b}",
        st.integers(0, 10**25).map(str) | st.just(""),
        st.integers(0, 10**25).map(str) | st.just(""),
    ),
    header_text,
)


@pytest.fixture(scope="module")
def adapters(guard: Skewguard) -> dict[str, Adapter]:
    return {kind: Adapter(kind, guard) for kind in ADAPTERS}


@FUZZ
@given(
    kind=st.sampled_from(ADAPTERS),
    method=methods,
    parts=st.lists(path_parts, min_size=1, max_size=5),
    hashed=st.booleans(),
    range_header=ranges,
    accept=st.one_of(
        st.none(), st.sampled_from(["gzip", "br;q=0.5, gzip", "*", "identity;q=0"]), header_text
    ),
    inm=st.one_of(st.none(), st.just("*"), header_text),
    ims=st.one_of(st.none(), st.just("Wed, 21 Oct 2015 07:28:00 GMT"), header_text),
    if_range=st.one_of(st.none(), header_text),
)
def test_static_responder(
    guard: Skewguard,
    adapters: dict[str, Adapter],
    kind,
    method,
    parts,
    hashed,
    range_header,
    accept,
    inm,
    ims,
    if_range,
) -> None:
    global _opened
    name = "/".join(parts)
    if hashed:
        name = guard.static("js/app.js").removeprefix("/static/")
    headers = {
        k: v
        for k, v in (
            ("Range", range_header),
            ("Accept-Encoding", accept),
            ("If-None-Match", inm),
            ("If-Modified-Since", ims),
            ("If-Range", if_range),
        )
        if v is not None and "\r" not in v and "\n" not in v
    }
    root = os.path.realpath(guard.settings.STATIC_ROOT)
    sandbox = os.path.dirname(root)
    _opened = []
    try:
        reply = adapters[kind].request(method, "/static/" + name, headers)
    finally:
        opened, _opened = _opened, None
    assert reply.status < 500
    assert no_crlf(reply.header_list)
    for path in opened:
        real = os.path.realpath(path)
        if real.startswith(sandbox + os.sep):
            assert real.startswith(root + os.sep), f"opened {path} outside the root"
    if method != "HEAD" and reply.status not in (204, 304) and "content-length" in reply.headers:
        assert int(reply.headers["content-length"]) == len(reply.body)


@FUZZ
@given(requested=st.one_of(st.none(), versions), cookie=st.one_of(st.none(), header_text))
def test_version_router(requested, cookie) -> None:
    router = VersionRouter({"v1.0": "blue", "v1.1": "green"}, default_version="v1.1")
    decision = router.decide(requested, cookie)
    if decision.target is None:
        assert decision.status in (400, 409) and decision.body
    else:
        assert decision.target in ("blue", "green") and decision.status == 200
