"""Signed links: tamper and expiry refused; keys rotate (old keys verify until removed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.signing import Signer

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
