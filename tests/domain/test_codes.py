"""Case codes as speech-to-text writes them (bot/domain/codes.py)."""

from __future__ import annotations

import pytest

from bot.domain.codes import ending_code, spoken_code


@pytest.mark.parametrize("heard", [
    "HY 2026 0001", "HY-2026-0001。", "hy 二零二六 零零零一", "HY，2026，0001", "H Y 2026 0001",
    "ＨＹ　２０２６　０００１", "HY 杠 2026 杠 0001", "hy 二〇二六 〇〇〇幺", "HY—2026—0001",
])
def test_a_code_however_the_recognizer_wrote_it(heard: str) -> None:
    assert spoken_code(heard) == "HY-2026-0001"


@pytest.mark.parametrize("heard", [
    "HY 2026", "HY 二千零二十六 一", "HY 2026 0001 号", "HYZQW 2026 0001", "2026 0001",
    "HY 2026 0001234", "我的案件", "",
])
def test_what_is_not_clearly_a_code_is_none(heard: str) -> None:
    assert spoken_code(heard) is None


def test_a_longer_number_and_prefix_keep_their_digits() -> None:
    assert spoken_code("abcd 2026 12345") == "ABCD-2026-12345"


@pytest.mark.parametrize(("heard", "found"), [
    ("码 HY 2026 0001", ("码", "HY-2026-0001")),
    ("码，hy 二零二六 零零零一。", ("码", "HY-2026-0001")),
    ("复核HY-2026-0001", ("复核", "HY-2026-0001")),
    ("HY 2026 0001", ("", "HY-2026-0001")),
    ("码 XHY 2026 0001", ("码", "XHY-2026-0001")),
    ("码 ABCDE 2026 0001", None),  # not 「BCDE-2026-0001」 taken out of a word
    ("提醒 暂停 HY 2026 0001 3天", None),  # the code is not at the end
    ("今天天气怎么样", None),
])
def test_a_message_ending_with_a_code(heard: str, found: tuple[str, str] | None) -> None:
    assert ending_code(heard) == found


def test_a_long_message_is_not_read_as_a_code() -> None:
    assert ending_code("码 " + "啊" * 5000 + " HY 2026 0001") == ("码 " + "啊" * 5000, "HY-2026-0001")
    assert ending_code("a " * 5000) is None
