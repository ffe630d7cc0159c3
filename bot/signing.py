"""Signed, expiring tokens (HMAC-SHA256, constant-time compare) for code links and sessions.

A token is `base64url(payload JSON) "." base64url(HMAC-SHA256(key, kind "." payload))`. The
first key signs; every key verifies, so a key can be rotated out without breaking live links."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, keys: tuple[bytes, ...]) -> None:
        if not keys:
            log.warning("no signing keys configured (CASEBOT_LINK_KEYS): using a random key; "
                        "links and sessions will not survive a restart")
            keys = (secrets.token_bytes(32),)
        self.keys = keys

    def _mac(self, key: bytes, kind: str, body: str) -> bytes:
        return hmac.new(key, f"{kind}.{body}".encode(), hashlib.sha256).digest()

    def sign(self, kind: str, data: dict[str, Any], expires: datetime) -> str:
        payload = {**data, "exp": int(expires.timestamp()), "n": _b64(secrets.token_bytes(6))}
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{_b64(self._mac(self.keys[0], kind, body))}"

    def verify(self, kind: str, token: str, now: datetime) -> dict[str, Any] | None:
        """The payload if the token is genuine, of this kind and not expired; else None."""
        payload = self.genuine(kind, token)
        if payload is None or expired(payload, now):
            return None
        return payload

    def genuine(self, kind: str, token: str) -> dict[str, Any] | None:
        """The payload if the token is genuine and of this kind, expired or not; else None.
        For telling an old link ("please ask for a fresh one") from a forged one."""
        if not token.isascii():  # a cookie or query value that is not even UTF-8
            return None
        body, _, sig = token.partition(".")
        try:
            given = _unb64(sig)
        except ValueError:
            return None
        if _b64(given) != sig:  # decoding skips stray characters and anything after padding
            return None
        if not any(hmac.compare_digest(given, self._mac(k, kind, body)) for k in self.keys):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None


def expired(payload: dict[str, Any], now: datetime) -> bool:
    try:
        return int(payload.get("exp", 0)) < now.timestamp()
    except (TypeError, ValueError):
        return True
