"""统计期间 (pure): what a leader types after 统计, and /stats?from=&to=, read into days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.period import (
    STATS_EXAMPLES,
    TYPED_FORMS,
    Period,
    PeriodError,
    parse_period,
    period_between,
    presets,
)

TODAY = date(2026, 11, 5)  # a Thursday in the fourth quarter


def P(start: str, end: str) -> Period:
    return Period(date.fromisoformat(start), date.fromisoformat(end))


@pytest.mark.parametrize(("typed", "today", "period"), [
    ("", TODAY, None),  # 统计 alone: every case, as before
    ("全部", TODAY, None),
    ("本月", TODAY, P("2026-11-01", "2026-11-30")),
    ("上月", TODAY, P("2026-10-01", "2026-10-31")),
    ("上个月", TODAY, P("2026-10-01", "2026-10-31")),
    ("上月", date(2026, 1, 10), P("2025-12-01", "2025-12-31")),  # across the year
    ("本月", date(2028, 2, 29), P("2028-02-01", "2028-02-29")),  # a leap year's February
    ("本季度", TODAY, P("2026-10-01", "2026-12-31")),
    ("上季度", TODAY, P("2026-07-01", "2026-09-30")),
    ("上季度", date(2026, 2, 1), P("2025-10-01", "2025-12-31")),
    ("本季度", date(2026, 6, 30), P("2026-04-01", "2026-06-30")),
    ("今年", TODAY, P("2026-01-01", "2026-12-31")),
    ("去年", TODAY, P("2025-01-01", "2025-12-31")),
    ("2026", TODAY, P("2026-01-01", "2026-12-31")),
    ("2026年", TODAY, P("2026-01-01", "2026-12-31")),
    ("2026-10", TODAY, P("2026-10-01", "2026-10-31")),
    ("2026-2", TODAY, P("2026-02-01", "2026-02-28")),
    ("2026年10月", TODAY, P("2026-10-01", "2026-10-31")),
    ("2026/10", TODAY, P("2026-10-01", "2026-10-31")),
    ("2026Q4", TODAY, P("2026-10-01", "2026-12-31")),
    ("2026年第三季度", TODAY, P("2026-07-01", "2026-09-30")),
    ("2026-10-01", TODAY, P("2026-10-01", "2026-10-01")),  # one day
    ("2026-10-01 至 2026-11-30", TODAY, P("2026-10-01", "2026-11-30")),
    ("2026-10-01至2026-11-30", TODAY, P("2026-10-01", "2026-11-30")),
    ("2026-10-01 ~ 2026-11-30", TODAY, P("2026-10-01", "2026-11-30")),
    ("2026-10-01-2026-11-30", TODAY, P("2026-10-01", "2026-11-30")),
    ("2026-10-01 - 2026-11-30", TODAY, P("2026-10-01", "2026-11-30")),
    ("2026-10-01到2026-11-30", TODAY, P("2026-10-01", "2026-11-30")),
    ("2026-10-01 2026-11-30", TODAY, P("2026-10-01", "2026-11-30")),
    ("2026/10/1—2026/11/30", TODAY, P("2026-10-01", "2026-11-30")),
    ("2026年10月1日至2026年11月30日", TODAY, P("2026-10-01", "2026-11-30")),
    ("20261001-20261130", TODAY, P("2026-10-01", "2026-11-30")),
    ("2026-10 至 2026-12", TODAY, P("2026-10-01", "2026-12-31")),  # months: whole months
    # a month without its year, as people say it: the latest one so far
    ("11月", TODAY, P("2026-11-01", "2026-11-30")),
    ("10月份", TODAY, P("2026-10-01", "2026-10-31")),
    ("１２月", TODAY, P("2025-12-01", "2025-12-31")),  # in November, last December
    ("2026-10-2026-12", TODAY, P("2026-10-01", "2026-12-31")),
    ("2025-2026", TODAY, P("2025-01-01", "2026-12-31")),
    # full-width digits and punctuation, as Chinese input methods type them
    ("２０２６－１０", TODAY, P("2026-10-01", "2026-10-31")),
    ("２０２６－１０－０１～２０２６－１１－３０", TODAY, P("2026-10-01", "2026-11-30")),
    ("２０２６－１０－０１　至　２０２６－１１－３０", TODAY, P("2026-10-01", "2026-11-30")),
    ("2026q4", TODAY, P("2026-10-01", "2026-12-31")),
    ("上月。", TODAY, P("2026-10-01", "2026-10-31")),  # as speech recognition ends it
    ("上月？", TODAY, P("2026-10-01", "2026-10-31")),
    # as offices type them: a space between number and unit, an end without its year,
    # month.day, weeks (Monday to Sunday) and the last N days (today included)
    ("11 月", TODAY, P("2026-11-01", "2026-11-30")),
    ("2026 年 11 月", TODAY, P("2026-11-01", "2026-11-30")),
    ("2026年11月1日至11月30日", TODAY, P("2026-11-01", "2026-11-30")),
    ("2026 年 11 月 1 日 至 11 月 30 日", TODAY, P("2026-11-01", "2026-11-30")),
    ("２０２６年１０月１日至１１月３０日", TODAY, P("2026-10-01", "2026-11-30")),
    ("2026年10月至12月", TODAY, P("2026-10-01", "2026-12-31")),
    ("2026.11.1-11.27", TODAY, P("2026-11-01", "2026-11-27")),
    ("11.1-11.27", TODAY, P("2026-11-01", "2026-11-27")),
    ("11.1至11.27", TODAY, P("2026-11-01", "2026-11-27")),
    ("10月-11月", TODAY, P("2026-10-01", "2026-11-30")),
    ("12.1-12.31", TODAY, P("2025-12-01", "2025-12-31")),  # like 12月: last December
    ("11.5", TODAY, P("2026-11-05", "2026-11-05")),  # one day, today
    ("11月6日", TODAY, P("2025-11-06", "2025-11-06")),  # tomorrow's date: last year's
    ("2.29", date(2028, 3, 1), P("2028-02-29", "2028-02-29")),
    ("本周", TODAY, P("2026-11-02", "2026-11-08")),
    ("这周", date(2026, 11, 2), P("2026-11-02", "2026-11-08")),  # on the Monday
    ("本周", date(2026, 11, 8), P("2026-11-02", "2026-11-08")),  # on the Sunday
    ("上周", TODAY, P("2026-10-26", "2026-11-01")),
    ("上周", date(2026, 1, 1), P("2025-12-22", "2025-12-28")),  # across the year
    ("近30天", TODAY, P("2026-10-07", "2026-11-05")),
    ("最近7天", TODAY, P("2026-10-30", "2026-11-05")),
    ("最近 7 天", TODAY, P("2026-10-30", "2026-11-05")),
    ("近1日", TODAY, P("2026-11-05", "2026-11-05")),
    ("过去90天", date(2026, 3, 1), P("2025-12-02", "2026-03-01")),
    # as leaders type them (QA walk): a day by name, Chinese numerals, months back, a
    # quarter without its year, up to today, month/day, an end without its month
    ("今天", TODAY, P("2026-11-05", "2026-11-05")),
    ("昨天", TODAY, P("2026-11-04", "2026-11-04")),
    ("昨天", date(2026, 1, 1), P("2025-12-31", "2025-12-31")),
    ("近三十天", TODAY, P("2026-10-07", "2026-11-05")),
    ("最近两周", TODAY, P("2026-10-23", "2026-11-05")),
    ("近一百二十天", TODAY, P("2026-07-09", "2026-11-05")),
    ("近一个月", TODAY, P("2026-10-06", "2026-11-05")),
    ("近1个月", date(2026, 3, 31), P("2026-03-01", "2026-03-31")),  # no 31 February
    ("近三个月", TODAY, P("2026-08-06", "2026-11-05")),
    ("近三个月", date(2026, 2, 10), P("2025-11-11", "2026-02-10")),
    ("近一年", TODAY, P("2025-11-06", "2026-11-05")),
    ("第四季度", TODAY, P("2026-10-01", "2026-12-31")),
    ("四季度", TODAY, P("2026-10-01", "2026-12-31")),
    ("Q4", TODAY, P("2026-10-01", "2026-12-31")),
    ("q4", date(2027, 2, 1), P("2026-10-01", "2026-12-31")),  # the latest that has begun
    ("第一季度", TODAY, P("2026-01-01", "2026-03-31")),
    ("2026-11-01至今", TODAY, P("2026-11-01", "2026-11-05")),
    ("11.1-今天", TODAY, P("2026-11-01", "2026-11-05")),
    ("11月1日至今", TODAY, P("2026-11-01", "2026-11-05")),
    ("自10月以来", TODAY, P("2026-10-01", "2026-11-05")),
    ("11.10至今", TODAY, P("2025-11-10", "2026-11-05")),  # the latest 11.10 so far
    ("12.20至今", date(2027, 1, 5), P("2026-12-20", "2027-01-05")),
    ("11/1-11/30", TODAY, P("2026-11-01", "2026-11-30")),
    ("11/5", TODAY, P("2026-11-05", "2026-11-05")),
    ("11月1日-30日", TODAY, P("2026-11-01", "2026-11-30")),
    ("2026年10月1日至31日", TODAY, P("2026-10-01", "2026-10-31")),
    ("11月1号到15号", TODAY, P("2026-11-01", "2026-11-15")),
    # in the future: answered (no cases yet), not refused
    ("2030", TODAY, P("2030-01-01", "2030-12-31")),
    ("2026-12-01 至 2027-03-31", TODAY, P("2026-12-01", "2027-03-31")),
])
def test_a_period_is_read_into_its_first_and_last_day(typed: str, today: date,
                                                      period: Period | None) -> None:
    assert parse_period(typed, today) == period


NEW_YEAR = date(2027, 1, 5)


@pytest.mark.parametrize(("typed", "today", "period"), [
    # a start month later than the end month: the range crosses New Year, its start the
    # latest such day that has begun
    ("12.20-1.10", NEW_YEAR, P("2026-12-20", "2027-01-10")),
    ("12月20日-1月10日", NEW_YEAR, P("2026-12-20", "2027-01-10")),
    ("12月20日至1月10日", NEW_YEAR, P("2026-12-20", "2027-01-10")),
    ("１２．２０～１．１０", NEW_YEAR, P("2026-12-20", "2027-01-10")),
    ("12月-1月", NEW_YEAR, P("2026-12-01", "2027-01-31")),
    ("11月-2月", NEW_YEAR, P("2026-11-01", "2027-02-28")),
    ("12.20-1.10", date(2026, 12, 25), P("2026-12-20", "2027-01-10")),  # ends in the future
    ("12.20-1.10", TODAY, P("2025-12-20", "2026-01-10")),  # last winter's
    ("12.20-1.10", date(2026, 12, 19), P("2025-12-20", "2026-01-10")),
    # within a year, as before
    ("12.1-12.31", NEW_YEAR, P("2026-12-01", "2026-12-31")),
    ("1.1-1.5", NEW_YEAR, P("2027-01-01", "2027-01-05")),
    ("1.1-1.31", NEW_YEAR, P("2027-01-01", "2027-01-31")),  # ends in the future
    ("11.1-11.27", TODAY, P("2026-11-01", "2026-11-27")),
    # one end with its year: the other end beside it
    ("2026年12月20日至1月10日", TODAY, P("2026-12-20", "2027-01-10")),
    ("2026.12.20-1.10", TODAY, P("2026-12-20", "2027-01-10")),
    ("2026年10月至2月", TODAY, P("2026-10-01", "2027-02-28")),
    ("12.20-2027.1.10", TODAY, P("2026-12-20", "2027-01-10")),
    ("12.20-2026.12.31", TODAY, P("2026-12-20", "2026-12-31")),
])
def test_a_range_without_years_may_cross_new_year(typed: str, today: date,
                                                  period: Period) -> None:
    assert parse_period(typed, today) == period


@pytest.mark.parametrize("typed", ["上月", "本季度", "11月", "2026年", "12.20-1.10", "近30天"])
def test_a_periods_shown_text_reads_back_as_the_same_days(typed: str) -> None:
    """/stats shows 2026-12-20 至 2027-01-10 in its box for a period given by from/to; sent
    back as it stands, it is the same period."""
    period = parse_period(typed, NEW_YEAR)
    assert period is not None
    assert parse_period(period.text, date(2030, 6, 1)) == period


@pytest.mark.parametrize(("typed", "answer"), [
    ("十月", "看不懂统计期间「十月」"),
    ("13月", "看不懂统计期间「13月」"),
    ("2026-10-01 至", "看不懂统计期间「2026-10-01 至」"),
    ("26-10", "看不懂统计期间「26-10」"),
    ("2026-10-01 至 2026-11-30 至 2026-12-31", "看不懂统计期间「2026-10-01 至 2026-11…」"),
    ("2026-02-30", "日期「2026-02-30」无效：2 月没有 30 日"),
    ("11.31", "日期「11.31」无效：11 月没有 31 日"),
    ("11.1-11.31", "日期「11.31」无效：11 月没有 31 日"),
    ("2026年11月1日至11月31日", "日期「11月31日」无效：11 月没有 31 日"),
    ("13.1", "日期「13.1」无效：没有 13 月"),
    ("2.29", "日期「2.29」无效：2026 年 2 月没有 29 日"),  # 2026 has none
    ("2026年11月30日至11月1日", "结束日期 2026-11-01 早于开始日期 2026-11-30"),
    ("11.3-11.1", "结束日期 2026-11-01 早于开始日期 2026-11-03"),
    ("12.20-12.10", "结束日期 2025-12-10 早于开始日期 2025-12-20"),  # not a year and more
    ("2026年12月20日至12月10日", "结束日期 2026-12-10 早于开始日期 2026-12-20"),
    ("12.20-2.30", "日期「2.30」无效：2 月没有 30 日"),
    ("2099年12月至1月", "年份须在 2000 至 2099 之间"),
    ("近0天", "天数须在 1 至 3660 之间"),
    ("近9999天", "天数须在 1 至 3660 之间"),
    ("近99999天", "天数须在 1 至 3660 之间"),
    ("近" + "9" * 5000 + "天", "天数须在 1 至 3660 之间"),
    ("近00000000000030000天", "天数须在 1 至 3660 之间"),
    ("近99999周", "天数须在 1 至 3660 之间"),
    ("近99999个月", "月数须在 1 至 122 之间"),
    ("近99999年", "月数须在 1 至 122 之间"),
    ("下周", "看不懂统计期间「下周」"),
    ("近几天", "看不懂统计期间「近几天」"),
    ("11-1至11-27", "看不懂统计期间「11-1至11-27」"),
    ("11.1.1", "看不懂统计期间「11.1.1」"),
    ("2026-13", "日期「2026-13」无效：没有 13 月"),
    ("2026-09-31 至 2026-10-31", "日期「2026-09-31」无效：9 月没有 31 日"),
    ("2026-11-30 至 2026-10-01", "结束日期 2026-10-01 早于开始日期 2026-11-30"),
    ("2026-11 至 2026-10", "结束日期 2026-10-31 早于开始日期 2026-11-01"),
    ("1999", "年份须在 2000 至 2099 之间"),
    # MMDD is not read (2012 could be a year): the answer shows how to write it
    ("1101-1130", "「1101-1130」请写作 11.1-11.30 或 11月1日至11月30日"),
    ("1101", "「1101」不是年份；日期请写作 11.1 或 11月1日"),
    ("11月1日-31日", "日期「31日」无效：11 月没有 31 日"),
    ("11月-30日", "结束日期「30日」请写明月份，如 11月1日-11月30日"),
    ("2026-11-10至今", "结束日期 2026-11-05 早于开始日期 2026-11-10"),
    ("近零天", "天数须在 1 至 3660 之间"),
    ("五季度", "看不懂统计期间「五季度」"),
    ("9999-12-31", "年份须在 2000 至 2099 之间"),
])
def test_a_period_that_cannot_be_used_is_refused_with_the_reason(typed: str,
                                                                 answer: str) -> None:
    with pytest.raises(PeriodError) as e:
        parse_period(typed, TODAY)
    assert str(e.value) == answer


@pytest.mark.parametrize(("start", "end", "outcome"), [
    ("", "", None),
    ("2026-10-01", "2026-10-31", P("2026-10-01", "2026-10-31")),
    ("2026-10-01", "2026-10-01", P("2026-10-01", "2026-10-01")),
    ("2026-10-01", "", "缺少结束日期：请同时给出开始和结束日期"),
    ("", "2026-10-31", "缺少开始日期：请同时给出开始和结束日期"),
    ("2026-10", "2026-10-31", "开始日期「2026-10」应为 YYYY-MM-DD 格式，如 2026-10-01"),
    ("2026-10-01", "本月", "结束日期「本月」应为 YYYY-MM-DD 格式，如 2026-10-01"),
    ("2026-02-30", "2026-03-31", "日期「2026-02-30」无效：2 月没有 30 日"),
    ("2026-10-31", "2026-10-01", "结束日期 2026-10-01 早于开始日期 2026-10-31"),
])
def test_stats_page_from_and_to(start: str, end: str, outcome: Period | str | None) -> None:
    if isinstance(outcome, str):
        with pytest.raises(PeriodError, match=outcome):
            period_between(start, end)
    else:
        assert period_between(start, end) == outcome


def test_a_period_covers_its_days_in_the_bots_time_zone() -> None:
    """Shanghai is UTC+8: October starts at 16:00 UTC on 30 September and ends (exclusive)
    at 16:00 UTC on 31 October."""
    start, end = P("2026-10-01", "2026-10-31").bounds(ZoneInfo("Asia/Shanghai"))
    assert start.astimezone(UTC) == datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert P("2026-10-01", "2026-10-31").text == "2026-10-01 至 2026-10-31"


def test_the_pages_preset_links_are_the_chat_words() -> None:
    assert [(w, p.text) for w, p in presets(TODAY)] == [
        ("本月", "2026-11-01 至 2026-11-30"), ("上月", "2026-10-01 至 2026-10-31"),
        ("本季度", "2026-10-01 至 2026-12-31"), ("上季度", "2026-07-01 至 2026-09-30"),
        ("今年", "2026-01-01 至 2026-12-31")]


def test_every_form_the_statistics_answer_names_is_read() -> None:
    """统计's usage answer (and 帮助 全部) offers these forms: each must work as typed."""
    for typed in TYPED_FORMS:
        assert parse_period(typed, TODAY) is not None, typed
        assert typed in STATS_EXAMPLES or typed == "上月", typed
    assert len(STATS_EXAMPLES) <= 70  # one sentence on a phone
