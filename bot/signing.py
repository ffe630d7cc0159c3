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
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)
FAILURE_WARNING_EVERY = 60.0  # seconds: at most one "failed verification" warning a minute


def key_fingerprint(keys: Sequence[bytes]) -> str:
    """What instances compare to see that they sign with the same key: the first 8 hex digits
    of the SHA-256 of the signing (first) key, never the key; `random` without keys."""
    return hashlib.sha256(keys[0]).hexdigest()[:8] if keys else "random"


_PAYLOAD = json.JSONEncoder(separators=(",", ":"), sort_keys=True)  # json.dumps's, built once


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, keys: tuple[bytes, ...], warn_random: bool = True,
                 now: Callable[[], float] = time.monotonic) -> None:
        """``warn_random``: warn here of a random key (a command); `serve` says it at start."""
        self.fingerprint = key_fingerprint(keys)
        if not keys:
            if warn_random:
                log.warning("no signing keys configured (CASEBOT_LINK_KEYS): using a random key; "
                            "links and sessions will not survive a restart")
            keys = (secrets.token_bytes(32),)
        self.keys = keys
        # HMAC state after each key is absorbed: a signature copies it instead of re-keying
        self._keyed = tuple(hmac.new(k, digestmod=hashlib.sha256) for k in keys)
        self._now = now
        self._failures = 0  # signatures that matched no key since the last warning
        self._warned_at: float | None = None

    def _mismatch(self) -> None:
        """A well-formed signature no key makes: a forged or garbled link, or another instance
        signing with other keys. One warning at most a minute, with the count, so that a key
        mismatch between instances shows in the log without flooding it."""
        self._failures += 1
        now = self._now()
        if self._warned_at is not None and now - self._warned_at < FAILURE_WARNING_EVERY:
            return
        log.warning("%d signed link(s) or cookie(s) failed verification%s (this instance's link "
                    "key %s): forged or damaged links, or instances with different "
                    "CASEBOT_LINK_KEYS; compare `link key` in each instance's `casebot starting:` "
                    "line (docs/deploy.md)", self._failures,
                    "" if self._warned_at is None else " since the last such warning",
                    self.fingerprint)
        self._failures, self._warned_at = 0, now

    def _mac(self, keyed: hmac.HMAC, kind: str, body: str) -> bytes:
        """HMAC-SHA256 of `kind "." body` under the key `keyed` was made with (`_keyed`)."""
        mac = keyed.copy()
        mac.update(f"{kind}.{body}".encode())
        return mac.digest()

    def sign(self, kind: str, data: dict[str, Any], expires: datetime) -> str:
        payload = {**data, "exp": int(expires.timestamp()), "n": _b64(secrets.token_bytes(6))}
        body = _b64(_PAYLOAD.encode(payload).encode())
        return f"{body}.{_b64(self._mac(self._keyed[0], kind, body))}"

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
        if not any(hmac.compare_digest(given, self._mac(k, kind, body)) for k in self._keyed):
            if len(given) == hashlib.sha256().digest_size:  # a signature, not text cut short
                self._mismatch()
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
