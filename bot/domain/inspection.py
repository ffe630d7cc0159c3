"""Pure rules of a 检务督导面对面 session: its parameters (and their chat syntax), the entropy
format the host must type, the manifest, and the order in which units are questioned."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

from bot.domain.codes import normalize_code
from bot.domain.dates import no_such_day
from bot.domain.draw import (
    METHOD_CITIES_FIRST,
    METHOD_EQUAL_OFFICE,
    DrawQuestion,
    DrawUnit,
    Manifest,
    VerifyReport,
    normalize_entropy,
)
from bot.domain.helptext import is_placeholder

DEFAULT_ANSWER_SECONDS = 180
METHOD_ALIASES = {
    "cities-first": METHOD_CITIES_FIRST, "先抽市": METHOD_CITIES_FIRST, "市优先": METHOD_CITIES_FIRST,
    "equal-office": METHOD_EQUAL_OFFICE, "等概率": METHOD_EQUAL_OFFICE, "院等概率": METHOD_EQUAL_OFFICE,
}
METHOD_LABELS = {METHOD_CITIES_FIRST: "先抽市、再抽院（每市等概率）",
                 METHOD_EQUAL_OFFICE: "每院等概率（仍每市一院）"}
YES = {"是", "开", "yes", "true", "1", "y"}
NO = {"否", "关", "no", "false", "0", "n"}

# Stages, in order. "inquiry"/"comment"/"answer" repeat for each unit.
STAGES = ("created", "agenda", "drawn", "inquiry", "comment", "answer", "rectification", "closed")
STAGE_LABELS = {
    "created": "已创建", "agenda": "开场", "drawn": "已抽签", "inquiry": "问询", "comment": "点评",
    "answer": "公布答案", "rectification": "整改汇报", "closed": "已结束",
}


@dataclass(frozen=True)
class SpecialInquiry:
    unit: str  # unit id (resolved)
    question_ids: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True)
class SessionParams:
    title: str
    chat: str
    unit_count: int = 3
    questions_per_unit: int = 3
    one_per_city: bool = True
    method: str = METHOD_CITIES_FIRST
    exclude_recent: int = 0  # exclude units drawn in the last N sessions
    special: tuple[SpecialInquiry, ...] = ()
    rectification_units: tuple[str, ...] | None = None  # None: the last session's units
    entropy_name: str = ""
    entropy_count: int = 3  # numbers the host reads out …
    entropy_width: int = 1  # … each with this many digits
    answer_seconds: int = DEFAULT_ANSWER_SECONDS
    allow_repeat: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionParams:
        d = dict(d)
        d["special"] = tuple(SpecialInquiry(s["unit"], tuple(s["question_ids"]), s.get("reason", ""))
                             for s in d.get("special") or ())
        ru = d.get("rectification_units")
        d["rectification_units"] = tuple(ru) if ru is not None else None
        return cls(**d)


def validate_params(p: SessionParams) -> list[str]:
    errors: list[str] = []
    if not p.title.strip() or len(p.title) > 100:
        errors.append("标题不能为空且不超过 100 字")
    if not 1 <= p.unit_count <= 6:
        errors.append("抽取单位数应为 1–6（通常 3–4）")
    if not 1 <= p.questions_per_unit <= 6:
        errors.append("每单位题数应为 1–6（通常 3–4）")
    if p.method not in (METHOD_CITIES_FIRST, METHOD_EQUAL_OFFICE):
        errors.append("抽签方式应为 先抽市 或 等概率")
    if not 0 <= p.exclude_recent <= 20:
        errors.append("排除近期应为 0–20 期")
    if not 1 <= p.entropy_count <= 10 or not 1 <= p.entropy_width <= 4:
        errors.append("熵格式应为「组数x每组位数」，例如 3x1（1–10 组，每组 1–4 位）")
    if not p.entropy_name.strip() or len(p.entropy_name) > 100:
        errors.append("熵源（公开随机数来源，例如某期福彩3D开奖号码）不能为空且不超过 100 字")
    if not 30 <= p.answer_seconds <= 1800:
        errors.append("作答计时应为 30–1800 秒")
    for s in p.special:
        if not s.question_ids:
            errors.append(f"专项问询单位 {s.unit} 没有指定题号")
    return errors


# -- entropy ------------------------------------------------------------------------------------

def entropy_format_text(count: int, width: int) -> str:
    example = " ".join(str((3 + 5 * i) % 10) * width for i in range(count))
    return f"{count} 组数字，每组 {width} 位，以单个半角空格分隔，例如「{example}」"


def entropy_source(p: SessionParams) -> str:
    """The manifest's `entropy_source`: the named future public value and its exact format."""
    return f"{p.entropy_name.strip()}（格式：{entropy_format_text(p.entropy_count, p.entropy_width)}）"


def check_entropy(text: str, count: int, width: int) -> tuple[str, str | None]:
    """The public value as the draw uses it, and None when that is exactly in the announced
    format, else the reason. The text is first normalised as the draw itself does
    (bot/domain/draw.md §5: NFKC, whitespace runs to one space), so 「５ ２ ８」 typed on a phone
    is the published 「5 2 8」: the same string is hashed, recorded and shown. Other spellings
    (528, 5,2,8) normalise to different strings and stay refused (§16)."""
    try:
        value = normalize_entropy(text)
    except ValueError:  # empty, or an invisible character left after NFKC
        value = ""
    pattern = rf"[0-9]{{{width}}}(?: [0-9]{{{width}}}){{{count - 1}}}"
    if re.fullmatch(pattern, value):
        return value, None
    return text, f"随机数格式不符：应为 {entropy_format_text(count, width)}。"


# -- chat syntax of 督导 新建 ----------------------------------------------------------------------

KEYS = {
    "单位数": "unit_count", "抽取": "unit_count", "题数": "questions_per_unit",
    "每单位题数": "questions_per_unit", "方式": "method", "每市一个": "one_per_city",
    "排除近期": "exclude_recent", "专项": "special", "专项问询": "special",
    "整改汇报": "rectification_units", "整改": "rectification_units", "熵源": "entropy_name",
    "随机数来源": "entropy_name", "熵格式": "entropy_format", "计时": "answer_seconds",
    "允许重复": "allow_repeat", "群": "chat",
}
CREATE_USAGE = (
    "督导 新建 <标题> [单位数=3] [题数=3] [方式=先抽市|等概率] [每市一个=是|否] [排除近期=0] "
    "[专项=单位:题号,题号;…] [整改汇报=上次|无|单位,单位] [熵源=福彩3D第2026318期开奖号码] "
    "[熵格式=3x1] [计时=180] [群=g-…]"
)


@dataclass
class RawCreate:
    """`督导 新建` arguments before unit names are resolved against the roster."""

    title: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    special: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (unit ref, ids)
    rectification: list[str] | None = None  # unit refs; None = last session's


def _int(v: str, name: str, errors: list[str]) -> int:
    try:
        return int(v)
    except ValueError:
        errors.append(f"{name} 应为整数，收到「{v}」")
        return 0


def parse_create(text: str, *, titled: bool = True) -> tuple[RawCreate, list[str]]:
    """`督导 新建` arguments; `titled`: the text holds the title (the web form has a field)."""
    raw = RawCreate()
    errors: list[str] = []
    title: list[str] = []
    source = False  # the words after 熵源= are the source's name (福彩3D 2026-11-29 开奖号码)
    for token in text.split():
        key, eq, value = token.partition("=")
        if not eq:
            key, eq, value = token.partition("＝")
        if not eq:
            if source:
                raw.values["entropy_name"] = f"{raw.values['entropy_name']} {token}".strip()
            else:
                title.append(token)
            continue
        name = KEYS.get(key.strip())
        value = value.strip()
        source = name == "entropy_name"
        if name is None:
            errors.append(f"未知参数「{key}」")
        elif name in ("unit_count", "questions_per_unit", "exclude_recent", "answer_seconds"):
            raw.values[name] = _int(value, key, errors)
        elif name in ("one_per_city", "allow_repeat"):
            if value.lower() in YES:
                raw.values[name] = True
            elif value.lower() in NO:
                raw.values[name] = False
            else:
                errors.append(f"{key} 应为 是 或 否")
        elif name == "method":
            m = METHOD_ALIASES.get(value)
            if m is None:
                errors.append("方式 应为 先抽市 或 等概率")
            else:
                raw.values[name] = m
        elif name == "entropy_format":
            fm = re.fullmatch(r"(\d{1,2})[xX×*](\d)", value)
            if fm is None:
                errors.append("熵格式 应为「组数x每组位数」，例如 3x1")
            else:
                raw.values["entropy_count"] = int(fm.group(1))
                raw.values["entropy_width"] = int(fm.group(2))
        elif name == "special":
            for part in re.split(r"[;；]", value):
                if not part.strip():
                    continue
                sm = re.fullmatch(r"\s*([^:：]+)[:：](.*)", part)
                qids = tuple(q.strip() for q in re.split(r"[,，、]", sm.group(2)) if q.strip()) \
                    if sm else ()
                if sm is None or not qids:
                    errors.append(f"专项 应写作「单位:题号,题号」，收到「{part}」")
                else:
                    raw.special.append((sm.group(1).strip(), qids))
        elif name == "rectification_units":
            if value in ("上次", "last"):
                raw.rectification = None
            elif value in ("无", "none", ""):
                raw.rectification = []
            else:
                raw.rectification = [u for u in re.split(r"[,，、]", value) if u.strip()]
        else:  # entropy_name, chat
            raw.values[name] = value
    raw.title = " ".join(title)
    if titled and not raw.title and " " in raw.values.get("entropy_name", ""):
        errors.append("缺少标题：标题请写在参数之前（「熵源=」之后直到下一个参数的文字都是熵源的名称），"
                      f"收到的熵源为「{raw.values['entropy_name'][:40]}」")
    if is_placeholder(raw.title):  # 「督导 新建 <标题>」 copied from 帮助 as it stands
        errors.append(f"「{raw.title}」是示例中的格式说明，请换成本次督导会议的标题")
    return raw, errors


def asked_before_note(asked: Sequence[tuple[str, str, bool]]) -> str:
    """The note on 专项 questions an earlier session already asked in public: (question id,
    that session, whether its answer was published there). Accepted (asking one again may be
    the point), but said, so that it is not by mistake. Empty when there is none."""
    if not asked:
        return ""
    parts = [f"{qid} 已在 {sid} 问询{'并公布答案' if published else '（未公布答案）'}"
             for qid, sid, published in asked]
    return f"注意：{'；'.join(parts)}。"


# -- manifest and order ------------------------------------------------------------------------

def build_manifest(*, session_id: str, roster_version: str, units: list[DrawUnit],
                   questions: list[DrawQuestion], asked: list[str], p: SessionParams,
                   commitment: str) -> Manifest:
    return Manifest(
        session_id=session_id, roster_version=roster_version, units=tuple(units),
        method=p.method, unit_count=p.unit_count, questions_per_unit=p.questions_per_unit,
        one_per_city=p.one_per_city, questions=tuple(questions),
        asked_question_ids=tuple(asked), allow_repeat=p.allow_repeat,
        entropy_source=entropy_source(p), secret_commitment=commitment,
    )


def format_mmss(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


DUE_HINT = "2026-12-31、2026年12月31日、12月31日 或 30天"
# what the follow-up commands accept (handlers/inspection.py): a unit by name or by its number
# in the list the host was shown, a person by id or by a unique name, a due date as in DUE_HINT
REPORT_USAGE = "整改汇报 <单位|序号> 已整改|整改中|未整改 [说明]"
RECTIFY_USAGE = "整改 <单位|序号> <截止日期|N天> <内容> [责任人=<人员ID|姓名>]"
DONE_USAGE = "整改完成 <事项号> <说明>"
SEND_BACK_USAGE = "退回整改 <事项号> <理由>"
DONE_NOTE_MAX = 200  # 整改说明 of a 整改完成 report, and the reason of a 退回: read on a phone


def parse_item_ref(ref: str) -> int | None:
    """An item number as cards show it: 12, #12, ＃12 or 整改事项#12 (full-width digits too)."""
    ref = unicodedata.normalize("NFKC", ref).strip().removeprefix("整改事项").strip()
    ref = ref.removeprefix("#").strip().rstrip(":：,，")
    return int(ref) if ref.isdecimal() and ref.isascii() and 0 < len(ref) <= 9 else None
SITE_USAGE = "实地督察 <单位|序号> <负责人ID|姓名> [截止日期|N天] [内容]"
# a word meant as a date even when parse_due does not take it: 2026-13-01, 30天, 12月31日,
# 12-31, 10个工作日, 昨天, 明日, 下周五, 月底
_DUE_LIKE = re.compile(r"\d{4}[-/年.]|\d+天$|\d{1,2}[-/月.]\d{1,2}[日号]?$|\d+个?工作日$"
                       r"|(?:大?后|前|今|明|昨)[天日]$|[本这下]?(?:周|星期)[一二三四五六日天末]$"
                       r"|[本下]?[月年][底末]$")


def looks_like_due(text: str) -> bool:
    """Whether an optional argument is meant as a due date ('2026-13-01', '30天', '昨天'), so
    that one ``read_due`` refuses is refused rather than taken as free text."""
    return bool(_DUE_LIKE.match(unicodedata.normalize("NFKC", text).strip()))


# a month and day as people write a date this year: 12月15日, 12月15号, 12-15, 12/15, 12.15
_MONTH_DAY = re.compile(r"(\d{1,2})(?:月(\d{1,2})[日号]?|[-/.](\d{1,2}))")


def _month_day(t: str, today: date) -> tuple[date | None, str]:
    """A month and day (``_MONTH_DAY``, matched) as the next such day on or after ``today``,
    or None with why there is none (2月30日, 13月1日)."""
    m = _MONTH_DAY.fullmatch(t)
    assert m is not None
    month, day = int(m.group(1)), int(m.group(2) or m.group(3))
    if why := no_such_day(None, month, day):
        return None, why
    for year in (today.year, today.year + 1):
        if no_such_day(year, month, day):  # 2月29日 of a common year
            continue
        if (found := date(year, month, day)) >= today:
            return found, ""
    return None, f"{no_such_day(today.year + 1, month, day)}，请写明年份"


# a full date: 2026-12-31, 2026/12/31, 2026.12.31, 2026年12月31日
_FULL_DATE = re.compile(r"(\d{4})[-/年.](\d{1,2})[-/月.](\d{1,2})日?")


def _impossible(t: str, today: date) -> str:
    """Why a typed date (NFKC) that reads as one names no day (2026-02-30, 2月30日), or ''."""
    if _MONTH_DAY.fullmatch(t):
        return _month_day(t, today)[1]
    if m := _FULL_DATE.fullmatch(t):
        return no_such_day(*(int(g) for g in m.groups())) or ""
    return ""


def parse_due(text: str, today: date) -> date | None:
    """'2026-12-31', '2026/12/31', '2026年12月31日', '12月31日' / '12-31' (the next such day
    on or after today) or '30天' (from today; full-width digits too) -> a date; None when it is
    not one (or not a real calendar date)."""
    t = unicodedata.normalize("NFKC", text).strip()
    if _MONTH_DAY.fullmatch(t):
        return _month_day(t, today)[0]
    m = re.fullmatch(r"(\d{1,3})天", t)
    if m:
        return today + timedelta(days=int(m.group(1)))
    m = _FULL_DATE.fullmatch(t)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:  # 2026-02-30 (read_due says why), year 0000
        return None


DUE_YEARS = 5  # a follow-up due later than 31 December this many years ahead is a typo


def due_problem(due: date, today: date) -> str | None:
    """Why ``due`` cannot be a follow-up's due date (Chinese), or None: not in the past, and
    not so far ahead (9999-12-31) that its reminder would never come."""
    if due < today:
        return "早于今天"
    latest = date(today.year + DUE_YEARS, 12, 31)
    if due > latest:
        return f"晚于 {latest:%Y-%m-%d}"
    return None


def read_due(text: str, today: date, *, optional: bool = False) -> tuple[date | None, str]:
    """A typed due date (``parse_due``) that ``due_problem`` accepts, or None with why not, as
    整改 and 实地督察 answer it (``optional``: the date may be left out)."""
    if impossible := _impossible(unicodedata.normalize("NFKC", text).strip(), today):
        return None, f"截止日期「{text[:20]}」无效：{impossible}。"
    due = parse_due(text, today)
    if due is None:
        return None, f"截止日期「{text[:20]}」无效，请写 {DUE_HINT}{'（可省略）' if optional else ''}。"
    if why := due_problem(due, today):
        return None, f"截止日期 {due:%Y-%m-%d} {why}。"
    return due, ""


# verify()'s steps that find nothing to re-run (draw.py's _NO_PUBLICATION): the input was not
# a publication, so nothing was checked and nothing can be said to differ
_UNUSABLE = {
    "published": "公布数据格式不对：应为包含 manifest（抽签清单）和 result（抽签结果）的 JSON 对象",
    "manifest": "抽签清单（manifest）的字段缺失或格式不对",
    "result": "抽签结果（result）的字段缺失或格式不对",
}


def verify_outcome(report: VerifyReport) -> Literal["match", "mismatch", "unusable"]:
    """"match", "mismatch" (the inputs were read and the re-run differs) or "unusable" (the input
    is no publication: nothing was re-run, so it must not read as 复核不一致)."""
    if report.match:
        return "match"
    return "unusable" if report.step in _UNUSABLE else "mismatch"


def normalize_session_id(text: str) -> str:
    """A session id however it was typed: dd20261127-01, ＤＤ20261127－01 or 「DD20261127-01。」
    → DD20261127-01 (as case codes are read, bot.domain.codes.normalize_code)."""
    return normalize_code(text)[:40]


def held_days(times: Iterable[datetime | None], tz: tzinfo) -> str | None:
    """The day(s) a session was held, from the moments of its draw and Q&A, in the bot's time
    zone: 「2026-11-28」, or 「2026-11-28 至 2026-11-29」 when it ran past midnight; None when it
    was never held (no draw)."""
    days = sorted({t.astimezone(tz).date() for t in times if t is not None})
    if not days:
        return None
    first, last = days[0], days[-1]
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} 至 {last:%Y-%m-%d}"


def verify_message(report: VerifyReport, names: Mapping[str, str] | None = None) -> str:
    """A draw verification for people: Chinese, drawn units by name (``names``: unit id -> name).
    ``str(report)`` stays the English MATCH / MISMATCH line of ``casebot draw verify``."""
    if report.match:
        return "复核一致：按公布的数据重新计算，抽中单位和题号与公布的结果完全一致。"
    if verify_outcome(report) == "unusable":
        return (f"无法复核：{_UNUSABLE[report.step or '']}。请粘贴完整的抽签公布数据"
                "（publication.json），或按会议编号复核。")
    pub, rec, at = report.published, report.recomputed, report.position

    def unit(uid: str | None) -> str:
        return (names or {}).get(uid or "", f"「{uid}」")

    texts = {
        "manifest_hash": f"抽签清单的哈希不一致：公布的是 {pub}，按清单重新计算为 {rec}"
                         "（清单在抽签后被改动过）",
        "announced_hash": f"公布的抽签清单不是抽签前承诺的那一份：抽签前公布的清单哈希为 {pub}，"
                          f"公布数据中清单的哈希为 {rec}",
        "secret_commitment": f"服务器密钥与抽签前公布的密钥承诺不符：承诺为 {pub}，"
                             f"公布密钥的 SHA-256 为 {rec}",
        "entropy": f"公开随机数「{pub}」格式不对",
        "entropy_normalized": f"公开随机数「{pub}」未按规范写法公布（规范写法：「{rec}」）",
        "rerun": "无法按公布的数据重新抽签：清单中的候选单位或题目不足",
        "key": f"派生密钥不一致：公布的是 {pub}，重新计算为 {rec}",
        "unit_count": f"抽中单位数不一致：公布 {pub} 个，重新计算为 {rec} 个",
        "unit": f"第 {at[0] if at else '?'} 个抽中单位不一致：公布的是 {unit(pub)}，"
                f"重新计算为 {unit(rec)}",
        "question_list_count": f"题目组数不一致：公布 {pub} 组，重新计算为 {rec} 组",
        "question_count": f"第 {at[0] if at else '?'} 个单位的题数不一致：公布 {pub} 道，"
                          f"重新计算为 {rec} 道",
        "question": f"第 {at[0] if at else '?'} 个单位的第 {at[-1] if at else '?'} 题不一致："
                    f"公布的是题号 {pub}，重新计算为题号 {rec}",
    }
    return "复核不一致：" + texts.get(report.step or "", "公布的数据与重新计算的结果不一致")


def outsider_steps(base_url: str, sid: str) -> tuple[str, ...]:
    """How anybody re-runs a session's draw on their own computer, without trusting the bot:
    Chinese, full addresses (``base_url`` is the configured public URL). The verify page, the
    result card and the report say the same."""
    draw = f"{base_url}/draw"
    return (
        f"1. 下载抽签数据 {draw}/{sid}/publication.json 和抽签清单 {draw}/{sid}/manifest.json",
        f"2. 下载复核程序 {draw}/verify.py（只用 Python 标准库，可直接阅读；算法说明 {draw}/spec）",
        "3. 在装有 Python 3.10 或更高版本的电脑上运行 python3 verify.py publication.json "
        "manifest.json：显示 MATCH 为一致，显示 MISMATCH 则其后是第一处不一致",
        "4. 核对抽签清单 SHA-256 与抽签前承诺卡片上的一致，公开随机数与实际开奖号码一致",
    )


def operator_verify_line(sid: str) -> str:
    """The operator's own check, on the bot's database: labelled as such, not the outsider's."""
    return f"运维人员（在本系统服务器上）：casebot draw verify {sid}"


# The default public entropy: the 福彩3D draw, held daily at about 21:15 Beijing time. It must be
# drawn after the commitment is posted (nobody knows it when the manifest is fixed) and before
# the draw in the meeting (the host types it).
LOTTERY_DRAWN_AT = time(21, 15)
_LOTTERY = re.compile(r"福彩3D (\d{4}-\d{2}-\d{2}) 开奖号码")


def default_entropy_name(now_local: datetime) -> str:
    """The next 福彩3D draw not yet public: today's before 21:00, else tomorrow's."""
    day = now_local.date() + timedelta(days=0 if now_local.time() < time(21) else 1)
    return f"福彩3D {day:%Y-%m-%d} 开奖号码"


def entropy_public_at(entropy_name: str, tz: Any) -> datetime | None:
    """When the default source's number becomes public (None for any other source, whose
    time the bot cannot know)."""
    m = _LOTTERY.fullmatch(entropy_name.strip())
    if m is None:
        return None
    return datetime.combine(date.fromisoformat(m.group(1)), LOTTERY_DRAWN_AT, tzinfo=tz)

