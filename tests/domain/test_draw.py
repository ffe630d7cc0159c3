"""Tests for bot.domain.draw (specification: bot/domain/draw.md)."""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import hmac
import itertools
import json
import math
import re
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.draw import (
    METHOD_CITIES_FIRST,
    METHOD_EQUAL_OFFICE,
    METHODS,
    DrawQuestion,
    DrawResult,
    DrawUnit,
    Manifest,
    RandomStream,
    canonical_json,
    commit_secret,
    derive_key,
    inclusion_probabilities,
    inclusion_probabilities_exact,
    manifest_hash,
    normalize_entropy,
    parse_rfc3797_source,
    publication,
    rfc3797_key_string,
    rfc3797_select,
    run_draw,
    verify,
    verify_command,
)
from bot.domain.inspection import verify_message

SECRET = bytes(range(32))
CATEGORIES = ("党的建设", "业务建设", "队伍建设", "党风廉政建设", "其他")
VECTOR = Path(__file__).resolve().parents[1] / "vectors" / "rfc3797.json"


# --------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------


def roster(sizes: Sequence[int]) -> tuple[DrawUnit, ...]:
    return tuple(
        DrawUnit(f"u{c}-{j}", f"{c}市{j}县检察院", f"c{c}", f"{c}市")
        for c, n in enumerate(sizes)
        for j in range(n)
    )


def bank(n: int) -> tuple[DrawQuestion, ...]:
    return tuple(DrawQuestion(f"q{i:03d}", CATEGORIES[i % len(CATEGORIES)]) for i in range(n))


def make_manifest(**kw: Any) -> Manifest:
    base: dict[str, Any] = {
        "session_id": "s-1",
        "roster_version": "r-1",
        "units": roster([14, 12, 11, 10, 10, 10, 9, 9, 9, 9, 8]),  # 111 units, 11 cities
        "method": METHOD_CITIES_FIRST,
        "unit_count": 4,
        "questions_per_unit": 4,
        "one_per_city": True,
        "questions": bank(220),
        "asked_question_ids": (),
        "allow_repeat": False,
        "entropy_source": "福彩3D 2026-11-27 开奖号码",
        "secret_commitment": commit_secret(SECRET),
    }
    base.update(kw)
    return Manifest(**base)


def worked_example() -> Manifest:
    """The manifest of bot/domain/draw.md section 12."""
    units = (
        DrawUnit("A01", "甲市检察院", "A", "甲市"),
        DrawUnit("B01", "乙一县检察院", "B", "乙市"),
        DrawUnit("B02", "乙二县检察院", "B", "乙市"),
        DrawUnit("C01", "丙一县检察院", "C", "丙市"),
        DrawUnit("C02", "丙二县检察院", "C", "丙市"),
        DrawUnit("C03", "丙三县检察院", "C", "丙市"),
    )
    cats = ["党的建设", "党的建设", "业务建设", "业务建设", "业务建设"]
    cats += ["队伍建设", "党风廉政建设", "其他"]
    questions = tuple(DrawQuestion(f"q{i + 1}", c) for i, c in enumerate(cats))
    return Manifest(
        session_id="2026-12-01-01",
        roster_version="roster-2026-11",
        units=units,
        method="cities-first",
        unit_count=2,
        questions_per_unit=2,
        one_per_city=True,
        questions=questions,
        asked_question_ids=("q2",),
        allow_repeat=False,
        entropy_source="福彩3D 第2026318期 开奖号码（三位数字，以空格分隔）",
        secret_commitment=commit_secret(SECRET),
    )


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=7))
    units = list(draw(st.permutations(list(roster(sizes)))))  # cities interleaved
    one_per_city = draw(st.booleans())
    k = draw(st.integers(1, len(sizes) if one_per_city else len(units)))
    n_q = draw(st.integers(0, 30))
    cats = draw(st.lists(st.sampled_from(CATEGORIES), min_size=n_q, max_size=n_q))
    questions = tuple(DrawQuestion(f"q{i}", c) for i, c in enumerate(cats))
    asked: list[str] = []
    if questions:
        asked = draw(st.lists(st.sampled_from([q.id for q in questions]), max_size=n_q))
    asked += draw(st.lists(st.sampled_from(["old-1", "old-2"]), max_size=2))  # not in bank
    allow_repeat = draw(st.booleans())
    available = n_q if allow_repeat else len({q.id for q in questions} - set(asked))
    qpu = draw(st.integers(0, min(4, available // k)))
    return make_manifest(
        units=tuple(units),
        method=draw(st.sampled_from(METHODS)),
        unit_count=k,
        questions_per_unit=qpu,
        one_per_city=one_per_city,
        questions=questions,
        asked_question_ids=tuple(asked),
        allow_repeat=allow_repeat,
    )


entropies = st.text(min_size=1, max_size=20).filter(lambda s: bool(s.strip()))


# --------------------------------------------------------------------------
# independent re-implementation written from bot/domain/draw.md only
# --------------------------------------------------------------------------

_DOC_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_DOC_WS += "\u2028\u2029\u202f\u205f\u3000"


def doc_normalize(text: str) -> str:
    s = unicodedata.normalize("NFKC", text)
    return " ".join(p for p in re.split("[" + re.escape(_DOC_WS) + "]+", s) if p)


class DocStream:
    def __init__(self, key: bytes) -> None:
        self.key, self.data, self.pos = key, b"", 0

    def read(self, n: int) -> bytes:
        while len(self.data) < self.pos + n:
            i = len(self.data) // 32
            self.data += hmac.new(self.key, i.to_bytes(8, "big"), hashlib.sha256).digest()
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def below(self, n: int) -> int:
        size = math.ceil((n - 1).bit_length() / 8)
        if size == 0:
            return 0
        limit = 256**size - (256**size % n)
        while True:
            x = int.from_bytes(self.read(size), "big")
            if x < limit:
                return x % n


def doc_draw(m: dict[str, Any], typed: str, secret: bytes) -> dict[str, Any]:
    """Sections 3-10 of bot/domain/draw.md on plain JSON data."""
    enc = json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    mhash = hashlib.sha256(enc.encode("utf-8")).hexdigest()
    e = doc_normalize(typed)
    msg = '{"algorithm":"casebot-draw/1","entropy":' + json.dumps(e, ensure_ascii=False)
    msg += ',"manifest":"' + mhash + '"}'
    key = hmac.new(secret, msg.encode("utf-8"), hashlib.sha256).digest()
    s = DocStream(key)
    k = m["unit_count"]

    def fisher_yates(a: list[Any]) -> list[Any]:
        a = list(a)
        for i in range(k):
            j = i + s.below(len(a) - i)
            a[i], a[j] = a[j], a[i]
        return a[:k]

    cities: dict[str, list[str]] = {}
    for u in m["units"]:
        cities.setdefault(u["city_id"], []).append(u["id"])
    city_of = {u["id"]: u["city_id"] for u in m["units"]}
    if not m["one_per_city"]:
        units = fisher_yates([u["id"] for u in m["units"]])
    elif m["method"] == "cities-first":
        units = [cities[c][s.below(len(cities[c]))] for c in fisher_yates(list(cities))]
    else:
        units = []
        for _ in range(k):
            cand = [u["id"] for u in m["units"] if city_of[u["id"]] not in {city_of[x] for x in units}]
            units.append(cand[s.below(len(cand))])
    asked = set() if m["allow_repeat"] else set(m["asked_question_ids"])
    available = [q for q in m["questions"] if q["id"] not in asked]
    drawn: set[str] = set()
    questions = []
    for _ in units:
        counts: Counter[str] = Counter()
        picks = []
        for _ in range(m["questions_per_unit"]):
            remaining = [q for q in available if q["id"] not in drawn]
            fewest = min(counts[q["category"]] for q in remaining)
            cand = [q for q in remaining if counts[q["category"]] == fewest]
            q = cand[s.below(len(cand))]
            drawn.add(q["id"])
            counts[q["category"]] += 1
            picks.append(q["id"])
        questions.append(picks)
    return {
        "manifest_hash": mhash,
        "entropy": e,
        "secret_hex": secret.hex(),
        "key_hex": key.hex(),
        "units": units,
        "questions": questions,
    }


@settings(max_examples=150, deadline=None)
@given(manifests(), entropies)
def test_code_matches_the_documented_algorithm(m: Manifest, entropy: str) -> None:
    try:
        expected_entropy = normalize_entropy(entropy)
    except ValueError:
        return  # control characters: rejected, see test_entropy_normalization
    assert doc_normalize(entropy) == expected_entropy
    result = run_draw(m, entropy, SECRET)
    assert result.to_dict() == doc_draw(m.to_dict(), entropy, SECRET)


# --------------------------------------------------------------------------
# encoding, manifest, worked example
# --------------------------------------------------------------------------


def test_canonical_json_bytes() -> None:
    obj = {"b": [1, True, None], "a": '甲"\\\n\x01\u2028', "c": {"z": 0, "y": False}}
    expected = '{"a":"甲\\"\\\\\\n\\u0001\u2028","b":[1,true,null],"c":{"y":false,"z":0}}'
    assert canonical_json(obj) == expected.encode("utf-8")


def test_worked_example_of_the_docs() -> None:
    m = worked_example()
    doc = (Path(__file__).resolve().parents[2] / "bot" / "domain" / "draw.md").read_text("utf-8")
    block = doc.split("only at commas between top-level members):\n\n```\n")[1].split("\n```")[0]
    assert canonical_json(m.to_dict()) == block.replace("\n", "").encode("utf-8")
    h = manifest_hash(m)
    assert h == "c567eae0610fc2b8622b2e260bad6ee4f2b3736e2dabf8824453b3979dc56b5d"
    assert m.secret_commitment == ("630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd")
    r = run_draw(m, " 5  2\u30008 ", SECRET)
    assert r.entropy == "5 2 8"
    assert r.key_hex == "966d2dfa87c0d899536aeacee13d2f40486c9c26df33f26034b4fc02f9469406"
    assert RandomStream(bytes.fromhex(r.key_hex)).block(0).hex() == (
        "8320997b15905d72d563e287b4ef283f3b06a2bc5579fbf5884dbffaebfd9688"
    )
    assert r.units == ("C01", "B02")
    assert r.questions == (("q1", "q3"), ("q7", "q6"))
    assert inclusion_probabilities_exact(m) == {
        "A01": Fraction(2, 3),
        "B01": Fraction(1, 3),
        "B02": Fraction(1, 3),
        "C01": Fraction(2, 9),
        "C02": Fraction(2, 9),
        "C03": Fraction(2, 9),
    }
    eq = inclusion_probabilities_exact(replace(m, method=METHOD_EQUAL_OFFICE))
    assert [eq[u] for u in ("A01", "B01", "C01")] == [
        Fraction(5, 12),
        Fraction(11, 30),
        Fraction(17, 60),
    ]


def test_manifest_round_trip_and_strict_parsing() -> None:
    m = worked_example()
    d = json.loads(json.dumps(m.to_dict()))
    assert Manifest.from_dict(d) == m
    for bad in (
        {**d, "extra": 1},
        {k: v for k, v in d.items() if k != "method"},
        {**d, "unit_count": True},
        {**d, "one_per_city": 1},
        {**d, "units": [{**d["units"][0], "text": "x"}]},
        {**d, "method": "lottery"},
        {**d, "secret_commitment": "ABC"},
        {**d, "units": [d["units"][0], d["units"][0]]},  # duplicate id
        {**d, "units": [d["units"][0], {**d["units"][1], "city_id": "A"}]},  # two city names
    ):
        with pytest.raises(ValueError):
            Manifest.from_dict(bad)
    r = run_draw(m, "528", SECRET)
    assert DrawResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r


def test_question_texts_cannot_enter_the_manifest() -> None:
    assert [f.name for f in fields(DrawQuestion)] == ["id", "category"]
    assert set(worked_example().to_dict()["questions"][0]) == {"id", "category"}


# --------------------------------------------------------------------------
# entropy, secret, stream
# --------------------------------------------------------------------------


def test_entropy_normalization() -> None:
    assert normalize_entropy(" 5  2\u30008\n") == "5 2 8"
    assert normalize_entropy("５\u00a0２\t８") == "5 2 8"
    assert normalize_entropy("福彩3D  528") == "福彩3D 528"
    for bad in ("", "  \u3000 ", "5\u200b28", "5\x0028"):
        with pytest.raises(ValueError):
            normalize_entropy(bad)
    m = make_manifest()
    assert run_draw(m, "5 2 8", SECRET) == run_draw(m, "  ５ 2\u3000 8 ", SECRET)


def test_secret_is_checked() -> None:
    m = make_manifest()
    with pytest.raises(ValueError, match="secret_commitment"):
        run_draw(m, "528", bytes(32))
    short = b"short"
    with pytest.raises(ValueError, match="at least"):
        run_draw(make_manifest(secret_commitment=commit_secret(short)), "528", short)
    assert commit_secret(SECRET) == hashlib.sha256(SECRET).hexdigest()


def test_stream_blocks_and_byte_consumption() -> None:
    key = b"k" * 32
    s = RandomStream(key)
    stream = b"".join(hmac.new(key, i.to_bytes(8, "big"), hashlib.sha256).digest() for i in range(3))
    assert s.block(1) == stream[32:64]
    assert s.randbelow(1) == 0 and s.position == 0  # n == 1 reads nothing
    assert s.randbelow(256) == stream[0] and s.position == 1
    assert s.take(30) == stream[1:31]
    assert s.randbelow(257) == int.from_bytes(stream[31:33], "big") % 257  # crosses blocks
    assert s.position == 33
    with pytest.raises(ValueError):
        s.randbelow(0)


def test_randbelow_rejects_the_biased_tail() -> None:
    # find a key whose first byte is >= 129 = 256 - (256 mod 129): it must be rejected
    for i in itertools.count():
        key = f"key{i}".encode()
        data = b"".join(hmac.new(key, j.to_bytes(8, "big"), hashlib.sha256).digest() for j in (0, 1))
        if data[0] >= 129 and data[1] < 129:
            break
    s = RandomStream(key)
    assert s.randbelow(129) == data[1] % 129
    assert s.position == 2


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=40), st.integers(1, 10**40))
def test_randbelow_matches_the_documented_rule(key: bytes, n: int) -> None:
    ours, doc = RandomStream(key), DocStream(key)
    for _ in range(5):
        assert ours.randbelow(n) == doc.below(n)
        assert ours.position == doc.pos


# --------------------------------------------------------------------------
# draw properties
# --------------------------------------------------------------------------


def test_same_inputs_same_output_and_entropy_matters() -> None:
    m = make_manifest()
    assert run_draw(m, "e1", SECRET) == run_draw(m, "e1", SECRET)
    results = [run_draw(m, f"e{i}", SECRET) for i in range(40)]
    assert len({r.key_hex for r in results}) == 40
    assert len({r.units for r in results}) == 40  # 2.7e-6 chance of any collision
    assert len({r.questions for r in results}) == 40
    assert derive_key(manifest_hash(m), "e1", SECRET) != derive_key(manifest_hash(m), "e2", SECRET)


@settings(max_examples=200, deadline=None)
@given(manifests(), entropies)
def test_draw_invariants(m: Manifest, entropy: str) -> None:
    try:
        r = run_draw(m, entropy, SECRET)
    except ValueError as e:
        assert "entropy" in str(e)
        return
    unit_by_id = {u.id: u for u in m.units}
    assert len(r.units) == m.unit_count == len(set(r.units))
    assert set(r.units) <= set(unit_by_id)
    if m.one_per_city:
        assert len({unit_by_id[u].city_id for u in r.units}) == m.unit_count
    flat = [q for per in r.questions for q in per]
    assert all(len(per) == m.questions_per_unit for per in r.questions)
    assert len(flat) == len(set(flat))
    assert set(flat) <= {q.id for q in m.questions}
    if not m.allow_repeat:
        assert not set(flat) & set(m.asked_question_ids)
    assert verify(json.loads(json.dumps(publication(m, r)))).match


def test_asked_questions_are_not_drawn_again() -> None:
    questions = bank(60)
    asked = tuple(q.id for q in questions[:44])  # 16 left, 16 needed
    m = make_manifest(questions=questions, asked_question_ids=asked)
    for i in range(30):
        flat = {q for per in run_draw(m, f"e{i}", SECRET).questions for q in per}
        assert flat == {q.id for q in questions[44:]}
    m2 = make_manifest(questions=questions, asked_question_ids=asked, allow_repeat=True)
    seen = {q for i in range(30) for per in run_draw(m2, f"e{i}", SECRET).questions for q in per}
    assert seen & set(asked)


def test_not_enough_questions_cities_or_units() -> None:
    questions = bank(20)
    asked = tuple(q.id for q in questions[:5])
    with pytest.raises(ValueError, match="not enough questions"):
        run_draw(make_manifest(questions=questions, asked_question_ids=asked), "528", SECRET)
    ok = make_manifest(questions=questions, asked_question_ids=asked, allow_repeat=True)
    assert len(run_draw(ok, "528", SECRET).questions) == 4
    for method in METHODS:
        with pytest.raises(ValueError, match="not enough cities"):
            run_draw(make_manifest(units=roster([3, 3, 3]), method=method), "528", SECRET)
    with pytest.raises(ValueError, match="not enough units"):
        run_draw(make_manifest(units=roster([1, 2]), one_per_city=False), "528", SECRET)


def test_categories_are_spread_within_a_unit() -> None:
    m = make_manifest()  # 220 questions, 5 categories, 4 per unit
    cat = {q.id: q.category for q in m.questions}
    for i in range(50):
        for per in run_draw(m, f"e{i}", SECRET).questions:
            assert len({cat[q] for q in per}) == 4
    # one category exhausted: the others still get at most one question each first
    others = [DrawQuestion(f"x{i}", c) for i, c in enumerate(CATEGORIES[1:] * 5)]
    qs = (DrawQuestion("only", "党的建设"), *others)
    m2 = make_manifest(units=roster([2, 2]), unit_count=2, questions=qs, questions_per_unit=4)
    for i in range(50):
        for per in run_draw(m2, f"e{i}", SECRET).questions:
            assert len({next(q.category for q in qs if q.id == x) for x in per}) == 4


# --------------------------------------------------------------------------
# inclusion probabilities: exact enumeration and chi-square
# --------------------------------------------------------------------------


def exact_set_distribution(m: Manifest) -> dict[frozenset[str], Fraction]:
    """Probability of every possible set of drawn units, by brute force."""
    out: defaultdict[frozenset[str], Fraction] = defaultdict(Fraction)
    k = m.unit_count
    cities: dict[str, list[str]] = {}
    for u in m.units:
        cities.setdefault(u.city_id, []).append(u.id)
    city_of = {u.id: u.city_id for u in m.units}
    if not m.one_per_city:
        for combo in itertools.combinations([u.id for u in m.units], k):
            out[frozenset(combo)] += Fraction(1, math.comb(len(m.units), k))
    elif m.method == METHOD_CITIES_FIRST:
        n_cities = len(cities)
        for perm in itertools.permutations(cities, k):
            p_cities = Fraction(1, math.perm(n_cities, k))
            for combo in itertools.product(*(cities[c] for c in perm)):
                p = p_cities
                for c in perm:
                    p /= len(cities[c])
                out[frozenset(combo)] += p
    else:

        def rec(chosen: tuple[str, ...], p: Fraction) -> None:
            if len(chosen) == k:
                out[frozenset(chosen)] += p
                return
            used = {city_of[x] for x in chosen}
            cand = [u.id for u in m.units if u.city_id not in used]
            for u in cand:
                rec((*chosen, u), p / len(cand))

        rec((), Fraction(1))
    return dict(out)


def marginals(dist: dict[frozenset[str], Fraction], ids: Sequence[str]) -> dict[str, Fraction]:
    return {u: sum((p for s, p in dist.items() if u in s), Fraction(0)) for u in ids}


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=5),
    st.sampled_from(METHODS),
    st.booleans(),
    st.data(),
)
def test_inclusion_probabilities_equal_brute_force(
    sizes: list[int], method: str, one_per_city: bool, data: st.DataObject
) -> None:
    units = roster(sizes)
    k = data.draw(st.integers(1, min(len(sizes) if one_per_city else len(units), 4)))
    m = make_manifest(
        units=units, method=method, one_per_city=one_per_city, unit_count=k, questions_per_unit=0
    )
    exact = inclusion_probabilities_exact(m)
    assert exact == marginals(exact_set_distribution(m), [u.id for u in units])
    assert sum(exact.values()) == k
    assert inclusion_probabilities(m) == {u: float(p) for u, p in exact.items()}


def chi2_critical(df: int, z: float = 3.090232306167813) -> float:
    """Wilson-Hilferty upper quantile of chi-square(df); z = z_{0.999}."""
    a = 2.0 / (9.0 * df)
    return df * (1.0 - a + z * math.sqrt(a)) ** 3


def test_wilson_hilferty_is_close_to_tabulated_values() -> None:
    for df, exact in ((1, 10.828), (2, 13.816), (4, 18.467), (10, 29.588), (100, 149.449)):
        assert exact <= chi2_critical(df) <= exact * 1.04


SMALL_SIZES = [1, 2, 3, 4, 6]
N_DRAWS = 20_000
MODES = (("cities-first", True), ("equal-office", True), ("cities-first", False))


def small_manifest(method: str, one_per_city: bool) -> Manifest:
    return make_manifest(
        units=roster(SMALL_SIZES),
        method=method,
        one_per_city=one_per_city,
        unit_count=3,
        questions_per_unit=1,
        questions=bank(10),
    )


@functools.cache
def simulated_sets(method: str, one_per_city: bool) -> tuple[frozenset[str], ...]:
    m = small_manifest(method, one_per_city)
    return tuple(frozenset(run_draw(m, f"e{i}", SECRET).units) for i in range(N_DRAWS))


def pearson(observed: Sequence[int], expected: Sequence[float]) -> float:
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


@pytest.mark.parametrize("method", [METHOD_CITIES_FIRST, METHOD_EQUAL_OFFICE])
def test_chi_square_per_city_inclusion(method: str) -> None:
    """Per city the outcomes {office 1 drawn, ..., office n drawn, none drawn}
    are mutually exclusive, so their counts are multinomial (docs section 15)."""
    m = small_manifest(method, True)
    pi = inclusion_probabilities(m)
    sets = simulated_sets(method, True)
    for c, n in enumerate(SMALL_SIZES):
        ids = [f"u{c}-{j}" for j in range(n)]
        observed = [sum(1 for s in sets if u in s) for u in ids]
        observed.append(N_DRAWS - sum(observed))
        probs = [pi[u] for u in ids]
        probs.append(1.0 - sum(probs))
        expected = [N_DRAWS * p for p in probs]
        assert min(expected) >= 5
        stat = pearson(observed, expected)
        assert stat < chi2_critical(n), (method, c, observed, expected, stat)


@pytest.mark.parametrize(("method", "one_per_city"), MODES)
def test_chi_square_whole_outcome(method: str, one_per_city: bool) -> None:
    m = small_manifest(method, one_per_city)
    dist = exact_set_distribution(m)
    assert marginals(dist, [u.id for u in m.units]) == inclusion_probabilities_exact(m)
    assert len(dist) == (260 if one_per_city else 560)
    counts = Counter(simulated_sets(method, one_per_city))
    assert set(counts) <= set(dist)
    cells = sorted(dist, key=sorted)
    expected = [N_DRAWS * float(dist[s]) for s in cells]
    assert min(expected) >= 25
    stat = pearson([counts[s] for s in cells], expected)
    assert stat < chi2_critical(len(cells) - 1), (method, one_per_city, stat)


def test_chi_square_detects_a_wrong_model() -> None:
    """Power check: the per-city test rejects equal-office data against the
    cities-first probabilities (so the tests above can fail)."""
    wrong = inclusion_probabilities(small_manifest(METHOD_CITIES_FIRST, True))
    sets = simulated_sets(METHOD_EQUAL_OFFICE, True)
    observed = [sum(1 for s in sets if "u0-0" in s)]
    observed.append(N_DRAWS - observed[0])
    expected = [N_DRAWS * wrong["u0-0"], N_DRAWS * (1 - wrong["u0-0"])]
    assert pearson(observed, expected) > chi2_critical(1)


# --------------------------------------------------------------------------
# verification and tampering
# --------------------------------------------------------------------------


def published_example() -> tuple[dict[str, Any], DrawResult]:
    m = make_manifest()
    r = run_draw(m, "5 2 8", SECRET)
    return json.loads(json.dumps(publication(m, r), ensure_ascii=False)), r


def test_correct_publication_verifies() -> None:
    pub, _ = published_example()
    report = verify(pub)
    assert report.match and report.first_difference is None
    assert str(report) == "MATCH"
    assert verify(
        json.loads(json.dumps(publication(worked_example(), run_draw(worked_example(), "5 2 8", SECRET))))
    ).match


def test_renaming_a_unit_is_detected() -> None:
    pub, r = published_example()
    pub["manifest"]["units"][5]["name"] = "改名检察院"
    report = verify(pub)
    assert not report.match
    recomputed = manifest_hash(Manifest.from_dict(pub["manifest"]))
    assert recomputed != r.manifest_hash
    assert report.first_difference == (f"manifest hash: published {r.manifest_hash}, recomputed {recomputed}")
    assert str(report).startswith("MISMATCH: manifest hash: published ")


def test_tampered_results_are_detected() -> None:
    pub, r = published_example()
    other = next(u["id"] for u in pub["manifest"]["units"] if u["id"] not in r.units)

    bad = copy.deepcopy(pub)
    bad["result"]["units"][1] = other
    assert verify(bad).first_difference == f"unit #2: published {other}, recomputed {r.units[1]}"

    bad = copy.deepcopy(pub)
    bad["result"]["questions"][0][0] = "q999"
    assert verify(bad).first_difference == (
        f"question #1 of unit #1: published q999, recomputed {r.questions[0][0]}"
    )

    bad = copy.deepcopy(pub)
    bad["result"]["secret_hex"] = bytes(32).hex()
    assert str(verify(bad).first_difference).startswith("secret commitment:")

    bad = copy.deepcopy(pub)
    bad["result"]["entropy"] = "5 2 9"  # someone "corrects" the lottery number
    assert str(verify(bad).first_difference).startswith("key: published ")

    bad = copy.deepcopy(pub)
    bad["result"]["entropy"] = "5  2 8"
    assert "not normalized" in str(verify(bad).first_difference)

    # forger drops a unit from the manifest and fixes the hash: the key changes
    bad = copy.deepcopy(pub)
    bad["manifest"]["units"] = [u for u in bad["manifest"]["units"] if u["id"] != other]
    bad["result"]["manifest_hash"] = manifest_hash(Manifest.from_dict(bad["manifest"]))
    assert str(verify(bad).first_difference).startswith("key: published ")

    bad = copy.deepcopy(pub)
    bad["manifest"]["questions"][0]["text"] = "机密题目"
    assert str(verify(bad).first_difference).startswith("manifest: invalid")
    assert not verify({"result": pub["result"]}).match



def test_verification_is_worded_in_chinese_for_people() -> None:
    """The CLI line stays English (above); people read Chinese with unit names, no ids."""
    pub, r = published_example()
    names = {u["id"]: u["name"] for u in pub["manifest"]["units"]}
    assert verify_message(verify(pub), names).startswith("复核一致")
    other = next(u for u in names if u not in r.units)
    bad = copy.deepcopy(pub)
    bad["result"]["units"][1] = other
    text = verify_message(verify(bad), names)
    assert text == (f"复核不一致：第 2 个抽中单位不一致：公布的是 {names[other]}，"
                    f"重新计算为 {names[r.units[1]]}")
    bad = copy.deepcopy(pub)
    bad["result"]["questions"][0][0] = "q999"
    assert "第 1 个单位的第 1 题不一致：公布的是题号 q999" in verify_message(verify(bad), names)
    bad = copy.deepcopy(pub)
    bad["manifest"]["units"][5]["name"] = "改名检察院"
    assert "抽签清单的哈希不一致" in verify_message(verify(bad), names)
    bad = copy.deepcopy(pub)
    bad["result"]["entropy"] = "5  2 8"
    assert "未按规范写法公布（规范写法：「5 2 8」）" in verify_message(verify(bad), names)
    # no publication: nothing was re-run, so nothing is said to differ
    for broken in ({}, {"manifest": {}, "result": {}}, {"manifest": pub["manifest"], "result": {}}):
        text = verify_message(verify(broken), names)
        assert text.startswith("无法复核：") and not re.search(r"[a-z]{4,}:", text), text
        assert "复核不一致" not in text and "请粘贴完整的抽签公布数据" in text, text


def forged_after_reveal(pub: dict[str, Any]) -> dict[str, Any]:
    """What anyone can build once the secret is revealed: another manifest (an office renamed,
    or left out), re-drawn with the published secret and entropy, consistent in itself."""
    m = Manifest.from_dict(pub["manifest"])
    m = replace(m, units=m.units[1:])
    r = run_draw(m, pub["result"]["entropy"], bytes.fromhex(pub["result"]["secret_hex"]))
    return json.loads(json.dumps(publication(m, r), ensure_ascii=False))


def test_only_the_manifest_announced_before_the_draw_verifies() -> None:
    """A self-consistent publication with another manifest passes every recomputation; only the
    hash announced before the draw (commitment card, or the manifest.json downloaded then)
    tells it apart, and verify() checks it when given."""
    pub, _ = published_example()
    announced = pub["result"]["manifest_hash"]
    assert verify(pub, announced_hash=announced).match
    forged = forged_after_reveal(pub)
    assert verify(forged).match
    report = verify(forged, announced_hash=announced)
    assert str(report) == (f"MISMATCH: announced manifest hash: announced before the draw {announced}, "
                           f"the published manifest hashes to {forged['result']['manifest_hash']}")
    assert verify_message(report) == (
        f"复核不一致：公布的抽签清单不是抽签前承诺的那一份：抽签前公布的清单哈希为 {announced}，"
        f"公布数据中清单的哈希为 {forged['result']['manifest_hash']}")


def test_verify_command_prints_one_line_and_its_exit_status(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`python3 verify.py publication.json [manifest.json | hash]`: MATCH 0, MISMATCH 1, an
    unusable argument 2 (on stderr); the announced manifest as the file /draw/<id>/manifest.json
    serves, as a bare manifest, or as the commitment card's hash."""
    pub, _ = published_example()
    h = pub["result"]["manifest_hash"]
    files = {
        "publication.json": pub,
        "forged.json": forged_after_reveal(pub),
        "manifest.json": {"manifest": pub["manifest"], "manifest_hash": h},
        "bare.json": pub["manifest"],
        "lying.json": {"manifest": pub["manifest"], "manifest_hash": "0" * 64},
    }
    for name, obj in files.items():
        (tmp_path / name).write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")

    def run(target: str, announced: str | None = None) -> tuple[int, str, str]:
        def where(a: str) -> str:
            return str(tmp_path / a) if (tmp_path / a).exists() else a
        code = verify_command(where(target), None if announced is None else where(announced))
        out, err = capsys.readouterr()
        return code, out, err

    assert run("publication.json") == (0, "MATCH\n", "")
    for announced in ("manifest.json", "bare.json", h, h.upper()):
        assert run("publication.json", announced) == (0, "MATCH\n", ""), announced
    assert run("forged.json") == (0, "MATCH\n", "")
    code, out, _ = run("forged.json", "manifest.json")
    assert code == 1 and out.startswith(f"MISMATCH: announced manifest hash: announced before the draw {h}")
    code, out, _ = run("publication.json", "lying.json")
    assert code == 1 and out.startswith("MISMATCH: ") and "does not match its manifest" in out
    assert run("missing.json") == (2, "", "error: missing.json: file not found\n")
    code, out, err = run("publication.json", "not-a-hash")
    assert (code, out) == (2, "") and "not a manifest hash" in err


def test_verify_command_says_what_is_wrong_with_a_file_that_is_no_publication(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """MISMATCH says "the draw does not re-run to its result", which people read as rigged: a
    file that is no publication (or no manifest) at all is an input error, exit status 2."""
    pub, _ = published_example()
    no_manifest = copy.deepcopy(pub)
    del no_manifest["manifest"]["units"]
    bad_result = copy.deepcopy(pub)
    bad_result["result"]["units"] = "B01"
    files = {"publication.json": json.dumps(pub), "broken.json": "{", "empty.json": "{}",
             "list.json": "[1, 2]", "no-manifest.json": json.dumps(no_manifest),
             "bad-result.json": json.dumps(bad_result), "manifest.json": json.dumps([])}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")

    def run(*args: str) -> tuple[int, str, str]:
        code = verify_command(*(str(tmp_path / a) for a in args))
        out, err = capsys.readouterr()
        return code, out, err

    def no_publication(name: str, why: str) -> tuple[int, str, str]:
        return 2, "", f"error: {tmp_path / name}: not a draw publication: {why}\n"

    assert run("empty.json") == no_publication(
        "empty.json", 'expected an object with "manifest" and "result"')
    assert run("list.json") == no_publication(
        "list.json", 'expected an object with "manifest" and "result"')
    code, out, err = run("broken.json")
    assert (code, out) == (2, "") and err.startswith(
        f"error: {tmp_path / 'broken.json'}: not valid JSON (")
    code, out, err = run("no-manifest.json")
    assert (code, out) == (2, "") and err.startswith(
        f"error: {tmp_path / 'no-manifest.json'}: not a draw publication: manifest: invalid: ")
    code, out, err = run("bad-result.json")
    assert (code, out) == (2, "") and err.startswith(
        f"error: {tmp_path / 'bad-result.json'}: not a draw publication: result: invalid: ")
    code, out, err = run("publication.json", "manifest.json")  # the announced file
    assert (code, out) == (2, "") and err.startswith(
        f"error: {tmp_path / 'manifest.json'}: not a draw manifest: ")
    # the three exit statuses through `casebot draw verify`
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(forged_after_reveal(pub)), encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    for args, status, stdout in (
            (["publication.json"], 0, "MATCH\n"),
            (["forged.json", pub["result"]["manifest_hash"]], 1,
             "MISMATCH: announced manifest hash: "),
            (["empty.json"], 2, "")):
        r = subprocess.run([sys.executable, "-m", "bot.cli", "draw", "verify",
                            *(str(tmp_path / a) if a.endswith(".json") else a for a in args)],
                           capture_output=True, text=True, cwd=root, timeout=60)
        assert r.returncode == status, (args, r.stderr)
        assert r.stdout.startswith(stdout) and bool(r.stdout) == bool(stdout), (args, r.stdout)
        assert ("error: " in r.stderr) == (status == 2), (args, r.stderr)


def test_the_verifier_needs_only_the_standard_library() -> None:
    """bot/domain/draw.py is served as the stand-alone verify.py: it may import nothing else."""
    tree = ast.parse(Path(sys.modules[verify.__module__].__file__ or "").read_text("utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert "hashlib" in imported and imported - {"__future__"} <= sys.stdlib_module_names, imported


# --------------------------------------------------------------------------
# RFC 3797
# --------------------------------------------------------------------------


def test_rfc3797_vector_every_field() -> None:
    vector = json.loads(VECTOR.read_text("utf-8"))
    sources = [s["values"] for s in vector["sources"]]
    assert rfc3797_key_string(sources) == vector["key_string"]
    rows = rfc3797_select(vector["pool_size"], len(vector["selections"]), sources)
    assert len(rows) == len(vector["selections"])
    for got, want in zip(rows, vector["selections"], strict=True):
        assert got == want  # index, md5, remaining, selected
    # the same from text entry, in any order / spacing
    texts = ["9319", "2 5 12 8 10", "45, 41 34、26 18 9"]
    assert rfc3797_select(25, 16, [parse_rfc3797_source(t) for t in texts]) == rows


def test_rfc3797_sources() -> None:
    assert parse_rfc3797_source("2 5 12 8 10") == [2, 5, 12, 8, 10]
    assert parse_rfc3797_source(" ０３ 7 ") == [3, 7]
    assert parse_rfc3797_source("W 4-1") == "W 4-1"
    assert rfc3797_key_string([[10, 2], "w 4-1", (0,)]) == "2.10./W41/0./"
    bad_sources: list[list[Sequence[int] | str]] = [[[]], [[-1]], ["--"], []]
    for bad in bad_sources:
        with pytest.raises(ValueError):
            rfc3797_key_string(bad)
    with pytest.raises(ValueError):
        rfc3797_select(3, 4, [[1]])
    assert sorted(r["selected"] for r in rfc3797_select(5, 5, [[1, 2]])) == [1, 2, 3, 4, 5]
