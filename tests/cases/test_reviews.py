"""复核申请 end to end through the console API (SPEC §2)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from tests.cases.helpers import (
    GREEN,
    INVESTIGATORS,
    PROSECUTOR,
    RED,
    cards,
    create_case,
    ded,
    evaluate,
)
from tests.conftest import Console

INV = INVESTIGATORS[0]


async def _file(console: Console, items: str = "1,3", reason: str = "监控已调取，事实清楚"
                ) -> tuple[str, dict[str, Any]]:
    code = await create_case(console)
    await evaluate(console, code, RED)
    [card] = cards(await console.messages(f"dm:{INV}"))
    r = await console.click(INV, card["id"], "review.file", {"items": items, "reason": reason})
    return code, r


async def _card(console: Console, chat: str, title_part: str) -> dict[str, Any]:
    return [m for m in cards(await console.messages(chat)) if title_part in m["card"]["title"]][-1]


async def test_reject_needs_a_reason_and_updates_both_cards(console: Console) -> None:
    _, r = await _file(console)
    assert "复核申请 #1 已提交" in r["messages"][-1]["text"]
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    assert [a["label"] for a in pcard["card"]["actions"]] == ["同意并调整", "驳回", "提交检警共同评议"]
    body = pcard["card"]["body"]
    assert "犯罪事实与行为（−16分）" in body and "因果关系（−8分）" in body
    assert "危害后果" not in body and "监控已调取，事实清楚" in body and "红码 66分" in body

    r = await console.click(PROSECUTOR, pcard["id"], "review.reject", {"reason": ""})
    assert r["messages"][-1]["text"] == "驳回须填写理由。"
    # refused whole, never cut: the investigator would read a reason that stops mid-sentence
    r = await console.click(PROSECUTOR, pcard["id"], "review.reject", {"reason": "证" * 501})
    assert r["messages"][-1]["text"] == "驳回理由不能超过 500 字（现 501 字），未驳回。请精简后重新提交。"
    assert (await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1"))["card"]["actions"]
    r = await console.click(PROSECUTOR, pcard["id"], "review.reject", {"reason": "证据仍不足"})
    assert "已驳回" in r["messages"][-1]["text"]
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    assert pcard["card"]["actions"] == [] and "已驳回" in pcard["card"]["title"]
    receipt = await _card(console, f"dm:{INV}", "您的复核申请 #1")
    assert receipt["card"]["actions"] == [] and "驳回理由：证据仍不足" in receipt["card"]["body"]
    texts = [m["text"] for m in await console.messages(f"dm:{INV}") if m["text"]]
    assert any("已驳回。理由：证据仍不足" in t for t in texts)


async def test_accept_rescore_transcode_notifies(console: Console) -> None:
    code, _ = await _file(console, items="1")
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    await console.click(PROSECUTOR, pcard["id"], "review.accept")
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    [btn] = pcard["card"]["actions"]
    assert btn["label"] == "去调整评分" and btn["url"].endswith(f"/cases/{code}/score?review=1")
    # until re-scored, the request stays on the prosecutor's to-do list
    wide = "".join(chr(ord(c) + 0xFEE0) for c in code.lower())  # ｈｙ－２０２６－… from an IME
    for asked in ("待办", f"复核 {code}", f"复核 {wide}"):
        r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", asked)
        assert "#1" in r["messages"][0]["card"]["body"] and "待重新评分" in r["messages"][0]["card"]["body"]
        assert f"去评分：{btn['url']}" in r["messages"][0]["card"]["body"]  # the same form
    # the prosecutor re-scores through the score form, referencing the request
    await console.client.post("/console/api/login", json={"user": PROSECUTOR})
    r = await console.client.post(f"/cases/{code}/score", json={
        "deductions": [{"item": "causation", "points": 5, "problem": "因果待补",
                        "requirement": "补充鉴定"}], "vetoes": [], "review_request": "1"})
    assert r.status == 201 and (await r.json())["color"] == "green"
    inv_log = await console.messages(f"dm:{INV}")
    assert any(m["text"] and "已重新评分：绿码 95分" in m["text"] for m in inv_log)
    assert cards(inv_log)[-1]["card"]["body"].startswith("转码：红码 → 绿码")
    receipt = await _card(console, f"dm:{INV}", "您的复核申请 #1")
    assert "重新评分：绿码 95分（第2版）" in receipt["card"]["body"]
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "待办")
    assert r["messages"][0]["text"] == "您没有待办的复核申请。"
    # the same request cannot be used twice
    r = await console.client.post(f"/cases/{code}/score", json={
        "deductions": [], "vetoes": [], "review_request": "1"})
    assert r.status == 422


async def test_a_double_submitted_rescore_answers_the_request_once(console: Console) -> None:
    """提交评分 clicked twice, both requests in flight at once: one new version."""
    code, _ = await _file(console, items="1")
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    await console.click(PROSECUTOR, pcard["id"], "review.accept")
    await console.client.post("/console/api/login", json={"user": PROSECUTOR})
    body = {"deductions": [{"item": "causation", "points": 5, "problem": "因果待补",
                            "requirement": "补充鉴定"}], "vetoes": [], "review_request": "1"}
    first, second = await asyncio.gather(
        *(console.client.post(f"/cases/{code}/score", json=body) for _ in range(2)))
    assert sorted([first.status, second.status]) == [201, 422]
    refused = second if second.status == 422 else first
    assert "已重新评分" in (await refused.json())["error"]
    titles = [m["card"]["title"] for m in cards(await console.messages(f"dm:{INV}"))]
    assert titles == [f"案件码 {code} · 红码 66分", "您的复核申请 #1 · 已同意",
                      f"案件码 {code} · 绿码 95分"]  # one new version, not two


async def test_the_joint_review_example_time_lies_ahead(console: Console) -> None:
    """The 评议时间 hint is a time the bot would accept, whatever the date."""
    console.clock.advance(timedelta(days=40))  # Saturday 2026-12-12
    await _file(console)
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    joint = next(a for a in pcard["card"]["actions"] if a["label"] == "提交检警共同评议")
    example = joint["form"][0]["placeholder"].removeprefix("如 ")
    assert example == "2026-12-15 14:30"
    r = await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": "下周"})
    assert r["messages"][-1]["text"].endswith(f"请写成 {example}。")
    r = await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": example})
    assert any(m["text"] and "共同评议" in m["text"] for m in r["messages"])


async def test_joint_review_to_confirmed_outcome(console: Console) -> None:
    _, _ = await _file(console)
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    r = await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": "明天下午"})
    assert "请写成 2026-11-05 14:30" in r["messages"][-1]["text"]
    r = await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": "2026-10-05 14:30"})
    assert "已经过去" in r["messages"][-1]["text"]
    r = await console.click(PROSECUTOR, pcard["id"], "review.joint",
                            {"time": "２０２６年11月5日14时30分"})
    assert any(m["text"] and "共同评议" in m["text"] for m in r["messages"])
    # the other investigator and the county leader are notified with a joint-review card
    for who in (INVESTIGATORS[1], "p-leader-hc"):
        j = await _card(console, f"dm:{who}", "检警共同评议")
        assert "共同评议时间：2026-11-05 14:30" in j["card"]["body"]
    receipt = await _card(console, f"dm:{INV}", "您的复核申请 #1")
    assert receipt["card"]["actions"] == []  # nothing to confirm yet
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    console.clock.advance(timedelta(days=3, hours=5))  # Thursday 11-05 14:30: the meeting
    r = await console.click(PROSECUTOR, pcard["id"], "review.outcome",
                            {"outcome": "维持", "minutes": "双方同意维持原评分", "participants": ""})
    assert "已记录评议结果：维持原评分" in r["messages"][-1]["text"]
    receipt = await _card(console, f"dm:{INV}", "您的复核申请 #1")
    assert [a["label"] for a in receipt["card"]["actions"]] == ["确认评议结果"]
    wrong = await console.click(PROSECUTOR, receipt["id"], "review.confirm")
    assert "不在这张卡片所在的会话中" in wrong["messages"][-1]["text"]
    r = await console.click(INV, receipt["id"], "review.confirm")
    assert r["messages"][-1]["text"] == "已确认共同评议结果。"
    j = await _card(console, "dm:p-leader-hc", "检警共同评议")
    assert "评议完成" in j["card"]["title"] and "维持原评分" in j["card"]["body"]


async def test_one_open_request_per_investigator_and_bad_items(console: Console) -> None:
    code, _ = await _file(console)
    [card] = [m for m in cards(await console.messages(f"dm:{INV}")) if "案件码" in m["card"]["title"]]
    r = await console.click(INV, card["id"], "review.file", {"items": "2", "reason": "再议"})
    assert "已有一个未办结的复核申请（#1" in r["messages"][-1]["text"]
    other = INVESTIGATORS[1]
    [c2] = cards(await console.messages(f"dm:{other}"))
    r = await console.click(other, c2["id"], "review.file", {"items": "9", "reason": "x"})
    assert "不是当前评分中的扣分项" in r["messages"][-1]["text"]
    # a superscript two is a digit to str.isdigit() but not to int(): a refusal, not an error
    r = await console.click(other, c2["id"], "review.file", {"items": "\u00b2", "reason": "x"})
    assert "不是当前评分中的扣分项" in r["messages"][-1]["text"]
    r = await console.click(other, c2["id"], "review.file", {"items": "2", "reason": " "})
    assert r["messages"][-1]["text"] == "请填写复核理由。"
    # the card's items field left empty (or only separators): the answer says what to type
    # there — the card numbers — not to 选择 something the text field has no list for
    for empty in ("", " ，"):
        r = await console.click(other, c2["id"], "review.file", {"items": empty, "reason": "x"})
        assert r["messages"][-1]["text"] == "请填写有异议的扣分项序号（卡片上的 1–3，如「1,2」）。"
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "待办")
    listing, fresh = r["messages"]
    assert "#1" in listing["card"]["body"]
    # a fresh decision card to act on, kept in step with the original
    assert fresh["card"]["title"] == "复核申请 #1 · 待处理"
    assert [a["label"] for a in fresh["card"]["actions"]] == ["同意并调整", "驳回", "提交检警共同评议"]
    r = await console.click(PROSECUTOR, fresh["id"], "review.reject", {"reason": "证据不足"})
    assert "已驳回" in r["messages"][-1]["text"]
    assert [m["card"]["actions"] for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
            if "复核申请 #1" in m["card"]["title"]] == [[], []]
    r = await console.click(INV, card["id"], "review.file", {"items": "2", "reason": "再议"})
    assert "复核申请 #2 已提交" in r["messages"][-1]["text"]
    r = await console.send(INV, f"dm:{INV}", f"复核 {code}")
    assert "待处理" in r["messages"][0]["card"]["body"]
    # withdrawal by the filer ends it; then a new one is allowed
    receipt = await _card(console, f"dm:{INV}", "您的复核申请 #2")
    await console.click(INV, receipt["id"], "review.withdraw")
    r = await console.click(INV, card["id"], "review.file", {"items": "2", "reason": "再议"})
    assert "复核申请 #3 已提交" in r["messages"][-1]["text"]


async def test_two_concurrent_clicks_decide_once(console: Console) -> None:
    await _file(console)
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    a, b = await asyncio.gather(console.click(PROSECUTOR, pcard["id"], "review.accept"),
                                console.click(PROSECUTOR, pcard["id"], "review.accept"))
    replies = [a["messages"][-1]["text"], b["messages"][-1]["text"]]
    assert sum(t.startswith("复核申请 #1") and "已同意" in t for t in replies) == 1, replies
    # the same person's second click (a double tap) is no error to them, whichever way it
    # lost: its button gone from the card, or the decision made as it ran
    assert sum(t == "您已点过「同意并调整」，无需重复操作。" for t in replies) == 1, replies
    notices = [m for m in await console.messages(f"dm:{INV}") if m["text"] and "已同意" in m["text"]]
    assert len(notices) == 1
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    assert "已同意" in pcard["card"]["title"]


def _name(console: Console, pid: str) -> str:
    person = console.app.services.directory.person(pid)
    assert person is not None
    return person.name


async def _texts(console: Console, chat: str) -> list[str]:
    return [m["text"] for m in await console.messages(chat) if m["text"]]


async def test_agreeing_tells_the_prosecutor_to_rescore_and_the_filer_who_will(
        console: Console) -> None:
    """同意并调整: the prosecutor who clicked is the one to re-score — they are told so, and
    how — while the investigator who filed hears that 承办检察官将重新评分."""
    code, _ = await _file(console, items="1")
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    r = await console.click(PROSECUTOR, pcard["id"], "review.accept")
    mine = r["messages"][-1]["text"]
    assert mine.startswith(f"复核申请 #1（{code}）已同意。请您重新评分："), mine
    assert "承办检察官将" not in mine and f"/cases/{code}/score?review=1" in mine
    assert "「去调整评分」" in mine
    assert f"您的复核申请 #1（{code}）已同意，承办检察官将重新评分。" in await _texts(
        console, f"dm:{INV}")


async def test_rejecting_and_calling_a_joint_review_speak_to_each_reader(console: Console) -> None:
    """驳回: the prosecutor hears the reason went to the filer (by name), the filer gets the
    reason. 提交检警共同评议: the filer is asked to attend; the prosecutor hears who was told
    and what is left to them (记录评议结果 after the meeting)."""
    code, _ = await _file(console)
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    r = await console.click(PROSECUTOR, pcard["id"], "review.reject", {"reason": "证据仍不足"})
    assert r["messages"][-1]["text"] == (
        f"复核申请 #1（{code}）已驳回，驳回理由已告知申请人{_name(console, INV)}。")
    assert f"您的复核申请 #1（{code}）已驳回。理由：证据仍不足" in await _texts(console, f"dm:{INV}")

    [card] = [m for m in cards(await console.messages(f"dm:{INV}")) if "案件码" in m["card"]["title"]]
    await console.click(INV, card["id"], "review.file", {"items": "2", "reason": "再议"})
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #2")
    r = await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": "2026-11-05 14:30"})
    assert r["messages"][-1]["text"] == (
        f"复核申请 #2（{code}）已提交检警共同评议，时间：2026-11-05 14:30，"
        f"已通知申请人{_name(console, INV)}、侦查人员{_name(console, INVESTIGATORS[1])}、"
        f"院领导{_name(console, 'p-leader-hc')}。评议后请在卡片上点「记录评议结果」。")
    assert (f"您的复核申请 #2（{code}）已提交检警共同评议，时间：2026-11-05 14:30，请届时参加。"
            in await _texts(console, f"dm:{INV}"))


async def test_a_joint_review_outcome_waits_for_the_meeting_and_says_what_is_missing(
        console: Console) -> None:
    """记录评议结果 before the time everyone was given is refused with that time; after it,
    维持原评分 — the words the cards use — is an outcome (the seed: 由检警双方共同评议决定, and
    keeping the score is one decision it may reach), and each refusal names what is wrong."""
    code, _ = await _file(console)
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": "2026-11-05 14:30"})
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    full = {"outcome": "维持原评分", "minutes": "双方同意维持原评分"}
    r = await console.click(PROSECUTOR, pcard["id"], "review.outcome", full)
    assert r["messages"][-1]["text"] == ("检警共同评议定于 2026-11-05 14:30 举行，尚未到时间；"
                                         "请在评议结束后再记录评议结果。")
    console.clock.advance(timedelta(days=3, hours=5))  # Thursday 11-05 14:30
    for form, refusal in (
            ({"outcome": "维持原评分", "minutes": " "}, "请填写评议纪要。"),
            ({"outcome": "", "minutes": "纪要"}, "请填写评议结果：维持 或 调整。"),
            ({"outcome": "再议", "minutes": "纪要"},
             "评议结果「再议」无效，请填写「维持」（维持原评分）或「调整」（调整评分）。"),
            ({"outcome": "", "minutes": ""}, "请填写评议结果：维持 或 调整；请填写评议纪要。"),
            ({"outcome": "维持", "minutes": "纪" * 2001},
             "评议纪要不能超过 2000 字（现 2001 字），请精简。")):
        r = await console.click(PROSECUTOR, pcard["id"], "review.outcome", form)
        assert r["messages"][-1]["text"] == refusal, form
    r = await console.click(PROSECUTOR, pcard["id"], "review.outcome", full)
    assert r["messages"][-1]["text"] == (
        f"已记录评议结果：维持原评分，已请申请人{_name(console, INV)}确认。")
    receipt = await _card(console, f"dm:{INV}", "您的复核申请 #1")
    assert "评议结果：维持原评分" in receipt["card"]["body"]
    assert [a["label"] for a in receipt["card"]["actions"]] == ["确认评议结果"]
    assert any(t.startswith(f"您的复核申请 #1（{code}）共同评议结果：维持原评分。")
               for t in await _texts(console, f"dm:{INV}"))


async def test_a_joint_review_that_changes_the_score_tells_the_prosecutor_how(
        console: Console) -> None:
    code, _ = await _file(console)
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": "2026-11-05 14:30"})
    console.clock.advance(timedelta(days=4))
    pcard = await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1")
    r = await console.click(PROSECUTOR, pcard["id"], "review.outcome",
                            {"outcome": "调整评分", "minutes": "因果关系已查清"})
    mine = r["messages"][-1]["text"]
    assert mine.startswith("已记录评议结果：调整评分") and "请您重新评分" in mine, mine
    assert f"/cases/{code}/score?review=1" in mine
    assert any(t.startswith(f"您的复核申请 #1（{code}）共同评议结果：调整评分，承办检察官将重新评分。")
               for t in await _texts(console, f"dm:{INV}"))


async def test_a_score_without_deductions_offers_no_review_request(console: Console) -> None:
    """Re-scored to 100 with nothing deducted: nothing is left to dispute, so neither the card
    nor the code page offers 申请复核 (its form led to 「请填写卡片上的序号（1–0）」, the page's
    to a form with nothing to tick), and the page's endpoint says why."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    await evaluate(console, code, GREEN)  # one deduction: the example is that one number
    one = cards(await console.messages(f"dm:{INV}"))[-1]
    review = next(a for a in one["card"]["actions"] if a["id"] == "review.file")
    assert review["form"][0]["label"] == "有异议的扣分项序号，如 1"
    await evaluate(console, code, [])
    new = cards(await console.messages(f"dm:{INV}"))[-1]
    assert new["card"]["title"] == f"案件码 {code} · 绿码 100分"
    assert [a["label"] for a in new["card"]["actions"]] == ["查看详情", "已知悉"]
    link = urlsplit(new["card"]["actions"][0]["url"]).path
    await console.client.post("/console/api/login", json={"user": INV})
    page = await console.client.get(link)
    assert page.status == 200
    html = await page.text()
    assert "无扣分项" in html and "review-form" not in html and "申请复核" not in html
    r = await console.client.post(link + "/review", json={"items": [], "reason": "x"})
    assert r.status == 422
    assert (await r.json())["error"] == f"{code} 当前评分（第3版）没有扣分项，无需申请复核。"
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "待办")
    assert r["messages"][0]["text"] == "您没有待办的复核申请。"


async def test_a_veto_is_offered_once_on_the_code_page_and_filed_once(console: Console) -> None:
    """A veto (一票否决) carries its 存在问题 in its item's entry: the code page's review form
    listed that item twice (「刑事责任能力未查清」 and 「刑事责任能力未查清（一票否决）」), and
    ticking both put it twice on the prosecutor's card."""
    code = await create_case(console)
    await evaluate(console, code, [ded("criminal_capacity", 0, "精神状态存疑", "委托精神病鉴定"),
                                   ded("causation", 8)], vetoes=["criminal_capacity"])
    [card] = cards(await console.messages(f"dm:{INV}"))
    link = urlsplit(card["card"]["actions"][0]["url"]).path
    await console.client.post("/console/api/login", json={"user": INV})
    html = await (await console.client.get(link)).text()
    boxes = re.findall(r'name="items" value="(\w+)"> ([^<]+)</label>', html)
    assert boxes == [("criminal_capacity", "刑事责任能力未查清（一票否决）"), ("causation", "因果关系")]
    r = await console.client.post(link + "/review", json={
        "items": ["criminal_capacity", "criminal_capacity"], "reason": "已作精神病鉴定"})
    assert r.status == 201
    body = (await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1"))["card"]["body"]
    assert body.count("刑事责任能力未查清") == 1


async def test_the_note_is_capped_like_the_reason_on_the_card_and_the_page(
        console: Console) -> None:
    """补充说明 had no limit: any length went onto the prosecutor's card and into the database.
    Now it has the reason's (cases.review_reason_max, 500), refused by name on both forms."""
    limit = console.app.settings.config.cases.review_reason_max
    code = await create_case(console)
    await evaluate(console, code, RED)
    [card] = cards(await console.messages(f"dm:{INV}"))
    r = await console.click(INV, card["id"], "review.file",
                            {"items": "1", "reason": "监控已调取", "note": "补" * (limit + 1)})
    assert r["messages"][-1]["text"] == f"补充说明不能超过 {limit} 字（现 {limit + 1} 字）。"
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "待办")
    assert r["messages"][0]["text"] == "您没有待办的复核申请。"
    # the code page's form has the field too, with the same limit
    link = urlsplit(card["card"]["actions"][0]["url"]).path
    await console.client.post("/console/api/login", json={"user": INV})
    assert 'name="note"' in await (await console.client.get(link)).text()
    items = ["causation"]
    r = await console.client.post(link + "/review", json={
        "items": items, "reason": "监控已调取", "note": "补" * (limit + 1)})
    assert r.status == 422
    assert (await r.json())["error"] == f"补充说明不能超过 {limit} 字（现 {limit + 1} 字）。"
    r = await console.client.post(link + "/review", json={"items": items, "reason": "x", "note": 5})
    assert r.status == 400
    note = "鉴定意见书已补充" + "。" * (limit - 8)
    r = await console.client.post(link + "/review", json={
        "items": items, "reason": "监控已调取", "note": note})
    assert r.status == 201, await r.text()
    body = (await _card(console, f"dm:{PROSECUTOR}", "复核申请 #1"))["card"]["body"]
    assert note in body


async def test_item_numbers_joined_as_people_write_them(console: Console) -> None:
    """1和3, ①③, 1 及 3 read like 1，3, and so does a list ended like a sentence (第1项、第3项。);
    the 补充说明 is said once, for the whole request."""
    for n, typed in enumerate(("1和3", "①③", "1 及 3", "1、3", "第1项与第3项", "第１项、第３项。",
                               "1,3."), 1):
        code = await create_case(console)
        await evaluate(console, code, RED)
        delivery = await _card(console, f"dm:{INV}", f"案件码 {code}")
        r = await console.click(INV, delivery["id"], "review.file",
                                {"items": typed, "reason": "监控已调取", "note": "鉴定意见已补"})
        assert f"复核申请 #{n} 已提交" in r["messages"][-1]["text"], (typed, r)
        body = (await _card(console, f"dm:{PROSECUTOR}", f"复核申请 #{n}"))["card"]["body"]
        assert "· 犯罪事实与行为（−16分）\n· 因果关系（−8分）\n" in body, (typed, body)
        assert body.count("鉴定意见已补") == 1 and "补充说明：鉴定意见已补" in body, body


async def test_joint_review_times_without_a_year_or_in_words(console: Console) -> None:
    """Monday 2026-11-02 09:30: dates without the year and 明天/周五 are read against today;
    a time already past is refused."""
    times = (("12月6日 14:30", "2026-12-06 14:30"), ("12月6日14:30", "2026-12-06 14:30"),
             ("12.6 14:30", "2026-12-06 14:30"), ("明天下午3点", "2026-11-03 15:00"),
             ("周五上午10点", "2026-11-06 10:00"))
    for n, (typed, meant) in enumerate(times, 1):
        code = await create_case(console)
        await evaluate(console, code, RED)
        delivery = await _card(console, f"dm:{INV}", f"案件码 {code}")
        await console.click(INV, delivery["id"], "review.file", {"items": "1", "reason": "有异议"})
        pcard = await _card(console, f"dm:{PROSECUTOR}", f"复核申请 #{n}")
        r = await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": "今天上午8点"})
        assert r["messages"][-1]["text"] == "共同评议时间 2026-11-02 08:00 已经过去，请填写之后的时间。"
        r = await console.click(PROSECUTOR, pcard["id"], "review.joint", {"time": typed})
        assert f"已提交检警共同评议，时间：{meant}" in r["messages"][-1]["text"], (typed, r)
