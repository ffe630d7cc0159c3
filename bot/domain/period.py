"""统计期间 (pure): the days a statistics request covers, read from what a user typed after
统计 or in /stats?period= (本月, 上周, 今天, 近30天, 近三个月, 第四季度, 2026-10, 11.1-11.27,
11/1-11/30, 11月1日-30日, 12.20-1.10, 11.1至今, 2026-10-01 至 2026-11-30 …) or from
/stats?from=&to=. Four digits outside 2000-2099 (1101, 1101-1130) are not read as month and day
(2012 could be a year): the answer shows how to write them.

A case belongs to a period by the day it entered casebot (its created_at, in the bot's time
zone): the lead's decision, see README. `today` is always given (from the clock object), so
本月 and 上月 never read the machine's clock.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from bot.domain.dates import no_such_day

FIRST_YEAR, LAST_YEAR = 2000, 2099
ALL_WORDS = ("全部", "所有", "全部案件")
PRESETS = ("本月", "上月", "本季度", "上季度", "今年")  # the /stats page's links

# one day, month, quarter or year: 2026 · 2026-10 · 2026/10/1 · 2026.10.01 · 2026年10月1日 ·
# 20261001 · 2026Q4 · 2026年第四季度
_TOKEN = (r"(?:\d{4}\s*[-年]?\s*(?:Q|第)[1-4一二三四](?:季度?)?"
          r"|\d{8}"
          r"|\d{4}年(?:\d{1,2}月(?:\d{1,2}[日号]?)?)?"
          r"|\d{4}(?:[-/.]\d{1,2}){0,2})")
_ONE = re.compile(_TOKEN)
# a month or day without its year, as offices write it: 11月 · 10月份 · 11月30日 · 11.27 · 11/27
_YEARLESS = r"\d{1,2}(?:月(?:份|\d{1,2}[日号]?)?|[./]\d{1,2})"
# a range's end without its month: 11月1日-30日 (the start's month)
_DAY_ONLY = r"\d{1,2}[日号]"
_TO = r"\s*(?:至|到|~|〜|-|—|–)\s*"
_RANGE = re.compile(rf"(?P<a>{_TOKEN}|{_YEARLESS})(?:{_TO}|\s+)"
                    rf"(?P<b>{_TOKEN}|{_YEARLESS}|{_DAY_ONLY})")
# from a day, month … up to today: 2026-11-01至今 · 11.1-今天 · 11月1日以来
_SINCE = re.compile(rf"(?:从|自)?(?P<a>{_TOKEN}|{_YEARLESS})"
                    rf"(?:{_TO}(?:今天?|今日|现在|目前)|以来)")
_CN_DIGITS = "零一二三四五六七八九"
_NUMBER = rf"\d+|[{_CN_DIGITS}两十百]{{1,6}}"  # any count of digits: too many is told the range
# the last N days, weeks, months or years, today included: 近30天 · 近三十天 · 近一个月
_RECENT = re.compile(rf"(?:最近|近|过去)({_NUMBER})(天|日|周|个?星期|个?月|年)")
# a quarter without its year: 第四季度 · 四季度 · 第4季 · Q4 (the latest that has begun)
_YEARLESS_QUARTER = re.compile(r"第([1-4一二三四])季度?|([1-4一二三四])季度|Q([1-4])")
MAX_RECENT_DAYS = 3660
# the spaces a phone keyboard puts between a number and its unit: 11 月, 2026 年 11 月 1 日
_UNIT_SPACE = re.compile(r"(?<=\d)\s+(?=[年月日号天])|(?<=年)\s+(?=\d{1,2}\s*月)"
                         r"|(?<=月)\s+(?=\d{1,2}\s*[日号])|(?<=[近去])\s+(?=\d)")
_QUARTER = re.compile(r"(?:Q|第)([1-4一二三四])")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_BARE_MONTH = re.compile(r"(\d{1,2})月份?")


class PeriodError(ValueError):
    """Why a period cannot be used, in short Chinese for the user."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def text(self) -> str:
        """2026-10-01 至 2026-12-31"""
        return f"{self.start.isoformat()} 至 {self.end.isoformat()}"

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """The start day's midnight and the midnight after the end day, in `tz`: a case
        created at t is in the period when start <= t < end."""
        return (datetime.combine(self.start, time(), tzinfo=tz),
                datetime.combine(self.end + timedelta(days=1), time(), tzinfo=tz))


def _month(year: int, month: int) -> tuple[date, date]:
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, 1), following - timedelta(days=1)


def _quarter(year: int, q: int) -> tuple[date, date]:
    return date(year, 3 * q - 2, 1), _month(year, 3 * q)[1]


def _year(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


THIS_WEEK = ("本周", "这周", "本星期", "这个星期")  # Monday to Sunday
LAST_WEEK = ("上周", "上星期", "上个星期")
THIS_MONTH = ("本月", "这个月", "当月")
LAST_MONTH = ("上月", "上个月")
THIS_QUARTER = ("本季度", "本季", "这个季度")
LAST_QUARTER = ("上季度", "上季", "上个季度")
THIS_YEAR = ("今年", "本年", "本年度")
PREVIOUS_YEAR = ("去年", "上年", "上一年")
TODAY_WORDS = ("今天", "今日", "当天", "当日")
YESTERDAY_WORDS = ("昨天", "昨日")
RECENT_WORDS = ("最近", "近", "过去")  # 近30天: the last 30 days, today included
# what a period typed straight after 统计 starts with (统计上周, 统计近30天; 近 with its number,
# so that 统计近期… in a group stays talk)
PERIOD_WORDS = (*THIS_WEEK, *LAST_WEEK,
                *(w + d for w in RECENT_WORDS for d in "123456789一二两三四五六七八九十"),
                *THIS_MONTH, *LAST_MONTH, *THIS_QUARTER,
                *LAST_QUARTER, *THIS_YEAR, *PREVIOUS_YEAR, *TODAY_WORDS, *YESTERDAY_WORDS,
                "第", *(q + "季度" for q in "一二三四"))


def _relative(word: str, today: date) -> tuple[date, date] | None:
    y, m = today.year, today.month
    q = (m - 1) // 3 + 1
    monday = today - timedelta(days=today.weekday())
    yesterday = today - timedelta(days=1)
    spans = {
        TODAY_WORDS: lambda: (today, today),
        YESTERDAY_WORDS: lambda: (yesterday, yesterday),
        THIS_WEEK: lambda: (monday, monday + timedelta(days=6)),
        LAST_WEEK: lambda: (monday - timedelta(days=7), monday - timedelta(days=1)),
        THIS_MONTH: lambda: _month(y, m),
        LAST_MONTH: lambda: _month(y, m - 1) if m > 1 else _month(y - 1, 12),
        THIS_QUARTER: lambda: _quarter(y, q),
        LAST_QUARTER: lambda: _quarter(y, q - 1) if q > 1 else _quarter(y - 1, 4),
        THIS_YEAR: lambda: _year(y),
        PREVIOUS_YEAR: lambda: _year(y - 1),
    }
    return next((span() for words, span in spans.items() if word in words), None)


def _span(token: str) -> tuple[date, date]:
    """The first and last day of one day, month, quarter or year as `_TOKEN` reads it."""
    digits = re.findall(r"\d+", token)
    if len(digits[0]) == 8:  # 20261001
        digits = [digits[0][:4], digits[0][4:6], digits[0][6:]]
    year = int(digits[0])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        if (md := _month_day(token)) is not None:
            raise PeriodError(f"「{token}」不是年份；日期请写作 {md[0]}.{md[1]} 或 {md[0]}月{md[1]}日")
        raise PeriodError(f"年份须在 {FIRST_YEAR} 至 {LAST_YEAR} 之间")
    if q := _QUARTER.search(token):
        return _quarter(year, "1234一二三四".index(q[1]) % 4 + 1)
    month_day = [int(d) for d in digits[1:]]
    return _month_or_day(year, month_day, token) if month_day else _year(year)


def _month_day(token: str) -> tuple[int, int] | None:
    """1101, not a year casebot counts, as the month and day it may mean. Not read as such
    (2012 could be either): the answer shows how to write it."""
    if len(token) != 4 or not token.isdigit() or FIRST_YEAR <= int(token) <= LAST_YEAR:
        return None
    m, d = int(token[:2]), int(token[2:])
    return (m, d) if 1 <= m <= 12 and 1 <= d <= 31 else None


def _in_year(token: str, year: int) -> tuple[date, date]:
    """The first and last day of a month or day without its year (`_YEARLESS`) in `year`."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise PeriodError(f"年份须在 {FIRST_YEAR} 至 {LAST_YEAR} 之间")
    return _month_or_day(year, [int(d) for d in re.findall(r"\d+", token)], token)


def _month_or_day(year: int, numbers: list[int], token: str) -> tuple[date, date]:
    """[month] or [month, day] of `year`; PeriodError naming `token`, and why, when there is
    no such (日期「2026-02-30」无效：2 月没有 30 日, as 整改 says it)."""
    if why := no_such_day(year, *numbers):
        raise PeriodError(f"日期「{token}」无效：{why}")
    if len(numbers) == 1:
        return _month(year, numbers[0])
    day = date(year, *numbers)
    return day, day


def _latest(token: str, today: date) -> tuple[date, date]:
    """A month or day without its year: the latest one that has begun (in November,
    12月 and 12.1 are last December's, as in January 12月 is)."""
    this_year = _in_year(token, today.year)
    return this_year if this_year[0] <= today else _in_year(token, today.year - 1)


def _number(text: str) -> int:
    """30 or 三十, 两, 一百二十 (as 近N天 is typed or spoken)."""
    if text.isdigit():  # ten digits and more: out of every range (and of int()'s 4,300)
        return int(text) if len(text.lstrip("0")) < 10 else 10 ** 10
    total = current = 0
    for ch in text:
        if ch in "十百":
            total += (current or 1) * (10 if ch == "十" else 100)
            current = 0
        else:
            current = 2 if ch == "两" else _CN_DIGITS.index(ch)
    return total + current


def _months_back(day: date, months: int) -> date:
    """The same day `months` earlier (that month's last day when it has no such day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    if year < FIRST_YEAR:
        raise PeriodError(f"年份须在 {FIRST_YEAR} 至 {LAST_YEAR} 之间")
    return min(date(year, month + 1, 1) + timedelta(days=day.day - 1), _month(year, month + 1)[1])


def _recent_span(count: int, unit: str, today: date) -> Period:
    """近N天 (today and the N-1 days before it), 近N周 (7N days), 近N个月 and 近N年 (from the
    day after the same day N months or years back: on 11-05, 近一个月 is 10-06 to 11-05)."""
    if unit in "天日":
        return _recent(count, today)
    if unit.endswith(("周", "星期")):
        return _recent(count * 7, today)
    months = count * (12 if unit == "年" else 1)
    if not 1 <= months <= MAX_RECENT_DAYS // 30:
        raise PeriodError(f"月数须在 1 至 {MAX_RECENT_DAYS // 30} 之间")
    return Period(_months_back(today, months) + timedelta(days=1), today)


def _recent(days: int, today: date) -> Period:
    if not 1 <= days <= MAX_RECENT_DAYS:
        raise PeriodError(f"天数须在 1 至 {MAX_RECENT_DAYS} 之间")
    start = today - timedelta(days=days - 1)
    if start.year < FIRST_YEAR:
        raise PeriodError(f"年份须在 {FIRST_YEAR} 至 {LAST_YEAR} 之间")
    return Period(start, today)


def _start(token: str, today: date) -> tuple[date, date]:
    """A range's start read alone: with its year (`_TOKEN`), or the latest such that has begun."""
    return _span(token) if _ONE.fullmatch(token) else _latest(token, today)


def _range(a: str, b: str, today: date) -> Period:
    """Both ends of a range. An end without its year is in the start's year, a start without
    its year in the end's, and when neither has one the start is the latest such day or
    month that has begun (as for one yearless day). A start month later than the end month
    crosses New Year: on 2027-01-05, 12.20-1.10 is 2026-12-20 to 2027-01-10, and
    2026年12月20日至1月10日 ends in 2027. Within one month an end before the start is
    refused (11.3-11.1): it cannot be meant as a year and more. An end of a day alone
    (11月1日-30日) is in the start's month."""
    if re.fullmatch(_DAY_ONLY, b):
        first, last = _start(a, today)
        if first != last:
            raise PeriodError(f"结束日期「{b}」请写明月份，如 11月1日-11月30日")
        end = _month_or_day(first.year, [first.month, int(b[:-1])], b)
        return _ordered(first, end[1])
    if _ONE.fullmatch(a):
        start = _span(a)
        end = _span(b) if _ONE.fullmatch(b) else _in_year(
            b, start[0].year + (_month_of(b) < start[0].month))
    elif _ONE.fullmatch(b):
        end = _span(b)
        start = _in_year(a, end[1].year - (_month_of(a) > end[1].month))
    else:
        start = _latest(a, today)
        end = _in_year(b, start[0].year + (_month_of(b) < start[0].month))
    return _ordered(start[0], end[1])


def _month_of(token: str) -> int:
    """The month a `_YEARLESS` token names (its first number)."""
    return int(re.findall(r"\d+", token)[0])


def _ordered(start: date, end: date) -> Period:
    if end < start:
        raise PeriodError(f"结束日期 {end.isoformat()} 早于开始日期 {start.isoformat()}")
    return Period(start, end)


def normalized(text: str, *, upper: bool = True) -> str:
    """Full-width digits and punctuation as ASCII (２０２６－１０ → 2026-10), Q in capitals
    (``upper``; not in what an answer echoes), without surrounding spaces and a final 。 (as
    speech recognition ends a sentence), ！ or ？ (上月？)."""
    t = unicodedata.normalize("NFKC", text).strip().rstrip("。.!?").strip()
    return t.upper() if upper else t


def parse_period(text: str, today: date) -> Period | None:
    """What follows 统计 (and /stats?period=): None for every case (nothing, or 全部);
    PeriodError when it cannot be read, names a day that does not exist, or ends before it
    starts. A period in the future is a period (with no cases yet), not an error. A month or
    day without its year is the latest such that has begun; a range without years starts so
    and crosses New Year when its start month is later than its end month (`_range`)."""
    typed = _UNIT_SPACE.sub("", normalized(text, upper=False))
    t = typed.upper()
    if not t or t in ALL_WORDS:
        return None
    if (span := _relative(t, today)) is not None:
        return Period(*span)
    if _ONE.fullmatch(t):
        return Period(*_span(t))
    if m := _RECENT.fullmatch(t):
        return _recent_span(_number(m[1]), m[2], today)
    if m := _YEARLESS_QUARTER.fullmatch(t):
        q = "1234一二三四".index(next(g for g in m.groups() if g)) % 4 + 1
        this_year = _quarter(today.year, q)
        return Period(*(this_year if this_year[0] <= today else _quarter(today.year - 1, q)))
    if m := _SINCE.fullmatch(t):
        return _ordered(_start(m["a"], today)[0], today)
    if (m := _BARE_MONTH.fullmatch(t)) and 1 <= int(m[1]) <= 12:
        # 11月 without a year: the latest one so far (in January, 12月 is last December's)
        return Period(*_latest(t, today))
    if not _BARE_MONTH.fullmatch(t) and re.fullmatch(_YEARLESS, t):
        return Period(*_latest(t, today))  # 11月30日, 11.27: one day
    if m := _RANGE.fullmatch(t):
        if (a := _month_day(m["a"])) and (b := _month_day(m["b"])):
            raise PeriodError(f"「{t}」请写作 {a[0]}.{a[1]}-{b[0]}.{b[1]}"
                              f" 或 {a[0]}月{a[1]}日至{b[0]}月{b[1]}日")
        return _range(m["a"], m["b"], today)
    shown = typed if len(typed) <= 20 else typed[:20] + "…"
    raise PeriodError(f"看不懂统计期间「{shown}」")


def period_between(start: str, end: str) -> Period | None:
    """/stats?from=YYYY-MM-DD&to=YYYY-MM-DD: None when both are absent or empty (every case);
    PeriodError when only one is given, either is not such a day, or the end comes first."""
    start, end = normalized(start, upper=False), normalized(end, upper=False)
    if not start and not end:
        return None
    days = []
    for name, value in (("开始日期", start), ("结束日期", end)):
        if not value:
            raise PeriodError(f"缺少{name}：请同时给出开始和结束日期")
        if not _ISO_DAY.fullmatch(value):  # digits and dashes only: no case to fold
            raise PeriodError(f"{name}「{value[:20]}」应为 YYYY-MM-DD 格式，如 2026-10-01")
        days.append(_span(value)[0])
    return _ordered(days[0], days[1])


PERIOD_EXAMPLES = "上月、本季度、11月、2026年、12.20-1.10、近30天"  # what /stats?period= takes
# what 统计 answers a period it cannot read with (and 帮助 全部 names): one example to copy,
# then the forms offices type, the newer ones first seen there, short enough for a phone
TYPED_FORMS = ("今天", "昨天", "近30天", "本月", "上月", "本季度", "第四季度", "11.1-11.30",
               "12.20-1.10", "11月1日至今")
STATS_EXAMPLES = "示例：统计 上月。期间还可写：" + "、".join(
    f for f in TYPED_FORMS if f != "上月")


def period_of_query(typed: str | None, start: str, end: str, today: date) -> Period | None:
    """/stats?period=<what 统计 takes> (None when absent), else ?from=&to= (`period_between`);
    PeriodError when both are given, as one link cannot mean two periods."""
    if typed is None:
        return period_between(start, end)
    if start or end:
        raise PeriodError("请只给出一种统计期间：period，或 from 和 to")
    return parse_period(typed, today)


def presets(today: date) -> list[tuple[str, Period]]:
    """The usual periods by name (本月, 上月 …), for links."""
    return [(word, Period(*span)) for word in PRESETS
            if (span := _relative(word, today)) is not None]
