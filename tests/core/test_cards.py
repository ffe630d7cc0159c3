from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from cards.model import Button, Card, FormField, card_from_dict, card_to_dict


def test_card_dict_round_trip_matches_asdict() -> None:
    card = Card(title="案件码 HY-2026-0001 · 红码 66分", body="扣分项", color="red",
                image="http://x/qr.png", footer="已知悉",
                actions=(Button(id="case.open", label="查看详情", url="http://x/c/t"),
                         Button(id="review.file", label="申请复核", data={"code": "HY-2026-0001"},
                                form=(FormField("items", "序号"), FormField("reason", "理由",
                                                                           multiline=True)))))
    # the same JSON as dataclasses.asdict (tuples become lists either way)
    assert json.dumps(card_to_dict(card), sort_keys=True) == json.dumps(asdict(card), sort_keys=True)
    assert card_from_dict(card_to_dict(card)) == card


def test_oversized_button_payload_is_refused() -> None:
    with pytest.raises(ValueError, match="payload"):
        Button(id="x", label="x", data={"k": "字" * 400})
