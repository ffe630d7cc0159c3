"""Case codes end to end through the REST API and the console API (SPEC §1)."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import zxingcpp
from PIL import Image

from tests.cases.helpers import (
    AUTH,
    GREEN,
    INVESTIGATORS,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    ded,
    evaluate,
)
from tests.conftest import Console


async def test_red_then_green_then_intake_passes(console: Console) -> None:
    code = await create_case(console)
    assert code.startswith("HY-2026-")
    r = await evaluate(console, code, RED)
    assert r == {"version": 1, "score": 66, "color": "red"}

    # each investigator's DM has the card: colour, score, deductions, QR, three buttons
    for inv in INVESTIGATORS:
        [card_msg] = cards(await console.messages(f"dm:{inv}"))
        card = card_msg["card"]
        assert card["color"] == "red" and "红码 66分" in card["title"] and code in card["title"]
        assert "嫌疑人零口供，痕迹物证灭失" in card["body"] and "补侦要求" in card["body"]
        assert card["image"] and card["image"].endswith(".png")
        assert [a["label"] for a in card["actions"]] == ["查看详情", "申请复核", "已知悉"]
        assert card["actions"][0]["url"].split("/c/")[1]

    # 已知悉 records who and when and updates the card in place (the button disappears)
    inv = INVESTIGATORS[0]
    [msg] = cards(await console.messages(f"dm:{inv}"))
    r2 = await console.click(inv, msg["id"], "case.ack")
    assert "已确认知悉" in r2["messages"][-1]["text"]
    [updated] = [m for m in await console.messages(f"dm:{inv}") if m["id"] == msg["id"]]
    assert [a["label"] for a in updated["card"]["actions"]] == ["查看详情", "申请复核"]
    assert updated["card"]["footer"].startswith("已知悉：")
    # their second tap (a double tap) is told it is done, calmly, and records nothing more
    again = await console.click(inv, msg["id"], "case.ack")
    assert [m["text"] for m in again["messages"]] == ["您已点过「已知悉」，无需重复操作。"]
    [same] = [m for m in await console.messages(f"dm:{inv}") if m["id"] == msg["id"]]
    assert same["card"] == updated["card"]

    # re-score green: a 转码 is recorded and delivered
    assert (await evaluate(console, code, GREEN))["color"] == "green"
    # the acknowledged card is retired: a tap on it now says so, not that it was done
    stale = await console.click(inv, msg["id"], "case.ack")
    assert stale["messages"][-1]["text"].startswith("该按钮已失效：") and (
        "已更新为第2版" in stale["messages"][-1]["text"])
    latest = cards(await console.messages(f"dm:{inv}"))[-1]["card"]
    assert latest["color"] == "green" and latest["body"].startswith("转码：红码 → 绿码")
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    assert detail["color"] == "green" and detail["score"] == 95
    assert [h["color"] for h in detail["history"]] == ["red", "green"]
    assert detail["transcodes"][0]["from"] == "red" and detail["transcodes"][0]["to"] == "green"

    # the case manager scans it at intake: 放行
    r3 = await console.send("p-case-manager-1", "dm:p-case-manager-1", f"受理 {code}")
    assert "放行" in r3["messages"][0]["card"]["title"]
    for inv in INVESTIGATORS:  # the police learn their case was accepted
        notice = cards(await console.messages(f"dm:{inv}"))[-1]["card"]
        assert notice["title"] == f"受理结果 {code} · 放行" and "案件已受理" in notice["body"]


async def test_yellow_intake_waits_for_prosecutor(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    r = await console.send("p-case-manager-1", "dm:p-case-manager-1", f"受理 {code}")
    assert "待定" in r["messages"][0]["card"]["title"]
    pending = cards(await console.messages(f"dm:{PROSECUTOR}"))[-1]
    assert "受理结果" not in cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))[-1]["card"]["title"]
    assert [a["label"] for a in pending["card"]["actions"]] == ["延期受理", "先收后补"]
    # only the prosecutor decides: another person's click changes nothing
    wrong = await console.click("p-case-manager-1", pending["id"], "intake.receive")
    assert "不在这张卡片所在的会话中" in wrong["messages"][-1]["text"]
    # the refusal reaches the clicker alone, not the prosecutor's private chat
    assert wrong["messages"][-1]["chat"] == "dm:p-case-manager-1"
    assert not any(m["text"] and "不在这张卡片" in m["text"]
                   for m in await console.messages(f"dm:{PROSECUTOR}"))
    res = await console.click(PROSECUTOR, pending["id"], "intake.receive")
    assert "先收后补" in res["messages"][-1]["text"]
    [done] = [m for m in await console.messages(f"dm:{PROSECUTOR}") if m["id"] == pending["id"]]
    assert done["card"]["actions"] == [] and "先收后补" in done["card"]["title"]
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    assert [i["decision"] for i in detail["intake"]] == ["待定", "先收后补"]
    notice = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))[-1]["card"]
    assert notice["title"] == f"受理结果 {code} · 先收后补" and "请在审查起诉期间补充完善" in notice["body"]


async def test_a_yellow_intake_is_decided_once_however_many_cards_ask(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    for _ in range(2):  # the case manager scans twice: the prosecutor gets a second card (再次提醒)
        await console.send("p-case-manager-1", "dm:p-case-manager-1", f"受理 {code}")
    first, second = cards(await console.messages(f"dm:{PROSECUTOR}"))[-2:]
    await console.click(PROSECUTOR, first["id"], "intake.defer")
    # the second card shows the choice already; its old button decides nothing
    [stale] = [m for m in await console.messages(f"dm:{PROSECUTOR}") if m["id"] == second["id"]]
    assert stale["card"]["actions"] == [] and stale["card"]["title"].endswith("· 延期受理")
    res = await console.click(PROSECUTOR, second["id"], "intake.receive")
    assert res["messages"][-1]["text"].startswith("该按钮已失效")
    detail = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
    # the second scan reminded the prosecutor; it was no second 待定 decision
    assert [i["decision"] for i in detail["intake"]] == ["待定", "延期受理"]
    told = await console.messages("dm:p-case-manager-1")
    assert any(m["text"] and "已决定：延期受理" in m["text"] for m in told)


async def test_a_rescore_in_the_same_colour_reaches_the_investigators_and_retires_old_cards(
        console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)  # 85
    [old] = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))
    assert "case.ack" in [a["id"] for a in old["card"]["actions"]]
    await evaluate(console, code, [*YELLOW[:1]])  # 90: still yellow, one item fewer
    retired, new = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))
    assert retired["id"] == old["id"] and retired["card"]["actions"] == []
    assert "已更新为第2版" in retired["card"]["footer"]
    assert "90" in new["card"]["title"] + new["card"]["body"]
    assert new["card"]["body"].startswith("已销号：因果关系\n")  # what the investigators fixed
    assert "case.ack" in [a["id"] for a in new["card"]["actions"]]
    await console.client.post("/console/api/login", json={"user": INVESTIGATORS[0]})
    page = await (await console.client.get(urlsplit(new["card"]["actions"][0]["url"]).path)).text()
    assert "已销号：因果关系" in page  # and the code page's timeline says so too
    # the review form says who answers first: the prosecutor, then (if need be) both sides
    assert "承办检察官将复核答复" in page and "由检警双方共同评议决定" not in page
    r = await console.click(INVESTIGATORS[0], old["id"], "case.ack")
    # what became of the card, not its unchanged title as if it were the news
    assert r["messages"][-1]["text"] == (
        f"该按钮已失效：「{retired['card']['title']}」已更新为第2版，请以最新卡片为准。")


async def test_each_rescore_retires_every_investigators_previous_card_only(
        console: Console) -> None:
    code = await create_case(console)
    for deductions in (YELLOW, [*YELLOW[:1]], GREEN):  # versions 1, 2, 3
        await evaluate(console, code, deductions)
    for inv in INVESTIGATORS:
        first, second, third = cards(await console.messages(f"dm:{inv}"))
        # each card was retired by the version after it, and only the latest can be acted on
        assert first["card"]["actions"] == [] and "已更新为第2版" in first["card"]["footer"]
        assert second["card"]["actions"] == [] and "已更新为第3版" in second["card"]["footer"]
        assert "case.ack" in [a["id"] for a in third["card"]["actions"]]


async def test_red_intake_is_returned_with_open_deductions(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, RED)
    r = await console.send("p-case-manager-1", "dm:p-case-manager-1", f"受理 {code}")
    card = r["messages"][0]["card"]
    assert "退回" in card["title"] and "嫌疑人零口供" in card["body"] and "因果关系" in card["body"]
    # 红码退回 at intake is not the procedural 退回补充侦查 (a decision after acceptance, the
    # seed's 退补率): the case is not accepted and goes back to the police
    assert "退回补充侦查" not in card["body"] and "退回侦查机关" in card["body"]
    for inv in INVESTIGATORS:  # the police are told, with what to complete before sending it again
        notice = cards(await console.messages(f"dm:{inv}"))[-1]["card"]
        assert notice["title"] == f"受理结果 {code} · 退回" and notice["color"] == "red"
        assert "重新移送" in notice["body"] and "嫌疑人零口供" in notice["body"]
        assert [a["label"] for a in notice["actions"]] == ["查看详情"]


async def test_veto_is_red_whatever_the_score(console: Console) -> None:
    code = await create_case(console)
    veto = ded("criminal_capacity", 0, "精神状况存疑，未作鉴定", "委托司法精神病鉴定")
    r = await evaluate(console, code, [veto], vetoes=["criminal_capacity"])
    assert r == {"version": 1, "score": 100, "color": "red"}
    card = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))[0]["card"]
    body = card["body"]
    assert "1. 刑事责任能力未查清  一票否决" in body
    # "红码 100分" alone reads as a contradiction: the title says why the code is red
    assert card["title"].endswith("红码 100分（一票否决）")
    assert "存在问题：精神状况存疑，未作鉴定" in body and "补侦要求：委托司法精神病鉴定" in body


async def test_a_veto_says_what_the_investigators_must_do(console: Console) -> None:
    """A bare veto gave investigators a red card with nothing to act on: it needs 存在问题 and
    补侦要求 on its item; 0 points are allowed only on a vetoed item."""
    code = await create_case(console)
    r = await evaluate(console, code, [], vetoes=["criminal_capacity"], status=422)
    assert r["error"] == "输入有误：否决项「刑事责任能力未查清」须在该项填写存在问题和补侦要求（扣分可填 0）"
    r = await evaluate(console, code, [ded("causation", 0)], status=422)
    assert r["errors"] == [{"field": "deductions[0].points", "reason": "扣分须在 1 到 8 之间"}]
    r = await evaluate(console, code, [ded("criminal_capacity", 5)], vetoes=["criminal_capacity"])
    assert r == {"version": 1, "score": 95, "color": "red"}
    body = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))[0]["card"]["body"]
    assert "1. 刑事责任能力未查清  −5分 · 一票否决" in body and "补侦要求：补充取证" in body


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_api_examples() -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """The README's curl examples of the integration API: (body, path, the answer its
    comment shows)."""
    text = README.read_text(encoding="utf-8").split("The integration API", 1)[1]
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    return [(json.loads(m[1]), m[2], json.loads(m[3])) for m in re.finditer(
        r"-d '(.*?)' \\\n\s*localhost:8080(\S+)\s+#[^{\n]*(\{[^\n]*\})", block, re.S)]


async def test_a_veto_is_recorded_as_the_readme_and_the_openapi_say(console: Console) -> None:
    """The README said a veto item "may deduct 0 points", and an integrator sent 0 points on
    刑事责任能力未查清 alone: refused with 扣分须在 1 到 12 之间, which did not say that the item
    must be listed in vetoes. The README's examples, run as written, give the answers shown."""
    examples = readme_api_examples()
    assert [path for _, path, _ in examples] == [
        "/api/v1/cases", *["/api/v1/cases/HY-2026-0005/evaluations"] * 2]
    (create, _, _), *evaluations = examples
    r = await console.client.post("/api/v1/cases", headers=AUTH, json=create)
    assert r.status == 201, await r.text()
    code = (await r.json())["code"]
    for body, path, answer in evaluations:
        r = await console.client.post(path.replace("HY-2026-0005", code), headers=AUTH, json=body)
        assert (r.status, await r.json()) == (201, answer), body
    assert evaluations[1][0]["vetoes"] == ["criminal_capacity"]
    body = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))[-1]["card"]["body"]
    assert "刑事责任能力未查清  一票否决" in body and "委托司法精神病鉴定" in body
    # 0 points without the veto: the refusal says how to record one
    r = await evaluate(console, code, [ded("criminal_capacity", 0)], status=422)
    assert r["errors"] == [{"field": "deductions[0].points", "reason":
                            "扣分须在 1 到 12 之间（记一票否决：把该项列入 vetoes，扣分可填 0）"}]
    spec = await (await console.client.get("/api/v1/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert "vetoes" in schemas["Deduction"]["properties"]["points"]["description"]
    assert "0 points" in schemas["NewEvaluation"]["properties"]["vetoes"]["description"]


async def test_chat_commands_code_and_my_cases(console: Console) -> None:
    code = await create_case(console)
    await evaluate(console, code, YELLOW)
    r = await console.send(INVESTIGATORS[1], f"dm:{INVESTIGATORS[1]}", f"码 {code.lower()}")
    card = r["messages"][0]["card"]
    assert card["color"] == "yellow" and "黄码 85分" in card["title"]
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "我的案件")
    assert code in r["messages"][0]["card"]["body"] and "黄码 85分" in r["messages"][0]["card"]["body"]
    # pasting the code link shows the card too
    link = card["actions"][0]["url"]
    r = await console.send(INVESTIGATORS[1], f"dm:{INVESTIGATORS[1]}", f"请看 {link}")
    assert r["messages"][0]["card"]["title"] == card["title"]
    r = await console.send(INVESTIGATORS[1], f"dm:{INVESTIGATORS[1]}", link[:-3] + "xyz")
    assert "链接无效" in r["messages"][0]["text"]
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", f"评分 {code}")
    assert r["messages"][0]["card"]["actions"][0]["url"].endswith(f"/cases/{code}/score")


async def test_bad_chat_input_gets_short_answers(console: Console) -> None:
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "码")
    assert r["messages"][0]["text"] == "用法：码 案件码，如：码 HY-2026-0001"
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "码 12345")
    assert "案件码格式不对" in r["messages"][0]["text"]
    r = await console.send(PROSECUTOR, f"dm:{PROSECUTOR}", "码 HY-2026-9999")
    assert "未找到案件码 HY-2026-9999" in r["messages"][0]["text"]


async def test_statistics_card_page_and_csv(console: Console) -> None:
    a, b = await create_case(console), await create_case(console, title="徐某某销售假冒注册商标商品案")
    await evaluate(console, a, RED)
    await evaluate(console, a, GREEN)
    await evaluate(console, b, YELLOW)
    await console.send("p-case-manager-1", "dm:p-case-manager-1", f"受理 {a}")
    r = await console.send("p-leader-hc", "dm:p-leader-hc", "统计")
    body = r["messages"][0]["card"]["body"]
    assert "案件总数：2" in body and "黄码 1" in body and "绿码 1" in body
    assert "转码次数：1" in body and "受理时绿码占比：100%" in body
    await console.client.post("/console/api/login", json={"user": "p-leader-hc"})
    page = await console.client.get("/stats")
    assert page.status == 200 and "案件 2 件" in await page.text()
    raw = await (await console.client.get("/stats.csv")).read()
    assert raw.startswith("\ufeff".encode())  # Excel needs the BOM to read UTF-8
    csv_text = raw.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("分组,名称,案件数,红码,黄码,绿码")
    assert "合计,全部,2,0,1,1,0,1" in csv_text and "受理时绿码占比,100%" in csv_text


async def test_statistics_bar_shows_unscored_cases_too(console: Console) -> None:
    """The colour bar on /stats covers every case: unscored ones are a grey part, not a gap."""
    scored = await create_case(console)
    await evaluate(console, scored, YELLOW)
    await create_case(console, title="徐某某销售假冒注册商标商品案")
    await console.client.post("/console/api/login", json={"user": "p-leader-hc"})
    html = await (await console.client.get("/stats")).text()
    segments = re.findall(r'<span class="seg (\w+)" style="width:([\d.]+)%">', html)
    widths = {colour: float(w) for colour, w in segments}
    assert widths == {"yellow": 50, "unscored": 50}  # yellow half, unscored half


async def test_an_expired_code_link_still_leads_to_the_case(console: Console) -> None:
    """An old card in the chat history of a case since closed: its link and QR have expired
    (30 days; an open case's live as long as it is open). Pasting the
    link gets the current card; the page says how to get a fresh code; the QR turns grey
    instead of breaking, and still scans to that page. A forged link stays refused."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    inv = INVESTIGATORS[0]
    old = cards(await console.messages(f"dm:{inv}"))[0]["card"]
    link, image = old["actions"][0]["url"], old["image"]
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH, json={"status": "closed"})
    assert r.status == 200
    console.clock.advance(timedelta(days=31))

    r = await console.send(inv, f"dm:{inv}", link)
    note, card = r["messages"]
    assert note["text"] == "该链接已过期，以下为最新案件码。"
    assert card["card"]["title"] == old["title"] and card["card"]["actions"][0]["url"] != link
    assert card["card"]["footer"] == "案件已结案（2026-11-02）"

    await console.client.post("/console/api/login", json={"user": inv})
    page = await console.client.get(urlsplit(link).path)
    assert page.status == 410
    assert f"链接已过期。请在聊天中发送「码 {code}」获取最新卡片。" in await page.text()
    # a review form opened before the link expired, submitted after: not filed, and says why
    r = await console.client.post(urlsplit(link).path + "/review",
                                  json={"items": ["causation"], "reason": "已补充"})
    assert r.status == 410 and (await r.json())["error"] == (
        f"复核申请未提交：链接已过期。请在聊天中发送「码 {code}」获取最新卡片。")
    qr = await console.client.get(urlsplit(image).path)
    assert qr.status == 200 and qr.headers["Cache-Control"] == "no-store"
    picture = Image.open(io.BytesIO(await qr.read())).convert("RGB")
    [barcode] = zxingcpp.read_barcodes(picture)
    assert barcode.text == link
    darkest = min((c for _, c in picture.getcolors() or []), key=sum)
    assert max(darkest) - min(darkest) < 16  # grey: the code's colour is gone

    forged = urlsplit(link).path[:-3] + "xyz"
    refused = await console.client.get(forged)
    assert refused.status == 403 and code not in await refused.text()  # names nothing
    r = await console.client.post(forged + "/review", json={"items": ["causation"],
                                                            "reason": "已补充"})
    assert r.status == 403 and code not in (await r.json())["error"]
    r = await console.send(inv, f"dm:{inv}", "http://x" + forged)
    assert "链接无效" in r["messages"][0]["text"]


async def test_the_case_api_and_code_page_say_when_the_case_was_closed(
        console: Console) -> None:
    """Closing records when (the API in UTC, the code page in Beijing time); the system sending
    its close again keeps that time; reopening clears it."""
    code = await create_case(console)
    await evaluate(console, code, YELLOW)

    async def patch(status: str) -> None:
        r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                       json={"status": status})
        assert r.status == 200, await r.text()

    async def detail() -> tuple[str, str | None]:
        d = await (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).json()
        return d["status"], d["closed_at"]

    async def page() -> str:
        await console.client.post("/console/api/login", json={"user": INVESTIGATORS[0]})
        [card] = cards(await console.messages(f"dm:{INVESTIGATORS[0]}"))
        return await (await console.client.get(
            urlsplit(card["card"]["actions"][0]["url"]).path)).text()

    assert await detail() == ("open", None) and "结案时间" not in await page()
    await console.advance("1d")
    closed_at = console.clock.now().isoformat()
    await patch("closed")
    assert await detail() == ("closed", closed_at)
    assert re.search(r"<dt>结案时间</dt><dd[^>]*>2026-11-03 09:30</dd>", await page())
    await console.advance("1d")
    await patch("closed")  # the system sends its close again
    assert await detail() == ("closed", closed_at)
    await patch("open")
    assert await detail() == ("open", None) and "结案时间" not in await page()
