"""HTTP-mode robot callbacks: DingTalk sends headers `timestamp` (ms) and
`sign = base64(HMAC-SHA256(key=appSecret, msg=timestamp + "\\n" + appSecret))`."""

from __future__ import annotations

import base64
import hashlib
import hmac

MAX_SKEW_MS = 3_600_000  # DingTalk's rule: reject more than one hour off


def expected_sign(timestamp: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def check_sign(timestamp: str | None, sign: str | None, secret: str, now_ms: int) -> bool:
    """True when the callback is genuine and fresh (constant-time compare)."""
    if not timestamp or not sign or not (timestamp.isascii() and timestamp.isdigit()) \
            or not sign.isascii():
        return False
    if abs(now_ms - int(timestamp)) > MAX_SKEW_MS:
        return False
    return hmac.compare_digest(expected_sign(timestamp, secret).encode(), sign.encode())
