"""What a host reads when a command comes at the wrong moment or with a wrong argument: every
stage refusal says where the session stands and what to send next; follow-up tasks go only to
people who can sensibly own them; bad dates and unknown people are named, not answered with a
bare usage line."""

from __future__ import annotations

import json
import re

from storage import inspection as store
from tests.conftest import Console
from tests.inspection.helpers import (
    HOST,
    asks,
    bank,
    card,
    city_chief,
    quick_session,
    run_unit,
    say,
)
from tests.inspection.test_report import all_text


def text(messages: list[dict[str, object]]) -> str:
    assert messages and isinstance(messages[0]["text"], str), messages
    return messages[0]["text"]


async def drawn_units(console: Console) -> list[str]:
    s = await quick_session(console)
    return list(json.loads(s.result or "")["units"])


async def test_stage_refusals_say_where_the_session_is_and_what_to_send(console: Console) -> None:
    d = console.app.services.directory
    await say(console, "督导 新建 阶段提示 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    early = text(await say(console, "公布答案"))
    assert "现在不能公布答案" in early and "尚未抽签" in early and "请先发送「开始」" in early
    assert "尚未全部公布" not in early
    await say(console, "开始")
    before_draw = text(await say(console, "公布答案"))
    assert "尚未抽签" in before_draw and "抽签 <公开随机数>" in before_draw
    await say(console, "抽签 5 2 8")
    s = await store_session(console)
    units = json.loads(s.result or "")["units"]
    first, second = d.units[units[0]].name, d.units[units[1]].name

    published = await run_unit(console, 3, units[0], "回答到位。")
    assert f"请发送「下一题」问询下一个单位（{second}）" in published[-1]["text"]
    # (a) a second 公布答案: it was published, and the next step is named
    again = text(await say(console, "公布答案"))
    assert f"{first}的答案已公布" in again and f"「下一题」问询下一个单位（{second}）" in again
    assert "尚未全部公布" not in again
    # … and a late 点评 is refused for what is true: the answers are out, not the questions
    late = text(await say(console, "点评 迟到的点评", user=city_chief(console, units[0])))
    assert late.startswith("现在不是点评环节：") and f"{first}的答案已公布" in late
    assert "题目全部出完后" not in late
    # (b) no special-inquiry unit, two units still to go: the advice is 下一题, not 整改汇报
    special = text(await say(console, "专项问询"))
    assert "未设置专项问询单位" in special and "「下一题」" in special and "整改汇报" not in special
    report = text(await say(console, "整改汇报"))
    assert "现在不能进入整改汇报" in report and f"「下一题」问询下一个单位（{second}）" in report
    # mid-unit: the count of questions asked so far
    await say(console, "下一题")
    mid = text(await say(console, "点评"))
    assert "不是点评环节" in mid and f"正在问询{second}（已出 1/3 题）" in mid
    # (c) a second 结束 says the meeting has ended, and what can still be done
    await say(console, "结束 确认")
    ended = text(await say(console, "结束"))
    assert "已结束" in ended and s.id in ended and "没有进行中" not in ended
    assert "「整改" in ended and "督导 新建" in ended
    assert "已结束" in text(await say(console, "下一题"))


async def store_session(console: Console) -> store.InspectionSession:
    async with console.app.services.db() as db:
        s = await store.latest_in_chat(db, "g-inspection")
    assert s is not None
    return s


async def test_special_inquiry_advice_after_the_drawn_units(console: Console) -> None:
    d = console.app.services.directory
    s = await quick_session(console, extra="专项=c05-02:Q010,Q020")
    units = json.loads(s.result or "")["units"]
    for i, unit in enumerate(units):
        log = await run_unit(console, 3, unit, "好")
        if i < len(units) - 1:
            continue
        assert f"请发送「专项问询」（{d.units['c05-02'].name}）" in log[-1]["text"]
    refused = text(await say(console, "整改汇报"))
    assert "现在不能进入整改汇报" in refused and "「专项问询」" in refused
    await say(console, "专项问询")
    for _ in range(2):
        await say(console, "下一题")
    done = await say(console, "公布答案")
    assert "问询全部完成。请发送「整改汇报」" in done[-1]["text"]
    await say(console, "整改汇报")
    in_report = text(await say(console, "下一题"))
    assert "现在不能出题" in in_report and "正在整改汇报" in in_report and "「结束」" in in_report


async def test_rectification_owner_must_be_of_that_office(console: Console) -> None:
    d = console.app.services.directory
    units = await drawn_units(console)
    unit = units[1]
    police = await say(console, "整改 2 2026-12-15 形式主义整治不到位 责任人=p-investigator-1")
    refused = text(police)
    assert "已登记" not in refused and "不能作为" in refused
    assert d.units[unit].name in refused and f"p-chief-{unit}" in refused  # who may be chosen
    assert not [m for m in await console.messages("dm:p-investigator-1")
                if m["card"] and m["card"]["title"].startswith("整改事项")]
    other_county = f"p-chief-{units[0]}"
    assert "不能作为" in text(await say(console, f"整改 2 30天 台账 责任人={other_county}"))
    unknown = text(await say(console, "整改 2 30天 台账 责任人＝p-nobody"))  # full-width ＝
    assert "找不到人员「p-nobody」" in unknown and f"p-chief-{unit}" in unknown
    # the unit's own staff or its city office may own an item
    ok = text(await say(console, f"整改 2 30天 补齐台账 责任人={city_chief(console, unit)}"))
    assert ok.startswith("已登记整改事项") and d.person(city_chief(console, unit)).name in ok  # type: ignore[union-attr]
    assert text(await say(console, "整改 2 30天 建立月报制度")).startswith("已登记整改事项")
    async with console.app.services.db() as db:
        s = await store.latest_in_chat(db, "g-inspection")
        assert s is not None
        owners = [i.owner_person_id for i in await store.rectifications_of(db, s.id)]
    assert owners == [city_chief(console, unit), f"p-chief-{unit}"]


async def test_site_inspection_is_led_from_above_never_by_the_unit_itself(console: Console) -> None:
    d = console.app.services.directory
    units = await drawn_units(console)
    own = text(await say(console, f"实地督察 2 p-chief-{units[1]}"))
    assert "不能负责对本单位的实地督察" in own and "p-inspector-1" in own
    police = text(await say(console, "实地督察 2 p-investigator-1"))
    assert "不能负责" in police and "检务督察、院领导" in police
    nobody = text(await say(console, "实地督察 3 p-nobody"))
    assert "找不到人员「p-nobody」" in nobody
    bad_date = text(await say(console, "实地督察 2 p-leader-1 2026-13-01"))
    assert "截止日期「2026-13-01」无效" in bad_date
    ok = text(await say(console, "实地督察 2 p-leader-1 2026-12-10"))
    assert ok.startswith("已部署实地督察") and d.units[units[1]].name in ok and "2026-12-10" in ok


async def test_bad_rectification_arguments_are_named(console: Console) -> None:
    d = console.app.services.directory
    units = await drawn_units(console)
    name = d.units[units[0]].name
    bad_date = text(await say(console, f"整改 {name} 2026-13-01 整治不到位"))
    assert "截止日期「2026-13-01」无效" in bad_date and not bad_date.startswith("用法")
    outsider = next(u.name for u in d.org.units if u.kind == "county" and u.id not in units)
    not_here = text(await say(console, f"整改 {outsider} 2026-12-01 整治不到位"))
    assert f"「{outsider}」不是本次会议的单位" in not_here and name in not_here
    for ref in ("\u00b2", "\u2460"):  # ² and ①: digits to str.isdigit(), not to int()
        odd = text(await say(console, f"整改 {ref} 2026-12-01 整治不到位"))
        assert f"「{ref}」不是本次会议的单位" in odd
        odd = text(await say(console, f"实地督察 {ref} p-leader-1"))
        assert f"「{ref}」不是本次会议的单位" in odd
    past = text(await say(console, "整改 1 2026-10-01 整治不到位"))
    assert "早于今天" in past
    far = text(await say(console, "整改 1 9999-12-31 整治不到位"))  # its reminder would never come
    assert "截止日期 9999-12-31 晚于 2031-12-31" in far
    far = text(await say(console, "实地督察 2 p-leader-1 9999-12-31"))
    assert "截止日期 9999-12-31 晚于 2031-12-31" in far
    # a date 整改 refuses is refused, not taken as the task's text
    for typed, said in [("昨天", "截止日期「昨天」无效，请写 2026-12-31、2026年12月31日、12月31日 或 30天"
                                 "（可省略）。"),
                        ("2月30日", "截止日期「2月30日」无效：2 月没有 30 日。"),
                        ("下周五", "截止日期「下周五」无效"),
                        ("2026-10-01", "截止日期 2026-10-01 早于今天。")]:
        refused = text(await say(console, f"实地督察 2 p-leader-1 {typed} 查阅案卷"))
        assert refused.startswith(said), refused
        assert f"「{typed}」无效" in text(await say(console, f"整改 1 {typed} 查阅案卷")) \
            or "早于今天" in said
    ok = text(await say(console, "实地督察 2 p-leader-1 今年共查阅案卷"))  # text, not a date
    assert ok.startswith("已部署实地督察") and "期限" not in ok, ok
    full_width = text(await say(console, "整改 1 ２０２６－１２－３１ 整治不到位"))
    assert full_width.startswith("已登记整改事项") and "2026-12-31" in full_width


async def test_bank_ids_are_found_however_they_are_typed(console: Console) -> None:
    q = (await bank(console))["Q017"]
    for typed in ("q017", "Ｑ０１７", "Q017"):
        read = text(await say(console, f"题库 {typed}", chat=f"dm:{HOST}"))
        assert read.startswith("Q017") and q.text in read, typed
    assert "没有题号「Q999」" in text(await say(console, "题库 Q999", chat=f"dm:{HOST}"))


async def test_agenda_states_the_city_rule_the_draw_uses(console: Console) -> None:
    """The agenda's 抽签 line says 每市 1 个 only when the draw keeps one unit per city (the
    seed's rule, the default); a session created with 每市一个=否 must not announce it."""
    commit = card(await say(console, "督导 新建 全省抽取 每市一个=否"), "抽签承诺")
    assert "每市" not in commit["body"] and "同一市可抽中多个" in commit["body"]
    agenda = card(await say(console, "开始"), "检务督导面对面")
    assert "（每市 1 个）" not in agenda["body"] and "（同一市可抽中多个）" in agenda["body"]
    await say(console, "结束 确认")
    await say(console, "督导 新建 每市一院")
    agenda = card(await say(console, "开始"), "检务督导面对面")
    assert "随机抽取 3 个基层院（每市 1 个）" in agenda["body"]


async def test_followup_goes_to_the_last_drawn_session_past_an_undrawn_one(
        console: Console) -> None:
    """A session created after the drawn one and ended (or still waiting) without a draw has
    no units: 整改 / 实地督察 after it are the drawn session's, as its 会议结束 card invites
    (they answered 本群没有已抽签的督导会议)."""
    drawn = await quick_session(console)
    await say(console, "结束 确认")
    await say(console, "督导 新建 误建的一期 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    ended = card(await say(console, "结束 确认"), "会议结束")
    # nothing was drawn: no 复核抽签, no invitation to follow up on this session
    assert ended["actions"] == [] and "本次会议未抽签" in ended["body"]
    assert "会后可继续登记" not in ended["body"]
    ok = text(await say(console, "整改 1 2026-12-15 建立月报制度"))
    assert ok.startswith("已登记整改事项"), ok
    async with console.app.services.db() as db:
        [item] = await store.rectifications_of(db, drawn.id)
    assert item.text == "建立月报制度"


async def test_rectification_report_by_number_and_wrong_arguments_named(console: Console) -> None:
    """整改汇报 in front of the meeting: the prompt card numbers the units due to report, the
    host records a report by that number (as 整改 and 实地督察 take the drawn unit's number),
    and a wrong unit or status is named instead of a bare usage line."""
    d = console.app.services.directory
    due = ["c02-03", "c05-02"]
    s = await quick_session(console, extra="整改汇报=" + ",".join(due))
    for unit in json.loads(s.result or "")["units"]:
        await run_unit(console, 3, unit, "好")
    prompt = card(await say(console, "整改汇报"), "整改汇报")["body"]
    assert f"1. {d.units[due[0]].name}（检察长" in prompt
    assert f"2. {d.units[due[1]].name}（检察长" in prompt
    assert "「整改汇报 <单位|序号> 已整改|整改中|未整改 [说明]」" in prompt

    recorded = text(await say(console, "整改汇报 2 整改中 台账正在补齐"))
    assert recorded == f"已记录{d.units[due[1]].name}的整改汇报：整改中。"
    async with console.app.services.db() as db:
        [note] = [n for n in await store.notes_of(db, s.id) if n.kind == "report"]
    assert (note.unit_id, note.status, note.text) == (due[1], "整改中", "台账正在补齐")

    unknown = text(await say(console, "整改汇报 9 已整改"))
    assert unknown.startswith("「9」不是应汇报整改的单位。")
    assert f"1. {d.units[due[0]].name}；2. {d.units[due[1]].name}" in unknown
    status = text(await say(console, "整改汇报 1 完成了"))
    assert status.startswith("整改情况「完成了」无效，应为已整改、整改中或未整改。")
    missing = text(await say(console, "整改汇报 1"))
    assert missing.startswith("缺少整改情况（已整改、整改中或未整改）。")


async def test_the_closing_summary_shows_site_inspections_as_it_shows_rectifications(
        console: Console) -> None:
    """整改 and 实地督察 recorded during the meeting: the 会议结束 card lists each 实地督察 with
    what is to be done, who leads it and by when (it named only the unit and the person)."""
    d = console.app.services.directory
    units = await drawn_units(console)
    await say(console, "整改 1 2026-12-31 建立月报制度")
    await say(console, "实地督察 2 p-leader-1 2026-12-10 核查认罪认罚台账")
    sent = await say(console, "实地督察 3 p-inspector-2")
    # the assignee's message says what to do once (it read 实地督察（会议 …）：实地督察：听取…)
    [dm] = [m["text"] for m in sent if m["chat"] == "dm:p-inspector-2"]
    assert dm.startswith(f"您负责对{d.units[units[2]].name}的实地督察（会议 ") and \
        "）：听取汇报、座谈交流" in dm and dm.count("实地督察") == 1, dm
    body = card(await say(console, "结束 确认"), "会议结束")["body"]
    lead, inspector = d.person("p-leader-1"), d.person("p-inspector-2")
    assert lead is not None and inspector is not None
    assert re.search(r"  · #\d+ " + d.units[units[0]].name + "：建立月报制度（", body), body
    assert "期限 2026-12-31）" in body
    assert "实地督察：2 项" in body, body
    assert f"  · {d.units[units[1]].name}：核查认罪认罚台账（{lead.name}，期限 2026-12-10）" in body
    # the default task, without a date: what it is, not 实地督察 twice; no date is said so
    assert (f"  · {d.units[units[2]].name}：听取汇报、座谈交流、查阅资料、翻阅案卷、个别谈话，"
            f"核对“说的”和“做的”是否一致（{inspector.name}，未定期限）") in body, body


async def test_a_corrected_rectification_report_replaces_the_earlier_one(
        console: Console) -> None:
    """The host corrects a unit's 整改汇报 by reporting it again: the reply says 已更新, and the
    会议结束 card and the meeting report count and show each unit once, as last reported."""
    d = console.app.services.directory
    due = ["c02-03", "c05-02"]
    s = await quick_session(console, extra="整改汇报=" + ",".join(due))
    for unit in json.loads(s.result or "")["units"]:
        await run_unit(console, 3, unit, "好")
    await say(console, "整改汇报")
    await say(console, "整改汇报 1 未整改 台账尚未建立")
    corrected = text(await say(console, "整改汇报 1 整改中 台账正在补齐"))
    assert corrected == f"已更新{d.units[due[0]].name}的整改汇报：整改中（原为未整改）。"
    await say(console, "整改汇报 2 已整改")
    body = card(await say(console, "结束 确认"), "会议结束")["body"]
    assert "整改汇报 2 条" in body, body

    await console.client.post("/console/api/login", json={"user": "p-leader-1"})
    report = all_text(await (await console.client.get(f"/inspection/{s.id}/report.docx")).read())
    assert f"{d.units[due[0]].name}：整改中。台账正在补齐" in report
    assert "台账尚未建立" not in report and report.count(f"{d.units[due[0]].name}：") == 1


async def test_follow_up_hints_name_what_the_commands_accept(console: Console) -> None:
    """The 会议结束 card, 督导 状态 after it and the usage replies write 整改 and 实地督察 the
    same way, and the forms they name (a person by name, a due date as N天) are accepted."""
    rectify = "整改 <单位|序号> <截止日期|N天> <内容> [责任人=<人员ID|姓名>]"
    site = "实地督察 <单位|序号> <负责人ID|姓名> [截止日期|N天] [内容]"
    units = await drawn_units(console)
    ended = card(await say(console, "结束 确认"), "会议结束")["body"]
    assert f"会后可继续登记：「{rectify}」「{site}」" in ended, ended
    status = text(await say(console, "督导 状态"))
    assert f"会后跟进请发送「{rectify}」或「{site}」" in status, status
    assert text(await say(console, "整改 1")).startswith(f"用法：{rectify}\n")
    assert text(await say(console, "实地督察 1")).startswith(f"用法：{site}\n")

    d = console.app.services.directory
    chief = d.chief_of(units[0])
    leader = d.person("p-leader-1")
    assert chief is not None and leader is not None
    ok = text(await say(console, f"整改 1 30天 建立月报制度 责任人={chief.name}"))
    assert ok.startswith("已登记整改事项") and f"责任人{chief.name}" in ok, ok
    ok = text(await say(console, f"实地督察 2 {leader.name} 30天 核查台账"))
    assert ok.startswith("已部署实地督察") and f"负责人{leader.name}" in ok, ok


async def test_chat_texts_write_names_as_chinese_does(console: Console) -> None:
    """Chinese has no spaces between words: the host's replies and the cards of a whole
    session — refusals, records, the follow-up and the DM it sends — write an office or a
    person by name right against the Chinese around it (「X院的答案已公布」, not 「X院 的答案已
    公布」), keeping a space only next to numbers and ids."""
    d = console.app.services.directory
    s = await quick_session(console, extra="专项=c05-02:Q010,Q020 整改汇报=c02-03,c05-01")
    units = list(json.loads(s.result or "")["units"])
    first = d.units[units[0]].name
    said = await say(console, "下一题")
    said += await say(console, "点评")  # too early: 正在问询…
    for _ in range(3):
        said += await say(console, "下一题")  # the last one: all asked
    said += await say(console, "点评")
    said += await say(console, "下一题")  # during 点评
    said += await say(console, "点评 回答到位", user=city_chief(console, units[0]))
    said += await say(console, "公布答案")
    for unit in units[1:]:
        said += await run_unit(console, 3, unit, "好")
    said += await say(console, "专项问询")
    for _ in range(2):
        said += await say(console, "下一题")
    said += await say(console, "公布答案")
    said += await say(console, "整改汇报")
    said += await say(console, "整改汇报 1 整改中")
    said += await say(console, "整改汇报 1 已整改")
    said += await say(console, "结束 确认")
    chief, reporting = d.chief_of(units[0]), d.chief_of("c02-03")
    assert chief is not None and reporting is not None
    said += await say(console, "整改 1 30天 建立月报制度")
    said += await say(console, "整改 1 30天 建立月报制度 责任人=p-investigator-1")
    said += await say(console, f"实地督察 1 {chief.id}")
    said += await say(console, "实地督察 1 p-investigator-1")
    said += await say(console, "实地督察 2 p-leader-1 30天 核查台账")
    said += await console.messages("dm:p-leader-1")
    said += await console.messages(f"dm:{chief.id}")
    every = "\n".join((m["text"] or "") + (f"\n{m['card']['title']}\n{m['card']['body']}"
                                           if m["card"] else "") for m in said)

    names = {u.name for u in d.org.units} | {p.name for p in d.org.people}
    cjk = "[\u4e00-\u9fff]"
    spaced = sorted({line for line in every.split("\n") for n in names
                     if re.search(f"{cjk} {re.escape(n)}|{re.escape(n)} {cjk}", line)})
    assert spaced == [], spaced
    for expected in (f"正在问询{first}（已出 1/3 题）", f"{first}的 3 道题已全部问完",
                     f"正在点评{first}。", f"已记录对{first}的点评。", f"{first}的答案已公布。",
                     f"请{chief.name}检察长脱稿作答。",
                     f"1. {d.units['c02-03'].name}（检察长{reporting.name}）",
                     f"责任人{chief.name}，期限 ", f"是被督察单位{first}的人员",
                     f"不能负责对{first}的实地督察", f"不能作为{first}的整改责任人",
                     "的整改汇报：已整改（原为整改中）", "您负责对"):
        assert expected in every, expected


async def test_a_double_sent_next_question_reveals_one_question(console: Console) -> None:
    """下一题 sent twice at once (a double send, or two hosts) shows one confidential question,
    not two back to back; the second is told why and how to go on at once (下一题 确认). A
    下一题 once the guard's 30 s have passed goes on as usual."""
    s = await quick_session(console)
    first = await say(console, "下一题")
    assert card(first, "问询")["title"].endswith("第 1 题")
    double = await say(console, "下一题", answered=False)
    assert [m["card"] for m in double] == [None]
    assert double[0]["text"].startswith("第 1 题刚刚公布，未出新题"), double[0]["text"]
    assert "「下一题 确认」" in double[0]["text"]
    assert sum(a.revealed_at is not None for a in await asks(console, s.id)) == 1
    # the host who means it: at once, with 确认 (typed as phones do: no space)
    forced = await say(console, "下一题确认", answered=False)
    assert card(forced, "问询")["title"].endswith("第 2 题")
    await console.advance("5s")  # a second or more: how long ago it was
    late = await say(console, "下一题", answered=False)
    assert late[0]["text"].startswith("第 2 题 5 秒前刚刚公布，未出新题"), late[0]["text"]
    # 40 s later (the unit answered quickly): plain 下一题 goes on
    await console.advance("40s")
    third = await say(console, "下一题", answered=False)
    assert card(third, "问询")["title"].endswith("第 3 题")
    assert sum(a.revealed_at is not None for a in await asks(console, s.id)) == 3


async def test_a_command_ending_as_a_sentence_is_the_command(console: Console) -> None:
    """Phones end a message with 。 ？ or ！: 「下一题。」 is 下一题 (with @casebot or without it
    in the group), 「督导 状态？」 is 督导 状态, 「整改汇报 1 整改中。」 records 整改中; a free
    text (a comment, a 说明) keeps its own punctuation, inside and at the end."""
    d = console.app.services.directory
    s = await quick_session(console, extra="整改汇报=c02-03")
    units = list(json.loads(s.result or "")["units"])
    await console.advance("1m")
    assert card(await say(console, "@casebot 下一题。"), "问询")["title"].endswith("第 1 题")
    await console.advance("1m")
    assert card(await say(console, "下一题！"), "问询")["title"].endswith("第 2 题")
    await console.advance("1m")
    assert card(await say(console, "＠casebot 下一题 确认？"), "问询")["title"].endswith("第 3 题")
    status = text(await say(console, "督导 状态。"))
    assert status.startswith(f"督导会议 {s.id}") and "未知" not in status
    await say(console, "点评?")
    await say(console, "点评 回答具体，措施到位。还需要再细化吗？", user=city_chief(console, units[0]))
    await say(console, "公布答案！")
    for unit in units[1:]:
        await run_unit(console, 3, unit, "好")
    await say(console, "整改汇报。")
    name = d.units["c02-03"].name
    assert text(await say(console, "整改汇报 1 整改中。")) == f"已记录{name}的整改汇报：整改中。"
    assert text(await say(console, "整改汇报 1 已整改 台账已建立！")).startswith(f"已更新{name}")
    async with console.app.services.db() as db:
        notes = await store.notes_of(db, s.id)
    assert next(n.text for n in notes if n.kind == "comment") == "回答具体，措施到位。还需要再细化吗？"
    assert [n.text for n in notes if n.kind == "report"] == ["", "台账已建立！"]
    assert "会议结束" in json.dumps(await say(console, "结束。"), ensure_ascii=False)


async def test_status_names_the_stage_once(console: Console) -> None:
    """督导 状态 says where the session stands once: 「已抽签，尚未问询」, not
    「已抽签。已抽签，尚未问询」 (the stage's label before the same words)."""
    d = console.app.services.directory

    async def status() -> str:
        return text(await say(console, "督导 状态")).split("\n")[0]

    await say(console, "督导 新建 状态提示 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    s = await store_session(console)
    head = f"督导会议 {s.id}「状态提示」："
    assert await status() == head + ("会议已创建，尚未开场、尚未抽签。"
                                     "请先发送「开始」发布议程，再「抽签 <公开随机数>」。")
    await say(console, "开始")
    assert await status() == head + "已开场，尚未抽签。请发送「抽签 <公开随机数>」。"
    await say(console, "抽签 5 2 8")
    units = json.loads((await store_session(console)).result or "")["units"]
    first = d.units[units[0]].name
    assert await status() == head + f"已抽签，尚未问询。请发送「下一题」问询第 1 个单位（{first}）。"
    await say(console, "下一题")
    assert await status() == head + f"正在问询{first}（已出 1/3 题）。请发送「下一题」出下一道题。"
    await say(console, "下一题")
    await say(console, "下一题")
    await say(console, "点评")
    assert await status() == head + f"正在点评{first}。点评后请发送「公布答案」。"
    await say(console, "结束 确认")
    closed = await status()
    assert closed.startswith(head + "已结束。会后跟进请发送「整改") and closed.count("结束") == 1


async def test_an_entropy_source_written_with_spaces_stays_whole(console: Console) -> None:
    """熵源=福彩3D 2026-11-29 开奖号码, as people write a draw's name: the whole name is the
    source the commitment card announces (which draw: its date), and the title stays the title
    (it took 「2026-11-29 开奖号码」 and the source was a bare 「福彩3D」)."""
    committed = card(await say(
        console, "督导 新建 第二次督导 单位数=3 熵源=福彩3D 2026-11-29 开奖号码 熵格式=3x1"), "抽签承诺")
    assert committed["title"] == "抽签承诺 · 第二次督导"
    assert "公开随机数来源：福彩3D 2026-11-29 开奖号码（格式：3 组数字" in committed["body"]
    await say(console, "结束")
    # the title written after the source is read as part of it: said, not a meeting untitled
    late = text(await say(console, "督导 新建 熵源=福彩3D 2026-11-29 开奖号码 第三次督导"))
    assert late.startswith("参数有误：") and "标题请写在参数之前" in late, late


async def test_a_chief_or_leader_too_early_is_not_told_the_hosts_command(console: Console) -> None:
    """A city chief's 点评 or a leader's 公布答案 while questions are still being asked is told
    where the meeting stands, not 「请发送「下一题」…」, which only the host may send (a chief
    who did was then refused 「下一题」仅限检务督察使用)."""
    d = console.app.services.directory
    units = await drawn_units(console)
    first = d.units[units[0]].name
    await say(console, "下一题")
    chief = text(await say(console, "点评 很好", user=city_chief(console, units[0])))
    assert chief == f"现在不是点评环节：正在问询{first}（已出 1/3 题）。议程由主持人推进，请稍候。"
    leader = text(await say(console, "公布答案", user="p-leader-1"))
    assert leader == f"现在不能公布答案：正在问询{first}（已出 1/3 题）。议程由主持人推进，请稍候。"
    # the host still gets the next step
    host = text(await say(console, "公布答案"))
    assert host.endswith("请发送「下一题」出下一道题。"), host
