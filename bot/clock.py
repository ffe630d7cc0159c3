"""The one source of time. Pass a Clock around; never call datetime.now() elsewhere."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: tests and the console's test clock."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += delta
        return self._now


_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """'8d', '90m', '30s', '2h' -> timedelta; ValueError otherwise."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"bad duration {text!r}: use a number and one of s, m, h, d")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
