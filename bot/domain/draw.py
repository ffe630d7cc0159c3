"""Publicly verifiable draw for 检务督导面对面 (units, then confidential questions).

Pure domain code: no I/O, no clock, no ``random`` module, nothing but the Python standard
library.  Every random choice comes from :class:`RandomStream`, an HMAC-SHA256 counter stream
keyed by ``HMAC(secret, manifest hash + public entropy)``.  The byte-exact specification,
inclusion probabilities and the verification procedure are in ``bot/domain/draw.md`` (served
at ``<public_url>/draw/spec``); keep the two in sync (the tests pin the documented example).

This file is also the stand-alone verifier: the web app serves it unchanged as
``<public_url>/draw/verify.py``, and anybody with Python 3.10 or newer runs it on their own
computer, without the bot, on the files the bot published::

    python3 verify.py publication.json [manifest.json | 抽签清单 SHA-256]

It prints ``MATCH`` (exit status 0) or ``MISMATCH: <first difference>`` (exit status 1), the
same line as ``casebot draw verify``; a file that is no publication is an ``error:`` line on
stderr, exit status 2.  The optional second argument is what was announced
before the draw: the manifest file downloaded then, or the manifest hash of the commitment
card; without it, compare the manifest hash with the announcement by eye.

Also contains an exact implementation of the RFC 3797 selection procedure
(``rfc3797_*``), usable as an independent, well-known public method.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

ALGORITHM = "casebot-draw/1"
"""Domain-separation label inside the key-derivation message (see docs)."""

METHOD_CITIES_FIRST = "cities-first"
METHOD_EQUAL_OFFICE = "equal-office"
METHODS: tuple[str, ...] = (METHOD_CITIES_FIRST, METHOD_EQUAL_OFFICE)

MIN_SECRET_BYTES = 16

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX_EVEN = re.compile(r"(?:[0-9a-f]{2})+")

# Unicode White_Space (PropList.txt).  Deliberately explicit rather than
# Python's str.isspace(), which also treats U+001C..U+001F as whitespace.
WHITESPACE = frozenset(
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


# --------------------------------------------------------------------------
# Canonical encoding and small validation helpers
# --------------------------------------------------------------------------


def canonical_json(obj: object) -> bytes:
    """UTF-8 JSON with sorted keys and no insignificant whitespace."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fields(d: object, keys: tuple[str, ...], what: str) -> Mapping[str, Any]:
    """Require ``d`` to be a mapping with exactly ``keys`` (strict, so that a
    published object hashes the same in any re-implementation)."""
    if not isinstance(d, Mapping):
        raise ValueError(f"{what}: expected a JSON object")
    got = set(d)
    missing = sorted(set(keys) - got)
    extra = sorted(str(k) for k in got - set(keys))
    if missing or extra:
        raise ValueError(f"{what}: missing keys {missing}, unexpected keys {extra}")
    return d


def _str(d: Mapping[str, Any], key: str, what: str) -> str:
    v = d[key]
    if not isinstance(v, str):
        raise ValueError(f"{what}.{key}: expected a string")
    return v


def _int(d: Mapping[str, Any], key: str, what: str) -> int:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{what}.{key}: expected an integer")
    return v


def _bool(d: Mapping[str, Any], key: str, what: str) -> bool:
    v = d[key]
    if not isinstance(v, bool):
        raise ValueError(f"{what}.{key}: expected true/false")
    return v


def _list(d: Mapping[str, Any], key: str, what: str) -> list[Any]:
    v = d[key]
    if not isinstance(v, list):
        raise ValueError(f"{what}.{key}: expected an array")
    return v


def _str_tuple(items: Sequence[Any], what: str) -> tuple[str, ...]:
    for i, v in enumerate(items):
        if not isinstance(v, str):
            raise ValueError(f"{what}[{i}]: expected a string")
    return tuple(items)


# --------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DrawUnit:
    id: str
    name: str
    city_id: str
    city_name: str

    def __post_init__(self) -> None:
        for name in ("id", "name", "city_id", "city_name"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"unit.{name}: expected a string")
        if not self.id or not self.city_id:
            raise ValueError("unit id and city_id must be non-empty")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "city_id": self.city_id,
            "city_name": self.city_name,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DrawUnit:
        keys = ("id", "name", "city_id", "city_name")
        f = _fields(d, keys, "unit")
        return cls(*(_str(f, k, "unit") for k in keys))


@dataclass(frozen=True)
class DrawQuestion:
    """A question of the bank, by id only: the text is confidential and must
    never enter a manifest or a result."""

    id: str
    category: str

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not isinstance(self.category, str):
            raise ValueError("question id and category must be strings")
        if not self.id:
            raise ValueError("question id must be non-empty")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DrawQuestion:
        f = _fields(d, ("id", "category"), "question")
        return cls(_str(f, "id", "question"), _str(f, "category", "question"))


_MANIFEST_KEYS = (
    "session_id",
    "roster_version",
    "units",
    "method",
    "unit_count",
    "questions_per_unit",
    "one_per_city",
    "questions",
    "asked_question_ids",
    "allow_repeat",
    "entropy_source",
    "secret_commitment",
)


@dataclass(frozen=True)
class Manifest:
    """Everything fixed and published *before* the public entropy is known."""

    session_id: str
    roster_version: str
    units: tuple[DrawUnit, ...]  # eligible units, roster order
    method: str  # "cities-first" | "equal-office" (ignored if not one_per_city)
    unit_count: int
    questions_per_unit: int
    one_per_city: bool
    questions: tuple[DrawQuestion, ...]  # eligible questions, bank order
    asked_question_ids: tuple[str, ...]
    allow_repeat: bool
    entropy_source: str  # e.g. "福彩3D 2026-11-27 开奖号码"
    secret_commitment: str  # sha256 hex of the server secret

    def __post_init__(self) -> None:
        # Accept lists from callers but store tuples (hashable, immutable).
        for name in ("units", "questions", "asked_question_ids"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("session_id", "roster_version", "method", "entropy_source"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"manifest.{name}: expected a string")
        for name in ("unit_count", "questions_per_unit"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"manifest.{name}: expected an integer")
        for name in ("one_per_city", "allow_repeat"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"manifest.{name}: expected true/false")
        if self.method not in METHODS:
            raise ValueError(f"manifest.method: unknown {self.method!r}; expected one of {METHODS}")
        if self.unit_count < 1:
            raise ValueError("manifest.unit_count must be >= 1")
        if self.questions_per_unit < 0:
            raise ValueError("manifest.questions_per_unit must be >= 0")
        if not isinstance(self.secret_commitment, str) or not _HEX64.fullmatch(self.secret_commitment):
            raise ValueError("manifest.secret_commitment must be 64 lowercase hex digits")
        if not all(isinstance(u, DrawUnit) for u in self.units):
            raise ValueError("manifest.units: expected DrawUnit items")
        if not all(isinstance(q, DrawQuestion) for q in self.questions):
            raise ValueError("manifest.questions: expected DrawQuestion items")
        _str_tuple(self.asked_question_ids, "manifest.asked_question_ids")
        _require_unique([u.id for u in self.units], "unit id")
        _require_unique([q.id for q in self.questions], "question id")
        city_names: dict[str, str] = {}
        for u in self.units:
            if city_names.setdefault(u.city_id, u.city_name) != u.city_name:
                raise ValueError(
                    f"city {u.city_id!r} has two names: {city_names[u.city_id]!r} and {u.city_name!r}"
                )

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "roster_version": self.roster_version,
            "units": [u.to_dict() for u in self.units],
            "method": self.method,
            "unit_count": self.unit_count,
            "questions_per_unit": self.questions_per_unit,
            "one_per_city": self.one_per_city,
            "questions": [q.to_dict() for q in self.questions],
            "asked_question_ids": list(self.asked_question_ids),
            "allow_repeat": self.allow_repeat,
            "entropy_source": self.entropy_source,
            "secret_commitment": self.secret_commitment,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Manifest:
        w = "manifest"
        f = _fields(d, _MANIFEST_KEYS, w)
        return cls(
            session_id=_str(f, "session_id", w),
            roster_version=_str(f, "roster_version", w),
            units=tuple(DrawUnit.from_dict(u) for u in _list(f, "units", w)),
            method=_str(f, "method", w),
            unit_count=_int(f, "unit_count", w),
            questions_per_unit=_int(f, "questions_per_unit", w),
            one_per_city=_bool(f, "one_per_city", w),
            questions=tuple(DrawQuestion.from_dict(q) for q in _list(f, "questions", w)),
            asked_question_ids=_str_tuple(_list(f, "asked_question_ids", w), "manifest.asked_question_ids"),
            allow_repeat=_bool(f, "allow_repeat", w),
            entropy_source=_str(f, "entropy_source", w),
            secret_commitment=_str(f, "secret_commitment", w),
        )


def _require_unique(ids: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"duplicate {what} {i!r}")
        seen.add(i)


def manifest_hash(m: Manifest) -> str:
    """Hex SHA-256 of ``canonical_json(m.to_dict())``."""
    return _sha256_hex(canonical_json(m.to_dict()))


_RESULT_KEYS = ("manifest_hash", "entropy", "secret_hex", "key_hex", "units", "questions")


@dataclass(frozen=True)
class DrawResult:
    manifest_hash: str
    entropy: str  # normalized, see normalize_entropy()
    secret_hex: str  # the revealed server secret
    key_hex: str
    units: tuple[str, ...]  # unit ids in draw order
    questions: tuple[tuple[str, ...], ...]  # question ids, one tuple per drawn unit

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_hash": self.manifest_hash,
            "entropy": self.entropy,
            "secret_hex": self.secret_hex,
            "key_hex": self.key_hex,
            "units": list(self.units),
            "questions": [list(q) for q in self.questions],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DrawResult:
        w = "result"
        f = _fields(d, _RESULT_KEYS, w)
        hex_fields = (("manifest_hash", _HEX64), ("secret_hex", _HEX_EVEN), ("key_hex", _HEX64))
        for key, pattern in hex_fields:
            if not pattern.fullmatch(_str(f, key, w)):
                raise ValueError(f"result.{key}: expected lowercase hex")
        questions: list[tuple[str, ...]] = []
        for i, per_unit in enumerate(_list(f, "questions", w)):
            if not isinstance(per_unit, list):
                raise ValueError(f"result.questions[{i}]: expected an array")
            questions.append(_str_tuple(per_unit, f"result.questions[{i}]"))
        return cls(
            manifest_hash=f["manifest_hash"],
            entropy=_str(f, "entropy", w),
            secret_hex=f["secret_hex"],
            key_hex=f["key_hex"],
            units=_str_tuple(_list(f, "units", w), "result.units"),
            questions=tuple(questions),
        )


# --------------------------------------------------------------------------
# Secret, entropy, key, random stream
# --------------------------------------------------------------------------


def commit_secret(secret: bytes) -> str:
    """Commitment published in the manifest: hex SHA-256 of the secret."""
    return _sha256_hex(secret)


def normalize_entropy(text: str) -> str:
    """NFKC, then strip and collapse Unicode whitespace runs to one U+0020.

    Characters of category Cc, Cf or Cs left after that are rejected, so
    that invisible characters cannot yield "different" entropy strings.
    """
    s = "".join(" " if ch in WHITESPACE else ch for ch in unicodedata.normalize("NFKC", text))
    out = " ".join(w for w in s.split(" ") if w)
    if not out:
        raise ValueError("entropy is empty")
    for ch in out:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            raise ValueError(f"entropy contains control/format character U+{ord(ch):04X}")
    return out


def key_message(manifest_hash_hex: str, entropy: str) -> bytes:
    """The HMAC message of the key derivation (entropy is normalized here)."""
    return canonical_json(
        {
            "algorithm": ALGORITHM,
            "entropy": normalize_entropy(entropy),
            "manifest": manifest_hash_hex,
        }
    )


def derive_key(manifest_hash_hex: str, entropy: str, secret: bytes) -> bytes:
    """key = HMAC-SHA256(key=secret, msg=key_message(manifest hash, entropy))."""
    return hmac.new(secret, key_message(manifest_hash_hex, entropy), hashlib.sha256).digest()


class RandomStream:
    """Deterministic byte stream: block i = HMAC-SHA256(key, uint64_be(i)).

    Bytes are consumed strictly in order, across block boundaries; nothing is
    ever skipped except the bytes of rejected candidates in :meth:`randbelow`.
    """

    def __init__(self, key: bytes) -> None:
        self._key = bytes(key)
        self._buffer = b""
        self._next_block = 0
        self._consumed = 0

    @property
    def position(self) -> int:
        """Number of stream bytes consumed so far."""
        return self._consumed

    def block(self, i: int) -> bytes:
        return hmac.new(self._key, i.to_bytes(8, "big"), hashlib.sha256).digest()

    def take(self, n: int) -> bytes:
        """Consume and return the next ``n`` bytes of the stream."""
        while len(self._buffer) < n:
            self._buffer += self.block(self._next_block)
            self._next_block += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        self._consumed += n
        return out

    def randbelow(self, n: int) -> int:
        """Uniform integer in [0, n) by rejection sampling (no modulo bias).

        L = ceil(bitlen(n-1) / 8) bytes are read as a big-endian integer x;
        x is accepted iff x < 256**L - (256**L mod n) and then x mod n is
        returned; otherwise the next L bytes are tried.  n == 1 reads nothing.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"randbelow needs an integer n >= 1, got {n!r}")
        size = ((n - 1).bit_length() + 7) // 8
        if size == 0:
            return 0
        space = 1 << (8 * size)
        limit = space - space % n
        while True:
            x = int.from_bytes(self.take(size), "big")
            if x < limit:
                return x % n


# --------------------------------------------------------------------------
# The draw
# --------------------------------------------------------------------------


def _cities(units: Sequence[DrawUnit]) -> list[tuple[str, list[DrawUnit]]]:
    """Cities in order of first appearance in the roster, each with its
    units in roster order."""
    by_city: dict[str, list[DrawUnit]] = {}
    for u in units:
        by_city.setdefault(u.city_id, []).append(u)
    return list(by_city.items())


def _available_questions(m: Manifest) -> list[DrawQuestion]:
    if m.allow_repeat:
        return list(m.questions)
    asked = set(m.asked_question_ids)
    return [q for q in m.questions if q.id not in asked]


def check_feasible(m: Manifest) -> None:
    """Raise ValueError when the manifest cannot produce a complete draw."""
    n_units = len(m.units)
    if m.one_per_city:
        n_cities = len(_cities(m.units))
        if m.unit_count > n_cities:
            raise ValueError(
                f"not enough cities: unit_count={m.unit_count} but only {n_cities} "
                f"cities have eligible units (one unit per city)"
            )
    elif m.unit_count > n_units:
        raise ValueError(f"not enough units: unit_count={m.unit_count} but only {n_units} eligible units")
    need = m.unit_count * m.questions_per_unit
    available = len(_available_questions(m))
    if need > available:
        excluded = len(m.questions) - available
        raise ValueError(
            f"not enough questions: need {need} ({m.unit_count} units x {m.questions_per_unit}) "
            f"but only {available} are available "
            f"({len(m.questions)} eligible, {excluded} already asked)"
        )


def _partial_fisher_yates(items: list[Any], k: int, stream: RandomStream) -> list[Any]:
    a = list(items)
    for i in range(k):
        j = i + stream.randbelow(len(a) - i)
        a[i], a[j] = a[j], a[i]
    return a[:k]


def draw_units(m: Manifest, stream: RandomStream) -> tuple[str, ...]:
    """Unit ids in draw order (see draw.md for each method's steps)."""
    check_feasible(m)
    k = m.unit_count
    if not m.one_per_city:
        return tuple(u.id for u in _partial_fisher_yates(list(m.units), k, stream))
    cities = _cities(m.units)
    if m.method == METHOD_CITIES_FIRST:
        chosen = _partial_fisher_yates(cities, k, stream)
        return tuple(units[stream.randbelow(len(units))].id for _, units in chosen)
    # equal-office: uniform over units of not-yet-chosen cities, k times.
    taken: set[str] = set()
    picked: list[str] = []
    for _ in range(k):
        candidates = [u for u in m.units if u.city_id not in taken]
        u = candidates[stream.randbelow(len(candidates))]
        taken.add(u.city_id)
        picked.append(u.id)
    return tuple(picked)


def draw_questions(m: Manifest, unit_ids: Sequence[str], stream: RandomStream) -> tuple[tuple[str, ...], ...]:
    """For each unit in order, ``questions_per_unit`` questions without
    replacement, spreading categories within the unit.

    Each pick: among categories that still have an undrawn available
    question, keep those picked least often so far *for this unit*; then pick
    uniformly among all undrawn available questions of those categories, in
    manifest order.
    """
    check_feasible(m)
    pool = _available_questions(m)
    drawn: set[str] = set()
    out: list[tuple[str, ...]] = []
    for _ in unit_ids:
        counts: dict[str, int] = {}
        picks: list[str] = []
        for _ in range(m.questions_per_unit):
            remaining = [q for q in pool if q.id not in drawn]
            if not remaining:  # unreachable after check_feasible; kept as a guard
                raise ValueError("not enough questions")
            fewest = min(counts.get(q.category, 0) for q in remaining)
            candidates = [q for q in remaining if counts.get(q.category, 0) == fewest]
            q = candidates[stream.randbelow(len(candidates))]
            drawn.add(q.id)
            counts[q.category] = counts.get(q.category, 0) + 1
            picks.append(q.id)
        out.append(tuple(picks))
    return tuple(out)


def run_draw(manifest: Manifest, entropy: str, secret: bytes) -> DrawResult:
    """Run the whole draw.  Raises ValueError on a wrong secret or an
    infeasible manifest (before consuming any randomness)."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"secret must be at least {MIN_SECRET_BYTES} bytes")
    if not hmac.compare_digest(commit_secret(secret), manifest.secret_commitment):
        raise ValueError("secret does not match manifest.secret_commitment")
    check_feasible(manifest)
    h = manifest_hash(manifest)
    norm = normalize_entropy(entropy)
    key = derive_key(h, norm, secret)
    stream = RandomStream(key)
    units = draw_units(manifest, stream)
    questions = draw_questions(manifest, units, stream)
    return DrawResult(
        manifest_hash=h,
        entropy=norm,
        secret_hex=secret.hex(),
        key_hex=key.hex(),
        units=units,
        questions=questions,
    )


def publication(manifest: Manifest, result: DrawResult) -> dict[str, Any]:
    """The JSON object to publish after the draw (input of :func:`verify`)."""
    return {"manifest": manifest.to_dict(), "result": result.to_dict()}


# --------------------------------------------------------------------------
# Inclusion probabilities
# --------------------------------------------------------------------------


def inclusion_probabilities_exact(manifest: Manifest) -> dict[str, Fraction]:
    """Exact P(unit is drawn) for every eligible unit, as fractions.

    * one_per_city false:  k / N.
    * cities-first:        k / C * 1 / n_c.
    * equal-office:        successive sampling of cities with probability
      proportional to their number of units.  Computed by a forward pass over
      states "how many cities of each size are already chosen" (cities with
      the same number of units are interchangeable), summing for each size
      class the probability of choosing one of its cities at each step.
    """
    check_feasible(manifest)
    k = manifest.unit_count
    units = manifest.units
    if not manifest.one_per_city:
        return {u.id: Fraction(k, len(units)) for u in units}
    cities = _cities(units)
    size_of = {city: len(us) for city, us in cities}
    if manifest.method == METHOD_CITIES_FIRST:
        return {u.id: Fraction(k, len(cities)) / size_of[u.city_id] for u in units}

    classes = sorted(set(size_of.values()))  # distinct city sizes s_i
    mult = [sum(1 for s in size_of.values() if s == c) for c in classes]  # m_i
    total = len(units)
    layer: dict[tuple[int, ...], Fraction] = {tuple(0 for _ in classes): Fraction(1)}
    expected = [Fraction(0) for _ in classes]  # E[#chosen cities of size s_i]
    for _ in range(k):
        nxt: dict[tuple[int, ...], Fraction] = {}
        for state, p in layer.items():
            left = total - sum(j * s for j, s in zip(state, classes, strict=True))
            for i, s in enumerate(classes):
                free = mult[i] - state[i]
                if free == 0:
                    continue
                q = p * free * s / left
                expected[i] += q
                ns = (*state[:i], state[i] + 1, *state[i + 1 :])
                nxt[ns] = nxt.get(ns, Fraction(0)) + q
        layer = nxt
    per_unit = {s: expected[i] / mult[i] / s for i, s in enumerate(classes)}
    return {u.id: per_unit[size_of[u.city_id]] for u in units}


def inclusion_probabilities(manifest: Manifest) -> dict[str, float]:
    """:func:`inclusion_probabilities_exact` as floats, keyed by unit id."""
    return {uid: float(p) for uid, p in inclusion_probabilities_exact(manifest).items()}


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyReport:
    """``first_difference`` is the stable English line of ``casebot draw verify`` (and the JSON
    field of the same name); ``step``, ``position``, ``published`` and ``recomputed`` say the same
    for a reader that words it for people (:func:`bot.domain.inspection.verify_message`)."""

    match: bool
    first_difference: str | None
    step: str | None = None  # which check failed: see _mismatch's callers in verify()
    position: tuple[int, ...] = ()  # (unit #,) or (unit #, question #), 1-based
    published: str | None = None
    recomputed: str | None = None

    def __str__(self) -> str:
        return "MATCH" if self.match else f"MISMATCH: {self.first_difference}"


def _mismatch(text: str, step: str, published: Any = None, recomputed: Any = None,
              position: tuple[int, ...] = ()) -> VerifyReport:
    return VerifyReport(match=False, first_difference=text, step=step, position=position,
                        published=None if published is None else str(published),
                        recomputed=None if recomputed is None else str(recomputed))


def verify(published: Mapping[str, Any], announced_hash: str | None = None) -> VerifyReport:
    """Re-run a published draw ``{"manifest": {...}, "result": {...}}`` and
    report the first difference, in the order of draw.md "Verifying".

    ``announced_hash``: the manifest hash announced before the draw (the commitment card, or
    the manifest downloaded then); when given, the published manifest must hash to it."""
    if not isinstance(published, Mapping) or not {"manifest", "result"} <= set(published):
        return _mismatch('published: expected an object with "manifest" and "result"', "published")
    try:
        m = Manifest.from_dict(published["manifest"])
    except ValueError as e:
        return _mismatch(f"manifest: invalid: {e}", "manifest")
    try:
        r = DrawResult.from_dict(published["result"])
    except ValueError as e:
        return _mismatch(f"result: invalid: {e}", "result")

    h = manifest_hash(m)
    if r.manifest_hash != h:
        return _mismatch(f"manifest hash: published {r.manifest_hash}, recomputed {h}",
                         "manifest_hash", r.manifest_hash, h)
    if announced_hash is not None and announced_hash != h:
        return _mismatch(f"announced manifest hash: announced before the draw {announced_hash}, "
                         f"the published manifest hashes to {h}", "announced_hash", announced_hash, h)
    secret = bytes.fromhex(r.secret_hex)
    commitment = commit_secret(secret)
    if commitment != m.secret_commitment:
        return _mismatch(
            f"secret commitment: manifest has {m.secret_commitment}, sha256(revealed secret) is {commitment}",
            "secret_commitment", m.secret_commitment, commitment,
        )
    try:
        norm = normalize_entropy(r.entropy)
    except ValueError as e:
        return _mismatch(f"entropy: invalid: {e}", "entropy", r.entropy)
    if norm != r.entropy:
        return _mismatch(f"entropy: published {r.entropy!r} is not normalized (normalized: {norm!r})",
                         "entropy_normalized", r.entropy, norm)
    try:
        again = run_draw(m, r.entropy, secret)
    except ValueError as e:
        return _mismatch(f"re-run: {e}", "rerun")
    if again.key_hex != r.key_hex:
        return _mismatch(f"key: published {r.key_hex}, recomputed {again.key_hex}", "key",
                         r.key_hex, again.key_hex)

    if len(r.units) != len(again.units):
        return _mismatch(f"number of units: published {len(r.units)}, recomputed {len(again.units)}",
                         "unit_count", len(r.units), len(again.units))
    for i, (a, b) in enumerate(zip(r.units, again.units, strict=True), start=1):
        if a != b:
            return _mismatch(f"unit #{i}: published {a}, recomputed {b}", "unit", a, b, (i,))
    if len(r.questions) != len(again.questions):
        return _mismatch(
            f"number of question lists: published {len(r.questions)}, recomputed {len(again.questions)}",
            "question_list_count", len(r.questions), len(again.questions),
        )
    for i, (pub, rec) in enumerate(zip(r.questions, again.questions, strict=True), start=1):
        if len(pub) != len(rec):
            return _mismatch(
                f"number of questions for unit #{i}: published {len(pub)}, recomputed {len(rec)}",
                "question_count", len(pub), len(rec), (i,),
            )
        for j, (a, b) in enumerate(zip(pub, rec, strict=True), start=1):
            if a != b:
                return _mismatch(f"question #{j} of unit #{i}: published {a}, recomputed {b}",
                                 "question", a, b, (i, j))
    return VerifyReport(match=True, first_difference=None)


# --------------------------------------------------------------------------
# RFC 3797 (Publicly Verifiable NomCom Random Selection), exact
# --------------------------------------------------------------------------

RFC3797_MAX_POOL = 65535
_SOURCE_SEPARATORS = re.compile(r"[\s,;、]+")


def parse_rfc3797_source(text: str) -> list[int] | str:
    """``"2 5 12 8 10"`` -> ``[2, 5, 12, 8, 10]``; anything that is not a list of
    non-negative decimal integers (separated by whitespace , ; 、 after NFKC)
    is returned as a stripped string source."""
    s = unicodedata.normalize("NFKC", text).strip()
    tokens = [t for t in _SOURCE_SEPARATORS.split(s) if t]
    if tokens and all(re.fullmatch(r"[0-9]+", t) for t in tokens):
        return [int(t) for t in tokens]
    if not s:
        raise ValueError("empty RFC 3797 source")
    return s


def _rfc3797_source_string(src: Sequence[int] | str) -> str:
    if isinstance(src, str):
        # Extension (RFC 3797 only defines numeric sources): NFKC, upper-case,
        # keep only letters and digits (general category L* or N*).
        upper = unicodedata.normalize("NFKC", src).upper()
        cleaned = "".join(ch for ch in upper if unicodedata.category(ch)[0] in "LN")
        if not cleaned:
            raise ValueError(f"RFC 3797 string source {src!r} has no letters or digits")
        return cleaned + "/"
    values = list(src)
    if not values:
        raise ValueError("RFC 3797 numeric source is empty")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"RFC 3797 numeric source values must be integers >= 0, got {v!r}")
    return "".join(f"{v}." for v in sorted(values)) + "/"


def rfc3797_key_string(sources: Sequence[Sequence[int] | str]) -> str:
    """Key string: each numeric source sorted ascending, every value written
    in decimal followed by ".", each source terminated by "/", sources
    concatenated in the pre-announced order."""
    if isinstance(sources, str) or not sources:
        raise ValueError("RFC 3797 needs a non-empty list of sources")
    return "".join(_rfc3797_source_string(s) for s in sources)


def rfc3797_select(
    pool_size: int, count: int, sources: Sequence[Sequence[int] | str]
) -> list[dict[str, int | str]]:
    """Select ``count`` of positions 1..pool_size as in RFC 3797 section 4.

    For selection number i = 0, 1, ...: h = MD5(uint16_be(i) || key || uint16_be(i))
    read as a 128-bit big-endian integer; with r items remaining, the
    (h mod r)-th (0-based) not-yet-selected position, counting in original
    order, is selected.  Returns per selection {"index": i + 1, "md5": HEX,
    "remaining": r, "selected": 1-based original position}.
    """
    if not 1 <= pool_size <= RFC3797_MAX_POOL:
        raise ValueError(f"pool_size must be in 1..{RFC3797_MAX_POOL}")
    if not 0 <= count <= pool_size:
        raise ValueError("count must be in 0..pool_size")
    key = rfc3797_key_string(sources).encode("utf-8")
    left = list(range(1, pool_size + 1))
    out: list[dict[str, int | str]] = []
    for i in range(count):
        counter = i.to_bytes(2, "big")
        digest = hashlib.md5(counter + key + counter, usedforsecurity=False).digest()
        remaining = len(left)
        pick = left.pop(int.from_bytes(digest, "big") % remaining)
        out.append({"index": i + 1, "md5": digest.hex().upper(), "remaining": remaining, "selected": pick})
    return out


# --------------------------------------------------------------------------
# Command line: python3 verify.py publication.json [manifest.json | manifest hash]
# --------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    """The JSON value of a file; ValueError (with the reason) when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 ({e})") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def announced_manifest_hash(arg: str) -> str | VerifyReport:
    """The manifest hash announced before the draw, from the verifier's second argument: a
    manifest file (``/draw/<session>/manifest.json`` as downloaded before the draw, i.e.
    ``{"manifest": {...}, "manifest_hash": "..."}``, or a bare manifest object), or the 64 hex
    digits of the commitment card's 抽签清单 SHA-256.  A manifest file whose ``manifest_hash``
    is not its manifest's is a MISMATCH report; raises FileNotFoundError when ``arg`` is neither
    a file nor a hash, ValueError (with the reason) when the file holds no valid manifest."""
    path = Path(arg)
    if not path.is_file():
        if _HEX64.fullmatch(arg.strip().lower()):
            return arg.strip().lower()
        raise FileNotFoundError(f"{arg}: file not found, and not a manifest hash (64 hex digits)")
    try:
        obj = _read_json(path)
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    claimed = None
    if isinstance(obj, Mapping) and "manifest" in obj:
        claimed = obj.get("manifest_hash")
        obj = obj["manifest"]
    try:
        h = manifest_hash(Manifest.from_dict(obj))
    except ValueError as e:
        raise ValueError(f"{path}: not a draw manifest: {e}") from None
    if claimed is not None and claimed != h:
        return _mismatch(f"{path}: manifest_hash {claimed} does not match its manifest, which hashes to {h}",
                         "announced", claimed, h)
    return h


def verify_command(target: str, announced: str | None = None,
                   by_session: Callable[[str], Mapping[str, Any] | None] | None = None) -> int:
    """Print ``MATCH`` or ``MISMATCH: <first difference>`` for the publication file ``target``
    and return the exit status (0, 1; 2 with a line on stderr when an argument is unusable: a
    missing file, a file that is no publication or manifest). ``by_session`` (``casebot draw
    verify`` only) looks a target that is no file name up as a session id in the bot's
    database."""
    path = Path(target)
    published: Any
    if path.is_file():
        try:
            published = _read_json(path)
        except ValueError as e:
            print(f"error: {path}: not valid JSON ({e})", file=sys.stderr)
            return 2
    elif by_session is None or path.suffix or len(path.parts) > 1 or path.exists():
        # a file name (publication.json, dir/x): not a session id
        why = "not a file" if path.exists() else "file not found"
        print(f"error: {path}: {why}", file=sys.stderr)
        return 2
    else:
        published = by_session(target)
        if published is None:
            print(f"error: {target} is neither a file nor a session with a draw", file=sys.stderr)
            return 2
    want = None
    if announced is not None:
        try:
            got = announced_manifest_hash(announced)
        except (FileNotFoundError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if isinstance(got, VerifyReport):
            print(got)
            return 1
        want = got
    report = verify(published if isinstance(published, Mapping) else {}, announced_hash=want)
    if report.step in _NO_PUBLICATION:  # MISMATCH would read as "the draw was rigged"
        why = (report.first_difference or "").removeprefix("published: ")
        print(f"error: {target}: not a draw publication: {why}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.match else 1


# verify()'s steps that find no publication to re-run: its outline, or a part that does not parse
_NO_PUBLICATION = ("published", "manifest", "result")


def main(argv: Sequence[str] | None = None) -> int:
    """``python3 verify.py publication.json [manifest.json | manifest hash]``."""
    parser = argparse.ArgumentParser(
        prog="verify.py",
        description="复核检务督导面对面抽签：按公布的数据重新计算，显示 MATCH（一致）或 "
                    "MISMATCH（不一致）及第一处差异。Re-run a published casebot draw.")
    parser.add_argument("publication", help="抽签数据 publication.json（抽签后公布）")
    parser.add_argument("announced", nargs="?",
                        help="抽签前公布的抽签清单 manifest.json，或承诺卡片上的「抽签清单 SHA-256」"
                             "（可省略）")
    args = parser.parse_args(argv)
    return verify_command(args.publication, args.announced)


if __name__ == "__main__":
    # an observer's own Python may be older than the bot's: say so rather than fail midway
    if sys.version_info < (3, 10):  # noqa: UP036
        sys.exit("verify.py needs Python 3.10 or newer / 需要 Python 3.10 或更高版本")
    sys.exit(main())
