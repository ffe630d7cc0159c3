"""The review-request state machine: every legal and illegal transition, random sequences."""

from __future__ import annotations

import itertools

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
