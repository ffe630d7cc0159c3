"""Signed links: tamper and expiry refused; keys rotate (old keys verify until removed)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from bot.signing import Signer, key_fingerprint

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def test_roundtrip_tamper_expiry_and_kind() -> None:
    s = Signer((b"k1",))
    t = s.sign("code", {"c": "HY-2026-0001"}, NOW + timedelta(days=30))
    assert s.verify("code", t, NOW)["c"] == "HY-2026-0001"
    assert s.verify("session", t, NOW) is None  # a code link is not a session
    assert s.verify("code", t, NOW + timedelta(days=31)) is None
    body, sig = t.split(".")
    assert s.verify("code", body[:-1] + ("A" if body[-1] != "A" else "B") + "." + sig, NOW) is None
    assert s.verify("code", "garbage", NOW) is None
    # unguessable: two links to the same case differ
    assert t != s.sign("code", {"c": "HY-2026-0001"}, NOW + timedelta(days=30))


def test_rotation() -> None:
    old = Signer((b"old",)).sign("code", {"c": "X"}, NOW + timedelta(days=1))
    assert Signer((b"new", b"old")).verify("code", old, NOW) is not None
    assert Signer((b"new",)).verify("code", old, NOW) is None
    fresh = Signer((b"new", b"old")).sign("code", {"c": "X"}, NOW + timedelta(days=1))
    assert Signer((b"new",)).verify("code", fresh, NOW) is not None


def test_only_the_exact_token_verifies() -> None:
    s = Signer((b"k1",))
    t = s.sign("code", {"c": "HY-2026-0001"}, NOW + timedelta(days=30))
    body, sig = t.split(".")
    # base64 decoding ignores what follows the padding and any character outside its alphabet:
    # the same signature must not verify with text appended or slipped in
    for forged in (f"{t}=", f"{t}=<script>", f"{t}=anything", f"{body}.{sig[:10]}!{sig[10:]}",
                   f"{body}.{sig}==", f"{body}.{sig[:-1]}"):
        assert s.verify("code", forged, NOW) is None, forged
    assert s.genuine("code", f"{t}=x") is None
    # a cookie or query value that is not UTF-8 (surrogate escapes) is not a token, not an error
    assert s.verify("session", "\udcff\udcfe.AAAA", NOW) is None
    assert s.verify("session", body + ".\udcff", NOW) is None


def test_links_of_another_key_are_one_warning_a_minute_with_a_count(
        caplog: pytest.LogCaptureFixture) -> None:
    """Two instances with different CASEBOT_LINK_KEYS: the one that cannot verify says so, at
    most once a minute, naming its key's fingerprint (never the key) and how many failed."""
    now = [0.0]
    theirs = Signer((b"instance-a-key-0123456789",)).sign("code", {"c": "X"},
                                                           NOW + timedelta(days=1))
    ours = Signer((b"instance-b-key-0123456789",), now=lambda: now[0])
    assert ours.fingerprint == hashlib.sha256(b"instance-b-key-0123456789").hexdigest()[:8]
    assert key_fingerprint(()) == "random"
    with caplog.at_level("WARNING", logger="bot.signing"):
        for _ in range(5):
            assert ours.verify("code", theirs, NOW) is None
        assert ours.verify("code", "garbage", NOW) is None  # malformed: not a key mismatch
        now[0] = 59.0
        assert ours.verify("code", theirs, NOW) is None
        assert len(caplog.records) == 1
        now[0] = 61.0
        assert ours.verify("code", theirs, NOW) is None
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" (")[0] for line in lines] == [
        "1 signed link(s) or cookie(s) failed verification",
        "6 signed link(s) or cookie(s) failed verification since the last such warning"]
    assert all(f"link key {ours.fingerprint})" in line and "instance-b" not in line
               for line in lines)
