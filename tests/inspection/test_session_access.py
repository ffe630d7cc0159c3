"""A session's pages (report.docx, the big screen and its state and event stream) check the
relation to the session, not only the role: inspectors, members of the session's group, and
院领导 / 检察长 of the running office or an office above it; the projector's signed link; anyone
else (a county's leader with no part in a provincial session) gets 403 with the rule. The draw's
public verification stays open to all."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from config.model import Org, Person
from storage import inspection as store
from storage.models import AuditRecord
from tests.browser.conftest import screenshot_path
from tests.conftest import Console
from tests.inspection.helpers import GROUP, asks, bank, card, quick_session, say
from tests.inspection.test_page_errors import page_refusal

OUTSIDER = "p-leader-hc"  # 院领导 of 海澄县 (c01-01), not in the inspection group
RULE = "报告和大屏仅向检务督察、会议群「检务督导面对面（省院视频会议群）」成员，" \
       "以及主办院（示范省人民检察院）及其上级院的院领导、检察长开放"


async def login(console: Console, user: str) -> None:
    r = await console.client.post("/console/api/login", json={"user": user})
    assert r.status == 200, await r.text()


async def revealed_text(console: Console, sid: str) -> str:
    """The text of the question on the screen now (after one 下一题)."""
    first = next(a for a in await asks(console, sid) if a.revealed_at is not None)
    return (await bank(console))[first.question_id].text


def without_in_group(org: Org, *people: str) -> Org:
    """The roster with `people` taken out of the session's group, and with a 检察长 of the
    province and a 院领导 of a city (neither in the group) added."""
    chats = tuple(c.model_copy(update={"members": tuple(m for m in c.members if m not in people)})
                  if c.id == GROUP else c for c in org.chats)
    added = (Person(id="p-chief-prov", name="省院检察长", unit="prov", roles=("chief",)),
             Person(id="p-leader-c01", name="钱立", unit="c01", roles=("leader",)))
    return org.model_copy(update={"chats": chats, "people": (*org.people, *added)})


async def test_an_unrelated_county_leader_is_refused_every_session_page(console: Console) -> None:
    s = await quick_session(console)
    await say(console, "下一题")
    question = await revealed_text(console, s.id)
    await login(console, OUTSIDER)

    text = await page_refusal(await console.client.get(f"/inspection/{s.id}/report.docx"), 403)
    assert f"会议 {s.id} 的{RULE}" in text
    assert "您（何建，院领导，示范市海澄县人民检察院）无权查看" in text and question not in text
    assert "联系省院检务督察部门" in text

    text = await page_refusal(await console.client.get(f"/live/{s.id}"), 403)
    assert RULE in text and "您（何建" in text and "「打开大屏」链接" in text
    assert f"督导 状态 {s.id}" in text and question not in text

    for path in (f"/live/{s.id}/state", f"/live/{s.id}/events"):
        r = await console.client.get(path)
        assert r.status == 403, path
        error = (await r.json())["error"]
        assert error.startswith(f"无权查看该会议大屏：会议 {s.id} 的") and RULE in error, error

    # nothing was handed out, so no report download is on the audit trail
    async with console.app.services.db() as db:
        reads = (await db.execute(select(AuditRecord.actor).where(
            AuditRecord.action == "inspection.report"))).scalars().all()
    assert reads == []


async def test_province_leaders_inspectors_and_group_members_open_the_pages(
        console: Console) -> None:
    s = await quick_session(console)
    await say(console, "下一题")
    question = await revealed_text(console, s.id)
    # by the office alone, not by the group: neither is a member any more
    console.app.use_org(without_in_group(console.app.services.directory.org,
                                         "p-leader-2", "p-inspector-2"))
    opened = {
        "p-leader-2": "province 院领导, not in the group",
        "p-chief-prov": "province 检察长, not in the group",
        "p-inspector-2": "an inspector, not in the group",
        "p-chief-c01-01": "a county chief in the group (saw it live)",
    }
    for user, why in opened.items():
        await login(console, user)
        r = await console.client.get(f"/inspection/{s.id}/report.docx")
        assert r.status == 200 and r.content_type.endswith("wordprocessingml.document"), why
        r = await console.client.get(f"/live/{s.id}/state")
        assert r.status == 200, why
        assert (await r.json())["question"]["text"] == question, why
        assert (await console.client.get(f"/live/{s.id}")).status == 200, why
    # a city's 院领导 is not above the provincial office that runs the session
    await login(console, "p-leader-c01")
    text = await page_refusal(await console.client.get(f"/inspection/{s.id}/report.docx"), 403)
    assert "您（钱立，院领导，示范市人民检察院）无权查看" in text
    assert (await console.client.get(f"/live/{s.id}/state")).status == 403


async def live_link(console: Console) -> str:
    agenda = card(await say(console, "开始"), "检务督导面对面")
    return str(next(a["url"] for a in agenda["actions"] if "/live/" in a["url"]))


async def test_the_signed_screen_link_still_opens_for_an_outsider(console: Console) -> None:
    await say(console, "督导 新建 投屏 单位数=3 题数=3 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    parts = urlsplit(await live_link(console))
    sid = parts.path.rsplit("/", 1)[1]
    # the projector: nobody signed in
    assert (await console.client.get(f"{parts.path}?{parts.query}")).status == 200
    r = await console.client.get(f"{parts.path}/state?{parts.query}")
    assert r.status == 200 and (await r.json())["id"] == sid
    text = await page_refusal(await console.client.get(parts.path), 403)
    assert RULE in text and "「打开大屏」链接" in text
    r = await console.client.get(f"{parts.path}/state")
    assert r.status == 403 and "请使用会议群内的「打开大屏」链接" in (await r.json())["error"]
    # signed in as someone with no relation: the link still opens the screen
    await login(console, OUTSIDER)
    assert (await console.client.get(f"{parts.path}?{parts.query}")).status == 200
    assert (await console.client.get(f"{parts.path}/state?{parts.query}")).status == 200
    assert (await console.client.get(f"{parts.path}/state")).status == 403


async def test_the_public_draw_verification_stays_open(console: Console) -> None:
    s = await quick_session(console)
    for user in (None, OUTSIDER):
        console.client.session.cookie_jar.clear()
        if user:
            await login(console, user)
        r = await console.client.get("/draw/verify", params={"session": s.id})
        assert r.status == 200 and "复核一致" in await r.text(), user
        r = await console.client.get(f"/draw/{s.id}/publication.json")
        assert r.status == 200 and (await r.json())["result"]["manifest_hash"] == s.manifest_hash
        r = await console.client.get(f"/draw/{s.id}/manifest.json")
        assert r.status == 200 and (await r.json())["manifest_hash"] == s.manifest_hash
        assert (await console.client.get("/draw/verify.py")).status == 200


@pytest.mark.browser
async def test_an_outsider_reads_the_rule_on_a_phone(console: Console, browser: Browser,
                                                     request: Any) -> None:
    """The county leader who opens the big screen's address on a phone, signed in, sees the
    styled refusal with the rule, not the screen."""
    s: store.InspectionSession = await quick_session(console)
    ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                    device_scale_factor=3, is_mobile=True, has_touch=True)
    r = await console.client.post("/console/api/login", json={"user": OUTSIDER})
    cookie = r.cookies[next(iter(r.cookies))]
    await ctx.add_cookies([{"name": cookie.key, "value": cookie.value,
                            "url": str(console.client.make_url("/"))}])
    page = await ctx.new_page()
    resp = await page.goto(str(console.client.make_url(f"/live/{s.id}")))
    assert resp is not None and resp.status == 403
    await expect(page.locator("#error h1")).to_have_text("无权查看")
    await expect(page.locator("#error")).to_contain_text(RULE)
    await expect(page.locator("#error")).to_contain_text("您（何建，院领导，示范市海澄县人民检察院）无权查看")
    await page.screenshot(path=str(screenshot_path(request, "outsider-refused")))
    await ctx.close()
