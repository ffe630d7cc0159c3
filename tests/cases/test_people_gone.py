"""People who left the roster or lost access to a case: a prosecutor who left is still named
(张三（已离开名册）), also after a restart; one reassigned away (改派) is told why they may no
longer see the case; and the cards in the 1:1 chat of someone who may no longer see it are not
redrawn with its new state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.directory import Directory
from tests.admin.test_roster_departures import hand_edit, without
from tests.cases.helpers import (
    MANAGER,
    PROSECUTOR,
    RED,
    create_case,
    evaluate,
    org_with_second_county,
)
from tests.cases.test_new_case import login
from tests.conftest import Console, make_settings, open_console


async def say(console: Console, user: str, text: str) -> list[dict[str, Any]]:
    return list((await console.send(user, f"dm:{user}", text))["messages"])


def page_url(card: dict[str, Any]) -> str:
    """The path of a card's 查看详情 (the code page)."""
    [url] = [a["url"] for a in card["actions"] if a["label"] == "查看详情"]
    return "/" + str(url).split("/", 3)[3]


# -- a prosecutor who left the roster -----------------------------------------------------------

async def test_a_prosecutor_who_left_is_named_with_the_name_they_had(
        tmp_path: Path, port: int) -> None:
    org = org_with_second_county(tmp_path)
    settings = make_settings(tmp_path, org=str(org),
                             web={"public_url": f"http://127.0.0.1:{port}"})
    async with open_console(settings, port) as console:
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
