from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.stats import CaseFacts, compute
from cards.dingtalk import CARD_BODY_MAX_BYTES, CARD_BODY_MAX_CHARS, fits
from cards.model import Button, Card, Done, FormField, card_from_dict, card_to_dict
from cards.stats import StatsView, days, stats_card


def test_card_dict_round_trip_matches_asdict() -> None:
    card = Card(title="案件码 HY-2026-0001 · 红码 66分", body="扣分项", color="red",
                image="http://x/qr.png", footer="已知悉",
                actions=(Button(id="case.open", label="查看详情", url="http://x/c/t"),
                         Button(id="review.file", label="申请复核", data={"code": "HY-2026-0001"},
                                form=(FormField("items", "序号"), FormField("reason", "理由",
                                                                           multiline=True)))),
                done=(Done("case.ack", "已知悉", "p-investigator-1"),), code_color=True)
    # the same JSON as dataclasses.asdict (tuples become lists either way)
    assert json.dumps(card_to_dict(card), sort_keys=True) == json.dumps(asdict(card), sort_keys=True)
    assert card_from_dict(card_to_dict(card)) == card


def test_oversized_button_payload_is_refused() -> None:
    with pytest.raises(ValueError, match="payload"):
        Button(id="x", label="x", data={"k": "字" * 400})


SH = ZoneInfo("Asia/Shanghai")


def test_the_statistics_card_stays_within_a_dingtalk_card_however_long_the_names() -> None:
    """Fifty police units with cases and fifty without, each with a 60-character name: the
    card lists fewer of them (the page has all) instead of being cut mid-list."""
    units = [f"u{i:03d}" for i in range(100)]
    facts = [CaseFacts(code=f"C{i}", prosecutor="p", police_unit=units[i], color="red",
                       transcodes=0, first_nongreen_at=None, green_at=None,
                       first_intake_color=None, custody_deadline=None) for i in range(50)]
    st = compute(facts, date(2026, 11, 2), ZoneInfo("Asia/Shanghai"), ["p"], units)
    view = StatsView(stats=st, scope="示范省人民检察院", taken=datetime(2026, 11, 2, 9, 30, tzinfo=SH),
                     prosecutors=(("某检察官", st.per_prosecutor["p"]),),
                     police_units=tuple((f"{k}示范市海澄县公安局" + "很长的名称" * 10, g)
                                        for k, g in st.per_police_unit.items()))
    body = stats_card(view, "http://x").body
    assert fits(body, CARD_BODY_MAX_CHARS, CARD_BODY_MAX_BYTES), len(body)
    assert "按侦查单位（共 100 个单位）：" in body and "· 另有 " in body
    assert "· 无案件（0 件）：" in body and " 等 50 个单位" in body


def test_statistics_percentages_round_half_up_like_a_reader_would() -> None:
    """1 green of 8 intakes is 12.5%: shown 13% (四舍五入), as a leader checking the counts
    works it out, not 12% (Python rounds halves to even); 5 of 8 is 63%."""
    def stats(green: int, of: int) -> StatsView:
        facts = [CaseFacts(code=f"C{i}", prosecutor="p", police_unit="u", color="green",
                           transcodes=0, first_nongreen_at=None, green_at=None,
                           first_intake_color="green" if i < green else "yellow",
                           custody_deadline=None) for i in range(of)]
        st = compute(facts, date(2026, 11, 2), ZoneInfo("Asia/Shanghai"), ["p"], ["u"])
        return StatsView(stats=st, scope="示范省人民检察院", taken=datetime(2026, 11, 2, 9, 30, tzinfo=SH),
                         prosecutors=(("某检察官", st.per_prosecutor["p"]),),
                         police_units=(("某公安局", st.per_police_unit["u"]),))

    assert "受理时绿码占比：13%（扫码受理 8 件：绿码放行 1 · 黄码待定 7）" in stats_card(stats(1, 8), "http://x").body
    assert "受理时绿码占比：63%（扫码受理 8 件：绿码放行 5 · 黄码待定 3）" in stats_card(stats(5, 8), "http://x").body
    assert "受理时绿码占比：67%（扫码受理 3 件：绿码放行 2 · 黄码待定 1）" in stats_card(stats(2, 3), "http://x").body
    # days to green: the median of 7 and 7.5 days is 7.25, shown 7.3
    assert (days(7.25), days(12.0), days(None)) == ("7.3", "12.0", "")
