"""What a person most likely meant by a message that names no command: the typed text read
leniently (traditional characters, the bot's own 「」 copied along, a polite ending), then the
command closest to it among those this person may use, with the arguments they typed kept
(「评份 HY-2026-0001」: 评分 HY-2026-0001), or a case code found in a sentence
(「请帮我查一下HY-2026-0001这个案子」: 码 HY-2026-0001). Pure; run only when nothing matched."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# traditional characters of the command words (and of what is typed around them) as their
# simplified forms, one character for one (lengths are kept: `simplified` maps positions)
_TRADITIONAL = str.maketrans(
    "碼評覆統計幫助錄入建銷審據級處辦單員羣群說這個請查詢閱讀幫們會議題結東條數認開啟應設圖號將為與後時間裡麼樣還點麪頁問專實際觀標種類歷紀記項轉確",
    "码评复统计帮助录入建销审据级处办单员群群说这个请查询阅读帮们会议题结东条数认开启应设图号将为与后时间里么样还点面页问专实际观标种类历纪记项转确",
)
# a slip of a pinyin keyboard or of the ear: the same sound, another character
_SLIPS = {"妈": "码", "马": "码", "吗": "码", "玛": "码", "嘛": "码", "麻": "码", "骂": "码",
          "评份": "评分", "平分": "评分", "凭分": "评分", "打分": "评分",
          "受里": "受理", "收理": "受理", "收案": "受理", "受案": "受理", "接收": "受理",
          "统记": "统计", "复合": "复核", "待半": "待办", "代办": "待办"}
# words of a request around a case code (「请帮我查一下…这个案子」): not a command of their own
_ASKING = re.compile(r"^(?:请|麻烦|帮我|帮忙|我想|我要|想|要|查看|查询|查一下|查查|查|看一下|看看|看|"
                     r"打开|显示|一下|这个|案件|案子|的|码|吧|呢|啊)*$")
# what is left of a sentence after its code (「…这个案子」「…的码。」)
_AFTER_CODE = re.compile(r"^(?:这个|这件|的|案件|案子|码|情况|吧|呢|啊|\W)*$")
# a polite ending after a code or a command (「码 HY-2026-0001，谢谢」, 「…🙏」): its emoji
# (with their skin tones, U+FE0F and joiners) as the phone's keyboard adds them
_END = r"[\s，,。.！!~～\u2600-\u27bf\U0001f000-\U0001faff\ufe0f\u200d]*"
_COURTESY = re.compile(rf"{_END}(?:谢谢(?:你|您|啦)?|多谢|感谢|麻烦了|辛苦了|thanks|thank you)?{_END}$",
                       re.IGNORECASE)
_QUOTED = re.compile(r"^[「『“\"](.+)[」』”\"]$")
_CODE = re.compile(r"(?<![A-Za-z])([A-Za-z]{2,4})[-_－—]?(\d{4})[-_－—]?(\d{4,6})(?!\d)")
_PARTIAL = re.compile(r"^(\d{4})[-_－—](\d{1,6})$")  # 2026-0001: the number without the prefix
CUTOFF = 0.5  # how close a word must be to a command's name to be suggested


@dataclass(frozen=True)
class Offer:
    """A command as suggestions see it: its names, and whether it takes a case code."""

    names: tuple[str, ...]
    takes_code: bool = False


def simplified(text: str) -> str:
    """`text` with the traditional characters of command words simplified (碼→码, 統計→统计);
    same length, so a position in one is a position in the other."""
    return text.translate(_TRADITIONAL)


def unquoted(text: str) -> str:
    """A message sent in the brackets the bot quotes commands in (「码 HY-2026-0001」, copied
    from its own suggestion), without them."""
    m = _QUOTED.match(text.strip())
    return m.group(1).strip() if m else text


def without_courtesy(text: str) -> str:
    """`text` without the polite ending a phone message often has (「HY-2026-0001，谢谢」)."""
    return _COURTESY.sub("", text)


def lenient(text: str) -> str:
    """The message as a retry reads it: unquoted, its first word simplified."""
    text = unquoted(text)
    word, sep, rest = text.partition(" ")
    return simplified(word) + sep + rest


def find_code(text: str, prefix: str | None = None) -> str | None:
    """The one case code in `text` (HY-2026-0001, hy20260001, ＨＹ－…), or a code typed
    without its prefix (2026-0001) when the person's office has one. None otherwise."""
    plain = unicodedata.normalize("NFKC", text)
    found = {f"{a.upper()}-{y}-{n}" for a, y, n in _CODE.findall(plain)}
    if len(found) == 1:
        return found.pop()
    if not found and prefix and (m := _PARTIAL.match(without_courtesy(plain.strip()))):
        return f"{prefix}-{m[1]}-{int(m[2]):04d}"
    return None


def suggest(text: str, offers: Sequence[Offer], prefix: str | None = None) -> str | None:
    """The command (with its arguments) a message that matched none most likely meant, among
    `offers` (the commands this person may use), or None. `prefix`: the person's office's
    case-code prefix, to complete a code typed without it."""
    plain = lenient(without_courtesy(unicodedata.normalize("NFKC", text).strip()))
    names = {n: o for o in offers for n in o.names}
    code = find_code(plain, prefix)
    if code is not None:
        m = _CODE.search(plain)
        before = (plain[:m.start()] if m else "").strip(" ：:，,")
        after = plain[m.end():] if m else ""
        meant = _command_word(before, names)
        if meant is not None and names[meant].takes_code:
            return f"{meant} {code}"
        if "码" in names and (meant is None or meant == "码") \
                and (_ASKING.match(before) or meant) and (m is None or _AFTER_CODE.match(after)):
            return f"码 {code}"
        return None
    word, _, rest = plain.partition(" ")
    meant = _command_word(word, names)
    if meant is None:
        return None
    return f"{meant} {rest.strip()}".strip()


def _command_word(word: str, names: dict[str, Offer]) -> str | None:
    """The command name `word` most likely is: a slip of the keyboard, or a close spelling."""
    if not word:
        return None
    word = simplified(word)
    if word in names:
        return word
    if (slip := _SLIPS.get(word)) in names:
        return slip
    close = difflib.get_close_matches(word, list(names), n=1, cutoff=CUTOFF)
    return close[0] if close else None
