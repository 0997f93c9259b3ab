"""Putting the client bootstrap into HTML responses, streamed bodies included.

The snippet goes before ``</head>``, else before ``</body>``, else at the end. Bodies are
processed chunk by chunk; at most six bytes are held back so a tag split across chunks is still
found. Exactly one snippet is always added, so Content-Length can be fixed before the body is
seen: the response stays streamed.
"""

from __future__ import annotations

import re

_CLOSING_TAG = re.compile(rb"</(head|body)[\s>/]", re.IGNORECASE)
_CARRY = len(b"</head")  # a tag cut at the chunk's end is at most this long


class HtmlInjector:
    def __init__(self, snippet: bytes):
        self.snippet = snippet
        self.done = False
        self.carry = b""

    def feed(self, chunk: bytes) -> bytes:
        if self.done:
            return chunk
        data = self.carry + chunk
        m = _CLOSING_TAG.search(data)
        if m is not None:
            self.done, self.carry = True, b""
            return data[: m.start()] + self.snippet + data[m.start() :]
        self.carry = data[-_CARRY:]
        return data[:-_CARRY]

    def finish(self) -> bytes:
        """The end of the body: what was held back, and the snippet if no tag was found."""
        if self.done:
            return b""
        self.done = True
        rest, self.carry = self.carry, b""
        return rest + self.snippet


def injected_length(declared: bytes | str, snippet: bytes) -> str | None:
    """The Content-Length after injecting ``snippet``; None when the declared one is not a number."""
    try:
        return str(int(declared) + len(snippet))
    except ValueError:
        return None


def should_inject(
    method: str,
    status: int,
    content_type: str | None,
    content_encoding: str | None,
    fragment_request: bool,
) -> bool:
    """Only whole HTML documents sent in full: not HEAD, 204/304/206, other types, encoded
    bodies, nor htmx/Inertia requests (their answers are fragments or JSON, not documents)."""
    if method == "HEAD" or status in (204, 206, 304) or status < 200:
        return False
    if content_encoding and content_encoding.strip().lower() not in ("", "identity"):
        return False
    if fragment_request:
        return False
    if not content_type:
        return False
    return content_type.split(";")[0].strip().lower() == "text/html"
