"""An investigator with a review request of their own still open on the case (复核申请 #n:
待处理, 共同评议, 评议完成待确认) is not offered a second one only to be refused on submit: the
code page shows that request (number, status, disputed items, answer deadline, what they may
do about it) instead of the 申请复核 form, and the card's 申请复核 says so first, whatever
items were typed. The rule is the one submitting applies: once the request is withdrawn or
answered, the form is back."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from tests.cases.helpers import INVESTIGATORS, PROSECUTOR, RED, YELLOW, cards, create_case, evaluate
from tests.conftest import Console

INV, OTHER = INVESTIGATORS


def text_of(html: str, element_id: str) -> str | None:
    """The text of the element with this id (tags dropped, spaces squeezed); None: absent."""
    m = re.search(rf'<(\w+)[^>]* id="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    return None if m is None else " ".join(re.sub(r"<[^>]+>", " ", m.group(2)).split())


async def code_card(console: Console, user: str) -> dict[str, Any]:
    return next(m for m in cards(await console.messages(f"dm:{user}"))
                if m["card"]["title"].startswith("案件码"))


async def page(console: Console, user: str) -> str:
    link = (await code_card(console, user))["card"]["actions"][0]["url"]
    await console.client.post("/console/api/login", json={"user": user})
    r = await console.client.get(urlsplit(link).path)
    assert r.status == 200, await r.text()
    return await r.text()


async def receipt(console: Console) -> dict[str, Any]:
    return next(m for m in cards(await console.messages(f"dm:{INV}"))
                if m["card"]["title"].startswith("您的复核申请 #1"))


async def test_the_page_shows_the_open_request_instead_of_the_form(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    assert 'id="review-form"' in await page(console, INV)  # nothing filed yet: the form
    card = await code_card(console, INV)
    r = await console.click(INV, card["id"], "review.file",
                            {"items": "1,3", "reason": "监控已调取，事实清楚"})
    assert r["messages"][-1]["text"] == (
        "复核申请 #1 已提交，承办检察官将在 2026-11-05（周四）18:00 前答复。")

    html = await page(console, INV)
    assert 'id="review-form"' not in html and "提交复核申请" not in html
    assert "您的复核申请 #1 · <span id=\"open-review-state\">待处理</span>" in html
    assert text_of(html, "open-review-items") == "犯罪事实与行为（−16分） 因果关系（−8分）"
    assert text_of(html, "open-review-due") == "2026-11-05（周四）18:00 前"
    assert "监控已调取，事实清楚" in html
    assert text_of(html, "open-review-next") == (
        "该申请办结前不能再次申请复核。如需撤回，请在与 casebot 的单聊中「您的复核申请 #1 · 待处理」"
        "卡片上点「撤回申请」；撤回后可重新申请复核。")
    # the other investigator of the case has filed nothing: the form, not #1
    other = await page(console, OTHER)
    assert 'id="review-form"' in other and 'id="open-review"' not in other

    # the card's 申请复核 says the same first, before anything about the items typed
    for items in ("", "9", "1"):
        r = await console.click(INV, card["id"], "review.file", {"items": items, "reason": ""})
        assert r["messages"][-1]["text"] == (
            f"您对 {code} 已有一个未办结的复核申请（#1，待处理），请等待处理或先撤回。"), items

    # withdrawn, as the page says: the form is back and a new request may be filed
    r = await console.click(INV, (await receipt(console))["id"], "review.withdraw")
    assert r["messages"][-1]["text"] == "已撤回复核申请。"
    html = await page(console, INV)
    assert 'id="review-form"' in html and 'id="open-review"' not in html
    r = await console.click(INV, card["id"], "review.file", {"items": "2", "reason": "后果已查明"})
    assert r["messages"][-1]["text"].startswith("复核申请 #2 已提交")


async def test_a_joint_review_cannot_be_withdrawn_and_the_page_says_so(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    card = await code_card(console, INV)
    await console.click(INV, card["id"], "review.file", {"items": "1", "reason": "监控已调取"})
    [decision] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
                  if m["card"]["title"].startswith("复核申请 #1")]
    await console.click(PROSECUTOR, decision["id"], "review.joint", {"time": "2026-11-05 14:30"})

    html = await page(console, INV)
    assert 'id="review-form"' not in html
    assert "<span id=\"open-review-state\">共同评议</span>" in html
    assert text_of(html, "open-review-next") == (
        "该申请办结前不能再次申请复核。已提交检警共同评议（2026-11-05 14:30），"
        "评议后由承办检察官记录结果；共同评议中的申请不能撤回。")
    r = await console.click(INV, card["id"], "review.file", {"items": "2", "reason": "再议"})
    assert r["messages"][-1]["text"] == (
        f"您对 {code} 已有一个未办结的复核申请（#1，共同评议），请等待办结。")

    # rejected instead: nothing open any more, the form is back
    code2 = await create_case(console, title="徐某某销售假冒注册商标商品案")
    await evaluate(console, code2, RED)
    card2 = next(m for m in cards(await console.messages(f"dm:{OTHER}"))
                 if m["card"]["title"].startswith(f"案件码 {code2}"))
    await console.click(OTHER, card2["id"], "review.file", {"items": "1", "reason": "有监控"})
    [decision2] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
                   if m["card"]["title"].startswith("复核申请 #2")]
    await console.click(PROSECUTOR, decision2["id"], "review.reject", {"reason": "监控不清晰"})
    link = card2["card"]["actions"][0]["url"]
    await console.client.post("/console/api/login", json={"user": OTHER})
    html = await (await console.client.get(urlsplit(link).path)).text()
    assert 'id="review-form"' in html and 'id="open-review"' not in html


async def test_an_agreed_request_waits_for_the_rescore_before_another(console: Console) -> None:
    """同意并调整 clicked, the re-score not made yet: the filer cannot dispute the same items
    again (a second request, a second answer deadline); the page says the re-score is coming.
    Once re-scored, the form is back for the new code."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    card = await code_card(console, INV)
    await console.click(INV, card["id"], "review.file", {"items": "1,2", "reason": "监控已调取"})
    [decision] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
                  if m["card"]["title"].startswith("复核申请 #1")]
    await console.click(PROSECUTOR, decision["id"], "review.accept")

    waiting = (f"您对 {code} 的复核申请 #1 已同意调整，正等待承办检察官重新评分；"
               "重新评分后新的案件码将发给您，届时仍有异议可再申请复核。")
    r = await console.click(INV, card["id"], "review.file", {"items": "1", "reason": "再次申请"})
    assert r["messages"][-1]["text"] == waiting
    html = await page(console, INV)
    assert 'id="review-form"' not in html
    assert "<span id=\"open-review-state\">已同意</span>" in html
    assert "正等待承办检察官重新评分" in (text_of(html, "open-review-next") or "")

    # what is left is the prosecutor's re-score: the investigator's 待办 and 复核 say so, with
    # no link to a score form they could not open
    for command in ("待办", f"复核 {code}"):
        listed = (await console.send(INV, f"dm:{INV}", command))["messages"][0]["card"]["body"]
        assert "#1" in listed and "等待承办检察官重新评分" in listed, listed
        assert "/score" not in listed, listed
    listed = (await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "待办"))["messages"][0]
    assert f"/cases/{code}/score?review=1" in listed["card"]["body"]

    # the re-score (changes a disputed item, so answers #1): a new card, the form back
    await evaluate(console, code, YELLOW)
    newest = [m for m in cards(await console.messages(f"dm:{INV}"))
              if m["card"]["title"].startswith("案件码")][-1]
    r = await console.click(INV, newest["id"], "review.file", {"items": "1", "reason": "仍有异议"})
    assert r["messages"][-1]["text"].startswith("复核申请 #2 已提交")
