"""Any text from any person gets an answer, never an exception (hypothesis)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import App
from bot.clock import ManualClock
from bot.events import MessageEvent
from config.loader import Settings
from tests.conftest import START

WORDS = ["帮助", "码", "受理", "评分", "统计", "复核", "待办", "我的案件", "我是谁", "HY-2026-0001",
         "/c/abc.def", "@casebot", " ", "\n", "0", "-1", "💥", "\x00"]
PEOPLE = ["p-prosecutor-1", "p-investigator-1", "p-case-manager-1", "p-inspector-1",
          "p-leader-1", "p-admin-1", "p-chief-c01"]
counter = itertools.count()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    a = App(settings, ManualClock(START))
    await a.start()
    yield a
    await a.stop()


texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join),
    st.builds(lambda w, t: f"{w} {t}", st.sampled_from(WORDS), st.text(max_size=50)),
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts, person=st.sampled_from(PEOPLE))
async def test_any_text_gets_an_answer(app: App, text: str, person: str) -> None:
    event = MessageEvent(event_id=f"fuzz-{next(counter)}", platform="console", user_id=person,
                         chat=f"dm:{person}", at=START, text=text, is_direct=True)
    result = await app.dispatcher.feed(event)
    assert result.status == "handled", text
    assert result.messages, text
    assert all(m.text or m.card for m in result.messages)


# a typed mention: @ or ＠, a name without spaces (not the bot's own name glued to a word),
# then an ASCII, full-width or no-break space
mention_names = st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=8
                        ).filter(lambda n: not n.lower().startswith("casebot"))
mentions = st.lists(st.tuples(st.sampled_from("@＠"), mention_names,
                              st.sampled_from([" ", "\u3000", "\u00a0", "  "])),
                    min_size=1, max_size=4).map(lambda ms: "".join(a + n + s for a, n, s in ms))
commands = st.lists(st.sampled_from([w for w in WORDS if not w.startswith("@")]), max_size=4
                    ).map(" ".join)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lead=mentions, text=commands)
async def test_leading_mentions_change_nothing(app: App, lead: str, text: str) -> None:
    """「@张三 @李四 我是谁」 is 「我是谁」; mentions alone are an empty message, never a command."""
    def route(t: str) -> object:
        return app.dispatcher.match(MessageEvent(
            event_id="m", platform="console", user_id="p-prosecutor-1", chat="g-case-team",
            at=START, text=t, is_direct=False, mentioned=True))
    assert route(lead + text) == route(text), (lead, text)
    assert route(lead.strip()) == route(""), lead
