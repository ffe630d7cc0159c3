"""The features built on the console, over DingTalk frames (issue 7, "Show"): the real
dingtalk-stream SDK classes connect to the fake DingTalk; messages come in as bot-message frames,
cards go out through the fake OpenAPI (interactive cards with a template id, markdown/actionCard
robot messages without), clicks come in as card-callback frames or through the signed web-form
links, and cards are updated in place (PUT) or re-sent marked （已更新）.

1. The case-code flow: case created and scored red through the REST API → the investigators'
   cards → 已知悉 → 申请复核 (a form) → the prosecutor's card → 驳回 with a reason → 码 <code>.
2. A whole 检务督导面对面 session in the inspection group, question texts secret until revealed.
3. Reminders on a hand-driven clock: the 诉前会商 reminder to three people, one clicks 发起会商,
   all three cards are updated in place.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.app import App, create_web_app
from bot.clock import Clock, ManualClock, SystemClock
from storage import inspection as store
from storage.cases import DeliveryRow
from storage.models import OutboxItem
from tests.cases.helpers import AUTH, GREEN, INVESTIGATORS, PROSECUTOR, RED, YELLOW
from tests.conftest import START, free_port
from tests.dingtalk.conftest import INSPECTION_CID, dingtalk_settings, eventually
from tests.dingtalk.fake import CLIENT_ID, FakeDingTalk, Sent, opened

TEMPLATE = "tpl-casebot.schema"
HOST = "p-inspector-1"


# -- reading what reached the fake ----------------------------------------------------------------

def strings(value: Any) -> Iterator[str]:
    """Every string in a request body, JSON strings inside it (msgParam, actions) opened."""
    if isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value
        if value[:1] in "{[":
            try:
                inner = json.loads(value)
            except ValueError:
                return
            yield from strings(inner)


def contains(s: Sent, needle: str) -> bool:
    return any(needle in x for x in strings(s.body))


def heading(s: Sent) -> str:
    """The title a person sees: the card's title (colour mark dropped), the markdown or action
    card's title, or the text."""
    if s.kind in ("card", "card_update"):
        title = str(s.body["cardData"]["cardParamMap"]["title"])
        return re.sub(r"^[🔴🟡🟢] ", "", title)
    if s.kind == "webhook":
        if "markdown" in s.body:
            return str(s.body["markdown"]["title"])
        return re.sub(r"^@\S+ ", "", str(s.body["text"]["content"]))  # after the mention
    param = json.loads(s.body["msgParam"])
    return str(param.get("title") or re.sub(r"^@\S+ ", "", param.get("content") or ""))


def no_code_colour(sent: list[Sent]) -> bool:
    """None of these messages calls its colour a code's: no 「**黄码**」 line, no template
    `color_label`, no 🔴🟡🟢 before the title."""
    for s in sent:
        if s.kind in ("card", "card_update"):
            params = s.body["cardData"]["cardParamMap"]
            assert params["color_label"] == "", params["title"]
            assert not re.match(r"[🔴🟡🟢]", params["title"]) and "码**" not in params["markdown"]
        else:
            text = "\n".join(strings(s.body))
            assert not re.search(r"\*\*[红黄绿]码\*\*|[🔴🟡🟢] ", text), text
    return True


def actions(s: Sent) -> list[dict[str, Any]]:
    """A template card's buttons, or an action card's buttons as {label, url} (the page each
    opens)."""
    if s.kind in ("card", "card_update"):
        return list(json.loads(s.body["cardData"]["cardParamMap"]["actions"]))
    param = json.loads(s.body["msgParam"])
    if "singleTitle" in param:
        return [{"label": param["singleTitle"], "url": opened(param["singleURL"])}]
    return [{"label": param[f"actionTitle{i}"], "url": opened(param[f"actionURL{i}"])}
            for i in range(1, 6) if f"actionTitle{i}" in param]


def button(s: Sent, label: str) -> dict[str, Any]:
    found = [a for a in actions(s) if a["label"] == label]
    assert found, (label, [a["label"] for a in actions(s)])
    return found[0]


def to_user(s: Sent, staff: str) -> bool:
    return s.target in (staff, f"dtv1.card//IM_ROBOT.{staff}")


# -- the bot: the web app (REST API, web forms) and the DingTalk transport, on real sockets --------

@dataclass
class Bot:
    app: App
    fake: FakeDingTalk
    base: str
    template: bool
    http: ClientSession  # the case-management system calling the REST API
    browsers: dict[str, ClientSession] = field(default_factory=dict)

    def staff(self, person_id: str) -> str:
        person = self.app.services.directory.person(person_id)
        assert person is not None
        return person.ids["dingtalk"]

    async def api(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.request(method, self.base + path, json=body, headers=AUTH) as r:
            assert r.status in (200, 201), await r.text()
            data: dict[str, Any] = await r.json()
            return data

    async def wait_for(self, what: str, cond: Any, start: int = 0) -> Sent:
        """The first message at the fake (from index `start`) that satisfies `cond`."""
        def find() -> Sent | None:
            return next((s for s in list(self.fake.sent)[start:] if cond(s)), None)
        found: Sent = await eventually(find, what=what)
        return found

    async def open_link(self, person_id: str, url: str, form: dict[str, str] | None = None
                        ) -> tuple[int, str]:
        """A person taps a link button in DingTalk: the page logs them in (H5 免登: the fake
        DingTalk hands out an auth code for their staffId), then shows the form (`form` is
        filled in and submitted) or asks to confirm (confirmed)."""
        link = urlparse(url)
        assert f"{link.scheme}://{link.netloc}" == self.base and link.path == "/dingtalk/act"
        browser = self.browsers.get(person_id)
        if browser is None:
            browser = self.browsers[person_id] = ClientSession(cookie_jar=CookieJar(unsafe=True))
        async with browser.get(url, allow_redirects=False) as r:
            if r.status == 302:
                assert r.headers["Location"].startswith("/dingtalk/h5?next=")
                code = f"auth-{person_id}"
                self.fake.auth_codes[code] = self.staff(person_id)
                async with browser.post(f"{self.base}/dingtalk/h5/login",
                                        json={"code": code}) as login:
                    assert login.status == 200, await login.text()
        async with browser.get(url) as r:
            page = await r.text()
            if form is None and (r.status != 200 or "<form" not in page):
                return r.status, page  # refused, or done already: no page that asks
            assert r.status == 200 and "<form" in page, page
            for name in form or {}:
                assert f'name="{name}"' in page, (name, page)
        # the link only asks (a GET changes nothing): its button, or the filled-in form, acts
        async with browser.post(url, data=form or {}) as r:
            return r.status, await r.text()

    async def close(self) -> None:
        for b in self.browsers.values():
            await b.close()
        await self.http.close()


@pytest.fixture
async def make_bot(tmp_path: Path, fake: FakeDingTalk, dt_env: None
                   ) -> AsyncIterator[Any]:
    bots: list[tuple[Bot, TestServer]] = []

    async def factory(template: bool, clock: Clock | None = None) -> Bot:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        extra: dict[str, Any] = {"card_template_id": TEMPLATE} if template else {}
        app = App(dingtalk_settings(tmp_path / f"bot{len(bots)}", fake, public_url=base, **extra),
                  clock or SystemClock())
        server = TestServer(create_web_app(app), host="127.0.0.1", port=port)
        await server.start_server()
        bot = Bot(app, fake, base, template, ClientSession())
        bots.append((bot, server))
        await eventually(lambda: fake.ws is not None, what="the bot connects")
        return bot

    yield factory
    for bot, server in bots:
        await bot.close()
        await server.close()


async def scored_case(bot: Bot, deductions: list[dict[str, Any]],
                      investigation_deadline: str = "2026-12-20") -> tuple[str, dict[str, Any]]:
    """The case-management system creates 何某强奸案 and scores it through the REST API: its
    code and the evaluation's JSON."""
    code = (await bot.api("POST", "/api/v1/cases", {
        "title": "何某强奸案", "stage": "审查逮捕", "police_unit": "ps-hc-xd",
        "prosecutor": PROSECUTOR, "investigators": INVESTIGATORS,
        "investigation_deadline": investigation_deadline,
        "custody_deadline": "2026-12-31"}))["code"]
    scored = await bot.api("POST", f"/api/v1/cases/{code}/evaluations", {
        "by": PROSECUTOR, "deductions": deductions, "vetoes": [], "comment": ""})
    return code, scored


# -- 1. the case-code flow -------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["template", "markdown"])
async def test_case_code_flow_over_dingtalk(make_bot: Any, fake: FakeDingTalk, mode: str) -> None:
    bot: Bot = await make_bot(template=mode == "template")
    inv, other = INVESTIGATORS
    inv_dt, other_dt, pro_dt = bot.staff(inv), bot.staff(other), bot.staff(PROSECUTOR)

    # the case-management system creates the case and scores it red through the REST API
    code, scored = await scored_case(bot, RED)
    assert scored["color"] == "red"

    # each investigator's 1:1 card arrives through the OpenAPI
    for staff in (inv_dt, other_dt):
        s = await bot.wait_for(f"the card for {staff}", lambda s, st=staff: to_user(s, st))
        assert heading(s) == f"案件码 {code} · 红码 66分"
        assert contains(s, "嫌疑人零口供，痕迹物证灭失") and contains(s, "补侦要求")
        assert [a["label"] for a in actions(s)] == ["查看详情", "申请复核", "已知悉"]
    card = next(s for s in fake.sent if to_user(s, inv_dt))
    if bot.template:
        assert card.kind == "card" and card.body["cardTemplateId"] == TEMPLATE
        assert card.body["openSpaceId"] == f"dtv1.card//IM_ROBOT.{inv_dt}"
        assert card.body["imRobotOpenDeliverModel"]["robotCode"] == CLIENT_ID
        params = card.body["cardData"]["cardParamMap"]
        assert params["color"] == "red" and params["image"].endswith(".png")
        assert params["color_label"] == "红码" and params["title"].startswith("🔴 案件码")
        view, review, ack = actions(card)
        assert view["type"] == "link" and "/c/" in view["url"]
        # a form cannot be filled in on the card: 申请复核 is a link to the web form ...
        assert review["type"] == "link" and "/dingtalk/act?t=" in review["url"]
        assert [f["name"] for f in review["form"]] == ["items", "reason", "note"]
        # ... and 已知悉 is a callback
        assert ack["type"] == "callback" and ack["url"] == ""
        assert ack["params"] == {"action": "case.ack", "code": code, "version": "1"}
    else:
        assert card.kind == "users" and card.body["msgKey"] == "sampleActionCard3"
        assert "🔴 案件码" in json.loads(card.body["msgParam"])["text"]
        assert "**红码**" in json.loads(card.body["msgParam"])["text"]  # the code's colour
        assert "/dingtalk/act?t=" in button(card, "已知悉")["url"]

    # 已知悉: a card-callback frame (template) or the signed link (markdown)
    mark = len(fake.sent)
    if bot.template:
        track = card.body["outTrackId"]
        frame = fake.click(track, inv_dt, "case.ack", button(card, "已知悉")["params"])
        ack_frame = await eventually(lambda: fake.acks.get(frame), what="the click ACK")
        answered = json.loads(ack_frame["data"])["response"]["cardData"]["cardParamMap"]
        assert [a["label"] for a in json.loads(answered["actions"])] == ["查看详情", "申请复核"]
        updated = await bot.wait_for("the card updated in place",
                                     lambda s: s.kind == "card_update", mark)
        assert updated.target == track and updated.body["outTrackId"] == track
        assert fake.requests.count("/v1.0/card/instances") == 1  # the PUT
    else:
        status, page = await bot.open_link(inv, button(card, "已知悉")["url"])
        assert status == 200 and f"已确认知悉 {code}" in page
        updated = await bot.wait_for("the re-sent card",
                                     lambda s: to_user(s, inv_dt) and "已更新" in heading(s), mark)
    assert [a["label"] for a in actions(updated)] == ["查看详情", "申请复核"]
    assert contains(updated, "已知悉：")  # the footer: who and when
    await bot.wait_for("the 已知悉 reply", lambda s: to_user(s, inv_dt)
                       and heading(s).startswith(f"已确认知悉 {code}"), mark)

    # 申请复核: the form (items "1" and a reason) behind the card's link
    mark = len(fake.sent)
    status, page = await bot.open_link(inv, button(updated, "申请复核")["url"],
                                       {"items": "1", "reason": "监控已调取，事实清楚", "note": ""})
    assert status == 200 and "复核申请 #1 已提交" in page, page
    pcard = await bot.wait_for("the prosecutor's card",
                               lambda s: to_user(s, pro_dt) and heading(s).startswith("复核申请 #1"),
                               mark)
    assert [a["label"] for a in actions(pcard)] == ["同意并调整", "驳回", "提交检警共同评议"]
    assert contains(pcard, "犯罪事实与行为（−16分）") and contains(pcard, "监控已调取，事实清楚")
    receipt = await bot.wait_for("the receipt card", lambda s: to_user(s, inv_dt)
                                 and heading(s).startswith("您的复核申请 #1"), mark)
    assert [a["label"] for a in actions(receipt)] == ["撤回申请"]

    # the prosecutor rejects with a reason; both cards follow
    mark = len(fake.sent)
    if bot.template:
        # a template with an input box sends its value with the callback's params
        reject = button(pcard, "驳回")
        assert reject["type"] == "link" and [f["name"] for f in reject["form"]] == ["reason"]
        ptrack, rtrack = pcard.body["outTrackId"], receipt.body["outTrackId"]
        frame = fake.click(ptrack, pro_dt, "review.reject", {**reject["params"], "reason": ""})
        await eventually(lambda: fake.acks.get(frame), what="the ACK of the empty reject")
        await bot.wait_for("the refusal", lambda s: to_user(s, pro_dt)
                           and heading(s) == "驳回须填写理由。", mark)
        frame = fake.click(ptrack, pro_dt, "review.reject",
                           {**reject["params"], "reason": "证据仍不足"})
        ack_frame = await eventually(lambda: fake.acks.get(frame), what="the reject ACK")
        answered = json.loads(ack_frame["data"])["response"]["cardData"]["cardParamMap"]
        assert "已驳回" in answered["title"] and answered["actions"] == "[]"
        await eventually(lambda: "已驳回" in fake.cards[ptrack]["title"]
                         and "已驳回" in fake.cards[rtrack]["title"], what="both cards updated")
        assert "驳回理由：证据仍不足" in fake.cards[rtrack]["body"]
        assert fake.cards[rtrack]["actions"] == "[]" and fake.cards[ptrack]["actions"] == "[]"
    else:
        status, page = await bot.open_link(PROSECUTOR, button(pcard, "驳回")["url"],
                                           {"reason": "证据仍不足"})
        assert status == 200 and "复核申请 #1（" in page and "已驳回" in page
        assert "您的复核申请" not in page  # the filer's notice is the filer's, not on this page
        for staff, title in ((pro_dt, "复核申请 #1 · 已驳回"), (inv_dt, "您的复核申请 #1 · 已驳回")):
            s = await bot.wait_for(f"the re-sent {title}", lambda s, st=staff, t=title:
                                   to_user(s, st) and heading(s).startswith(t), mark)
            assert "已更新" in heading(s) and actions(s) == []
        # the old card's buttons are dead now
        status, page = await bot.open_link(PROSECUTOR, button(pcard, "同意并调整")["url"])
        assert status == 410
    await bot.wait_for("the filer's notice", lambda s: to_user(s, inv_dt)
                       and "已驳回。理由：证据仍不足" in heading(s), mark)

    # 码 <code> as a bot message from the other investigator → the card, as a reply
    mark = len(fake.sent)
    fake.send_message(f"码 {code.lower()}", staff_id=other_dt)
    reply = await bot.wait_for("the 码 reply", lambda s: to_user(s, other_dt)
                               and heading(s).startswith(f"案件码 {code}"), mark)
    assert heading(reply) == f"案件码 {code} · 红码 66分"
    # their own code, privately: what their delivered card offers (not yet acknowledged)
    assert [a["label"] for a in actions(reply)] == ["查看详情", "申请复核", "已知悉"]
    assert reply.kind == ("card" if bot.template else "users")

    # nothing failed on the way, and nothing was sent twice (a row is marked sent only after
    # DingTalk answered, so wait for the last one)
    async def outbox() -> list[OutboxItem]:
        async with bot.app.services.db() as session:
            return list((await session.execute(select(OutboxItem))).scalars())

    async def all_sent() -> bool:
        return all(r.status == "sent" for r in await outbox())

    await eventually(all_sent, what="every outbox row marked sent")
    assert len(await outbox()) == len(fake.sent)


# -- 2. a whole inspection session in the group ----------------------------------------------------

@pytest.mark.parametrize("mode", ["template", "markdown"])
async def test_inspection_session_over_dingtalk(make_bot: Any, fake: FakeDingTalk,
                                                mode: str) -> None:
    bot: Bot = await make_bot(template=mode == "template")
    host = bot.staff(HOST)
    d = bot.app.services.directory
    expected: list[str] = []  # the headings, in the order the group should see them

    async def say(text: str, *headings: str, user: str = host,
                  mentions: tuple[str, ...] = ()) -> list[Sent]:
        """A group bot-message frame from `user`; wait for exactly the expected replies."""
        mark = len(fake.sent)
        fake.send_message(text, staff_id=user, group=INSPECTION_CID)
        got: list[Sent] = await eventually(
            lambda: (new := list(fake.sent)[mark:]) and len(new) >= len(headings) and new,
            what=f"{len(headings)} replies to 「{text}」")
        for i, (s, h) in enumerate(zip(got, headings, strict=True)):
            assert heading(s).startswith(h), (text, heading(s), h)
            # every reply to someone in the group @-mentions them (a webhook carries replies
            # only); a question, the county chief who must answer it first
            assert s.kind not in ("webhook", "card") or s.mentioned == [*mentions, user], \
                (text, i, s.mentioned)
        expected.extend(headings)
        return got

    [commit] = await say("督导 新建 钉钉督导面对面 单位数=2 题数=2 熵源=福彩3D第2026318期开奖号码 "
                         "熵格式=3x1 专项=c05-02:Q010", "抽签承诺")
    m = re.search(r"(\d+) 组数字，每组 (\d+) 位", "\n".join(strings(commit.body)))
    assert m, "the entropy format is announced"
    count, width = int(m.group(1)), int(m.group(2))
    entropy = " ".join(str(7 * i + 5)[-1] * width for i in range(count))
    await say("开始", "检务督导面对面")
    await say(f"抽签 {entropy}", "抽签结果", "抽签完成")
    async with bot.app.services.db() as session:
        s = await store.latest_in_chat(session, "g-inspection")
    assert s is not None and s.result is not None
    units: list[str] = json.loads(s.result)["units"]
    assert len(units) == 2
    for i, unit in enumerate(units):
        name = d.units[unit].name
        for n in (1, 2):
            # the second at once: 下一题 确认 (a plain one this soon is taken for a double send)
            chief = d.chief_of(unit)
            assert chief is not None
            [reveal] = await say("下一题" if n == 1 else "下一题 确认",
                                 f"问询 · 第 {i + 1}/2 个单位 · 第 {n} 题",
                                 mentions=(bot.staff(chief.id),))
            assert contains(reveal, f"题号 {json.loads(s.result)['questions'][i][n - 1]}")
        await say("点评", f"点评 · {name}")
        city = d.city_of(unit)
        assert city is not None
        chief = d.chief_of(city.id)
        assert chief is not None
        await say(f"点评 {name}回答基本到位", f"已记录对{name}的点评", user=bot.staff(chief.id))
        last = i == len(units) - 1
        [_, hint] = await say("公布答案", f"公布答案 · {name}", f"{name}的答案已公布")
        assert contains(hint, "抽中单位已全部问询完毕。请发送「专项问询」" if last
                        else "请发送「下一题」问询下一个单位")
    special = d.units["c05-02"].name
    await say("专项问询", f"专项问询 · {special}")
    special_chief = d.chief_of("c05-02")
    assert special_chief is not None
    await say("下一题", "专项问询 · 第 1 题", mentions=(bot.staff(special_chief.id),))
    [_, hint] = await say("公布答案", f"公布答案 · {special}", f"{special}的答案已公布")
    assert contains(hint, "问询全部完成。请发送「整改汇报」")
    await say("整改汇报", "整改汇报")
    [summary] = await say("结束", "会议结束")
    assert contains(summary, "已问询题目：5/5")

    # in order, each once, all in the inspection group
    assert len(fake.sent) == len(expected)
    # the draw, a question, the answers are coloured for style only: no 红码/黄码/绿码 label
    # nor coloured dot, which would read as a case code's colour
    assert no_code_colour(fake.sent)
    assert all(heading(x).startswith(h) for x, h in zip(fake.sent, expected, strict=True))
    for x in fake.sent:
        assert x.target == INSPECTION_CID or x.target == f"dtv1.card//IM_GROUP.{INSPECTION_CID}" \
            or (x.kind == "webhook" and x.target.startswith("msg-")), (x.kind, x.target)

    # no question text, and no answer, reached DingTalk before its reveal
    async with bot.app.services.db() as session:
        bank = {q.id: q for q in (await session.execute(select(store.Question))).scalars()}
    first_text: dict[str, int] = {}
    first_answer: dict[str, int] = {}
    for i, x in enumerate(fake.sent):
        for q in bank.values():
            if contains(x, q.text):
                first_text.setdefault(q.id, i)
            if contains(x, q.points[0]):
                first_answer.setdefault(q.id, i)
    asked = [q for per_unit in json.loads(s.result)["questions"] for q in per_unit] + ["Q010"]
    assert set(first_text) == set(asked) == set(first_answer)
    for qid, i in first_text.items():
        assert contains(fake.sent[i], f"题号 {qid}"), (qid, heading(fake.sent[i]))
        assert heading(fake.sent[first_answer[qid]]).startswith("公布答案")
        assert first_answer[qid] > i


# -- 3. reminders ------------------------------------------------------------------------------------

async def test_reminder_cards_over_dingtalk(make_bot: Any, fake: FakeDingTalk) -> None:
    clock = ManualClock(START)  # Monday 2026-11-02 09:30 in Asia/Shanghai; ticks by hand
    bot: Bot = await make_bot(template=True, clock=clock)
    code, _ = await scored_case(bot, YELLOW, investigation_deadline="2026-11-20")
    people = [*INVESTIGATORS, PROSECUTOR]
    await eventually(lambda: len(fake.sent) == 2, what="the two yellow code cards")

    mark = len(fake.sent)
    clock.advance(timedelta(days=3))  # 11-05: investigation deadline − 15 days
    await bot.app.run_due()  # the scheduler's tick (the outbox worker polls for what it sent)
    reminders: dict[str, Sent] = {}
    for person in people:
        staff = bot.staff(person)
        reminders[person] = await bot.wait_for(
            f"the reminder to {person}", lambda s, st=staff: to_user(s, st)
            and "诉前会商" in heading(s), mark)
    first = reminders[INVESTIGATORS[0]]
    assert first.kind == "card" and code in first.text
    assert no_code_colour(list(reminders.values()))  # a reminder is not the case's code
    assert first.body["cardData"]["cardParamMap"]["color"] in ("red", "yellow")  # the stripe
    assert [a["label"] for a in actions(first)] == ["发起会商", "已处理"]
    assert all(a["type"] == "callback" for a in actions(first))

    mark = len(fake.sent)
    frame = fake.click(first.body["outTrackId"], bot.staff(INVESTIGATORS[0]), "reminder.consult",
                       button(first, "发起会商")["params"])
    ack = await eventually(lambda: fake.acks.get(frame), what="the click ACK")
    answered = json.loads(ack["data"])["response"]["cardData"]["cardParamMap"]
    assert answered["actions"] == "[]" and answered["footer"].startswith("已发起会商：")
    tracks = {r.body["outTrackId"] for r in reminders.values()}
    await eventually(lambda: all(fake.cards[t]["footer"].startswith("已发起会商：") for t in tracks),
                     what="every recipient's reminder card updated in place")
    assert all(fake.cards[t]["actions"] == "[]" for t in tracks)
    assert {x.target for x in fake.sent[mark:] if x.kind == "card_update"} == tracks
    await bot.wait_for("the reply to the click", lambda s: to_user(s, bot.staff(INVESTIGATORS[0]))
                       and "已发起" in heading(s), mark)
    # what operations watches on /metrics: the sweep's reminder and its three messages, and
    # every delivery to DingTalk by result (2 code cards, 3 reminders, 3 card updates)
    def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = bot.app.services.metrics.render().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text) for s in f.samples}

    sent = ("casebot_sends_total", (("result", "sent"), ("transport", "dingtalk")))
    await eventually(lambda: samples().get(sent, 0) >= 8, what="the deliveries counted")
    assert samples()[("casebot_reminders_due_total", ())] == 1
    assert samples()[("casebot_reminders_sent_total", ())] == 3


# -- 4. the action-link pages (markdown cards) ------------------------------------------------------

async def test_review_form_lists_the_deductions_and_keeps_what_was_typed(
        make_bot: Any, fake: FakeDingTalk) -> None:
    """申请复核 behind a markdown card's link: the form lists the deductions to tick; a refusal
    shows the form again with what was typed and why; 「第3项」 is item 3."""
    bot: Bot = await make_bot(template=False)
    inv, inv_dt, pro_dt = INVESTIGATORS[0], bot.staff(INVESTIGATORS[0]), bot.staff(PROSECUTOR)
    await scored_case(bot, RED)
    card = await bot.wait_for("the code card", lambda s: to_user(s, inv_dt))
    url = button(card, "申请复核")["url"]
    reason = "监控录像已调取，现场勘验笔录齐全，因果关系有鉴定意见佐证，请复核。"
    status, page = await bot.open_link(inv, url, {"items": "第9项", "reason": reason})
    assert status == 400
    assert "「第9项」不是当前评分中的扣分项。请填写卡片上的序号（1–3）。" in page
    assert f">{reason}</textarea>" in page  # the reason is still there, to put the items right
    for line in ("1. 犯罪事实与行为（−16分）", 'value="3"> 3. ', "（−8分）"):
        assert line in page, (line, page)
    assert not any(to_user(s, pro_dt) for s in fake.sent)  # nothing filed
    # as people write numbers: 第3项, 1项, in a list with 、
    async with bot.browsers[inv].post(url, data={"items": "第3项、1项", "reason": reason}) as r:
        assert r.status == 200 and "复核申请 #1 已提交" in await r.text()
    pcard = await bot.wait_for("the prosecutor's card", lambda s: to_user(s, pro_dt)
                               and heading(s).startswith("复核申请 #1"))
    assert contains(pcard, "（−8分）") and contains(pcard, "（−16分）")
    assert not contains(pcard, "（−10分）")


async def test_an_action_link_only_asks_until_its_page_is_confirmed(
        make_bot: Any, fake: FakeDingTalk) -> None:
    """Opening 已知悉's link (a tap, a prefetch) changes nothing: the page names the action and
    the card, and its button (a POST of the same link) acts, once."""
    bot: Bot = await make_bot(template=False)
    inv, inv_dt = INVESTIGATORS[0], bot.staff(INVESTIGATORS[0])
    code, _ = await scored_case(bot, RED)
    card = await bot.wait_for("the code card", lambda s: to_user(s, inv_dt))
    url = button(card, "已知悉")["url"]
    status, page = await bot.open_link(inv, url)  # logs in, asks, confirms
    assert status == 200 and f"已确认知悉 {code}" in page
    await bot.wait_for("the reply", lambda s: to_user(s, inv_dt) and "已确认知悉" in heading(s))
    await bot.wait_for("the re-sent card", lambda s: to_user(s, inv_dt) and contains(s, "已知悉："))
    mark = len(fake.sent)
    # a second person's tap: only the question, nothing acknowledged or sent
    other = INVESTIGATORS[1]
    other_card = await bot.wait_for("the other's card", lambda s: to_user(s, bot.staff(other)))
    other_url = button(other_card, "已知悉")["url"]
    browser = bot.browsers[other] = ClientSession(cookie_jar=CookieJar(unsafe=True))
    bot.fake.auth_codes["auth-other"] = bot.staff(other)
    async with browser.post(f"{bot.base}/dingtalk/h5/login", json={"code": "auth-other"}) as r:
        assert r.status == 200
    async with browser.get(other_url) as r:
        page = await r.text()
        assert r.status == 200 and f"确定要对「案件码 {code} · 红码 66分」执行「已知悉」吗？" in page
        assert '<form method="post"' in page and "已确认知悉" not in page
    async with browser.get(other_url) as r:  # opened twice: still only asks
        assert r.status == 200 and "确定要对" in await r.text()
    assert len(fake.sent) == mark
    async with bot.app.services.db() as session:
        acked = (await session.execute(select(DeliveryRow.person_id).where(
            DeliveryRow.acknowledged_at.is_not(None)))).scalars().all()
    assert list(acked) == [inv]


@pytest.mark.parametrize("mode", ["template", "markdown"])
async def test_a_rescore_sends_the_new_card_and_no_copy_of_the_old_one(
        make_bot: Any, fake: FakeDingTalk, mode: str) -> None:
    """Re-scored red → green: each investigator gets the green card. The red card is only
    retired: updated in place with a template; without one (messages cannot be edited) it
    is not sent again as 「案件码 … 红码 66分（已更新）」."""
    bot: Bot = await make_bot(template=mode == "template")
    code, _ = await scored_case(bot, RED)
    staff = [bot.staff(p) for p in INVESTIGATORS]
    await eventually(lambda: len(fake.sent) == 2, what="the two red cards")
    await bot.api("POST", f"/api/v1/cases/{code}/evaluations", {
        "by": PROSECUTOR, "deductions": GREEN, "vetoes": [], "comment": ""})
    for st in staff:
        await bot.wait_for(f"the green card for {st}", lambda s, st=st: to_user(s, st)
                           and heading(s).startswith(f"案件码 {code} · 绿码 95分"), 2)

    async def all_sent() -> bool:
        async with bot.app.services.db() as session:
            rows = list((await session.execute(select(OutboxItem))).scalars())
        return bool(rows) and all(r.status == "sent" for r in rows)

    await eventually(all_sent, what="every outbox row done")
    later = list(fake.sent)[2:]
    new = [s for s in later if s.kind != "card_update"]  # messages, not edits of sent ones
    assert not any("已更新" in heading(s) or "红码" in heading(s) for s in new), \
        [heading(s) for s in new]
    if bot.template:  # the red cards themselves now say 已更新为第2版, without buttons
        updates = [s for s in later if s.kind == "card_update"]
        assert len(updates) == 2 and all(contains(s, "已更新为第2版") for s in updates)
    else:
        assert sorted(s.target for s in later) == sorted(staff)  # one message each, the green


@pytest.mark.parametrize("settled", ["chosen", "rescored"])
async def test_a_yellow_choice_redraws_the_other_code_card_over_dingtalk(
        make_bot: Any, fake: FakeDingTalk, settled: str) -> None:
    """The prosecutor asked 码 twice on a 黄码待定, then typed 先收后补 (or the case was
    re-scored green first, the choice moot): the 码 cards no longer offer 延期受理 / 先收后补
    in DingTalk either (updated in place), and say what was decided (or why no choice is
    left)."""
    bot: Bot = await make_bot(template=True)
    code, _ = await scored_case(bot, YELLOW)
    pro_dt = bot.staff(PROSECUTOR)
    fake.send_message(f"受理 {code}", staff_id=bot.staff("p-case-manager-1"))
    await bot.wait_for("the 受理待定 card", lambda s: to_user(s, pro_dt)
                       and heading(s).startswith(f"受理待定 {code}"))
    tracks: list[str] = []
    for n in range(2):
        mark = len(fake.sent)
        fake.send_message(f"码 {code}", staff_id=pro_dt)
        shown = await bot.wait_for(f"码 card {n + 1}", lambda s: to_user(s, pro_dt)
                                   and heading(s).startswith(f"案件码 {code}"), mark)
        assert {"延期受理", "先收后补"} <= {a["label"] for a in actions(shown)}
        tracks.append(shown.body["outTrackId"])
    if settled == "chosen":
        fake.send_message(f"先收后补 {code}", staff_id=pro_dt)
        footer, line = "已决定：先收后补（", "受理：先收后补（"
    else:
        await bot.api("POST", f"/api/v1/cases/{code}/evaluations", {
            "by": PROSECUTOR, "deductions": GREEN, "vetoes": [], "comment": ""})
        footer, line = "已转为绿码 95分，不再待定，", "；此后已重新评分，需重新扫码受理"

    def redrawn(track: str) -> bool:
        labels = {a["label"] for a in json.loads(fake.cards[track]["actions"])}
        return not labels & {"延期受理", "先收后补"}

    await eventually(lambda: all(redrawn(t) for t in tracks), what="both 码 cards updated")
    for track in tracks:
        assert fake.cards[track]["footer"].startswith(footer)
        assert line in fake.cards[track]["body"]
