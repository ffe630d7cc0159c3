"""The admin's roster commands in chat (人员 / 单位 / 群 / 名册): what they show, where the
answer goes (privately from a group), and the refusals for everyone else."""

from __future__ import annotations

from typing import Any

from tests.admin.conftest import ADMIN
from tests.conftest import Console

DM = f"dm:{ADMIN}"


def texts(result: dict[str, Any]) -> list[str]:
    return [m["text"] for m in result["messages"] if m["text"]]


async def ask(console: Console, text: str, user: str = ADMIN, chat: str = DM) -> str:
    got = texts(await console.send(user, chat, text))
    assert len(got) == 1, got
    return got[0]


async def test_help_lists_the_admin_commands_for_admins_only(console: Console) -> None:
    shown = await ask(console, "帮助 全部")
    for usage in ("人员 姓名或编号", "单位 名称或编号", "群 群名或编号", "名册"):
        assert f"· {usage} —— " in shown
    assert "管理员" in shown
    other = await ask(console, "帮助 全部", "p-prosecutor-1", "dm:p-prosecutor-1")
    assert "人员 姓名或编号" not in other and "名册" not in other


async def test_person_by_name_id_and_platform_id(console: Console) -> None:
    answer = await ask(console, "人员 余斌梅")
    assert "余斌梅（p-prosecutor-1）" in answer
    assert "单位：示范省人民检察院 / 示范市人民检察院 / 示范市海澄县人民检察院" in answer
    assert "角色：承办检察官" in answer
    assert "所在群：海澄县检警协作群" in answer
    by_id = await ask(console, "人员 p-admin-1")
    assert "邓建（p-admin-1）" in by_id and "钉钉 dt-0128" in by_id and "角色：管理员" in by_id
    assert "邓建（p-admin-1）" in await ask(console, "人员 dt-0128")  # a DingTalk staff id
    assert "邓建（p-admin-1）" in await ask(console, "人员　ＤＴ-0128")  # as a phone types it
    many = await ask(console, "人员 p-chief-c01-")
    assert many.startswith("找到 14 人") and "仅显示前 10 个" in many
    assert await ask(console, "人员 不存在的人") == "未找到姓名或编号包含「不存在的人」的人员。"
    assert (await ask(console, "人员")).startswith("用法：人员 姓名或编号")
    # a name typed straight after the command word, as Chinese is written
    assert "余斌梅（p-prosecutor-1）" in await ask(console, "人员余斌梅")
    assert (await ask(console, "单位海澄县人民检察院")).startswith("示范市海澄县人民检察院（c01-01）")


async def test_unit_with_its_chief_and_people(console: Console) -> None:
    answer = await ask(console, "单位 c01-01")
    assert answer.startswith("示范市海澄县人民检察院（c01-01）")
    assert "类型：县区院 · 案件码前缀 HY" in answer
    assert "检察长：" in answer and "（p-chief-c01-01）" in answer
    assert "· 余斌梅（p-prosecutor-1）承办检察官" in answer
    assert "示范市海澄县公安局（ps-hc）" in answer  # its police partners
    several = await ask(console, "单位 海澄")
    assert several.startswith("找到 3 个单位") and "· 示范市海澄县公安局刑事侦查大队（ps-hc-xd）" in several
    police = await ask(console, "单位 ps-hc-xd")
    assert "对口检察院：示范市海澄县人民检察院" in police and "检察长" not in police


async def test_a_unit_belongs_to_its_parent_not_to_itself(console: Console) -> None:
    assert "隶属：无（最高一级）\n" in await ask(console, "单位 prov")
    assert "隶属：示范省人民检察院\n" in await ask(console, "单位 c01")
    county = await ask(console, "单位 c01-01")
    assert "隶属：示范省人民检察院 / 示范市人民检察院\n" in county
    assert "对口检察院：示范市海澄县人民检察院（c01-01）" in await ask(console, "单位 ps-hc")


async def test_chat_members(console: Console) -> None:
    answer = await ask(console, "群 协作")
    assert answer.startswith("海澄县检警协作群（g-case-team）")
    assert "平台群：未绑定" in answer
    assert "· 余斌梅（p-prosecutor-1）示范市海澄县人民检察院 · 承办检察官" in answer
    assert "成员（12）" in answer
    assert "检务督导面对面" in await ask(console, "群")  # the usage names the chats there are


async def test_roster_card_links_to_the_admin_page(console: Console) -> None:
    result = await console.send(ADMIN, DM, "名册")
    [card] = [m["card"] for m in result["messages"]]
    assert "人员 139 人" in card["body"] and "县区院 111" in card["body"]
    assert card["actions"][0]["url"].endswith("/admin/roster")


async def test_in_a_group_the_answer_goes_to_the_admin_privately(console: Console) -> None:
    result = await console.send(ADMIN, "g-case-team", "人员 p-investigator-1")
    group = [m for m in result["messages"] if m["chat"] == "g-case-team"]
    private = [m for m in result["messages"] if m["chat"] == DM]
    assert [m["text"] for m in group] == ["名册信息只发给管理员本人，已私信发给您。"]
    assert "钉钉 dt-" in private[0]["text"]
    assert all("dt-" not in (m["text"] or "") for m in await console.messages("g-case-team"))


async def test_others_are_refused_clearly(console: Console) -> None:
    for text in ("人员 邓建", "单位 c01-01", "群 协作", "名册"):
        word = text.split()[0]
        answer = await ask(console, text, "p-prosecutor-1", "dm:p-prosecutor-1")
        assert answer == f"「{word}」仅限管理员使用。您的角色：承办检察官。"
    in_group = await ask(console, "人员 邓建", "p-investigator-1", "g-case-team")
    assert in_group == "「人员」仅限管理员使用。您的角色：侦查人员。"
