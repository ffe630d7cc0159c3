"""Calendar dates as people type them (pure): why a typed date does not exist, said the same
way wherever one is read in chat (整改 / 实地督察 截止日期, 统计 periods)."""

from __future__ import annotations

import calendar


def no_such_day(year: int | None, month: int, day: int | None = None) -> str | None:
    """Why there is no such day (or, ``day`` None, month), or None when there is: 没有 13 月,
    2 月没有 30 日, 2026 年 2 月没有 29 日 (a leap day of a common year; ``year`` None: of any
    year, so 2月29日 exists)."""
    if not 1 <= month <= 12:
        return f"没有 {month} 月"
    if day is None:
        return None
    if not 1 <= day <= calendar.monthrange(2000, month)[1]:  # 2000: a leap year
        return f"{month} 月没有 {day} 日"
    if year is not None and day > calendar.monthrange(year, month)[1]:
        return f"{year} 年 {month} 月没有 {day} 日"
    return None
