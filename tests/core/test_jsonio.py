"""storage.jsonio reads exactly what json.loads reads (the same value and type, or the same
exception) and writes the same JSON value as json.dumps, though through orjson."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage import jsonio


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types throughout (1 != 1.0 here; NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (a != a and b != b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _outcome(loads: Any, text: str | bytes) -> tuple[str, Any]:
    try:
        return "ok", loads(text)
    except Exception as e:  # the exception is what is compared
        return "error", (type(e), str(e))


def _check(text: str | bytes) -> None:
    want, got = _outcome(json.loads, text), _outcome(jsonio.loads, text)
    assert want[0] == got[0] and (_same(want[1], got[1]) if want[0] == "ok"
                                  else want[1] == got[1]), (text, want, got)


EDGES = [
    '{"a": 1, "a": 2}', "NaN", "[Infinity, -Infinity]", "1e400", "-1e400", "1e-400",
    "[18446744073709551615]", "[18446744073709551616]", "[-9223372036854775808]",
    "[-9223372036854775809]", "[9223372036854775808]", "123456789012345678901234567890",
    "1234567890123456789.5", "0.1234567890123456789", '"\\ud800"', '"\\udc00\\ud800"',
    '"\\ud83d\\ude00"', '"\ud800"', "\ufeff{}", '"a\nb"', '"a\x7fb"', '"\\u0000"', "01", "1.",
    ".5", "-0", "-0.0", "1E5", " {} ", "{}\x0c", "{}\x00", "[1,]", '{"a":1,}', "'a'", '"\\x41"',
    "", " ", "[" * 2000 + "]" * 2000, "[" * 40 + "]" * 40, '{"a": [1, 2.5, "中文", null]}',
]


@pytest.mark.parametrize("text", EDGES)
def test_edges_read_as_json_reads_them(text: str) -> None:
    _check(text)
    _check(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("raw", [b"\xef\xbb\xbf{}", '{"a": 1}'.encode("utf-16"), b'"\xff"',
                                 b'"\xed\xa0\x80"', b'{"a": "\xe4\xb8\xad"}'])
def test_bytes_read_as_json_reads_them(raw: bytes) -> None:
    _check(raw)


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats()
    | st.text(st.characters(blacklist_categories=())),  # lone surrogates too
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=400)
@given(_values)
def test_any_value_reads_back_as_json_reads_it(value: Any) -> None:
    _check(json.dumps(value))
    _check(json.dumps(value, ensure_ascii=False))


@settings(max_examples=400)
@given(st.text(alphabet='{}[]",:0123456789.eE+-tfnrulasNIy\\ud8\n '))
def test_any_text_reads_as_json_reads_it(text: str) -> None:
    _check(text)


@settings(max_examples=400)
@given(_values)
def test_written_as_json_writes_it(value: Any) -> None:
    try:
        want = ("ok", json.loads(json.dumps(value, ensure_ascii=False).encode()))
    except Exception as e:  # the exception is what is compared
        want = ("error", type(e))
    try:
        written = jsonio.dumps_bytes(value)
        got = ("ok", json.loads(written))
    except Exception as e:  # the exception is what is compared
        got = ("error", type(e))
    if want[0] == "ok" and any(isinstance(v, float) and not math.isfinite(v)
                               for v in _leaves(value)):
        return  # json writes NaN (not JSON; no client reads it), orjson null
    assert want[0] == got[0] and (want[0] == "error" or _same(want[1], got[1])), value


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def test_written_utf8_and_compact() -> None:
    assert jsonio.dumps_bytes({"a": ["中文", 1, 2.5, None, True]}) == \
        '{"a":["中文",1,2.5,null,true]}'.encode()
    assert jsonio.dumps_bytes({1: 2 ** 70}) == b'{"1": 1180591620717411303424}'  # json's
