"""What a card with buttons offered stays at hand once it has scrolled away (a first-day walk on
a phone): the prosecutor's 待定 choice on their 码 card, in 待办 and typed; the investigator's
申请复核 and 已知悉 on their 码 card and typed; a 受理 per case on the case manager's list."""

from __future__ import annotations

from typing import Any

from tests.cases.helpers import (
    INVESTIGATORS,
    MANAGER,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    evaluate,
    intakes,
)
from tests.conftest import Console

INV = INVESTIGATORS[0]


async def code_card(console: Console, user: str, code: str) -> dict[str, Any]:
    [card] = cards((await console.send(user, f"dm:{user}", f"码 {code}"))["messages"])
    return card


def labels(card: dict[str, Any]) -> list[str]:
    return [a["label"] for a in card["card"]["actions"]]


async def texts(console: Console, user: str, text: str) -> list[str]:
    """The answers to `text` in the sender's chat (not what went to others)."""
    return [m["text"] for m in (await console.send(user, f"dm:{user}", text))["messages"]
            if m["text"] and m["chat"] == f"dm:{user}"]


async def current(console: Console, chat: str, message_id: int) -> dict[str, Any]:
    [m] = [m for m in await console.messages(chat) if m["id"] == message_id]
    return m


async def waiting_case(console: Console) -> str:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    await console.send(MANAGER, f"dm:{MANAGER}", f"受理 {code}")
    return code


async def test_the_prosecutors_code_card_offers_the_waiting_choice(console: Console) -> None:
    code = await waiting_case(console)
    [asked] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
               if m["card"]["title"].startswith("受理待定")]
    card = await code_card(console, PROSECUTOR, code)
    assert "受理：待定，等待承办检察官选择" in card["card"]["body"]
    assert labels(card) == ["查看详情", "去评分", "延期受理", "先收后补"]
    # nobody else gets the choice
    assert "延期受理" not in labels(await code_card(console, MANAGER, code))
    assert "延期受理" not in labels(await code_card(console, INV, code))

    r = await console.click(PROSECUTOR, card["id"], "intake.receive")
    assert f"{code} 已决定：先收后补。" in [m["text"] for m in r["messages"] if m["text"]]
    assert await intakes(console, code) == ["待定", "先收后补"]
    now = await current(console, f"dm:{PROSECUTOR}", card["id"])
    assert labels(now) == ["查看详情", "去评分"]  # only the choice left the card
    assert now["card"]["footer"].startswith("已决定：先收后补（余斌梅 ")
    # its body says the decision, as a fresh 码 card does, no longer that it waits
    fresh = await code_card(console, PROSECUTOR, code)
    [line] = [x for x in fresh["card"]["body"].splitlines() if x.startswith("受理：")]
    assert line.startswith("受理：先收后补（余斌梅 ") and line in now["card"]["body"].splitlines()
    assert "等待承办检察官选择" not in now["card"]["body"]
    # the 受理待定 card the scan sent says it is decided, and the case manager is told
    asked = await current(console, f"dm:{PROSECUTOR}", asked["id"])
    assert asked["card"]["actions"] == [] and asked["card"]["title"] == f"受理 {code} · 先收后补"
    assert any("已决定：先收后补" in (m["text"] or "")
               for m in await console.messages(f"dm:{MANAGER}"))
    # once only: a second tap, and a new 码 card no longer offers it
    again = await console.click(PROSECUTOR, card["id"], "intake.receive")
    assert again["messages"][-1]["text"] == "您已点过「先收后补」，无需重复操作。"
    other = await console.click(PROSECUTOR, card["id"], "intake.defer")
    assert other["messages"][-1]["text"].startswith("该按钮已失效：")
    assert "已决定：先收后补" in other["messages"][-1]["text"]
    assert labels(await code_card(console, PROSECUTOR, code)) == ["查看详情", "去评分"]
    assert await intakes(console, code) == ["待定", "先收后补"]


async def test_a_choice_made_elsewhere_leaves_the_code_card_deciding_nothing(
        console: Console) -> None:
    code = await waiting_case(console)
    card = await code_card(console, PROSECUTOR, code)
    [asked] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
               if m["card"]["title"].startswith("受理待定")]
    await console.click(PROSECUTOR, asked["id"], "intake.defer")
    # the 码 card follows the choice at once: the decision, and no choice left to tap
    now = await current(console, f"dm:{PROSECUTOR}", card["id"])
    assert labels(now) == ["查看详情", "去评分"]
    assert "受理：延期受理（余斌梅 " in now["card"]["body"] and "等待" not in now["card"]["body"]
    # a tap on the button as it was (a client not yet redrawn) decides nothing
    r = await console.click(PROSECUTOR, card["id"], "intake.receive")
    assert r["messages"][-1]["text"].startswith("该按钮已失效：")
    assert "已决定：延期受理" in r["messages"][-1]["text"]
    assert await intakes(console, code) == ["待定", "延期受理"]


async def test_todo_and_my_cases_name_the_waiting_choice_and_it_can_be_typed(
        console: Console) -> None:
    code = await waiting_case(console)
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "待办")
    listed, resent = r["messages"][0], r["messages"][1]
    assert listed["card"]["title"] == "待选择的黄码受理（1）"
    assert f"🟡 {code} 何某强奸案 黄码 85分 · 案管李平" in listed["card"]["body"]
    assert resent["card"]["title"].startswith(f"受理待定 {code}")
    assert labels(resent) == ["延期受理", "先收后补"]
    mine = (await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "我的案件"))["messages"][0]
    assert f"{code} 何某强奸案 黄码 85分 · 受理待定，请选择延期受理或先收后补" in mine["card"]["body"]

    # someone else typing it is told whose choice it is; the case manager too
    assert (await texts(console, MANAGER, f"先收后补 {code}")) == [
        f"「先收后补」由本案承办检察官在黄码待定时选择，您不是 {code} 的承办检察官。"]
    assert await texts(console, PROSECUTOR, f"延期受理 {code}") == [f"{code} 已决定：延期受理。"]
    assert await intakes(console, code) == ["待定", "延期受理"]
    # the card 待办 re-sent follows, and typing again decides nothing
    assert (await current(console, f"dm:{PROSECUTOR}", resent["id"]))["card"]["actions"] == []
    assert await texts(console, PROSECUTOR, f"先收后补 {code}") == [
        f"{code} 已作出受理决定：延期受理，无需重复选择。"]
    assert await texts(console, PROSECUTOR, "待办") == ["您没有待办的复核申请。"]
    never = await create_case(console, title="某乙涉嫌盗窃案")
    await evaluate(console, never, YELLOW)
    assert await texts(console, PROSECUTOR, f"延期受理 {never}") == [
        f"{never} 尚未扫码受理，没有待您选择的受理决定。"]


async def test_the_investigators_code_card_files_and_acknowledges(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    card = await code_card(console, INV, code)
    assert labels(card) == ["查看详情", "申请复核", "已知悉"]
    # the prosecutor and a case manager get none of these
    assert labels(await code_card(console, PROSECUTOR, code)) == ["查看详情", "去评分"]
    assert labels(await code_card(console, MANAGER, code)) == ["查看详情", "扫码受理"]

    r = await console.click(INV, card["id"], "case.ack")
    assert r["messages"][-1]["text"] == f"已确认知悉 {code}（第1版）。"
    now = await current(console, f"dm:{INV}", card["id"])
    assert labels(now) == ["查看详情", "申请复核"]
    assert now["card"]["footer"].startswith("已知悉：")
    # the delivered card follows, and the prosecutor sees it acknowledged
    [delivered] = [m for m in cards(await console.messages(f"dm:{INV}"))
                   if m["id"] != card["id"] and m["card"]["title"].startswith("案件码")][:1]
    assert "已知悉" not in labels(delivered) and delivered["card"]["footer"].startswith("已知悉：")
    assert "已知悉 1/2" in (await code_card(console, PROSECUTOR, code))["card"]["body"]
    assert labels(await code_card(console, INV, code)) == ["查看详情", "申请复核"]

    r = await console.click(INV, card["id"], "review.file",
                            {"items": "1", "reason": "嫌疑人已供述"})
    assert r["messages"][-1]["text"].startswith("复核申请 #1 已提交")


async def test_typed_filing_and_acknowledging(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    other = INVESTIGATORS[1]
    assert await texts(console, other, f"复核 {code}") == [
        f"{code} 没有未办结的复核申请。如需申请复核，请发送「申请复核 {code} 第1项 理由」"
        "或点卡片上的「申请复核」。"]
    assert await texts(console, other, f"申请复核 {code}") == [
        f"请写明有异议的扣分项序号和复核理由，如「申请复核 {code} 第1项 理由」。"]
    [filed] = await texts(console, other, f"申请复核 {code} 第1项 嫌疑人已供述，有笔录。")
    assert filed.startswith("复核申请 #1 已提交")
    assert (await texts(console, other, f"申请复核 {code} 2 另一理由"))[0].startswith(
        f"您对 {code} 已有一个未办结的复核申请（#1")
    assert await texts(console, PROSECUTOR, f"申请复核 {code} 1 理由") == ["只有本案侦查人员可以申请复核。"]

    assert await texts(console, INV, f"收到 {code}") == [f"已确认知悉 {code}（第1版）。"]
    assert await texts(console, INV, f"已知悉 {code}") == [
        f"您已确认知悉 {code}（第1版），无需重复确认。"]
    [delivered] = [m for m in cards(await console.messages(f"dm:{INV}"))
                   if m["card"]["title"].startswith("案件码")][:1]
    assert "已知悉" not in labels(delivered)
    assert await texts(console, MANAGER, f"已知悉 {code}") == [
        f"只有本案侦查人员可以确认知悉 {code} 的案件码。"]
    # 收到 said among people in a group is left alone
    seen = len(await console.messages("g-case-team"))
    await console.send(INV, "g-case-team", "收到")
    assert len(await console.messages("g-case-team")) == seen + 1  # only their own message


async def test_the_waiting_list_takes_each_case_in(console: Console) -> None:
    red = await create_case(console, title="甲案")
    await evaluate(console, red, RED)
    pending = await waiting_case(console)
    r = await console.send(MANAGER, f"dm:{MANAGER}", "待受理")
    [listing] = cards(r["messages"])
    assert labels(listing) == [f"受理 {red}"]  # the 待定 waits for its prosecutor
    r = await console.click(MANAGER, listing["id"], f"case.intake:{red}")
    titles = [m["card"]["title"] for m in cards(r["messages"])]
    assert f"受理 {red} · 退回" in titles
    assert await intakes(console, red) == ["退回"]
    now = await current(console, f"dm:{MANAGER}", listing["id"])
    assert labels(now) == []
    # its line says what was decided, no longer 待受理; the other case's is as it was
    [line] = [x for x in now["card"]["body"].splitlines() if f" {red} " in x]
    assert line.endswith(" · 已退回") and "待受理" not in now["card"]["body"], now["card"]["body"]
    assert any(f" {pending} " in x and x.endswith(" · 待定（等待承办检察官选择）")
               for x in now["card"]["body"].splitlines())
    assert await intakes(console, pending) == ["待定"]

    # 扫码受理 <案件码> is 受理 <案件码>
    again = await create_case(console, title="丙案")
    await evaluate(console, again, RED)
    r = await console.send(MANAGER, f"dm:{MANAGER}", f"扫码受理 {again}")
    assert f"受理 {again} · 退回" in [m["card"]["title"] for m in cards(r["messages"])]
    assert await intakes(console, again) == ["退回"]
