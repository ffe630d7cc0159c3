"""新建案件: a prosecutor creates a case in chat. The command answers with a card whose button
opens the form /cases/new (the web session says who is looking, as the score form); the form
creates the case through the same rules as the integration API, once per form however often it
is submitted, tells the prosecutor in their 1:1 chat and goes on to the score form. The
investigators hear nothing until the first scoring."""

from __future__ import annotations

import asyncio
import html
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from bot.directory import Directory
from bot.web.new_case import investigator_groups
from config.model import Org, Person, Unit
from storage import cases as repo
from storage.models import AuditRecord
from tests.cases.helpers import AUTH, INVESTIGATORS, PROSECUTOR, RED, cards, evaluate
from tests.conftest import Console

INVESTIGATOR = INVESTIGATORS[0]  # 胡宇, 海澄县公安局刑事侦查大队 (ps-hc-xd)
OTHER_UNIT_INVESTIGATOR = "p-investigator-4"  # 萧宇梅, 海澄县公安局 (ps-hc)
VALID: dict[str, Any] = {
    "title": "张某某涉嫌盗窃案", "stage": "提前介入", "investigators": INVESTIGATORS,
    "investigation_deadline": "2026-12-20", "custody_deadline": "2026-12-31",
    "external_id": "A3301000000002026110001"}
TWO_UNITS = "所选侦查人员须属于同一侦查单位，现分属：示范市海澄县公安局刑事侦查大队、示范市海澄县公安局"


async def ask(console: Console, text: str, user: str = PROSECUTOR,
              chat: str | None = None) -> list[dict[str, Any]]:
    return list((await console.send(user, chat or f"dm:{user}", text))["messages"])


async def login(console: Console, user: str) -> None:
    r = await console.client.post("/console/api/login", json={"user": user})
    assert r.status == 200


async def open_form(console: Console, query: str = "") -> tuple[str, str]:
    """GET /cases/new as whoever is logged in: (the page, its one-time token)."""
    r = await console.client.get("/cases/new" + query)
    assert r.status == 200, await r.text()
    page = await r.text()
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found is not None
    return page, found.group(1)


async def submit(console: Console, token: str, **over: Any) -> tuple[int, dict[str, Any]]:
    r = await console.client.post("/cases/new", json={**VALID, "token": token, **over})
    data: dict[str, Any] = await r.json()
    return r.status, data


async def case_json(console: Console, code: str) -> dict[str, Any]:
    r = await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)
    assert r.status == 200, await r.text()
    data: dict[str, Any] = await r.json()
    return data


async def case_exists(console: Console, code: str) -> bool:
    return (await console.client.get(f"/api/v1/cases/{code}", headers=AUTH)).status == 200


def reasons(data: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in data["errors"]}


# -- the command --------------------------------------------------------------------------------

async def test_the_command_gives_the_prosecutor_the_form(console: Console) -> None:
    [msg] = await ask(console, "新建案件")
    card = msg["card"]
    assert msg["chat"] == f"dm:{PROSECUTOR}" and card["title"] == "新建案件"
    assert "评分后，案件码才会发送给侦查人员" in card["body"]
    [button] = card["actions"]
    assert button["label"] == "填写案件信息"
    assert button["url"] == str(console.client.make_url("/cases/new"))


async def test_text_after_the_command_prefills_the_title(console: Console) -> None:
    await login(console, PROSECUTOR)
    for typed in ("新建案件 张某某涉嫌盗窃案", "新建案件张某某涉嫌盗窃案", "录入案件 张某某涉嫌盗窃案",
                  "新案件张某某涉嫌盗窃案", "新建案件：张某某涉嫌盗窃案",
                  "@casebot 新建案件 张某某涉嫌盗窃案",
                  # the punctuation people type after the command is not part of the title
                  "新建案件，张某某涉嫌盗窃案", "新建案件,张某某涉嫌盗窃案", "新建案件、张某某涉嫌盗窃案",
                  "新建案件；张某某涉嫌盗窃案", "新建案件;张某某涉嫌盗窃案", "新建案件。张某某涉嫌盗窃案",
                  "新建案件 ：张某某涉嫌盗窃案", "新建案件\u3000，\u3000张某某涉嫌盗窃案",
                  "新建案件：，张某某涉嫌盗窃案"):
        [msg] = await ask(console, typed)
        card = msg["card"]
        assert card["title"] == "新建案件", typed
        assert card["body"].startswith("案件名称：张某某涉嫌盗窃案（已预填，可修改）"), typed
        url = urlsplit(card["actions"][0]["url"])
        assert url.path == "/cases/new" and parse_qs(url.query) == {"title": ["张某某涉嫌盗窃案"]}
        page, _ = await open_form(console, f"?{url.query}")
        assert 'name="title" maxlength="200" value="张某某涉嫌盗窃案"' in page
    # punctuation inside or at the end of the title is the title's
    [msg] = await ask(console, "新建案件，张某、李某盗窃案。")
    assert parse_qs(urlsplit(msg["card"]["actions"][0]["url"]).query) == {"title": ["张某、李某盗窃案。"]}
    # only punctuation after the command, or only what is not drawn: nothing to prefill
    for typed in ("新建案件，", "新建案件 \u200b", "新建案件，\u200b\ufeff"):
        [msg] = await ask(console, typed)
        assert not msg["card"]["body"].startswith("案件名称"), typed
        assert msg["card"]["actions"][0]["url"] == str(console.client.make_url("/cases/new"))
    # a card sent before this was fixed: the form leaves the punctuation out too
    page, _ = await open_form(console, "?title=，张某某涉嫌盗窃案")
    assert 'name="title" maxlength="200" value="张某某涉嫌盗窃案"' in page
    # a title with what a URL or a page would read as its own: kept as typed, shown as text
    [msg] = await ask(console, "新建案件 王某&李某<诈骗>案#1")
    query = urlsplit(msg["card"]["actions"][0]["url"]).query
    assert parse_qs(query) == {"title": ["王某&李某<诈骗>案#1"]}
    page, _ = await open_form(console, f"?{query}")
    assert 'value="王某&amp;李某&lt;诈骗&gt;案#1"' in page


async def test_a_title_longer_than_a_title_may_be_is_said_to_be_cut(console: Console) -> None:
    await login(console, PROSECUTOR)
    typed = "甲" * 150 + "乙" * 100  # 250 characters; a title holds 200
    [msg] = await ask(console, f"新建案件 {typed}")
    body = msg["card"]["body"]
    assert body.startswith(f"案件名称：{typed[:200]}（已截取前 200 字预填，可修改）\n")
    assert "乙" * 51 not in body  # what is said is what the form holds
    query = urlsplit(msg["card"]["actions"][0]["url"]).query
    assert parse_qs(query) == {"title": [typed[:200]]}
    page, _ = await open_form(console, f"?{query}")
    assert f'value="{typed[:200]}"' in page
    # 200 characters fit: all of it is prefilled
    [msg] = await ask(console, f"新建案件 {typed[:200]}")
    assert msg["card"]["body"].startswith(f"案件名称：{typed[:200]}（已预填，可修改）\n")


async def test_in_a_group_the_form_comes_privately(console: Console) -> None:
    answer = await ask(console, "新建案件 张某某涉嫌盗窃案", chat="g-case-team")
    [note] = [m for m in answer if m["chat"] == "g-case-team"]
    assert note["card"] is None
    assert note["text"] == "新建案件的录入表已私信发给您，请在与 casebot 的单聊中打开。"
    [private] = [m for m in answer if m["chat"] == f"dm:{PROSECUTOR}"]
    assert private["card"]["title"] == "新建案件" and "张某某涉嫌盗窃案" in private["card"]["body"]
    # glued to the command, the title is read where the bot is addressed: @casebot …
    answer = await ask(console, "@casebot 新建案件张某某涉嫌盗窃案", chat="g-case-team")
    assert [m["chat"] for m in answer] == [f"dm:{PROSECUTOR}", "g-case-team"]
    # … not in people's talk in the group that starts with the words
    for user in (PROSECUTOR, INVESTIGATOR):
        assert await ask(console, "新案件已经移送了，大家看一下", user=user, chat="g-case-team") == []


async def test_only_prosecutors_may_create_a_case(console: Console) -> None:
    for user, role in ((INVESTIGATOR, "侦查人员"), ("p-case-manager-1", "案管部门")):
        [msg] = await ask(console, "新建案件 张某某涉嫌盗窃案", user=user)
        assert msg["card"] is None
        assert msg["text"] == f"「新建案件」仅限承办检察官使用。您的角色：{role}。"
    [msg] = await ask(console, "新案件张某某涉嫌盗窃案", user=INVESTIGATOR)
    assert msg["text"] == "「新案件」仅限承办检察官使用。您的角色：侦查人员。"


async def test_help_lists_the_command_for_prosecutors_only(console: Console) -> None:
    [msg] = await ask(console, "帮助 全部")
    assert ("· 新建案件 [案件名称]（或 录入案件 / 新案件） —— "
            "新建案件：打开录入表，提交后生成案件码并进入评分（承办检察官）") in msg["text"]
    [msg] = await ask(console, "帮助 全部", user=INVESTIGATOR)
    assert "新建案件" not in msg["text"]


# -- the form -----------------------------------------------------------------------------------

async def test_the_form_is_for_prosecutors(console: Console) -> None:
    c = console.client
    r = await c.get("/cases/new")
    assert r.status == 401 and "请先登录" in await r.text()
    await login(console, INVESTIGATOR)
    r = await c.get("/cases/new")
    assert r.status == 403
    assert "无权新建案件" in await r.text() and "只有承办检察官可以新建案件。" in await r.text()
    await login(console, PROSECUTOR)
    page, token = await open_form(console)
    assert token
    for label in ("案件名称", "阶段", "侦查单位及侦查人员", "侦查期限", "羁押期限", "统一受案号"):
        assert label in page
    # 提前介入 and 审查逮捕 (SPEC §1 scope), 审查逮捕 chosen
    assert re.findall(r'<option value="([^"]+)"( selected)?>', page) == [
        ("提前介入", ""), ("审查逮捕", " selected")]
    # the police units of the prosecutor's own office first, each with its investigators
    units = [html.unescape(u) for u in re.findall(r"<legend>([^<]+)</legend>", page)]
    assert units[:2] == ["示范市海澄县公安局", "示范市海澄县公安局刑事侦查大队"]
    assert re.findall(r'name="investigators" value="([^"]+)"', page)[:5] == [
        "p-investigator-4", "p-investigator-5", "p-investigator-1", "p-investigator-2",
        "p-investigator-3"]
    assert "胡宇" in page and "萧宇梅" in page


async def test_a_valid_form_creates_the_case(console: Console) -> None:
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    status, data = await submit(console, token)
    assert status == 201, data
    code = data["code"]
    assert re.fullmatch(r"HY-2026-\d{4}", code)
    assert data == {"code": code, "created": True, "url": f"/cases/{code}/score",
                    "message": f"已录入案件 {code}，正在打开评分表…"}

    case = await case_json(console, code)
    assert case["title"] == "张某某涉嫌盗窃案" and case["stage"] == "提前介入"
    assert case["prosecutor"] == PROSECUTOR and case["police_unit"] == "ps-hc-xd"
    assert case["investigators"] == INVESTIGATORS
    assert case["investigation_deadline"] == "2026-12-20" and case["custody_deadline"] == "2026-12-31"
    assert case["external_id"] == "A3301000000002026110001"
    assert case["status"] == "open" and case["version"] == 0 and case["color"] is None

    async with console.app.services.db() as s:
        rows = (await s.execute(select(AuditRecord.actor, AuditRecord.data).where(
            AuditRecord.action == "case.create", AuditRecord.subject == code))).all()
    assert [(actor, json.loads(d)) for actor, d in rows] == [(PROSECUTOR, {
        "title": "张某某涉嫌盗窃案", "stage": "提前介入", "external_id": "A3301000000002026110001",
        "via": "web"})]

    # the prosecutor's 1:1 chat: what was entered, and 去评分
    [created] = cards(await console.messages(f"dm:{PROSECUTOR}"))
    card = created["card"]
    assert card["title"] == f"已录入案件 {code}"
    assert card["body"].split("\n") == [
        "案件：张某某涉嫌盗窃案", "阶段：提前介入", "侦查单位：示范市海澄县公安局刑事侦查大队",
        "侦查人员：胡宇、张洋艳", "侦查期限：2026-12-20（周日）", "羁押期限：2026-12-31（周四）",
        "统一受案号：A3301000000002026110001", "尚未评分：评分后案件码将发送给侦查人员。"]
    assert [(a["label"], a["url"]) for a in card["actions"]] == [
        ("去评分", str(console.client.make_url(f"/cases/{code}/score")))]
    # the investigators hear nothing until the first scoring
    for inv in INVESTIGATORS:
        assert await console.messages(f"dm:{inv}") == []

    # the page goes on to the score form of the new case
    r = await console.client.get(data["url"])
    assert r.status == 200 and f"{code} 张某某涉嫌盗窃案" in await r.text()
    # … whose first scoring delivers the code to the investigators (the existing delivery)
    await evaluate(console, code, RED)
    for inv in INVESTIGATORS:
        [delivery] = cards(await console.messages(f"dm:{inv}"))
        assert code in delivery["card"]["title"] and "红码" in delivery["card"]["title"]
    # … and the 已录入案件 card no longer says 尚未评分; 去评分 stays (it may be scored again)
    [created] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
                 if m["card"]["title"] == f"已录入案件 {code}"]
    assert created["card"]["body"].split("\n")[-1] == "已评分：红码 66分（第1版），案件码已发送给侦查人员。"
    assert [a["label"] for a in created["card"]["actions"]] == ["去评分"]
    # 码 shows the new case to its prosecutor like any other
    [shown] = await ask(console, f"码 {code}")
    assert "阶段：提前介入" in shown["card"]["body"]


async def test_optional_fields_may_stay_empty(console: Console) -> None:
    await login(console, PROSECUTOR)
    _, token = await open_form(console, "?title=李某诈骗案")
    status, data = await submit(console, token, title="李某诈骗案", stage="审查逮捕",
                                investigators=["p-investigator-4"], investigation_deadline=None,
                                custody_deadline="", external_id="  ")
    assert status == 201, data
    case = await case_json(console, data["code"])
    assert case["stage"] == "审查逮捕" and case["police_unit"] == "ps-hc"
    assert case["investigators"] == ["p-investigator-4"] and case["external_id"] is None
    assert case["investigation_deadline"] is None and case["custody_deadline"] is None
    [created] = cards(await console.messages(f"dm:{PROSECUTOR}"))
    assert "侦查期限：未填\n羁押期限：未填\n尚未评分" in created["card"]["body"]


async def test_wrong_input_is_refused_field_by_field(console: Console) -> None:
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    cases: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"title": "  "}, {"title": "案件名称必填，且不超过 200 字"}),
        ({"title": "x" * 201}, {"title": "案件名称必填，且不超过 200 字"}),
        # a title of characters that are not drawn is as empty as a blank one
        ({"title": "\u200b"}, {"title": "案件名称必填，且不超过 200 字"}),
        ({"title": " \ufeff\u200c\u200d\u2060\u3000"}, {"title": "案件名称必填，且不超过 200 字"}),
        ({"external_id": "\u200b"}, {"external_id": "统一受案号不能为空白，且不超过 64 字"}),
        ({"investigators": [INVESTIGATOR, OTHER_UNIT_INVESTIGATOR]},
         {"investigators": TWO_UNITS}),
        ({"investigators": []}, {"investigators": "至少指定一名侦查人员"}),
        ({"investigators": [INVESTIGATOR, "p-prosecutor-2"]},
         {"investigators[1]": "侦查人员不存在或不具有侦查人员角色"}),
        ({"investigators": ["p-nobody"]}, {"investigators[0]": "侦查人员不存在或不具有侦查人员角色"}),
        ({"investigation_deadline": "2000-01-01"},
         {"investigation_deadline": "侦查期限须在 2021-01-01 至 2031-12-31 之间"}),
        ({"custody_deadline": "2026/12/31"}, {"custody_deadline": "日期格式不对，须为 YYYY-MM-DD"}),
        # the stages the form offers, whatever the stage sent (审查起诉 comes with intake)
        ({"stage": "审查起诉"}, {"stage": "阶段须为 提前介入 / 审查逮捕 之一"}),
        ({"stage": "侦查"}, {"stage": "阶段须为 提前介入 / 审查逮捕 之一"}),
        ({"title": "", "investigators": [INVESTIGATOR, OTHER_UNIT_INVESTIGATOR],
          "investigation_deadline": "9999-12-31"},
         {"title": "案件名称必填，且不超过 200 字",
          "investigators": TWO_UNITS,
          "investigation_deadline": "侦查期限须在 2021-01-01 至 2031-12-31 之间"}),
    ]
    for over, expected in cases:
        status, data = await submit(console, token, **over)
        assert status == 422, (over, data)
        assert reasons(data) == expected, over  # no 侦查单位 error of its own: the people say it
        assert data["error"].startswith("输入有误：")
    status, data = await submit(console, token, stage="")
    assert status == 422 and data["errors"] == [
        {"field": "stage", "reason": "必填，须为字符串"},
        {"field": "stage", "reason": "阶段须为 提前介入 / 审查逮捕 之一"}]
    assert not await case_exists(console, "HY-2026-0001")
    assert cards(await console.messages(f"dm:{PROSECUTOR}")) == []
    # the same form, corrected, still creates the case
    status, data = await submit(console, token)
    assert status == 201 and data["code"] == "HY-2026-0001"


async def test_a_deadline_before_today_is_refused_on_the_form(console: Console) -> None:
    """The form is a person typing a new case: a 羁押期限 or 侦查期限 before today (by the app's
    clock, 2026-11-02 in Asia/Shanghai) is a typo whose overdue reminders would go out at once.
    Today is fine; the integration API still takes a past one (a running case entered late)."""
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    for over, expected in [
            ({"custody_deadline": "2026-11-01"}, {"custody_deadline": "羁押期限不能早于今天"}),
            ({"investigation_deadline": "2026-10-15", "custody_deadline": "2025-12-31"},
             {"investigation_deadline": "侦查期限不能早于今天",
              "custody_deadline": "羁押期限不能早于今天"}),
            # out of the window: said once, as before
            ({"custody_deadline": "2020-12-31"},
             {"custody_deadline": "羁押期限须在 2021-01-01 至 2031-12-31 之间"})]:
        status, data = await submit(console, token, **over)
        assert status == 422 and reasons(data) == expected, (over, data)
    assert not await case_exists(console, "HY-2026-0001")
    assert cards(await console.messages(f"dm:{PROSECUTOR}")) == []
    await console.advance("15h")  # 2026-11-03 00:30 there: yesterday's day is now refused
    await login(console, PROSECUTOR)  # a new day, a new form
    _, token = await open_form(console)
    status, data = await submit(console, token, custody_deadline="2026-11-02")
    assert status == 422 and reasons(data) == {"custody_deadline": "羁押期限不能早于今天"}
    status, data = await submit(console, token, investigation_deadline="2026-11-03",
                                custody_deadline="2026-11-03")
    assert status == 201 and data["code"] == "HY-2026-0001", data
    r = await console.client.post("/api/v1/cases", headers=AUTH, json={
        "title": "何某强奸案", "stage": "审查逮捕", "police_unit": "ps-hc-xd",
        "prosecutor": PROSECUTOR, "investigators": [INVESTIGATOR],
        "custody_deadline": "2026-11-01"})
    assert r.status == 201, await r.text()


async def test_a_case_management_id_already_used_is_refused(console: Console) -> None:
    r = await console.client.post("/api/v1/cases", headers=AUTH, json={
        "title": "何某强奸案", "stage": "审查逮捕", "police_unit": "ps-hc-xd",
        "prosecutor": PROSECUTOR, "investigators": [INVESTIGATOR],
        "external_id": VALID["external_id"]})
    assert r.status == 201
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    status, data = await submit(console, token)
    assert status == 422
    assert reasons(data) == {"external_id": "统一受案号「A3301000000002026110001」已有案件 HY-2026-0001，"
                                            "请勿重复录入"}
    assert not await case_exists(console, "HY-2026-0002")


async def test_the_same_form_twice_creates_one_case(console: Console) -> None:
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    status, first = await submit(console, token)
    assert status == 201
    # a resubmit (after a reload, Back, a lost answer), even with other values: the same case
    status, again = await submit(console, token, title="另一个标题")
    assert status == 200
    assert again == {"code": first["code"], "created": False, "url": first["url"],
                     "message": f"该录入表已提交过，案件 {first['code']} 已录入（未重复创建），"
                                "正在打开评分表…"}
    # a double tap: two submissions at the same moment (of a form without 统一受案号, which
    # alone would keep a second case out)
    _, token2 = await open_form(console)
    answers = await asyncio.gather(submit(console, token2, title="李某诈骗案", external_id=""),
                                   submit(console, token2, title="李某诈骗案", external_id=""))
    assert sorted(s for s, _ in answers) == [200, 201]
    assert len({d["code"] for _, d in answers}) == 1
    assert await case_exists(console, "HY-2026-0002")
    assert not await case_exists(console, "HY-2026-0003")
    titles = [m["card"]["title"] for m in cards(await console.messages(f"dm:{PROSECUTOR}"))]
    assert titles == ["已录入案件 HY-2026-0001", "已录入案件 HY-2026-0002"]
    # a new form is a new case (of the same title: once the prosecutor confirms it)
    _, token3 = await open_form(console)
    status, third = await submit(console, token3, external_id="", confirm_duplicate=True)
    assert status == 201 and third["code"] == "HY-2026-0003"


async def test_a_second_open_case_of_the_same_title_is_asked_about_first(console: Console) -> None:
    """Each tap on the card's button opens a new form (its own one-time token): a case of the
    title of one of the prosecutor's open cases is created only once they confirm it."""
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    status, first = await submit(console, token)
    assert status == 201 and first["code"] == "HY-2026-0001"
    # the card tapped again later, the same case entered again (blanks around the title)
    await console.advance("1d")
    await login(console, PROSECUTOR)
    _, token2 = await open_form(console)
    status, data = await submit(console, token2, title="  张某某涉嫌盗窃案　", external_id="")
    assert status == 409
    assert data == {
        "error": "您已有同名在办案件 HY-2026-0001（2026-11-02 录入，尚未评分），确定仍要新建吗？",
        "confirm": "confirm_duplicate",
        "duplicates": [{"code": "HY-2026-0001", "entered_on": "2026-11-02", "scored": False,
                        "color": None, "score": None, "url": "/cases/HY-2026-0001/score"}]}
    assert not await case_exists(console, "HY-2026-0002")
    assert len(cards(await console.messages(f"dm:{PROSECUTOR}"))) == 1  # the first case's only
    # only a JSON true confirms
    status, _ = await submit(console, token2, external_id="", confirm_duplicate="true")
    assert status == 409
    # confirmed: the same form creates the case
    status, second = await submit(console, token2, external_id="", confirm_duplicate=True)
    assert status == 201 and second["code"] == "HY-2026-0002"
    assert (await case_json(console, "HY-2026-0002"))["title"] == "张某某涉嫌盗窃案"

    # each open namesake is named, scored or not, oldest first
    await evaluate(console, "HY-2026-0001", RED)
    _, token3 = await open_form(console)
    status, data = await submit(console, token3, external_id="")
    assert status == 409 and data["error"] == (
        "您已有同名在办案件 HY-2026-0001（2026-11-02 录入，已评分：红码 66分）、"
        "HY-2026-0002（2026-11-03 录入，尚未评分），确定仍要新建吗？")
    assert [(d["code"], d["scored"], d["color"], d["score"]) for d in data["duplicates"]] == [
        ("HY-2026-0001", True, "red", 66), ("HY-2026-0002", False, None, None)]
    # a closed case does not count, nor another prosecutor's, nor another title
    for code in ("HY-2026-0001", "HY-2026-0002"):
        r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                       json={"status": "closed"})
        assert r.status == 200, await r.text()
    r = await console.client.post("/api/v1/cases", headers=AUTH, json={
        "title": "王某诈骗案", "stage": "审查逮捕", "police_unit": "ps-hc-xd",
        "prosecutor": "p-prosecutor-2", "investigators": [INVESTIGATOR]})
    assert r.status == 201
    status, third = await submit(console, token3, external_id="")
    assert status == 201 and third["code"] == "HY-2026-0004"
    _, token4 = await open_form(console)
    status, fourth = await submit(console, token4, title="王某诈骗案", external_id="")
    assert status == 201 and fourth["code"] == "HY-2026-0005"
    # the form that created a case, sent again: that case (not asked about as a namesake)
    status, again = await submit(console, token4, title="王某诈骗案", external_id="")
    assert status == 200 and again["code"] == "HY-2026-0005"


async def test_the_form_that_created_a_case_finds_no_namesake_in_it(console: Console) -> None:
    """A submission of a form racing the one that created its case (PostgreSQL: it looked for
    the form's case before the other committed) does not take that case for a namesake."""
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    status, first = await submit(console, token, external_id="")
    assert status == 201
    _, other = await open_form(console)
    s = console.app.services

    def key_of(form_token: str) -> str:  # the form's id, signed in its token
        payload = s.signer.genuine("case-form", form_token)
        assert payload is not None
        return str(payload["f"])

    key, other_key = key_of(token), key_of(other)
    async with s.db() as session:
        assert await repo.open_namesakes(session, PROSECUTOR, VALID["title"], key) == []
        [found] = await repo.open_namesakes(session, PROSECUTOR, VALID["title"], other_key)
    assert found.code == first["code"] and found.color is None


async def test_the_same_form_at_once_on_postgresql_creates_one_case(pg_console: Console) -> None:
    console = pg_console
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    answers = await asyncio.gather(*(submit(console, token, external_id="") for _ in range(4)))
    assert sorted(s for s, _ in answers) == [200, 200, 200, 201]
    assert {d["code"] for _, d in answers} == {"HY-2026-0001"}
    assert not await case_exists(console, "HY-2026-0002")
    assert len(cards(await console.messages(f"dm:{PROSECUTOR}"))) == 1


async def test_only_the_prosecutor_who_opened_the_form_submits_it(console: Console) -> None:
    c = console.client
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    # no session (expired, or never): said in Chinese, nothing created
    c.session.cookie_jar.clear()
    status, data = await submit(console, token)
    assert status == 401 and data["error"] == (  # the page keeps a draft (tests/browser)
        "登录已过期，本次未提交，已填写的内容已保存在本机。请从聊天中的卡片重新打开此页面，内容会自动恢复。")
    # an investigator: 403
    await login(console, INVESTIGATOR)
    status, data = await submit(console, token)
    assert status == 403 and data["error"] == "只有承办检察官可以新建案件。"
    # another prosecutor with this prosecutor's form (the console switched user meanwhile)
    await login(console, "p-prosecutor-2")
    status, data = await submit(console, token)
    assert status == 403
    assert data["error"] == "该录入表不是以您的身份打开的，请在聊天中发送「新建案件」重新打开。"
    # a forged or damaged token
    await login(console, PROSECUTOR)
    status, data = await submit(console, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    assert status == 403 and data["error"] == "录入表无效，请在聊天中发送「新建案件」重新打开。"
    status, data = await submit(console, "")
    assert status == 403
    assert not await case_exists(console, "HY-2026-0001")
    status, data = await submit(console, token)
    assert status == 201


async def test_an_expired_form_gets_a_fresh_token(console: Console) -> None:
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    await console.advance("11h")  # the form outlives its 12 hours; the session is renewed
    await login(console, PROSECUTOR)
    await console.advance("2h")
    await login(console, PROSECUTOR)
    status, data = await submit(console, token)
    assert status == 410 and data["error"] == "录入表已过期，已为您更新，请核对后再次提交。"
    assert not await case_exists(console, "HY-2026-0001")
    status, created = await submit(console, data["token"])
    assert status == 201
    # the form submitted once is found however late it is sent again
    await console.advance("1d")
    await login(console, PROSECUTOR)
    status, again = await submit(console, data["token"])
    assert status == 200 and again["code"] == created["code"]


def test_the_police_units_of_the_prosecutors_office_come_first() -> None:
    def unit(uid: str, kind: str, parent: str | None, prefix: str | None = None) -> Unit:
        return Unit(id=uid, name=f"单位{uid}", kind=kind, parent=parent,  # type: ignore[arg-type]
                    code_prefix=prefix)

    def investigator(pid: str, at: str) -> Person:
        return Person(id=pid, name=f"人员{pid}", unit=at, roles=("investigator",))

    org = Org(units=(unit("prov", "province", None), unit("c1", "city", "prov"),
                     unit("c1-1", "county", "c1", "AA"), unit("c1-2", "county", "c1", "BB"),
                     unit("c2", "city", "prov"), unit("c2-1", "county", "c2", "CC"),
                     unit("ps-prov", "police", "prov"), unit("ps-c2-1", "police", "c2-1"),
                     unit("ps-c1", "police", "c1"), unit("ps-c1-1", "police", "c1-1"),
                     unit("ps-c1-2", "police", "c1-2"), unit("ps-empty", "police", "c1-2")),
              people=(investigator("i-prov", "ps-prov"), investigator("i-c2-1", "ps-c2-1"),
                      investigator("i-c1", "ps-c1"), investigator("i-c1-1", "ps-c1-1"),
                      investigator("i-c1-2a", "ps-c1-2"), investigator("i-c1-2b", "ps-c1-2"),
                      Person(id="pr", name="检察官", unit="c1-2", roles=("prosecutor",))))
    d = Directory(org)
    near, other = investigator_groups(d, d.people["pr"])
    # its own office's units, then the rest of its city; the others after; none without people
    assert [g.unit for g in near] == ["ps-c1-2", "ps-c1", "ps-c1-1"]
    assert [g.unit for g in other] == ["ps-prov", "ps-c2-1"]
    assert near[0].people == (("i-c1-2a", "人员i-c1-2a"), ("i-c1-2b", "人员i-c1-2b"))


async def test_a_full_width_case_management_id_is_the_same_id(console: Console) -> None:
    """统一受案号 typed in full-width on the phone's form: refused as the id already used."""
    r = await console.client.post("/api/v1/cases", headers=AUTH, json={
        "title": "何某强奸案", "stage": "审查逮捕", "police_unit": "ps-hc-xd",
        "prosecutor": PROSECUTOR, "investigators": [INVESTIGATOR],
        "external_id": VALID["external_id"]})
    assert r.status == 201
    await login(console, PROSECUTOR)
    _, token = await open_form(console)
    wide = "".join(chr(ord(c) + 0xFEE0) for c in VALID["external_id"]) + " "  # Ａ３３０１…
    status, data = await submit(console, token, external_id=wide)
    assert status == 422
    assert reasons(data) == {"external_id": "统一受案号「A3301000000002026110001」已有案件 HY-2026-0001，"
                                            "请勿重复录入"}
    assert not await case_exists(console, "HY-2026-0002")
