"""Free text is kept as typed (SPEC: never lose what they sent): full-width ，。！？：；「」 and the
full stop it ends with stay, for every command and form of the case flow that takes it; only
the command word, the case code and the item numbers are read as ASCII."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tests.cases.helpers import AUTH, INVESTIGATORS, PROSECUTOR, RED, cards, create_case, evaluate
from tests.conftest import Console

INV = INVESTIGATORS[0]
TEXT = "嫌疑人有不在场证明，监控已调取：见「附件1」；请复核！是否有误？谢谢。"


def wide(text: str) -> str:
    """`text` as a Chinese input method types it in full-width mode (ｈｙ－２０２６－０００１)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


async def _card(console: Console, chat: str, title_part: str) -> dict[str, Any]:
    return [m for m in cards(await console.messages(chat)) if title_part in m["card"]["title"]][-1]


async def _reason(console: Console, code: str) -> str:
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    found = [line for line in (await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1"))
             ["card"]["body"].splitlines() if line.startswith("复核理由：")]
    assert found, detail
    return found[0].removeprefix("复核理由：")


async def test_a_typed_review_reason_is_kept_with_its_punctuation(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    r = await console.send(INV, f"dm:{INV}", f"申请复核 {wide(code.lower())} １，３ {TEXT}  ")
    assert "复核申请 #1 已提交" in r["messages"][-1]["text"], r
    assert await _reason(console, code) == TEXT
    receipt = await _card(console, f"dm:{INV}", "您的复核申请 #1")
    assert f"复核理由：{TEXT}\n" in receipt["card"]["body"]
    assert "· 犯罪事实与行为（−16分）\n· 因果关系（−8分）" in receipt["card"]["body"]


async def test_a_typed_review_reason_may_follow_the_items_without_a_blank(
        console: Console) -> None:
    """「申请复核 … 第1项，理由」 as a phone types it, a comma (or 。, ：) and no space after the
    items: filed with that reason, not answered with the usage it already follows."""
    for n, (items, sep) in enumerate((("第1项、第3项", "，"), ("１，３", "。"), ("①③", "：")), 1):
        code = await create_case(console)
        await evaluate(console, code, RED)
        r = await console.send(INV, f"dm:{INV}", f"申请复核 {code} {items}{sep}{TEXT}")
        assert f"复核申请 #{n} 已提交" in r["messages"][-1]["text"], (items, r)
        pcard = await _card(console, f"dm:{PROSECUTOR}", f"复核申请 #{n}")
        assert f"复核理由：{TEXT}\n" in pcard["card"]["body"], pcard
        assert "· 犯罪事实与行为（−16分）\n· 因果关系（−8分）" in pcard["card"]["body"]


async def test_the_card_forms_keep_the_reason_note_and_rejection(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    [card] = cards(await console.messages(f"dm:{INV}"))
    r = await console.click(INV, card["id"], "review.file",
                            {"items": "１，３", "reason": f" {TEXT}\n", "note": "补充：「笔录」第２页。"})
    assert "复核申请 #1 已提交" in r["messages"][-1]["text"], r
    assert await _reason(console, code) == TEXT
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    assert "补充：「笔录」第２页。" in pcard["card"]["body"]
    r = await console.click(PROSECUTOR, pcard["id"], "review.reject", {"reason": f"  {TEXT} "})
    receipt = await _card(console, f"dm:{INV}", "您的复核申请 #1")
    assert f"驳回理由：{TEXT}" in receipt["card"]["body"]
    assert any(m["text"] and m["text"].endswith(f"已驳回。理由：{TEXT}") for m in r["messages"])


async def test_a_withdrawal_reason_is_kept_and_its_typed_confirmation_too(console: Console) -> None:
    code = await create_case(console)
    reason = "重复录入，与「HY-2026-0009」相同！"
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"撤销案件 {wide(code)}：{reason}")
    body = r["messages"][-1]["card"]["body"]
    assert f"撤销原因：{reason}\n" in body
    typed = f"撤销案件 {code} {reason} 确认"
    assert f"发送「{typed}」" in body
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", typed + "。")
    assert "已撤销" in r["messages"][-1]["text"], r
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    assert reason in str(detail), detail


async def test_a_withdrawal_reason_ending_in_a_full_stop_keeps_it(console: Console) -> None:
    code = await create_case(console)
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"撤销案件 {code} 重复录入。")
    assert "撤销原因：重复录入。\n" in r["messages"][-1]["card"]["body"]
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"撤销案件 {code} 重复录入。 确认")
    assert "已撤销" in r["messages"][-1]["text"], r
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    assert "重复录入。" in str(detail), detail


async def test_a_new_case_title_is_prefilled_as_typed(console: Console) -> None:
    title = "张某某（化名）涉嫌盗窃案：「团伙」！"
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"新建案件 {title}。")
    body = r["messages"][-1]["card"]["body"]
    assert body.startswith(f"案件名称：{title}。（已预填，可修改）"), body


# blanks as typed: a run of spaces, a full-width space (a Chinese input method's), a new line
SPACED = "监控  已调取　见附件1\n请复核"


async def test_a_typed_review_reason_keeps_its_blanks(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    r = await console.send(INV, f"dm:{INV}", f"申请复核 {code}　１，３　{SPACED}")
    assert "复核申请 #1 已提交" in r["messages"][-1]["text"], r
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    assert f"复核理由：{SPACED}\n" in pcard["card"]["body"]
    receipt = await _card(console, f"dm:{INV}", "您的复核申请 #1")
    assert f"复核理由：{SPACED}\n" in receipt["card"]["body"]


async def test_a_withdrawal_reason_keeps_its_blanks_on_one_line(console: Console) -> None:
    code = await create_case(console)
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"撤销案件 {code}　重复  录入　与前案\n相同")
    reason = "重复  录入　与前案 相同"  # the 撤销原因 is one line: the line break is a space
    body = r["messages"][-1]["card"]["body"]
    assert f"撤销原因：{reason}\n" in body
    typed = f"撤销案件 {code} {reason} 确认"
    assert f"发送「{typed}」" in body
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", typed)
    assert "已撤销" in r["messages"][-1]["text"], r
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    assert detail["withdrawn"]["reason"] == reason, detail


async def test_a_new_case_title_keeps_its_blanks(console: Console) -> None:
    title = "张某  盗窃案　（化名）"
    for typed in (f"新建案件　{title}", f"新建案件{title}", f"录入案件，{title}\n"):
        r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", typed)
        card = r["messages"][-1]["card"]
        assert card["body"].startswith(f"案件名称：{title}（已预填，可修改）"), (typed, card)
        assert urlencode({"title": title}) in str(card), (typed, card)
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "新建案件 张某\n盗窃案")
    assert r["messages"][-1]["card"]["body"].startswith("案件名称：张某 盗窃案（已预填"), r
