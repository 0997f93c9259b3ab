"""Signed, expiring, purpose-bound tokens for ``POST /cache/bust``.

Format: ``v1.<expiry unix seconds>.<base64url HMAC-SHA256>``. The MAC covers the purpose and the
expiry, keyed by a key derived from SECRET_KEY, so a token minted for one purpose (or by another
application sharing the secret) is worthless for another, and its expiry cannot be edited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

BUST_PURPOSE = "cache-bust"
# One canonical spelling per token: the expiry in decimal without leading zeros, the MAC in
# unpadded base64url whose last character carries no stray bits (43 characters encode 256 bits
# plus 2 unused bits, which must be zero), and nothing after it (\Z, not $).
_TOKEN = re.compile(r"\Av1\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])\Z")
MAX_TTL_SECONDS = 10 * 365 * 86400  # expiries keep to 12 digits; nobody needs a longer token


def _mac(secret_key: str, purpose: str, expiry: int) -> str:
    key = hashlib.sha256(b"skewguard-token-key\0" + secret_key.encode()).digest()
    message = f"skewguard|v1|{purpose}|{expiry}".encode()
    return (
        base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )


def make_token(
    secret_key: str, ttl_seconds: int, purpose: str = BUST_PURPOSE, now: float | None = None
) -> str:
    if not secret_key:
        raise ValueError("SECRET_KEY is empty: cannot sign a token")
    if ttl_seconds <= 0:
        raise ValueError("the token lifetime must be positive")
    if ttl_seconds > MAX_TTL_SECONDS:
        raise ValueError("the token lifetime must be at most 10 years")
    expiry = int(now if now is not None else time.time()) + int(ttl_seconds)
    return f"v1.{expiry}.{_mac(secret_key, purpose, expiry)}"


def verify_token(
    secret_key: str, token: str, purpose: str = BUST_PURPOSE, now: float | None = None
) -> bool:
    """True only for a well-formed, unexpired token signed with ``secret_key`` for ``purpose``."""
    if not secret_key or not token or len(token) > 80:
        return False
    m = _TOKEN.match(token)
    if m is None:
        return False
    expiry = int(m.group(1))
    expected = _mac(secret_key, purpose, expiry)
    valid_signature = hmac.compare_digest(expected.encode(), m.group(2).encode())
    return valid_signature and expiry > (now if now is not None else time.time())


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None
