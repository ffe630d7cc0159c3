"""The review-request (复核申请) state machine, pure.

    pending ──accept──► accepted        (the prosecutor re-scores; the evaluation references it)
       │  ──reject──► rejected          (reason required)
       │  ──joint───► joint ──outcome──► joint_done ──confirm──► confirmed
       │                 │
       │                 └──settle──► settled
       ├──settle──► settled             (a re-score cleared every disputed item: 已由重新评分解决)
       └──withdraw──► withdrawn         (by the filer, while pending)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from bot.domain.scoring import Evaluation


class State(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    JOINT = "joint"
    JOINT_DONE = "joint_done"
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"
    SETTLED = "settled"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    State.PENDING: "待处理", State.ACCEPTED: "已同意", State.REJECTED: "已驳回",
    State.JOINT: "共同评议", State.JOINT_DONE: "评议完成（待侦查人员确认）",
    State.CONFIRMED: "评议完成", State.WITHDRAWN: "已撤回", State.SETTLED: "已由重新评分解决",
}


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    JOINT = "joint"
    OUTCOME = "outcome"
    CONFIRM = "confirm"
    WITHDRAW = "withdraw"
    SETTLE = "settle"  # by the bot, when a re-score clears every disputed item


TRANSITIONS: dict[tuple[State, Action], State] = {
    (State.PENDING, Action.ACCEPT): State.ACCEPTED,
    (State.PENDING, Action.REJECT): State.REJECTED,
    (State.PENDING, Action.JOINT): State.JOINT,
    (State.PENDING, Action.WITHDRAW): State.WITHDRAWN,
    (State.PENDING, Action.SETTLE): State.SETTLED,
    (State.JOINT, Action.SETTLE): State.SETTLED,
    (State.JOINT, Action.OUTCOME): State.JOINT_DONE,
    (State.JOINT_DONE, Action.CONFIRM): State.CONFIRMED,
}
DECISIONS = frozenset({Action.ACCEPT, Action.REJECT, Action.JOINT})
OPEN = frozenset({State.PENDING, State.JOINT, State.JOINT_DONE})
CHANGED = "changed"  # a joint review's outcome: 调整 (the other one is KEPT, 维持)
# a request waiting for the prosecutor's re-score: agreed, or a joint review that decided 调整
RESCORE_ALWAYS = frozenset({State.ACCEPTED})
RESCORE_IF_CHANGED = frozenset({State.JOINT_DONE, State.CONFIRMED})


def awaits_rescore(state: str, outcome: str | None, new_version: int | None) -> bool:
    """Whether a request still waits for a re-score (storage/reviews.awaiting_rescore asks the
    same in SQL)."""
    return new_version is None and (
        state in RESCORE_ALWAYS or (state in RESCORE_IF_CHANGED and outcome == CHANGED))


class IllegalTransition(ValueError):
    def __init__(self, state: State, action: Action) -> None:
        super().__init__(f"cannot {action.value} a request that is {state.value}")
        self.state = state
        self.action = action


def next_state(state: State, action: Action) -> State:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(state, action) from None


def allowed(state: State) -> frozenset[Action]:
    return frozenset(a for (s, a) in TRANSITIONS if s is state)


def sources(action: Action) -> tuple[State, ...]:
    """The states an action may start from (for compare-and-set updates)."""
    return tuple(s for (s, a) in TRANSITIONS if a is action)


def settled_by(disputed: Iterable[str], ev: Evaluation) -> bool:
    """Whether evaluation `ev` leaves nothing of a request to answer: every disputed item
    (a deduction or a veto) is gone from it (销号). A lowered deduction still stands."""
    items = set(disputed)
    return bool(items) and not items & ({d.item for d in ev.deductions} | set(ev.vetoes))


def refusal(state: State) -> str:
    """Why nothing happened, in words for the person who clicked."""
    if state is State.SETTLED:
        return "该复核申请有异议的扣分项已在重新评分中全部销号，申请已办结，无需再操作。"
    return f"该复核申请当前状态为「{state.label}」，此操作已无效。"


_MEETING = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*(\d{1,2})[:：时点](\d{1,2})?分?$")
# the day: 12月6日 / 12.6 / 12-6 (this year or the next, whichever is nearer), 今天/明天/后天,
# 周五 / 星期五 (the coming one, today included), 下周五
_DAY = re.compile(r"^(?:(\d{1,2})[-/.月](\d{1,2})[日号]?|(今天|明天|后天)"
                  r"|(下)?(?:周|星期|礼拜)([一二三四五六日天]))")
# the time: 14:30, 14点, 下午3点, 下午3点半, 上午10时30分
_CLOCK = re.compile(r"^(上午|早上|中午|下午|晚上)?(\d{1,2})(?:[:：](\d{2})|[点时](?:(\d{1,2})分?|(半))?)$")
_OFFSET = {"今天": 0, "明天": 1, "后天": 2}
_WEEKDAY = "一二三四五六日"


def parse_meeting_time(text: str, tz: tzinfo, now: datetime | None = None) -> datetime | None:
    """A joint-review time as people type it (2026-11-05 14:30, 2026年11月5日14时30分,
    full-width digits); given `now`, also without the year or as words resolved against
    today in `tz` (12月6日 14:30, 12.6 14:30, 明天下午3点, 周五上午10点). None when it names
    no moment."""
    typed = unicodedata.normalize("NFKC", text).strip()
    m = _MEETING.match(typed)
    if m is not None:
        year, month, day, hour, minute = (int(g) if g else 0 for g in m.groups())
        try:
            return datetime(year, month, day, hour, minute, tzinfo=tz)
        except ValueError:
            return None
    if now is None or (d := _DAY.match(typed)) is None:
        return None
    clock = _CLOCK.match(re.sub(r"\s+", "", typed[d.end():]))
    if clock is None:
        return None
    part, h, mm, mm2, half = clock.groups()
    hour, minute = int(h), int(mm or mm2 or 0) + (30 if half else 0)
    if (part in ("下午", "晚上") and hour < 12) or (part == "中午" and hour < 11):
        hour += 12
    today = now.astimezone(tz).date()
    mon, mday, word, nxt, wd = d.groups()
    try:
        if word:
            on = today + timedelta(days=_OFFSET[word])
        elif wd:
            target = _WEEKDAY.index("日" if wd == "天" else wd)
            if nxt:
                on = today + timedelta(days=7 - today.weekday() + target)
            else:
                on = today + timedelta(days=(target - today.weekday()) % 7)
        else:
            picks = []
            for year in (today.year - 1, today.year, today.year + 1):
                try:
                    picks.append(date(year, int(mon), int(mday)))
                except ValueError:
                    pass
            if not picks:
                return None
            on = min(picks, key=lambda p: abs((p - today).days))
        return datetime.combine(on, time(hour, minute), tz)
    except ValueError:
        return None


def changes_disputed(disputed: Iterable[str], before: Evaluation | None, after: Evaluation
                     ) -> bool:
    """Whether `after` scores any disputed item differently from `before`, the evaluation the
    request disputed: a deduction's points moved or gone, a veto lifted. A re-score that
    leaves them all as they were answers nothing of the request."""
    if before is None:
        return True

    def scored(ev: Evaluation, item: str) -> tuple[int | None, bool]:
        points = next((d.points for d in ev.deductions if d.item == item), None)
        return points, item in ev.vetoes

    return any(scored(before, i) != scored(after, i) for i in disputed)


KEPT = "kept"  # a joint review's outcome: 维持原评分
_OUTCOMES = {"维持": KEPT, "维持原评分": KEPT, "维持原分": KEPT, "维持评分": KEPT,
             "调整": CHANGED, "调整评分": CHANGED}


def parse_outcome(text: str) -> str | None:
    """A joint review's outcome as typed: 维持 / 维持原评分 (the words its cards show) →
    ``kept``, 调整 / 调整评分 → ``changed``; None for anything else."""
    return _OUTCOMES.get(re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).rstrip("。."))
