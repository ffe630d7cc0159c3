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
    sources,
)

LEGAL = {
    (State.PENDING, Action.ACCEPT): State.ACCEPTED,
    (State.PENDING, Action.REJECT): State.REJECTED,
    (State.PENDING, Action.JOINT): State.JOINT,
    (State.PENDING, Action.WITHDRAW): State.WITHDRAWN,
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
    for s in (State.ACCEPTED, State.REJECTED, State.CONFIRMED, State.WITHDRAWN):
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
