"""Characters that stored text may not hold: C0/C1 control characters (newline, carriage
return and tab allowed where text may span lines), bidi overrides and isolates (U+202A–U+202E,
U+2066–U+2069, which make text read other than it is stored), lone surrogates and the
noncharacters U+FFFE/U+FFFF (neither UTF-8 nor XML can hold them). Pure functions, no I/O."""

from __future__ import annotations

import re
import unicodedata

_BIDI_MARKS = r"\u202a-\u202e\u2066-\u2069"
_ALWAYS = (r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + _BIDI_MARKS +
           r"\ud800-\udfff\ufffe\uffff")
_BIDI = re.compile(f"[{_BIDI_MARKS}]")
_MULTILINE = re.compile(f"[{_ALWAYS}]")
_SINGLE_LINE = re.compile(f"[{_ALWAYS}\t\n\r]")
# what XML 1.0 (and so a .docx) cannot hold at all: tab, newline and return it can
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


_LINE_BREAK = re.compile(r"\s*[\t\n\r]\s*")


def one_line(text: str) -> str:
    """A one-line field as typed in chat (a case title, a 撤销原因): trimmed, a line break
    (or tab) with the blanks around it one space, which a single-line field holds; the blanks
    within a line (runs, full-width spaces) as typed."""
    return _LINE_BREAK.sub(" ", text.strip())


def unsafe_char(text: str, *, multiline: bool = False) -> str | None:
    """The first character `text` may not hold, as ``U+XXXX``; None when it is clean."""
    m = (_MULTILINE if multiline else _SINGLE_LINE).search(text)
    return None if m is None else f"U+{ord(m.group()):04X}"


def char_problem(label: str, text: str, *, multiline: bool = False) -> str | None:
    """A Chinese reason naming the field (`label`, e.g. 案件名称), or None when clean."""
    c = unsafe_char(text, multiline=multiline)
    if c is None:
        return None
    return f"{label}含有控制字符或不可见的格式字符（{c}），请删除后重试"


# shown as nothing though not format characters: the Hangul fillers, the combining grapheme
# joiner and the variation selectors (with the Cf characters, Unicode's default-ignorables)
_IGNORABLE = re.compile("[\u115f\u1160\u3164\uffa0\u034f\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def invisible(text: str) -> bool:
    """True when `text` shows nothing: it holds only blanks and characters that are not drawn,
    the format characters (Unicode category Cf: zero-width space U+200B, the joiners
    U+200C/U+200D, U+FEFF, soft hyphen, tags, …) and the few default-ignorable others. A
    required text made of them is as empty as a blank one. Inside a text they stay allowed:
    U+200D joins the people of a family emoji, tags make a flag."""
    return all(c.isspace() or unicodedata.category(c) == "Cf" or _IGNORABLE.match(c)
               for c in text)


def xml_safe(text: str) -> str:
    """`text` without what XML cannot hold (for documents written from data stored earlier)."""
    return _NOT_XML.sub("", text)


def without_unsafe(text: str) -> str:
    """`text` with the characters :func:`unsafe_char` refuses (multi-line) left out."""
    return _MULTILINE.sub("", text)


def without_bidi(text: str) -> str:
    """`text` without bidi overrides and isolates: invisible marks that chat clients may wrap
    around names and mentions (chat drops them; a stored field refuses them)."""
    return _BIDI.sub("", text)


CSV_ENCODING_ERROR = "文件编码无法识别：请另存为 UTF-8 或 GBK 编码的 CSV"
CSV_EMPTY_ERROR = "文件为空：没有表头，也没有数据行"


def decode_csv(data: bytes) -> str | None:
    """A CSV file's text as Excel saves it: UTF-8 (with or without BOM) or GBK (read as its
    superset GB18030); None when it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None
