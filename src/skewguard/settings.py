"""One Settings object: defaults, ``SKEWGUARD_*`` environment variables and keyword arguments.

Five settings are also read under their plain names from Django and Flask settings, without the
``SKEWGUARD`` prefix (``APP_VERSION``, ``APP_VERSION_HEADER``, ``APP_VERSION_MISMATCH``,
``VERSION_ENDPOINT``, ``STATIC_DEV_VERSION_QUERY``). Precedence: keyword arguments (what the
code or the Django settings say) over the environment over defaults. An invalid value fails at
start-up with one line naming the setting.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from .errors import SkewguardError

MISMATCH_POLICIES = ("reload", "defer", "prompt", "warn", "ignore")
# Versions travel in headers and cookies: a conservative charset keeps them safe everywhere.
# \A and \Z, not ^ and $: "$" also matches before a final newline, which would let "v1\n" in.
VERSION_PATTERN = re.compile(r"\A[A-Za-z0-9._+-]{1,64}\Z")
REGISTRY_CHOICES = ("auto", "none", "file", "redis")


class SettingsError(SkewguardError, ValueError):
    """An invalid setting; the message names it."""


@dataclass(frozen=True)
class Settings:
    APP_VERSION: str = ""  # explicit version (git SHA, semver, build id); empty: derived
    APP_VERSION_HEADER: bool = True  # X-App-Version on every response
    APP_VERSION_MISMATCH: str = "reload"  # client policy: reload, defer, prompt, warn, ignore
    VERSION_ENDPOINT: bool = True  # GET /version and POST /cache/bust
    STATIC_DEV_VERSION_QUERY: bool = True  # dev: static_url() appends ?v=<content hash>
    SECRET_KEY: str = ""  # signs /cache/bust tokens; empty: the endpoint refuses every bust
    STATIC_URL: str = "/static/"
    STATIC_ROOT: str = ""  # the build output directory (skewguard build --out)
    MANIFEST_PATH: str = ""  # default: STATIC_ROOT/staticfiles.json
    STATIC_DIRS: tuple[str, ...] = ()  # dev: source directories static_url() hashes
    DEBUG: bool = False  # dev mode: no 409s, ?v= query URLs, no manifest needed
    VITE_HOT_FILE: str = "public/hot"  # present: Vite dev server running, dev mode
    MANIFEST_REQUIRED: bool = True  # outside dev mode, a missing manifest fails start-up
    STRICT: bool = (
        False  # static() of an unknown path raises; collectstatic fails on a missing reference
    )
    COMPRESS: bool = True  # collectstatic (skewguard's Django storage) writes .gz/.br/.zst siblings
    VERSION_PATH: str = "/version"
    BUST_PATH: str = "/cache/bust"
    SERVE_STATIC: bool = True  # sg.asgi()/sg.wsgi() also serve STATIC_ROOT under STATIC_URL
    STATIC_ALLOW_ORIGIN: str = "*"  # Access-Control-Allow-Origin on static files; empty: none
    ROOT_FILES_DIR: str = ""  # files served at "/" by name (robots.txt, .well-known/...)
    CLIENT_POLL_INTERVAL: float = 60.0  # seconds between the client's /version checks; 0: never
    CLIENT_INLINE: bool = False  # inline the client instead of a cached <script src>
    CLIENT_WRAP_FETCH: bool = False  # the client also watches window.fetch (XHR always)
    CSP_NONCE_KEY: str = "csp_nonce"  # scope / scope["state"] / environ key holding a CSP nonce
    REGISTRY: str = "auto"  # release registry: auto, none, file or redis (implied by REDIS_URL)
    REDIS_URL: str = ""  # redis://host:port/db, shared by every server of the fleet
    REDIS_PREFIX: str = "skewguard"  # key and channel prefix in Redis
    REGISTRY_PATH: str = ""  # file registry; default STATIC_ROOT/.skewguard/registry.json
    RETIRED_FORCES_RELOAD: bool = False  # a retired client reloads even while a guard holds it
    PIN_REQUESTS: bool = False  # a stale tab's requests ask for its own release (VersionRouter)
    STORE: str = ""  # release store (file:///dir, s3://bucket/prefix): old releases' files
    STORE_CACHE: str = ""  # where files fetched from the store are cached; default: the temp dir
    STORE_CACHE_MB: float = 256.0  # size bound of that cache
    STORE_TIMEOUT: float = 5.0  # seconds one store request may take before a 503
    TELEMETRY: bool = True  # count the live-tab heartbeats that ride on /version polls
    TELEMETRY_WINDOW: float = 0.0  # seconds a beat keeps a tab counted; 0: six poll intervals
    TELEMETRY_MAX_TABS: float = 100_000  # tab ids counted per release; more are dropped
    METRICS_PATH: str = ""  # e.g. "/metrics": Prometheus exposition (skewguard[metrics])
    STATUS_PATH: str = ""  # e.g. "/_skewguard/status": the status page for people
    STATUS_TOKEN: str = ""  # bearer token for METRICS_PATH and STATUS_PATH (also: signed tokens)

    @classmethod
    def load(
        cls, overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        overrides = dict(overrides or {})
        environ = os.environ if environ is None else environ
        known = {f.name: f for f in fields(cls)}
        values: dict[str, object] = {}
        for key, value in overrides.items():
            name = key.upper()
            if name not in known:
                raise SettingsError(f"unknown setting {key!r} (known: {', '.join(known)})")
            values[name] = value
        for name in known:
            env_name = f"SKEWGUARD_{name}"
            if name not in values and env_name in environ:
                values[name] = environ[env_name]
        converted = {
            name: _convert(name, str(known[name].type), value) for name, value in values.items()
        }
        if isinstance(converted.get("APP_VERSION"), str):
            # A version read from a VERSION file ends in a newline: the version is what it
            # says, not the line break (which would make every response header invalid).
            converted["APP_VERSION"] = str(converted["APP_VERSION"]).strip()
        if converted.get("REGISTRY") == "":
            converted["REGISTRY"] = "auto"
        settings = cls(**converted)  # type: ignore[arg-type] # each value converted to its field's type
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.APP_VERSION_MISMATCH not in MISMATCH_POLICIES:
            raise SettingsError(
                f"APP_VERSION_MISMATCH must be one of {', '.join(MISMATCH_POLICIES)}, got {self.APP_VERSION_MISMATCH!r}"
            )
        if self.APP_VERSION and not VERSION_PATTERN.match(self.APP_VERSION):
            raise SettingsError(
                f"APP_VERSION must be 1-64 characters of letters, digits and . _ + -, got {self.APP_VERSION!r}"
            )
        for name in ("STATIC_URL", "VERSION_PATH", "BUST_PATH", "METRICS_PATH", "STATUS_PATH"):
            value = getattr(self, name)
            if name == "STATIC_URL" and value.startswith(("https://", "http://")):
                continue  # a CDN or bucket serves the files; the app serves none
            if not value and name in ("METRICS_PATH", "STATUS_PATH"):
                continue  # off
            if not value.startswith("/") or any(c in value for c in "?#\r\n "):
                raise SettingsError(f"{name} must be a path starting with '/', got {value!r}")
        if self.REGISTRY not in REGISTRY_CHOICES:
            raise SettingsError(
                f"REGISTRY must be one of {', '.join(REGISTRY_CHOICES)}, got {self.REGISTRY!r}"
            )
        if self.REDIS_URL and not self.REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(
                f"REDIS_URL must start with redis://, rediss:// or unix://, got {self.REDIS_URL!r}"
            )
        if any(c in self.STATIC_ALLOW_ORIGIN for c in "\r\n\x00"):
            raise SettingsError(
                f"STATIC_ALLOW_ORIGIN must be one header value, got {self.STATIC_ALLOW_ORIGIN!r}"
            )
        if self.STORE and not self.STORE.startswith(("file://", "s3://")):
            raise SettingsError(
                f"STORE must be file:///path or s3://bucket/prefix, got {self.STORE!r}"
            )
        if self.STORE_TIMEOUT <= 0:
            raise SettingsError(f"STORE_TIMEOUT must be positive, got {self.STORE_TIMEOUT!r}")
        if self.TELEMETRY_MAX_TABS < 1 or self.TELEMETRY_MAX_TABS != int(self.TELEMETRY_MAX_TABS):
            raise SettingsError(
                f"TELEMETRY_MAX_TABS must be a whole number of at least 1, got {self.TELEMETRY_MAX_TABS!r}"
            )
        if not self.STATIC_URL.endswith("/"):
            raise SettingsError(f"STATIC_URL must end with '/', got {self.STATIC_URL!r}")

    @property
    def manifest_file(self) -> str:
        if self.MANIFEST_PATH:
            return self.MANIFEST_PATH
        return os.path.join(self.STATIC_ROOT, "staticfiles.json") if self.STATIC_ROOT else ""


# One line per setting, for docs/settings.md (generated by scripts/gen-docs.py, checked by a test).
SETTING_DOCS = {
    "APP_VERSION": "Explicit version (git SHA, semver, build id): 1-64 of letters, digits and `. _ + -`, surrounding whitespace (a VERSION file's newline) stripped; empty: derived from the manifest and components.",
    "APP_VERSION_HEADER": "Send `X-App-Version` on every response.",
    "APP_VERSION_MISMATCH": "The browser client's policy: `reload`, `defer`, `prompt`, `warn`, or `ignore` (nothing injected).",
    "VERSION_ENDPOINT": "Answer `GET /version` and `POST /cache/bust`.",
    "STATIC_DEV_VERSION_QUERY": "In dev mode, `static_url()` appends `?v=<content hash>`.",
    "SECRET_KEY": "Signs `/cache/bust` tokens; empty: the endpoint refuses every bust.",
    "STATIC_URL": "URL prefix of static files (ends with `/`); an absolute `https://` URL when a CDN or the store's bucket serves them and the app serves none.",
    "STATIC_ROOT": "The build output directory (`skewguard build --out`).",
    "MANIFEST_PATH": "The manifest; default `STATIC_ROOT/staticfiles.json`. A Vite manifest works too.",
    "STATIC_DIRS": "Dev mode: source directories served and hashed by `static_url()` (`os.pathsep`-separated in the environment).",
    "DEBUG": "Dev mode: no 409s, `?v=` URLs, files straight from the source directories, no manifest needed.",
    "VITE_HOT_FILE": "When this file exists (Vite's dev server wrote it), dev mode; the version comes from its URL.",
    "MANIFEST_REQUIRED": "Outside dev mode, a missing or corrupt manifest stops start-up (False: version `unknown` and a warning).",
    "STRICT": "`static()` of a path the manifest does not know raises instead of warning; Django's `collectstatic` with skewguard's storage fails on a missing reference.",
    "COMPRESS": "Django's `collectstatic` with skewguard's storage writes precompressed `.gz`/`.br`/`.zst` siblings (`skewguard build --no-compress` for the CLI).",
    "VERSION_PATH": "Path of the version endpoint.",
    "BUST_PATH": "Path of the bust endpoint.",
    "SERVE_STATIC": "`sg.asgi()` / `sg.wsgi()` also serve `STATIC_ROOT` under `STATIC_URL`.",
    "STATIC_ALLOW_ORIGIN": "`Access-Control-Allow-Origin` on static files (fonts and module scripts loaded from a CDN need it); empty: not sent.",
    "ROOT_FILES_DIR": "A directory whose files are served at `/` under their own names, `no-cache` (`robots.txt`, `favicon.ico`, `.well-known/*`), like WhiteNoise's `WHITENOISE_ROOT`.",
    "CLIENT_POLL_INTERVAL": "Seconds between the browser client's `/version` checks (visible tab only); 0: never.",
    "CLIENT_INLINE": "Inline the client script instead of a cached `<script src>`.",
    "CLIENT_WRAP_FETCH": "The client also watches `window.fetch` (XHR, htmx and Inertia always).",
    "REGISTRY": "The release registry: `auto` (Redis when `REDIS_URL` is set, else `file` when `STATIC_ROOT` is writable, else none), `none`, `file` (beside the manifest: one server, many workers) or `redis` (a fleet).",
    "REDIS_URL": "Redis shared by every server and worker (`pip install 'skewguard[redis]'`); changes are published, every worker applies them within a second.",
    "REDIS_PREFIX": "Prefix of skewguard's key and channel in Redis.",
    "REGISTRY_PATH": "Where the file registry lives; default `STATIC_ROOT/.skewguard/registry.json`.",
    "RETIRED_FORCES_RELOAD": "A client at a retired release gets the 409 even while a guard holds its page (default: the hold wins, the page reloads when released).",
    "STORE": "Release store shared by every server: `file:///shared/dir` or `s3://bucket/prefix` (`pip install 'skewguard[s3]'`); hashed files of retained releases missing locally are served from it.",
    "STORE_CACHE": "Directory for files fetched from the store (one subdirectory per process); default: the temporary directory.",
    "STORE_CACHE_MB": "Size bound of that cache, in MB; the least recently used files go first.",
    "STORE_TIMEOUT": "Seconds one store request may take; a slower or failing store gives a 503, never a stall.",
    "TELEMETRY": "Count the live-tab heartbeats the browser client adds to its `/version` polls (docs/operations.md).",
    "TELEMETRY_WINDOW": "Seconds a beat keeps a tab counted as live; 0: six poll intervals (hidden tabs beat every fourth poll).",
    "TELEMETRY_MAX_TABS": "Tab ids counted per release (the memory bound); beats of further new ids are counted as dropped.",
    "METRICS_PATH": "Path of the Prometheus exposition, e.g. `/metrics` (`pip install 'skewguard[metrics]'`); empty: off.",
    "STATUS_PATH": "Path of the status page for people, e.g. `/_skewguard/status`; empty: off.",
    "STATUS_TOKEN": "Bearer token for `METRICS_PATH` and `STATUS_PATH` (`?token=` works for a browser); tokens from `skewguard token` work too.",
    "PIN_REQUESTS": "While a tab is stale and its release still routable, the browser client sends `X-App-Requested-Version: <its release>` on its XHR, fetch, htmx and Inertia requests (never on page loads), so `VersionRouter` or the generated nginx config answer it from its own release.",
    "CSP_NONCE_KEY": 'Key of the CSP nonce in the ASGI scope, `scope["state"]` or the WSGI environ.',
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(name: str, annotation: str, value: object) -> object:
    if annotation == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise SettingsError(f"{name} must be true or false, got {value!r}")
    if annotation == "float":
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise SettingsError(f"{name} must be a number, got {value!r}") from None
        if number < 0:
            raise SettingsError(f"{name} must not be negative, got {value!r}")
        return number
    if annotation == "str":
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if not isinstance(value, str):
            raise SettingsError(f"{name} must be a string, got {type(value).__name__}")
        return value
    if annotation == "tuple[str, ...]":
        if isinstance(value, str):
            return tuple(p for p in value.split(os.pathsep) if p)
        try:
            return tuple(os.fspath(p) for p in value)  # type: ignore[attr-defined]
        except TypeError:
            raise SettingsError(f"{name} must be a list of paths, got {value!r}") from None
    return value
