"""Free text typed at and after a 督导 session is kept as typed (SPEC: never lose what they
sent): 点评, 整改, 实地督察, 整改完成, 退回整改 and 整改汇报 keep full-width ，。！？：；「」 and the
full stop they end with; only the command word, unit numbers, dates and item numbers are
read as ASCII."""

from __future__ import annotations

import json

from storage import inspection as store
from tests.conftest import Console
from tests.inspection.helpers import HOST, quick_session, run_unit, say
from tests.inspection.test_rectification_done import answer, dm_texts
from tests.inspection.test_rectification_reopen import to_reports

TEXT = "台账未建立，月报缺两期：见「督导通报」；请限期整改！是否已落实？谢谢。"


async def test_every_inspection_free_text_is_kept(console: Console) -> None:
    s = await quick_session(console)
    units = json.loads(s.result or "")["units"]
    await run_unit(console, 3, units[0], TEXT)  # the city chief's 点评
    await say(console, "结束 确认")
    await say(console, f"整改 １ 2026-12-31 {TEXT}")
    await say(console, f"实地督察 2 p-inspector-2 2026-12-15 {TEXT}")
    async with console.app.services.db() as db:
        [note] = [n for n in await store.notes_of(db, s.id) if n.kind == "comment"]
        [item] = await store.rectifications_of(db, s.id)
        [task] = await store.site_tasks_of(db, s.id)
    assert (note.text, item.text, task.text) == (TEXT, TEXT, TEXT)

    await follow_up_keeps(console, item, [f"整改完成 ＃{item.id}，{TEXT}",
                                          f"退回整改 #{item.id} {TEXT}", f"整改汇报 1 整改中 {TEXT}"],
                          TEXT)


# blanks as typed: a run of spaces, a full-width space (a Chinese input method's), a new line
SPACED = "台账  未建立　月报\n缺两期"


async def test_every_inspection_free_text_keeps_its_blanks(console: Console) -> None:
    s = await quick_session(console)
    units = json.loads(s.result or "")["units"]
    await run_unit(console, 3, units[0], SPACED)  # the city chief's 点评
    await say(console, "结束 确认")
    await say(console, f"整改　１  2026-12-31　{SPACED}")
    await say(console, f"整改 2 30天 {SPACED} 责任人=p-chief-{units[1]}")
    await say(console, f"实地督察 2　p-inspector-2　2026-12-15　{SPACED}")
    await say(console, f"实地督察 1 p-inspector-2　{SPACED}")  # no date
    async with console.app.services.db() as db:
        [note] = [n for n in await store.notes_of(db, s.id) if n.kind == "comment"]
        items = await store.rectifications_of(db, s.id)
        tasks = await store.site_tasks_of(db, s.id)
    assert note.text == SPACED
    assert [i.text for i in items] == [SPACED, SPACED]
    assert items[1].owner_person_id == f"p-chief-{units[1]}"
    assert [t.text for t in tasks] == [SPACED, SPACED]
    assert tasks[0].due_date is not None and f"{tasks[0].due_date}" == "2026-12-15"

    item = items[0]
    await follow_up_keeps(console, item, [f"整改完成　#{item.id}　{SPACED}",
                                          f"退回整改 #{item.id}　{SPACED}",
                                          f"整改汇报 1　整改中　{SPACED}"], SPACED)


async def follow_up_keeps(console: Console, item: store.RectificationItem, commands: list[str],
                          text: str) -> None:
    """The item's chief reports it done, the host sends it back, a follow-up session records
    a 整改汇报 (the three `commands`, in that order): each keeps `text` as typed."""
    done_cmd, back_cmd, report_cmd = commands
    chief = item.owner_person_id
    r = await console.send(chief, f"dm:{chief}", done_cmd)
    assert answer(r).startswith(f"已报告整改事项 #{item.id} 整改完成并销号"), r
    async with console.app.services.db() as db:
        done = await db.get(store.RectificationItem, item.id)
    assert done is not None and done.closed_note == text
    r = await console.send(HOST, f"dm:{HOST}", back_cmd)
    assert answer(r).startswith(f"已退回整改事项 #{item.id} 重新整改"), r
    assert f"退回重新整改。理由：{text}\n" in (await dm_texts(console, chief))[-1]

    second = await to_reports(console)
    await say(console, report_cmd)
    async with console.app.services.db() as db:
        [report] = [n for n in await store.notes_of(db, second.id) if n.kind == "report"]
    assert report.text == text
