"""What a running server does with tabs: count the beats on ``/version``, answer ``/metrics``
and the status page, and count 409s, honoured holds and busts. The adapters call these; the
decisions about requests stay in ``protocol``."""

from __future__ import annotations

import hmac
import json
import os
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ..layout import STATE_DIR
from ..protocol import JSON, RequestFacts, Respond, json_response
from ..settings import Settings
from ..tokens import bearer_token, verify_token
from ..version import VersionSnapshot
from .heartbeat import parse_beat
from .recorders import FileRecorder, MemoryRecorder, Recorder
from .report import TabsReport

if TYPE_CHECKING:
    from .metrics import Metrics

MIN_WINDOW = 60.0


def window_seconds(settings: Settings) -> float:
    """How long a beat keeps a tab counted: TELEMETRY_WINDOW, or six poll intervals."""
    if settings.TELEMETRY_WINDOW:
        return settings.TELEMETRY_WINDOW
    # Hidden tabs beat every fourth poll; browsers may delay a hidden tab's timer by up to a
    # minute, so six intervals leave room for one late beat.
    return max(MIN_WINDOW, settings.CLIENT_POLL_INTERVAL * 6)


def telemetry_directory(settings: Settings) -> str:
    """Where the file registry's workers keep their tab windows."""
    registry = settings.REGISTRY_PATH or (
        os.path.join(settings.STATIC_ROOT, STATE_DIR, "registry.json")
        if settings.STATIC_ROOT
        else ""
    )
    return os.path.join(os.path.dirname(registry) or ".", "tabs") if registry else ""


def open_recorder(settings: Settings, registry_file: str = "") -> Recorder:
    """The recorder the registry implies: Redis, per-machine files, or this process.

    ``registry_file``: the file registry this process opened, whether REGISTRY says "file" or
    "auto" chose it. Its workers then share their counts in the directory beside it, where
    ``skewguard status`` and ``prune`` read them."""
    window = window_seconds(settings)
    limit = int(settings.TELEMETRY_MAX_TABS)
    if settings.REDIS_URL:
        from .redis_recorder import RedisRecorder

        return RedisRecorder(settings.REDIS_URL, settings.REDIS_PREFIX, window, limit)
    if registry_file:
        directory = os.path.join(os.path.dirname(registry_file) or ".", "tabs")
    else:
        directory = telemetry_directory(settings) if settings.REGISTRY == "file" else ""
    if directory:
        return FileRecorder(directory, window, limit)
    return MemoryRecorder(window, limit)


def known_releases(snapshot: VersionSnapshot, static_root: str) -> frozenset[str]:
    """Releases whose tabs are counted: the registry's (retired ones too: their tabs are the
    interesting ones), or without a registry this build directory's release history."""
    known = {snapshot.version}
    if snapshot.registry is not None and snapshot.registry.releases:
        known.update(r.version for r in snapshot.registry.releases)
    elif static_root:
        from ..build.history import load_history

        try:
            known.update(r.hash for r in load_history(static_root))
        except Exception:  # an unreadable history: only the current release is counted
            pass
    return frozenset(known)


class Telemetry:
    """The live-tab side of one ``Skewguard``: a recorder, and metrics when METRICS_PATH is set."""

    def __init__(
        self, settings: Settings, recorder: Recorder | None = None, registry_file: str = ""
    ) -> None:
        self.settings = settings
        self.recorder = recorder or open_recorder(settings, registry_file)
        self.metrics: Metrics | None = None
        if settings.METRICS_PATH:
            from .metrics import Metrics

            self.metrics = Metrics(self.recorder.report)
        self._known: tuple[int, frozenset[str]] = (0, frozenset())

    def _known_for(self, snapshot: VersionSnapshot) -> frozenset[str]:
        key = id(snapshot)  # one snapshot per reload or registry change: cache per snapshot
        if self._known[0] != key:
            self._known = (key, known_releases(snapshot, self.settings.STATIC_ROOT))
        return self._known[1]

    def beat(self, query: str, snapshot: VersionSnapshot) -> None:
        """Count the heartbeat in a ``/version`` query string, if there is one."""
        beat = parse_beat(query)
        if beat is None or snapshot.dev:
            return
        known = self._known_for(snapshot)
        self.recorder.record(beat, known)
        metrics = self.metrics
        if metrics is not None and beat.release in known:
            if beat.chunk_errors:
                metrics.chunk_errors.inc(beat.chunk_errors)
            if beat.stale_seconds is not None:
                metrics.convergence.observe(beat.stale_seconds)

    def conflict(self) -> None:
        if self.metrics is not None:
            self.metrics.conflicts.inc()

    def hold_honoured(self) -> None:
        if self.metrics is not None:
            self.metrics.holds.inc()

    def busted(self) -> None:
        if self.metrics is not None:
            self.metrics.busts.inc()

    def report(self) -> TabsReport:
        return self.recorder.report()

    # -- the two endpoints -----------------------------------------------------------------------

    def metrics_response(self, request: RequestFacts) -> Respond:
        refusal = authorize_status(request, self.settings)
        if refusal is not None or self.metrics is None:
            return refusal or json_response(404, {"error": "metrics are off"})
        body, content_type = self.metrics.exposition()
        return _respond(request, 200, content_type, body)

    def status_response(self, request: RequestFacts, snapshot: VersionSnapshot) -> Respond:
        refusal = authorize_status(request, self.settings)
        if refusal is not None:
            return refusal
        report = self.report()
        document = status_document(report, snapshot.registry, snapshot.version)
        query = dict(parse_qsl(request.query))
        if query.get("format") == "json":
            return _respond(request, 200, JSON, json.dumps(document, indent=1).encode())
        from .page import status_page

        html = status_page(document, token=query.get("token", ""))
        return _respond(request, 200, "text/html; charset=utf-8", html.encode())


def _respond(request: RequestFacts, status: int, content_type: str, body: bytes) -> Respond:
    headers = (
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    )
    return Respond(status, headers, b"" if request.method == "HEAD" else body)


_UNAUTHORIZED = {"error": "a valid token is required (STATUS_TOKEN, or skewguard token)"}


def authorize_status(
    request: RequestFacts, settings: Settings, now: float | None = None
) -> Respond | None:
    """None when the request may see the numbers: a bearer token (or ``?token=`` for a person
    with a browser) equal to STATUS_TOKEN, or a token signed with SECRET_KEY."""
    if request.method not in ("GET", "HEAD"):
        return json_response(405, {"error": "method not allowed"}, (("Allow", "GET, HEAD"),))
    token = bearer_token(request.headers.get("authorization"))
    if token is None and "token=" in request.query:
        token = dict(parse_qsl(request.query)).get("token")
    if token and _valid(token, settings, now):
        return None
    return json_response(401, _UNAUTHORIZED, (("WWW-Authenticate", 'Bearer realm="skewguard"'),))


def _valid(token: str, settings: Settings, now: float | None) -> bool:
    if settings.STATUS_TOKEN and hmac.compare_digest(
        token.encode("utf-8", "replace"), settings.STATUS_TOKEN.encode()
    ):
        return True
    return bool(settings.SECRET_KEY) and verify_token(settings.SECRET_KEY, token, now=now)


def status_document(report: TabsReport, registry: Any, current: str) -> dict[str, Any]:
    """The report joined with the registry: every release with its state and its tabs."""
    document = report.as_json()
    entries: dict[str, dict[str, Any]] = {r["version"]: r for r in document["releases"]}
    ordered: list[dict[str, Any]] = []
    for release in registry.releases if registry is not None else ():
        entry = entries.pop(release.version, None) or _empty(release.version)
        entry.update(state=release.state, created=release.created, id=release.id)
        ordered.append(entry)
    for version, entry in sorted(entries.items()):
        entry.setdefault("state", "current" if version == current else "unregistered")
        ordered.append(entry)
    if current and not any(e["version"] == current for e in ordered):
        ordered.append({**_empty(current), "state": "current"})
    document["releases"] = ordered
    document["current"] = current
    return document


def _empty(version: str) -> dict[str, Any]:
    from .report import ReleaseTabs

    return ReleaseTabs(version).as_json()


def fetch_status(url: str, token: str, timeout: float = 5.0) -> dict[str, Any]:
    """A server's status document (``skewguard status --url``)."""
    import urllib.request

    request = urllib.request.Request(
        url + ("&" if "?" in url else "?") + "format=json",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        document: dict[str, Any] = json.loads(response.read())
    return document


def report_from_document(document: dict[str, Any]) -> TabsReport:
    """A ``TabsReport`` back from a status document (what ``fetch_status`` returns)."""
    from .report import ReleaseTabs

    releases = tuple(
        ReleaseTabs(
            version=str(r["version"]),
            live=int(r.get("live", 0)),
            stale=int(r.get("stale", 0)),
            held=int(r.get("held", 0)),
            reasons=dict(r.get("reasons", {})),
            chunk_errors=int(r.get("chunk_errors", 0)),
        )
        for r in document.get("releases", ())
    )
    history = tuple((float(h["at"]), dict(h["live"])) for h in document.get("history", ()))
    return TabsReport(
        at=float(document.get("at", time.time())),
        window=float(document.get("window", 0)),
        backend=str(document.get("backend", "remote")),
        releases=releases,
        history=history,
        dropped=int(document.get("dropped", 0)),
        available=bool(document.get("available", True)),
    )
