"""The browser client: its minified code, its hashed URL, and the bootstrap tag for a page.

``skewguard.js`` is the readable source and ``skewguard.min.js`` its committed build
(``scripts/build-client.sh``, esbuild pinned; a test checks the two agree). The server serves the
build from memory under ``STATIC_URL + "__skewguard/client.<hash>.js"`` with immutable caching,
or inlines it (``CLIENT_INLINE``). ``vite-plugin.mjs`` is a Vite plugin for the app's own build:
it wraps dynamic imports for the client as ``skewguard build`` does (``VITE_PLUGIN``).
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
from importlib import resources

CLIENT_PREFIX = "__skewguard/"
# Where the Vite plugin is installed: copy it into a Vite project, or import it from here.
VITE_PLUGIN = str(resources.files(__package__).joinpath("vite-plugin.mjs"))


@functools.lru_cache(maxsize=1)
def client_code() -> bytes:
    code = resources.files(__package__).joinpath("skewguard.min.js").read_bytes()
    if b"</script" in code.lower():  # cannot be inlined safely
        raise RuntimeError("skewguard.min.js contains '</script'")
    return code


@functools.lru_cache(maxsize=1)
def client_name() -> str:
    return f"{CLIENT_PREFIX}client.{hashlib.sha256(client_code()).hexdigest()[:12]}.js"


def bootstrap_tag(
    config: dict[str, object], static_url: str, inline: bool, nonce: str | None
) -> bytes:
    """The ``<script>`` that starts the client with ``config`` (version, policy, endpoints)."""
    nonce_attr = f' nonce="{html.escape(nonce, quote=True)}"' if nonce else ""
    data = json.dumps(config, separators=(",", ":"), sort_keys=True)
    if inline:
        safe_json = data.replace("<", "\\u003c")  # no "</script>" can close the tag early
        return (
            f"<script{nonce_attr}>window.__skewguard={safe_json};".encode()
            + client_code()
            + b"</script>"
        )
    src = static_url + client_name()
    return f'<script src="{src}" data-skewguard="{html.escape(data, quote=True)}"{nonce_attr}></script>'.encode()
