"""A whole 检务督导面对面 session through the console API (SPEC §4, issue 6 "Show")."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.domain.draw import verify
from bot.domain.inspection import default_entropy_name, entropy_public_at
from config.loader import Settings
from storage import inspection as store
from storage.models import AuditRecord, Message
from tests.conftest import Console
from tests.inspection.helpers import (
    GROUP,
    HOST,
    bank,
    card,
    city_chief,
    quick_session,
    run_unit,
    say,
    session_row,
    texts,
)

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          cwd=cwd)


def config_file(tmp_path: Path, settings: Settings) -> Path:
    cfg = tmp_path / "cli.yaml"
    cfg.write_text(f"org: {ROOT / 'config' / 'org.yaml'}\n"
                   f"score_template: {ROOT / 'config' / 'score_template.yaml'}\n"
                   f"storage: {{database_url: '{settings.config.storage.database_url}'}}\n"
                   f"inspection: {{question_bank: null}}\n", encoding="utf-8")
    return cfg


async def test_whole_session_then_verify(console: Console, settings: Settings, tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # the bot logs at INFO (aiosqlite DEBUG echoes SQL)
    d = console.app.services.directory
    # a non-inspector cannot create or drive a session
    refused = await say(console, "督导 新建 越权", user="p-chief-c01-01")
    assert "仅限检务督察" in refused[0]["text"]

    created = await say(console, "督导 新建 2026年第4期检务督导面对面 单位数=3 题数=3 "
                                 "熵源=福彩3D第2026318期开奖号码 熵格式=3x1 专项=c05-02:Q010,Q020 "
                                 "整改汇报=c02-03")
    commit = card(created, "抽签承诺")
    s = await session_row(console)
    assert s.manifest_hash in commit["body"] and "服务器密钥承诺" in commit["body"]
    assert "3 组数字，每组 1 位，以单个半角空格分隔" in commit["body"]
    manifest = json.loads(s.manifest)
    assert manifest["secret_commitment"] in commit["body"]
    # the roster version is named in Chinese (the footer said 「roster 711f…」)
    assert commit["footer"] == f"清单公布后不可更改；名册版本 {manifest['roster_version'][:12]}…"
    assert s.secret_hex not in texts(created)  # the secret stays on the server until the draw
    assert {"Q010", "Q020"}.isdisjoint(q["id"] for q in manifest["questions"])
    assert "c05-02" not in [u["id"] for u in manifest["units"]]

    agenda = card(await say(console, "开始"), "检务督导面对面")
    assert "专项问询：示范市" not in agenda["body"] and "一、抽签" in agenda["body"]
    assert any(a["url"] and "/live/" in a["url"] for a in agenda["actions"])

    # only inspectors draw; the entropy must be typed in the announced format
    no = await say(console, "抽签 5 2 8", user="p-chief-c01-01")
    assert no[0]["text"].startswith("「抽签」仅限检务督察使用")
    for bad in ("528", "5,2,8", "5 2 8 1"):  # 「５ ２ ８」 is 「5 2 8」: test_verify_inputs
        msgs = await say(console, f"抽签 {bad}")
        assert "随机数格式不符" in msgs[0]["text"], bad
        # the format is said once, then the source by its name
        assert msgs[0]["text"] == ("随机数格式不符：应为 3 组数字，每组 1 位，以单个半角空格分隔，"
                                   "例如「3 8 3」。来源：福彩3D第2026318期开奖号码。"), bad
    drawn = await say(console, "抽签 5 2 8")
    result = card(drawn, "抽签结果")
    s = await session_row(console)
    pub = {"manifest": json.loads(s.manifest), "result": json.loads(s.result or "")}
    assert str(verify(pub)) == "MATCH"
    assert pub["result"]["secret_hex"] in result["body"] and pub["result"]["entropy"] == "5 2 8"
    units: list[str] = pub["result"]["units"]
    assert len(units) == 3
    cities = {d.city_of(u).id for u in units}  # type: ignore[union-attr]
    assert len(cities) == 3  # one per city
    for u in units:
        assert d.units[u].name in result["body"]
    again = await say(console, "抽签 1 2 3")
    assert "不可重抽" in again[0]["text"]

    # 3 units × 3 questions: 下一题 reveals one at a time, then 点评, 公布答案
    for i, unit in enumerate(units):
        log = await run_unit(console, 3, unit, f"第{i + 1}个单位回答基本到位，数据不够具体。")
        reveals = [m["card"] for m in log if m["card"] and "题号" in (m["card"]["footer"] or "")]
        assert [c["title"].endswith(f"第 {n} 题") for n, c in enumerate(reveals, 1)] == [True] * 3
        assert all("作答限时 3:00" in c["body"] for c in reveals)
        commenter = d.person(city_chief(console, unit))
        assert commenter is not None
        assert card(log, "点评")["body"].startswith(f"请{commenter.name}（")
        answers = card(log, "公布答案")
        assert "参考答案要点" in answers["body"]
        if i == 0:
            extra = await say(console, "点评 迟到的点评")
            assert "不是点评环节" in extra[0]["text"]
    # 专项问询 with the chosen questions, then 整改汇报, 结束
    nxt = await say(console, "下一题")
    assert "请发送「专项问询」" in nxt[0]["text"]
    card(await say(console, "专项问询"), "专项问询")
    for _ in range(2):
        await say(console, "下一题")
    await say(console, "公布答案")
    report = card(await say(console, "整改汇报"), "整改汇报")
    assert d.units["c02-03"].name in report["body"]
    # the office as people say it: 「X区院」 for X区人民检察院
    short = d.units["c02-03"].name.split("市", 1)[1].removesuffix("人民检察院") + "院"
    rec = await say(console, f"整改汇报 {short} 已整改 已建立重大事项填报月报制度")
    assert "已记录" in rec[0]["text"]
    summary = card(await say(console, "结束"), "会议结束")
    assert "已问询题目：11/11" in summary["body"]

    # follow-up: rectification items (owners, due dates) and on-site inspection tasks
    r1 = await say(console, "整改 1 2026-12-31 制定认罪认罚从宽制度落实方案并按月通报适用率")
    r2 = await say(console, f"整改 {units[1]} 30天 补齐“三个规定”填报台账 责任人=p-chief-{units[1]}")
    assert "已登记整改事项" in r1[0]["text"] and "已登记整改事项" in r2[0]["text"]
    dm = await console.messages(f"dm:p-chief-{units[0]}")
    assert dm and dm[-1]["card"]["title"].startswith("整改事项")
    task = await say(console, "实地督察 2 p-inspector-2 2026-12-15")
    assert "已部署实地督察" in task[0]["text"]
    bad = await say(console, "整改 9 明天 内容")
    assert "「9」不是本次会议的单位" in bad[0]["text"] and "截止日期「明天」无效" in bad[0]["text"]
    async with console.app.services.db() as db:
        items = await store.rectifications_of(db, s.id)
    assert [(i.unit_id, i.owner_person_id, i.status, str(i.due_date)) for i in items] == [
        (units[0], f"p-chief-{units[0]}", "open", "2026-12-31"),
        (units[1], f"p-chief-{units[1]}", "open", "2026-12-02"),
    ]

    # draw verify from the CLI, by session id and by a published file (and a tampered one)
    cfg = config_file(tmp_path, settings)
    by_id = cli("draw", "verify", s.id, "--config", str(cfg))
    assert by_id.returncode == 0 and by_id.stdout.strip() == "MATCH", by_id.stderr
    published = await console.client.get(f"/draw/{s.id}/publication.json")
    f = tmp_path / "publication.json"
    f.write_text(await published.text(), encoding="utf-8")
    assert cli("draw", "verify", str(f)).stdout.strip() == "MATCH"
    tampered = json.loads(f.read_text(encoding="utf-8"))
    tampered["manifest"]["units"][0]["name"] = "改名检察院"
    f.write_text(json.dumps(tampered, ensure_ascii=False), encoding="utf-8")
    out = cli("draw", "verify", str(f))
    assert out.returncode == 1 and out.stdout.startswith("MISMATCH: manifest hash")
    page = await console.client.get("/draw/verify", params={"session": s.id})
    assert page.status == 200 and "复核一致：" in await page.text()

    # confidentiality, over the whole message log, the audit trail and every log line
    await assert_no_text_before_reveal(console, caplog)
    async with console.app.services.db() as db:
        actions = [r.action for r in (await db.execute(select(AuditRecord))).scalars()]
    assert actions.count("inspection.stage") >= 3 * 4 + 5


async def assert_no_text_before_reveal(console: Console, caplog: pytest.LogCaptureFixture) -> None:
    questions = await bank(console)
    async with console.app.services.db() as db:
        messages = list((await db.execute(select(Message).order_by(Message.id))).scalars())
        audit_data = [r.data for r in (await db.execute(select(AuditRecord))).scalars()]
    first_seen: dict[str, Any] = {}
    first_answer: dict[str, Any] = {}
    for m in messages:
        blob = (m.text or "") + (m.card or "")
        for q in questions.values():
            if q.text in blob or json.dumps(q.text, ensure_ascii=False)[1:-1] in blob:
                first_seen.setdefault(q.id, m)
            if q.points[0] in blob:
                first_answer.setdefault(q.id, m)
    revealed = {qid for qid, m in first_seen.items()}
    assert len(revealed) == 11
    for qid, m in first_seen.items():
        c = json.loads(m.card or "{}")
        assert m.sender == "bot" and c.get("footer") == f"题号 {qid}", (qid, m.id)
    for qid, m in first_answer.items():
        assert json.loads(m.card or "{}").get("title", "").startswith("公布答案"), qid
        assert m.id > first_seen[qid].id
    for blob in audit_data + [r.getMessage() for r in caplog.records]:
        for q in questions.values():
            assert q.text not in blob and q.points[0] not in blob


async def test_stage_order_and_refusals(console: Console) -> None:
    none = await say(console, "下一题")
    assert "没有进行中的督导会议" in none[0]["text"]
    await say(console, "督导 新建 顺序测试 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    early = await say(console, "抽签 1 2 3")
    assert "请先发送「开始」" in early[0]["text"]
    assert "尚未抽签" in (await say(console, "下一题"))[0]["text"]
    await say(console, "开始")
    assert "已开始" in (await say(console, "开始"))[0]["text"]
    prompt = await say(console, "抽签")
    assert card(prompt, "抽签承诺") and "请主持人输入公开随机数" in prompt[1]["text"]
    await say(console, "抽签 0 0 7")
    s = await session_row(console)
    unit = json.loads(s.result or "")["units"][0]
    await say(console, "下一题")
    assert "不是点评环节" in (await say(console, "点评"))[0]["text"]
    # the chief of another city may not comment; the county chief may not drive
    other = next(c for c in ("p-chief-c01", "p-chief-c02") if c != city_chief(console, unit))
    for _ in range(2):
        await say(console, "下一题")
    assert "全部问完" in (await say(console, "下一题"))[0]["text"]
    city = console.app.services.directory.city_of(unit)
    assert city is not None
    whose = f"「点评」仅限检务督察或{city.name}检察长使用。"
    assert (await say(console, "点评 好", user=other))[0]["text"] == whose
    # a provincial leader is told the same: it is that city's chief who comments
    assert (await say(console, "点评 好", user="p-leader-1"))[0]["text"] == whose
    assert "仅限检务督察使用" in (await say(console, "下一题", user=f"p-chief-{unit}"))[0]["text"]
    await say(console, "点评")
    assert "公布答案" in (await say(console, "下一题"))[0]["text"]
    # a leader may publish the answers
    assert card(await say(console, "公布答案", user="p-leader-1"), "公布答案")
    assert "进行中的督导会议" in (await say(console, "督导 新建 第二个"))[0]["text"]
    status = await say(console, "督导 状态")
    assert s.id in status[0]["text"] and "/live/" in status[0]["text"]
    # 结束 with questions left: a slip would end what cannot be redrawn, so it asks first
    slip = await say(console, "结束")
    assert [m["text"] for m in slip] == [
        "还有 2 个单位的 6 道题未问询。会议结束后不能再问询，抽签结果也不能重抽。"
        "确认现在结束，请发送「结束 确认」。"]
    assert "已结束" not in (await say(console, "督导 状态"))[0]["text"]
    closed = await say(console, "结束，确认")  # as a phone types it
    assert card(closed, "会议结束")
    assert "已问询题目：3/9" in card(closed, "会议结束")["body"]
    ended = (await say(console, "督导状态"))[0]["text"]  # typed without a space
    assert ended.startswith(f"督导会议 {s.id}「") and "」：已结束。会后跟进请发送「整改" in ended
    assert ended.count("结束") == 1  # not 已结束。会议已结束。
    # after it, the host is shown the follow-up; a city chief's late 点评 and a leader's
    # 公布答案 are not sent to 整改 / 实地督察, which are the inspectors' alone
    after = f"本群的督导会议 {s.id}「{s.title}」已结束。"
    host = (await say(console, "下一题"))[0]["text"]
    assert host.startswith(after) and "会后跟进请发送「整改" in host
    chief = city_chief(console, unit)
    assert [m["text"] for m in await say(console, "点评 补充一点", user=chief)] == [after]
    assert [m["text"] for m in await say(console, "公布答案", user="p-leader-1")] == [after]


async def test_create_errors_are_explained(console: Console) -> None:
    r = await say(console, "督导 新建 x 单位数=九 方式=随便 专项=c01-01")
    assert "参数有误" in r[0]["text"] and "单位数 应为整数" in r[0]["text"]
    assert "用法" in r[0]["text"]
    # in Chinese alone (the English aliases are still read, never shown)
    assert "方式 应为 先抽市 或 等概率" in r[0]["text"] and "cities-first" not in r[0]["text"]
    r = await say(console, "督导 新建 x 单位数=12")
    assert "无法创建" in r[0]["text"] and "1–6" in r[0]["text"]
    r = await say(console, "督导 新建 x 专项=不存在县:Q001")
    assert "不存在或不唯一" in r[0]["text"]
    r = await say(console, "督导 新建 x 专项=c01-02:Q999")
    assert "Q999" in r[0]["text"]
    r = await say(console, "督导 新建 x", chat=f"dm:{HOST}")
    assert "请指定会议所在的群" in r[0]["text"]
    r = await say(console, f"督导 新建 私聊创建 群={GROUP}", chat=f"dm:{HOST}")
    assert "已创建督导会议" in texts(r)
    assert card(await console.messages(GROUP), "抽签承诺")



async def test_a_group_with_a_session_under_way_takes_no_second_one_from_a_dm(
        console: Console) -> None:
    """督导 新建 … 群=<that group> sent from the 1:1 chat while the group's session is under
    way was taken: two open sessions in one group, the earlier one never to be ended."""
    first = await quick_session(console, title="进行中")
    dm = f"dm:{HOST}"
    before = len(await console.messages(GROUP))
    r = await say(console, f"督导 新建 第二期 群={GROUP}", chat=dm)
    title = console.app.services.directory.chat_title(GROUP)
    assert r[0]["text"] == (f"群「{title}」已有进行中的督导会议 {first.id}「进行中」，"
                            "请先在该群发送「结束」。"), r
    assert len(await console.messages(GROUP)) == before  # no second commitment card
    assert (await session_row(console)).id == first.id
    # in the group itself it is 本群; an unknown group is named, with the groups one is in
    r = await say(console, "督导 新建 第二期")
    assert r[0]["text"].startswith(f"本群已有进行中的督导会议 {first.id}"), r
    r = await say(console, "督导 新建 第二期 群=g-nowhere", chat=dm)
    assert "找不到群「g-nowhere」" in r[0]["text"] and f"群={GROUP}（{title}）" in r[0]["text"]
    # once it has ended, the same message from the 1:1 chat creates the next one there
    await say(console, "结束 确认")
    r = await say(console, f"督导 新建 第二期 群={GROUP}", chat=dm)
    assert r[-1]["text"].startswith("已创建督导会议 DD") and f"抽签承诺已发到群「{title}」" in r[-1]["text"]

async def test_exclusion_of_recent_units_and_asked_questions(console: Console) -> None:
    await say(console, "督导 新建 第一期 熵格式=3x1 熵源=福彩3D第2026318期开奖号码")
    await say(console, "开始")
    await say(console, "抽签 1 1 1")
    first = await session_row(console)
    units1 = json.loads(first.result or "")["units"]
    await run_unit(console, 3, units1[0], "好")
    await say(console, "结束 确认")
    created = await say(console, "督导 新建 第二期 熵格式=3x1 熵源=福彩3D第2026318期开奖号码 排除近期=1")
    second = await session_row(console)
    m = json.loads(second.manifest)
    # the commitment card counts only the questions that can still be drawn
    body = card(created, "抽签承诺")["body"]
    drawable = len(m["questions"]) - len(set(m["asked_question_ids"]))
    assert f"候选题目：{drawable} 道" in body and "另有 3 道以往已问过" in body
    eligible = {u["id"] for u in m["units"]}
    assert not eligible & set(units1) and len(eligible) == 111 - 3
    asked = json.loads(first.result or "")["questions"][0]
    assert m["asked_question_ids"] == sorted(asked)
    # 整改汇报 defaults to the last session's drawn units
    assert second.params_dict["rectification_units"] == units1


async def test_a_special_question_asked_before_is_accepted_with_a_note(console: Console) -> None:
    """专项= may name a question an earlier session already asked in public (on purpose, to
    ask it again): the session is created, and the host is told which session asked it and
    whether its answer was published there."""
    first = await quick_session(console)
    drawn = json.loads(first.result or "")
    await run_unit(console, 3, drawn["units"][0], "好")
    await say(console, "下一题")  # the second unit's first question: revealed, no answer yet
    await say(console, "结束 确认")
    published, second_unit_first = drawn["questions"][0][0], drawn["questions"][1][0]
    fresh = next(q for q in sorted(await bank(console))
                 if all(q not in qs for qs in drawn["questions"]))
    said = await say(console, f"督导 新建 第二次督导 熵格式=3x1 熵源=福彩3D第2026318期开奖号码 "
                              f"专项=c05-02:{fresh},{published},{second_unit_first}")
    card(said, "抽签承诺")  # created, as asked
    notes = [m["text"] for m in said if m["text"]]
    assert notes == [f"注意：{published} 已在 {first.id} 问询并公布答案；"
                     f"{second_unit_first} 已在 {first.id} 问询（未公布答案）。"], notes
    assert (await session_row(console)).id != first.id
    await say(console, "结束 确认")
    said = await say(console, f"督导 新建 第三次 熵格式=3x1 熵源=福彩3D第2026318期开奖号码 "
                              f"专项=c05-02:{fresh}")
    card(said, "抽签承诺")
    assert [m["text"] for m in said if m["text"]] == []  # nothing asked before: no note


async def test_commitment_card_counts_add_up_to_the_roster_and_the_bank(console: Console) -> None:
    """An observer who knows the roster (111 offices) and the bank reads on the commitment card
    why fewer are drawn from: the special-inquiry office and the recently drawn offices, the
    questions already asked and those kept for the special inquiry, each counted — again when
    抽签 re-posts the card."""
    await quick_session(console)
    first = await session_row(console)
    drawn1 = json.loads(first.result or "")["units"]
    for unit in drawn1:
        await run_unit(console, 3, unit, "好")
    await say(console, "结束 确认")
    asked = {q for qs in json.loads(first.result or "")["questions"] for q in qs}
    special = next(u.id for u in console.app.services.directory.org.units
                   if u.kind == "county" and u.id not in drawn1)
    kept = sorted(set(await bank(console)) - asked)[:2]
    created = await say(console, "督导 新建 第二期 熵格式=3x1 熵源=福彩3D第2026318期开奖号码 "
                                 f"排除近期=1 专项={special}:{','.join(kept)}")
    m = json.loads((await session_row(console)).manifest)
    bank_size = len(await bank(console))
    assert len(m["units"]) == 111 - 3 - 1
    for body in (card(created, "抽签承诺")["body"],
                 (await say(console, "开始"), card(await say(console, "抽签"), "抽签承诺")["body"])[1]):
        assert "候选基层院：107 个（11 个市；另有专项问询单位 1 个、近期已抽中的 3 个不参与抽签）" in body
        drawable = len(m["questions"]) - 9
        assert drawable + 9 + 2 == bank_size
        assert (f"候选题目：{drawable} 道（只公布题号和类别；另有 9 道以往已问过、2 道为专项问询题，"
                "不再抽取）") in body


async def test_help_lists_the_inspection_commands_by_role(console: Console) -> None:
    mine = (await say(console, "帮助 全部", chat=f"dm:{HOST}"))[0]["text"]
    for word in ("督导 新建", "开始", "抽签 <公开随机数>", "下一题", "点评 [内容]", "公布答案",
                 "专项问询", "整改汇报", "整改 <单位|序号>", "实地督察", "结束", "题库 [题号|类别 [页]]"):
        assert word in mine, word
    chief = (await say(console, "帮助 全部", user="p-chief-c01", chat="dm:p-chief-c01"))[0]["text"]
    assert "点评" in chief and "抽签" not in chief and "题库" not in chief


async def test_the_default_public_number_is_a_future_draw_and_waits_for_it(
        console: Console) -> None:
    """Without 熵源=, the source is the next 福彩3D draw, not yet public: created at 09:33, that
    evening's (at 21:52 it would be the next day's). The commitment card says when it is drawn;
    抽签 before then is refused (a number typed now was made up), after it the draw runs."""
    await say(console, "督导 新建 默认熵源 熵格式=3x1")
    await say(console, "开始")
    prompt = card(await say(console, "抽签"), "抽签承诺")["body"]
    assert "公开随机数来源：福彩3D 2026-11-02 开奖号码（" in prompt, prompt
    assert "（约 2026-11-02 21:15 开奖，开奖后方可抽签；" in prompt, prompt
    early = (await say(console, "抽签 1 2 3"))[0]["text"]
    assert early.startswith("公开随机数尚未公布：福彩3D 2026-11-02 开奖号码约于 2026-11-02 21:15 开奖")
    assert (await session_row(console)).result is None
    await console.advance("12h")  # 21:33: drawn
    assert card(await say(console, "抽签 1 2 3"), "抽签结果")


def test_the_default_source_is_the_next_draw_not_yet_public() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    assert default_entropy_name(datetime(2026, 12, 11, 9, 48, tzinfo=tz)) == "福彩3D 2026-12-11 开奖号码"
    assert default_entropy_name(datetime(2026, 12, 14, 21, 52, tzinfo=tz)) == "福彩3D 2026-12-15 开奖号码"
    assert entropy_public_at("福彩3D 2026-12-15 开奖号码", tz) == datetime(2026, 12, 15, 21, 15, tzinfo=tz)
    assert entropy_public_at("福彩3D第2026318期开奖号码", tz) is None  # another source: unknown
