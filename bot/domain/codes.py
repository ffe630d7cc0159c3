"""The case code (案件码, `HY-2026-0042`) as people type it and as speech-to-text writes it."""

from __future__ import annotations

import re
import unicodedata

CODE_PATTERN = r"[A-Z]{2,4}-\d{4}-\d{4,6}"  # prefix, year, number

# digits as a recognizer may write a code read out digit by digit: 二零二六 零零零一
_DIGITS = str.maketrans("零〇○一幺二两三四五六七八九", "00011223456789")
_DASH_WORDS = "杠横"  # 「HY 杠 2026 杠 0001」: the dash said out loud
_RUN = re.compile(r"([A-Z]{2,4})([0-9]{4})([0-9]{4,6})")
SPOKEN_MAX = 60  # characters a spoken code may take, separators and all


def normalize_code(text: str) -> str:
    """A case code however it was typed: ＨＹ－２０２６－０００１, hy-2026-0001 or
    「HY-2026-0001。」 (punctuation around it) → HY-2026-0001."""
    plain = unicodedata.normalize("NFKC", text).strip()
    start, end = 0, len(plain)
    while start < end and _edge(plain[start]):
        start += 1
    while end > start and _edge(plain[end - 1]):
        end -= 1
    return plain[start:end].upper()


def normalize_external_id(text: str) -> str | None:
    """A 统一受案号 as stored and compared: NFKC (full-width digits and letters typed on a phone,
    ３７０２…, become ASCII, as case codes do) and trimmed; None when nothing is left. The
    same id typed either way then finds the same case instead of making a second one."""
    return unicodedata.normalize("NFKC", text).strip() or None


def _edge(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] == "P"


def _separator(ch: str) -> bool:
    """What a recognizer puts between the parts of a spoken code: spaces, punctuation of any
    kind (，。、－—·), the dash said as a word."""
    return ch.isspace() or unicodedata.category(ch)[0] in "PZ" or ch in _DASH_WORDS


def spoken_code(text: str) -> str | None:
    """The case code `text` says, however a recognizer wrote it: 「HY 2026 0001」,
    「HY-2026-0001。」, 「hy 二零二六 零零零一」 → HY-2026-0001. None unless all of `text` is
    one code: letters, then the year and the number digit by digit (「二千零二十六」 is not)."""
    plain = unicodedata.normalize("NFKC", text).translate(_DIGITS).upper()
    m = _RUN.fullmatch("".join(ch for ch in plain if not _separator(ch)))
    return f"{m[1]}-{m[2]}-{m[3]}" if m else None


def ending_code(text: str) -> tuple[str, str] | None:
    """A spoken message that ends with a case code (「码 hy 二零二六 零零零一」): what comes
    before it (「码」, without the separators in between; "" for a code alone) and the code.
    The code starts at a word's start: 「码 ABCDE 2026 0001」 is not 「BCDE-2026-0001」."""
    for i, ch in enumerate(text):
        if len(text) - i > SPOKEN_MAX or not _ascii_letter(ch) \
                or (i and _ascii_letter(text[i - 1])):
            continue
        code = spoken_code(text[i:])
        if code is not None:
            before = text[:i]
            while before and _separator(before[-1]):
                before = before[:-1]
            return before.strip(), code
    return None


def _ascii_letter(ch: str) -> bool:
    """A letter of a code's prefix, typed or full-width (Ｈ)."""
    plain = unicodedata.normalize("NFKC", ch)
    return plain.isascii() and plain.isalpha()


# a code whose number was typed short (HY-2026-11): prefix, year, then the number after a dash
_SHORT = re.compile(r"([A-Z]{2,4})[-_.·—－\s]*([0-9]{4})[-_.·—－\s]+([0-9]{1,3})")
_ANY_CODE = re.compile(r"[A-Z]{2,4}[-_.·—－\s]*[0-9]{4}[-_.·—－\s]+[0-9]{1,6}|[A-Z]{2,4}[0-9]{8,10}")


def padded_code(text: str) -> str | None:
    """The code `text` means when its number was typed short: HY-2026-11 → HY-2026-0011. The
    number must stand apart from the year (HY202611 could be either)."""
    m = _SHORT.fullmatch(unicodedata.normalize("NFKC", text).strip().upper())
    return f"{m[1]}-{m[2]}-{int(m[3]):04d}" if m else None


def several_codes(text: str) -> list[str]:
    """The case codes (as typed) in `text` when it holds more than one (受理 HY-2026-0011
    HY-2026-0014), else []."""
    found = _ANY_CODE.findall(unicodedata.normalize("NFKC", text).upper())
    return found if len(found) > 1 else []
