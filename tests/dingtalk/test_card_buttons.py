"""A card with more buttons than DingTalk shows (a 待受理 list of 20 cases, a 受理 button
each): the first MAX_ACTION_BUTTONS, and a line in the body saying what to send for the others
— on a template card and on a markdown actionCard alike."""

from __future__ import annotations

import json

from bot.context import Context
from bot.dispatcher import Router
from bot.events import MessageEvent
from cards import dingtalk as render
from cards.model import Button, Card, keyed_action
from tests.dingtalk.conftest import PROSECUTOR, AppFactory, eventually
from tests.dingtalk.fake import FakeDingTalk
from tests.dingtalk.test_e2e import TEMPLATE

CODES = [f"HY-2026-{i:04d}" for i in range(1, 21)]
NOTE = ("卡片最多显示 5 个按钮；其余案件（HY-2026-0006、HY-2026-0007、HY-2026-0008 等 15 个）"
        "请发送「受理 案件码」")
router = Router("dingtalk-test-buttons")


@router.command("长列表", summary="测试：20 个受理按钮的待受理列表")
async def _long_list(event: MessageEvent, ctx: Context) -> None:
    await ctx.reply(card=Card(title="待受理", body="\n".join(CODES), actions=tuple(
        Button(keyed_action("case.intake", c), f"受理 {c}", data={"code": c}) for c in CODES)))


async def test_a_template_card_keeps_the_first_buttons_and_names_the_rest(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    app = await make_app(card_template_id=TEMPLATE)
    app.dispatcher.include(router)
    fake.send_message("长列表", staff_id=PROSECUTOR[1])
    [card] = await eventually(lambda: fake.sent, what="the card")
    params = fake.cards[card.body["outTrackId"]]
    labels = [params[f"btn{i}_label"] for i in range(1, render.MAX_ACTION_BUTTONS + 1)]
    assert labels == [f"受理 {c}" for c in CODES[:5]]
    assert [a["label"] for a in json.loads(params["actions"])] == labels
    assert params["body"].endswith(f"HY-2026-0020\n{NOTE}") and NOTE in params["markdown"]


async def test_a_markdown_card_keeps_the_first_buttons_and_names_the_rest(
        make_app: AppFactory, fake: FakeDingTalk) -> None:
    app = await make_app()
    app.dispatcher.include(router)
    fake.send_message("长列表", staff_id=PROSECUTOR[1])
    [card] = await eventually(lambda: fake.sent, what="the card")
    assert card.body["msgKey"] == "sampleActionCard5"
    param = json.loads(card.body["msgParam"])
    assert [param[f"actionTitle{i}"] for i in range(1, 6)] == [f"受理 {c}" for c in CODES[:5]]
    assert NOTE in param["text"]


def test_other_buttons_past_the_limit_are_named_by_their_labels() -> None:
    card = Card(title="t", body="x", actions=tuple(Button(f"b{i}", f"按钮{i}") for i in range(7)))
    fitted = render.fit_card(card)
    assert fitted.body == "x\n卡片最多显示 5 个按钮；未显示：按钮5、按钮6"
    assert len(fitted.actions) == 5 and render.card_fits(fitted)
    long = render.fit_card(Card(title="t", body="长" * 3000, actions=card.actions))
    assert render.card_fits(long) and long.body.endswith("未显示：按钮5、按钮6")
