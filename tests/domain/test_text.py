"""What a required text may not be: nothing a reader sees."""

from __future__ import annotations

import pytest

from bot.domain.text import invisible


@pytest.mark.parametrize("text", [
    "", " ", "\u3000\t", "\u200b", "\ufeff", "\u200c\u200d", "\u2060\u00ad\u180e",
    " \u200b\u3000\ufeff ", "\U000e0041\U000e007f",  # tags
    "\u3164", "\ufe0f",  # a Hangul filler, a variation selector
])
def test_blanks_and_characters_that_are_not_drawn_show_nothing(text: str) -> None:
    assert invisible(text)


@pytest.mark.parametrize("text", [
    "某案", "\u200b某案", "a", "。", "0",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # a family emoji: joined by U+200D
])
def test_a_text_with_anything_drawn_shows_something(text: str) -> None:
    assert not invisible(text)
