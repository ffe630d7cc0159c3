"""The review-request state machine: every legal and illegal transition, random sequences."""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.review import (
    DECISIONS,
    TRANSITIONS,
    Action,
    IllegalTransition,
    State,
    allowed,
    next_state,
    parse_meeting_time,
    refusal,
    settled_by,
    sources,
)
from bot.domain.scoring import Color, Deduction, Evaluation

LEGAL = {
    (State.PENDING, Action.ACCEPT): State.ACCEPTED,
    (State.PENDING, Action.REJECT): State.REJECTED,
    (State.PENDING, Action.JOINT): State.JOINT,
    (State.PENDING, Action.WITHDRAW): State.WITHDRAWN,
    (State.PENDING, Action.SETTLE): State.SETTLED,
    (State.JOINT, Action.SETTLE): State.SETTLED,
    (State.JOINT, Action.OUTCOME): State.JOINT_DONE,
    (State.JOINT_DONE, Action.CONFIRM): State.CONFIRMED,
}


@pytest.mark.parametrize(("state", "action"), list(itertools.product(State, Action)))
def test_every_pair(state: State, action: Action) -> None:
    if (state, action) in LEGAL:
        assert next_state(state, action) is LEGAL[(state, action)]
        assert action in allowed(state)
        assert state in sources(action)
    else:
        with pytest.raises(IllegalTransition):
            next_state(state, action)
        assert action not in allowed(state)


def test_terminal_states_allow_nothing() -> None:
    for s in (State.ACCEPTED, State.REJECTED, State.CONFIRMED, State.WITHDRAWN, State.SETTLED):
        assert allowed(s) == frozenset()
    assert TRANSITIONS == LEGAL


@given(st.lists(st.sampled_from(list(Action)), max_size=30))
def test_random_sequences_stay_legal_with_at_most_one_decision(actions: list[Action]) -> None:
    state = State.PENDING
    decisions = 0
    for a in actions:
        try:
            new = next_state(state, a)
        except IllegalTransition:
            continue
        decisions += a in DECISIONS
        state = new
        assert state in State
    assert decisions <= 1


@pytest.mark.parametrize(("typed", "expected"), [
    ("2026-11-05 14:30", (2026, 11, 5, 14, 30)),
    ("2026/11/5 9:05", (2026, 11, 5, 9, 5)),
    ("2026年11月5日14时30分", (2026, 11, 5, 14, 30)),
    ("2026年11月5日14点", (2026, 11, 5, 14, 0)),
    ("２０２６－１１－０５　１４：３０", (2026, 11, 5, 14, 30)),
    ("明天下午", None),
    ("2026-02-30 10:00", None),
    ("2026-11-05", None),
])
def test_meeting_times_as_people_type_them(typed: str, expected: tuple[int, ...] | None) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    got = parse_meeting_time(typed, tz)
    assert got == (datetime(*expected, tzinfo=tz) if expected else None)


# Monday 2026-11-02 09:00 in Shanghai
@pytest.mark.parametrize(("typed", "expected"), [
    ("12月6日 14:30", (2026, 12, 6, 14, 30)),
    ("12月6日14:30", (2026, 12, 6, 14, 30)),
    ("12.6 14:30", (2026, 12, 6, 14, 30)),
    ("1月5日 9:00", (2027, 1, 5, 9, 0)),  # nearer next year than this
    ("明天下午3点", (2026, 11, 3, 15, 0)),
    ("明天下午3点半", (2026, 11, 3, 15, 30)),
    ("今天 16:00", (2026, 11, 2, 16, 0)),
    ("周五上午10点", (2026, 11, 6, 10, 0)),
    ("星期一 14:30", (2026, 11, 2, 14, 30)),  # today is Monday: today
    ("下周一上午9点", (2026, 11, 9, 9, 0)),
    ("明天下午", None),
    ("2月30日 10:00", None),
])
def test_meeting_times_without_a_year_or_in_words(typed: str,
                                                  expected: tuple[int, ...] | None) -> None:
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 11, 2, 1, 0, tzinfo=ZoneInfo("UTC"))
    got = parse_meeting_time(typed, tz, now)
    assert got == (datetime(*expected, tzinfo=tz) if expected else None)
    assert parse_meeting_time(typed, tz) is None  # words need today


def _ev(deducted: dict[str, int], vetoes: tuple[str, ...] = ()) -> Evaluation:
    score = 100 - sum(deducted.values())
    return Evaluation(case_code="HY-2026-0001", version=2, by="p", at=datetime(2026, 11, 2,
                      tzinfo=ZoneInfo("Asia/Shanghai")), score=score,
                      color=Color.RED if vetoes else Color.YELLOW,
                      deductions=tuple(Deduction(i, n, "问题", "", "", "要求")
                                       for i, n in deducted.items()),
                      vetoes=vetoes, comment="")


def test_a_request_is_settled_only_when_every_disputed_item_is_gone() -> None:
    ev = _ev({"criminal_facts": 4}, vetoes=("capacity",))
    assert settled_by(["causation", "harmful_consequence"], ev)
    assert not settled_by(["causation", "criminal_facts"], ev)  # lowered, not cleared
    assert not settled_by(["capacity"], ev)  # the veto still stands
    assert not settled_by([], ev)


def test_a_click_that_loses_to_the_settlement_says_why() -> None:
    assert "已在重新评分中全部销号" in refusal(State.SETTLED)
    assert State.SETTLED.label == "已由重新评分解决"
