"""What a QA walk typed: a session id in lower case or with a full-width dash, an id that does
not exist, the public value in full-width digits from a phone keyboard, and the report of a
session held the day after it was created."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.domain.draw import verify
from config.loader import Settings
from tests.conftest import Console
from tests.inspection.helpers import card, quick_session, say, session_row
from tests.inspection.test_report import all_text
from tests.inspection.test_session_e2e import cli, config_file
from tests.inspection.test_web_and_live import result_section


def heading(page: str) -> str:
    found = re.search(r'<h2 id="outcome" class="(\w+)">([^<]*)</h2>', page)
    assert found, page
    return f"{found.group(1)}:{found.group(2)}"


async def test_full_width_entropy_is_drawn_as_published(console: Console, settings: Settings,
                                                         tmp_path: Path) -> None:
    s = await quick_session(console, entropy="５ ２ ８")  # as a Chinese phone keyboard types it
    result = card(await console.messages("g-inspection"), "抽签结果")
    assert "公开随机数：5 2 8" in result["body"] and "５" not in result["body"]
    pub = {"manifest": json.loads(s.manifest), "result": json.loads(s.result or "")}
    assert pub["result"]["entropy"] == "5 2 8" and str(verify(pub)) == "MATCH"
    assert s.id == "DD20261102-01"

    # the session id however it was typed: found, re-run, and the canonical value shown
    for typed in ("dd20261102-01", "DD20261102－01", " ｄｄ２０２６１１０２－０１ "):
        r = await console.client.get("/draw/verify", params={"session": typed})
        page = await r.text()
        assert r.status == 200, typed
        assert heading(page) == "ok:复核一致" and "公开随机数：5 2 8" in result_section(page), typed
        assert f"/draw/{s.id}/publication.json" in page, typed
    r = await console.client.post("/draw/verify", data={"session": "dd20261102-01"})
    assert r.status == 200 and heading(await r.text()) == "ok:复核一致"
    # the operator's CLI reads it the same way
    out = cli("draw", "verify", "dd20261102-01", "--config", str(config_file(tmp_path, settings)))
    assert out.returncode == 0 and out.stdout.strip() == "MATCH", out.stderr
    # and so does 督导 状态 from any chat
    status = await say(console, "督导 状态 dd20261102－01", chat="dm:p-inspector-1")
    assert status[0]["text"].startswith("督导会议 DD20261102-01「第一期」")


async def test_other_spellings_of_the_value_stay_refused(console: Console) -> None:
    await say(console, "督导 新建 第一期 单位数=3 题数=3 熵源=福彩3D第2026318期开奖号码 熵格式=3x1")
    await say(console, "开始")
    for bad in ("528", "５２８", "5,2,8", "5 2 8 1", "５，２，８"):
        msgs = await say(console, f"抽签 {bad}")
        assert msgs[0]["text"] == ("随机数格式不符：应为 3 组数字，每组 1 位，以单个半角空格分隔，"
                                   "例如「3 8 3」。来源：福彩3D第2026318期开奖号码。"), bad
    assert (await session_row(console)).result is None


async def test_verify_page_tells_unusable_input_from_a_mismatch(console: Console) -> None:
    s = await quick_session(console)
    for typed in ("hello", "DD20261127-01"):
        r = await console.client.get("/draw/verify", params={"session": typed})
        page = await r.text()
        assert r.status == 404 and heading(page) == "unusable:无法复核", typed
        assert "复核不一致" not in page and f"没有编号为「{typed.upper()}」的督导会议" in page
        assert "请核对会议编号" in page
    r = await console.client.post("/draw/verify", data={"session": "hello"})
    assert r.status == 404 and heading(await r.text()) == "unusable:无法复核"

    for text, why in (("{broken", "粘贴的内容不是合法的 JSON（第 1 行"),
                      ('{"manifest": 1}', "公布数据格式不对"),
                      ('{"manifest": {}, "result": {}}', "抽签清单（manifest）的字段缺失或格式不对")):
        r = await console.client.post("/draw/verify", data={"publication": text})
        page = await r.text()
        assert r.status == 400 and heading(page) == "unusable:无法复核", text
        assert "复核不一致" not in page and f"无法复核：{why}" in page, text

    # read, re-run, and different: that alone is 复核不一致
    pub = await (await console.client.get(f"/draw/{s.id}/publication.json")).json()
    pub["result"]["entropy"] = "5 2 9"
    r = await console.client.post("/draw/verify",
                                  data={"publication": json.dumps(pub, ensure_ascii=False)})
    page = await r.text()
    assert r.status == 200 and heading(page) == "errors:复核不一致" and "无法复核" not in page
    api = await console.client.post("/draw/verify", json={"manifest": 1})
    assert api.status == 400
    assert (await api.json())["error"].startswith("无法复核：公布数据格式不对")


async def test_verify_api_tells_unusable_input_from_a_mismatch(console: Console) -> None:
    """POST JSON: input that checked nothing is a 400/404 with 无法复核, never match: false."""
    s = await quick_session(console)
    for body, status, why in (
            ({"publication": "not json"}, 400, "无法复核：publication 不是合法的 JSON"),
            ({"a": 1}, 400, "无法复核：公布数据格式不对"),
            ({"publication": {"manifest": {}, "result": {}}}, 400, "无法复核：抽签清单（manifest）"),
            ([1, 2], 400, "无法复核：公布数据格式不对"),
            ({"session": 7}, 400, "无法复核：session 须为督导会议编号"),
            ({"session": "dd20261129-01"}, 404, "无法复核：没有编号为「DD20261129-01」的督导会议")):
        r = await console.client.post("/draw/verify", json=body)
        answer = await r.json()
        assert r.status == status, (body, answer)
        assert answer["error"].startswith(why), (body, answer)
        assert "match" not in answer and "MISMATCH" not in json.dumps(answer), body
    r = await console.client.post("/draw/verify", data="not json",
                                  headers={"Content-Type": "application/json"})
    assert r.status == 400 and (await r.json())["error"] == "无法复核：请求体不是合法的 JSON"

    # a session drawn, by its id (as typed) or its publication (object or text): MATCH
    pub = await (await console.client.get(f"/draw/{s.id}/publication.json")).json()
    for body in ({"session": s.id.lower()}, pub, {"publication": pub},
                 {"publication": json.dumps(pub, ensure_ascii=False)}):
        r = await console.client.post("/draw/verify", json=body)
        answer = await r.json()
        assert r.status == 200 and answer["match"] and answer["result"] == "MATCH", body
        assert answer["message"].startswith("复核一致")
    # read, re-run, and different: the only match: false
    pub["result"]["entropy"] = "5 2 9"
    r = await console.client.post("/draw/verify", json={"publication": pub})
    answer = await r.json()
    assert r.status == 200 and not answer["match"] and answer["result"].startswith("MISMATCH: ")
    assert answer["message"].startswith("复核不一致：")


async def report_date(console: Console, sid: str) -> str:
    await console.client.post("/console/api/login", json={"user": "p-leader-1"})
    r = await console.client.get(f"/inspection/{sid}/report.docx")
    assert r.status == 200
    found = re.search(r"日期：(\S+(?: 至 \S+)?)\s", all_text(await r.read()))
    assert found
    return found.group(1)


async def test_report_date_is_the_day_it_was_held(console: Console) -> None:
    # created Monday 2026-11-02 09:30 (Asia/Shanghai), drawn and questioned on Tuesday
    await say(console, "督导 新建 第一期 单位数=3 题数=3 熵源=福彩3D第2026318期开奖号码 熵格式=3x1")
    await console.advance("1d")
    await say(console, "开始")
    await say(console, "抽签 5 2 8")
    await say(console, "下一题")
    await say(console, "结束 确认")
    s = await session_row(console)
    assert s.id == "DD20261102-01"  # the number keeps the day it was created
    assert await report_date(console, s.id) == "2026-11-03"

    # run past midnight: a range
    await say(console, "督导 新建 第二期 单位数=3 题数=3 熵源=福彩3D第2026319期开奖号码 熵格式=3x1")
    await say(console, "开始")
    await say(console, "抽签 1 2 3")
    await console.advance("15h")  # Wednesday 00:31 (下一题 comes a minute later)
    await say(console, "下一题")
    await say(console, "结束 确认")
    assert await report_date(console, (await session_row(console)).id) == "2026-11-03 至 2026-11-04"

    # ended before the draw: never held
    await say(console, "督导 新建 第三期 熵源=福彩3D第2026320期开奖号码 熵格式=3x1")
    await say(console, "结束 确认")
    assert await report_date(console, (await session_row(console)).id) == "未举行（未抽签）"
