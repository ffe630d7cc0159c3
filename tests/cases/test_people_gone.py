"""People who left the roster or lost access to a case: a prosecutor who left is still named
(张三（已离开名册）), also after a restart; one reassigned away (改派) is told why they may no
longer see the case; and the cards in the 1:1 chat of someone who may no longer see it are not
redrawn with its new state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory import Directory
from storage import audit, db, migrate
from storage.cases import CaseFormerProsecutor, CaseRow
from storage.models import table
from tests.admin.test_roster_departures import hand_edit, without
from tests.cases.helpers import (
    AUTH,
    INVESTIGATORS,
    MANAGER,
    PROSECUTOR,
    RED,
    YELLOW,
    cards,
    create_case,
    editable_console,
    evaluate,
)
from tests.cases.test_new_case import login
from tests.conftest import START, Console, make_settings, open_console

NEW = "p-prosecutor-2"  # of the same office as PROSECUTOR
OTHER = "p-prosecutor-3"  # of the same office, never on the case


async def say(console: Console, user: str, text: str) -> list[dict[str, Any]]:
    return list((await console.send(user, f"dm:{user}", text))["messages"])


async def current(console: Console, chat: str, message_id: int) -> dict[str, Any]:
    """A message as it reads now (redrawn in place since it was sent)."""
    [msg] = [m for m in await console.messages(chat) if m["id"] == message_id]
    return msg


def page_url(card: dict[str, Any]) -> str:
    """The path of a card's 查看详情 (the code page)."""
    [url] = [a["url"] for a in card["actions"] if a["label"] == "查看详情"]
    return "/" + str(url).split("/", 3)[3]


# -- a prosecutor who left the roster -----------------------------------------------------------

async def test_a_prosecutor_who_left_is_named_with_the_name_they_had(
        tmp_path: Path, port: int) -> None:
    async with editable_console(tmp_path, port) as (console, org):
        name = console.app.services.directory.person_name(PROSECUTOR)  # 余斌梅
        code = await create_case(console)
        await evaluate(console, code, RED)
        await hand_edit(console, org, without(PROSECUTOR))
        gone = f"{name}（已离开名册）"

        [shown] = await say(console, MANAGER, f"码 {code}")  # the 码 card
        assert f"承办检察官：{gone}" in shown["card"]["body"]
        assert PROSECUTOR not in shown["card"]["body"]
        await login(console, MANAGER)  # the code page: the case and who scored it
        page = await (await console.client.get(page_url(shown["card"]))).text()
        assert page.count(gone) >= 2 and PROSECUTOR not in page
        [stats] = await say(console, MANAGER, "统计")  # 按承办检察官
        assert gone in str(stats["card"]) and PROSECUTOR not in str(stats["card"])

    # a restart on the roster without them: the name comes from the stored roster versions
    settings = make_settings(tmp_path, org=str(org),
                             web={"public_url": f"http://127.0.0.1:{port}"})
    assert PROSECUTOR not in {p.id for p in settings.org.people}
    async with open_console(settings, port) as console:
        [shown] = await say(console, MANAGER, f"码 {code}")
        assert f"承办检察官：{gone}" in shown["card"]["body"]


def test_someone_no_roster_ever_named_is_named_neutrally(settings: Any) -> None:
    d = Directory(settings.org, {"p-0011": "张三"})
    assert d.person_name("p-0012") == "已离开名册的人员（p-0012）"
    assert d.person_name("p-0011") == "张三（已离开名册）"
    assert d.person_name(PROSECUTOR) == "余斌梅"  # on the roster: as it names them now
    assert Directory(settings.org, {PROSECUTOR: "旧名"}).person_name(PROSECUTOR) == "余斌梅"
    assert d.person_name("") == ""


# -- a prosecutor reassigned away (改派) --------------------------------------------------------

async def test_a_prosecutor_reassigned_away_is_told_why(console: Console) -> None:
    code = await create_case(console)
    [shown] = await say(console, PROSECUTOR, f"码 {code}")
    url = page_url(shown["card"])
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                   json={"prosecutor": NEW})
    assert r.status == 200, await r.text()
    new_name = console.app.services.directory.person_name(NEW)
    why = f"案件 {code} 已改派给 {new_name}，您已无权查看。"

    # the card they hold says so
    assert (await current(console, f"dm:{PROSECUTOR}", shown["id"]))["card"]["footer"] == \
        f"已改派给 {new_name}"
    # its page, the score form and the outline: 403 with the reason
    await login(console, PROSECUTOR)
    for path in (url, f"/cases/{code}/score", f"/cases/{code}/outline.md"):
        page = await console.client.get(path)
        text = await page.text()
        assert page.status == 403 and "案件已改派" in text and why in text, path
    # in chat: 码 and 复核
    for asked in (f"码 {code}", f"复核 {code}"):
        [answer] = await say(console, PROSECUTOR, asked)
        assert answer["text"] == why

    # anyone else is refused as before, without learning to whom it went
    await login(console, OTHER)
    page = await console.client.get(url)
    text = await page.text()
    assert page.status == 403 and "仅本案侦查人员、承办检察官" in text and new_name not in text
    [answer] = await say(console, OTHER, f"码 {code}")
    assert answer["text"].startswith(f"您无权查看案件码 {code}：")

    # reassigned back: theirs again
    r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                   json={"prosecutor": PROSECUTOR})
    assert r.status == 200, await r.text()
    await login(console, PROSECUTOR)
    assert (await console.client.get(url)).status == 200


async def test_reassignments_before_the_upgrade_are_known_after_it(tmp_path: Path) -> None:
    """0033 reads the reassignments made before it from the audit trail."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    await migrate.upgrade(engine, "0032_messages_at")
    async with engine.begin() as conn:
        for code in ("C1", "C2"):
            await conn.execute(insert(table(CaseRow)).values(
                code=code, unit="u", title="t", stage="审查逮捕", police_unit="ps",
                prosecutor=NEW, status="open", created_at=START, created_by="p", version=0))
    async with AsyncSession(engine) as s, s.begin():
        for code, was, to in (("C1", PROSECUTOR, OTHER), ("C1", OTHER, NEW),
                              ("C2", PROSECUTOR, NEW)):
            await audit.append(s, at=START, actor="api", action="case.reassign", subject=code,
                               data={"from": was, "to": to})
    assert await migrate.upgrade(engine) == ["0033_case_former_prosecutors"]
    async with AsyncSession(engine) as s:
        rows = (await s.execute(select(CaseFormerProsecutor.case_code,
                                       CaseFormerProsecutor.person_id))).all()
    assert sorted(rows) == [("C1", PROSECUTOR), ("C1", OTHER), ("C2", PROSECUTOR)]
    await engine.dispose()


# -- a 1:1 chat whose person may no longer see the case ---------------------------------------

async def test_a_case_manager_moved_away_keeps_the_card_as_it_was(
        tmp_path: Path, port: int) -> None:
    async with editable_console(tmp_path, port) as (console, org):
        code = await create_case(console)
        await evaluate(console, code, YELLOW)
        [asked] = await say(console, MANAGER, f"码 {code}")  # its 码 card, with 扫码受理
        assert "扫码受理" in [a["label"] for a in asked["card"]["actions"]]
        await say(console, MANAGER, f"受理 {code}")  # 待定: waits for the prosecutor
        [waiting] = [m for m in cards(await console.messages(f"dm:{MANAGER}"))
                     if m["card"]["title"] == f"受理 {code} · 待定"]

        def to_another_county(data: dict[str, Any]) -> None:
            next(p for p in data["people"] if p["id"] == MANAGER)["unit"] = "c01-02"
        await hand_edit(console, org, to_another_county)

        # the prosecutor chooses: the case manager's cards do not learn what
        [prompt] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
                    if m["card"]["title"].startswith(f"受理待定 {code}")]
        await console.click(PROSECUTOR, prompt["id"], "intake.receive")
        now = (await current(console, f"dm:{MANAGER}", waiting["id"]))["card"]
        assert now["title"] == f"受理 {code} · 待定" and "已决定" not in str(now)
        assert now["body"] == waiting["card"]["body"] and now["actions"] == []
        assert now["footer"] == "您已无权查看此案件，本卡片不再更新"

        # the case is re-scored red and closed: nor do their other cards
        await evaluate(console, code, RED)
        assert (await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH, json={
            "status": "closed"})).status == 200
        for m in (waiting, asked):
            now = (await current(console, f"dm:{MANAGER}", m["id"]))["card"]
            assert now["body"] == m["card"]["body"] and now["color"] == m["card"]["color"]
            assert "红码" not in str(now) and "结案" not in str(now)
            assert now["actions"] == [] and now["footer"] == "您已无权查看此案件，本卡片不再更新"



# -- no word about the case to someone who may no longer see it ---------------------------------

MANAGER2 = "p-case-manager-2"  # of the same office as MANAGER, stays there


async def texts(console: Console, person: str) -> list[str]:
    return [m["text"] for m in await console.messages(f"dm:{person}") if m["text"]]


async def both_scanned_then_one_moved(console: Console, org: Path, code: str) -> None:
    """Both case managers scan the yellow case (待定); then MANAGER is moved to 乐顺."""
    await evaluate(console, code, YELLOW)
    await say(console, MANAGER, f"受理 {code}")
    await say(console, MANAGER2, f"受理 {code}")

    def to_another_county(data: dict[str, Any]) -> None:
        next(p for p in data["people"] if p["id"] == MANAGER)["unit"] = "c01-02"
    await hand_edit(console, org, to_another_county)


async def test_a_case_manager_moved_away_is_not_told_the_choice(
        tmp_path: Path, port: int) -> None:
    async with editable_console(tmp_path, port) as (console, org):
        code = await create_case(console)
        await both_scanned_then_one_moved(console, org, code)
        before = await texts(console, MANAGER)
        prompt = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
                  if m["card"]["title"].startswith(f"受理待定 {code}")][-1]
        await console.click(PROSECUTOR, prompt["id"], "intake.receive")
        told = f"{code} 承办检察官余斌梅已决定：先收后补。"
        assert told in await texts(console, MANAGER2)  # still in the office: told
        assert await texts(console, MANAGER) == before  # moved away: nothing


async def test_a_case_manager_moved_away_is_not_told_the_wait_ended_or_began_again(
        tmp_path: Path, port: int) -> None:
    async with editable_console(tmp_path, port) as (console, org):
        code = await create_case(console)
        await both_scanned_then_one_moved(console, org, code)
        before = await texts(console, MANAGER)
        # closed while 待定 (intake_moot_by_closing), then reopened (intake_waits_again)
        for status, said in (("closed", "案件已结案，不再待定"), ("open", "受理仍为待定")):
            r = await console.client.patch(f"/api/v1/cases/{code}", headers=AUTH,
                                           json={"status": status})
            assert r.status == 200, await r.text()
            assert any(said in t for t in await texts(console, MANAGER2)), status
            assert await texts(console, MANAGER) == before, status
        # re-scored while 待定 (intake_moot_by_rescore)
        await evaluate(console, code, RED)
        assert any("无需等待承办检察官选择，请重新扫码受理" in t
                   for t in await texts(console, MANAGER2))
        assert await texts(console, MANAGER) == before


# -- a review request's filer who may no longer see the case ----------------------------------

INV, INV2 = INVESTIGATORS
HC_LEADER = "p-leader-hc"  # 院领导 of the case's office


def person_name(console: Console, pid: str) -> str:
    return console.app.services.directory.person_name(pid)


async def file_review(console: Console, filer: str = INV, items: str = "1") -> tuple[str, int]:
    """A red case and `filer`'s review request on it: (its code, the prosecutor's card of it)."""
    code = await create_case(console)
    await evaluate(console, code, RED)
    [card] = [m for m in cards(await console.messages(f"dm:{filer}"))
              if m["card"]["title"].startswith("案件码") and code in str(m["card"])]
    r = await console.click(filer, card["id"], "review.file", {"items": items, "reason": "已补证"})
    assert "已提交" in r["messages"][-1]["text"], r
    [pcard] = [m for m in cards(await console.messages(f"dm:{PROSECUTOR}"))
               if m["card"]["title"].startswith("复核申请 #") and code in m["card"]["body"]]
    return code, int(pcard["id"])


async def test_the_prosecutor_is_not_told_a_filer_off_the_roster_was_told(
        tmp_path: Path, port: int) -> None:
    """The filer left the roster after filing: `notify` skips them, so the prosecutor's
    answers to 驳回, 提交检警共同评议 and 记录评议结果 name only those actually told."""
    async with editable_console(tmp_path, port) as (console, org):
        rejected, to_reject = await file_review(console)
        joint, to_meet = await file_review(console)
        gone = person_name(console, INV)
        await hand_edit(console, org, without(INV))
        before = await texts(console, INV)

        r = await console.click(PROSECUTOR, to_reject, "review.reject", {"reason": "证据仍不足"})
        assert r["messages"][-1]["text"] == f"复核申请 #1（{rejected}）已驳回。"

        r = await console.click(PROSECUTOR, to_meet, "review.joint", {"time": "2026-11-05 14:30"})
        said = r["messages"][-1]["text"]
        assert said == (f"复核申请 #2（{joint}）已提交检警共同评议，时间：2026-11-05 14:30，"
                        f"已通知侦查人员{person_name(console, INV2)}、院领导"
                        f"{person_name(console, HC_LEADER)}。评议后请在卡片上点「记录评议结果」。")
        assert "申请人" not in said and gone not in said

        await console.advance("4d")  # the meeting is past
        r = await console.click(PROSECUTOR, to_meet, "review.outcome",
                                {"outcome": "维持", "minutes": "双方同意维持原评分"})
        assert r["messages"][-1]["text"] == "已记录评议结果：维持原评分。"
        assert await texts(console, INV) == before  # nothing reached them


async def test_a_filer_moved_to_another_police_unit_still_hears_the_answer(
        tmp_path: Path, port: int) -> None:
    """An investigator sees a case by being recorded on it (`may_view`: the case's
    investigators, whatever their unit), not by their police unit: moved by a roster edit to
    乐顺's police after filing, they are still told the prosecutor's answers (同意并调整,
    驳回), their receipt cards follow, and the prosecutor hears the reason reached them."""
    async with editable_console(tmp_path, port) as (console, org):
        accepted, to_accept = await file_review(console)
        rejected, to_reject = await file_review(console)

        def to_le_shun_police(data: dict[str, Any]) -> None:
            next(p for p in data["people"] if p["id"] == INV)["unit"] = "ps-ls"
        await hand_edit(console, org, to_le_shun_police)
        moved = console.app.services.directory.person(INV)
        assert moved is not None and moved.unit == "ps-ls"

        r = await console.click(PROSECUTOR, to_accept, "review.accept")
        assert r["messages"][-1]["text"].startswith(f"复核申请 #1（{accepted}）已同意。请您重新评分")
        r = await console.click(PROSECUTOR, to_reject, "review.reject", {"reason": "证据仍不足"})
        assert r["messages"][-1]["text"] == (
            f"复核申请 #2（{rejected}）已驳回，驳回理由已告知申请人{person_name(console, INV)}。")

        told = await texts(console, INV)
        assert f"您的复核申请 #1（{accepted}）已同意，承办检察官将重新评分。" in told
        assert f"您的复核申请 #2（{rejected}）已驳回。理由：证据仍不足" in told
        receipts = {m["card"]["title"]: m["card"] for m in cards(await console.messages(f"dm:{INV}"))
                    if m["card"]["title"].startswith("您的复核申请")}
        assert set(receipts) == {"您的复核申请 #1 · 已同意", "您的复核申请 #2 · 已驳回"}, receipts
        assert "驳回理由：证据仍不足" in receipts["您的复核申请 #2 · 已驳回"]["body"]
        assert all(c["footer"] != "您已无权查看此案件，本卡片不再更新" for c in receipts.values())
