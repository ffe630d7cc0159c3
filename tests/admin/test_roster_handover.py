"""A handover (检察长换任) through the roster import: a row naming a new chief for an office that
has one offers 「换任：撤销 … 的检察长身份」 (checked); confirmed, the outgoing chief loses only the
chief role, at once (no restart), and the audit names them; unchecked, the office has two
chiefs as before. `casebot import roster --replace-chiefs` does the same."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select

from bot.roster import plan_roster, read_csv, read_org_file
from config.loader import DEFAULT_DIR
from config.model import Org
from storage.models import AuditRecord
from tests.admin.conftest import ADMIN
from tests.admin.test_roster_page import HEADER, hidden, login, preview, section
from tests.cases.helpers import create_case
from tests.conftest import Console
from tests.inspection.test_roster_import import deployment, run

OLD = "p-chief-c01-01"  # 任阳阳, chief of c01-01 (海澄县) and nothing else
HANDOVER = HEADER + "c01-01,示范市海澄县人民检察院,county,,,p-chief-hc-2,王海澄,dt-9001\n"


def chiefs(console: Console, unit: str) -> list[str]:
    return [p.id for p in console.app.services.directory.org.people
            if p.unit == unit and "chief" in p.roles]


async def sees(console: Console, who: str, code: str) -> bool:
    """`码 <code>` from `who`: the case card, or the refusal."""
    [m] = (await console.send(who, f"dm:{who}", f"码 {code}"))["messages"]
    if m["card"] is None:
        assert m["text"].startswith(f"您无权查看案件码 {code}："), m["text"]
    return m["card"] is not None


async def confirm(console: Console, page: str, replace: bool) -> str:
    """The page's confirm form as the browser sends it: multipart, the checkbox sent only when
    it is checked."""
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in hidden(page).items():
        form.add_field(name, value)
    if replace:
        for unit in re.findall(r'name="replace" value="([^"]+)" checked', page):
            form.add_field("replace", unit)
    r = await console.client.post("/admin/roster/apply", data=form)
    text = await r.text()
    assert r.status == 200, text
    return text


async def test_the_preview_offers_the_handover_checked(console: Console, org_path: Path) -> None:
    before = org_path.read_bytes()
    await login(console, ADMIN)
    status, page = await preview(console, HANDOVER)
    assert status == 200
    box = page[page.index('id="handovers"'):page.index('id="apply"')]
    assert ('<input type="checkbox" name="replace" value="c01-01" checked> '
            "换任：撤销 任阳阳 的检察长身份") in box
    assert "任阳阳 将不再有任何角色" in box and "不勾选则该单位将有两位检察长" in box
    assert "角色：检察长 → （无）" in page  # the outgoing chief's row in the changes
    assert org_path.read_bytes() == before


async def test_confirmed_handover_leaves_one_chief_and_refuses_the_old_one(
        console: Console, org_path: Path) -> None:
    code = await create_case(console)  # a case of 海澄县 (c01-01): its chief sees it
    assert await sees(console, OLD, code)

    await login(console, ADMIN)
    _, page = await preview(console, HANDOVER)
    done = await confirm(console, page, replace=True)
    assert "导入成功" in done
    assert ("已撤销 任阳阳（p-chief-c01-01）在示范市海澄县人民检察院的检察长身份，"
            "任阳阳 已不再有任何角色") in done

    # at once, no restart: one chief, the old one on the roster with no role and refused
    assert chiefs(console, "c01-01") == ["p-chief-hc-2"]
    old = console.app.services.directory.person(OLD)
    assert old is not None and old.roles == () and old.ids["dingtalk"] == "dt-0012"
    assert not await sees(console, OLD, code)
    assert await sees(console, "p-chief-hc-2", code)
    got = await console.send(OLD, f"dm:{OLD}", "我是谁")
    assert "角色：无" in got["messages"][0]["text"]

    written = Org.model_validate(yaml.safe_load(org_path.read_text(encoding="utf-8")))
    assert [p.roles for p in written.people if p.id == OLD] == [()]
    async with console.app.services.db() as db:
        [rec] = (await db.execute(select(AuditRecord).where(
            AuditRecord.action == "roster.import"))).scalars().all()
    data: dict[str, Any] = json.loads(rec.data)
    assert data["chief_removed"] == [OLD] and OLD in data["person_change"]


async def test_unchecked_the_office_has_two_chiefs(console: Console) -> None:
    code = await create_case(console)
    await login(console, ADMIN)
    _, page = await preview(console, HANDOVER)
    done = await confirm(console, page, replace=False)
    assert "导入成功" in done and "已撤销" not in done
    assert chiefs(console, "c01-01") == [OLD, "p-chief-hc-2"]
    assert await sees(console, OLD, code) and await sees(console, "p-chief-hc-2", code)
    async with console.app.services.db() as db:
        [rec] = (await db.execute(select(AuditRecord).where(
            AuditRecord.action == "roster.import"))).scalars().all()
    assert json.loads(rec.data)["chief_removed"] == []


async def test_a_chief_with_other_roles_keeps_them(console: Console, org_path: Path) -> None:
    text = org_path.read_text(encoding="utf-8")
    org_path.write_text(text.replace("- id: p-chief-c01-01\n  name: 任阳阳\n  unit: c01-01\n"
                                     "  roles:\n  - chief\n",
                                     "- id: p-chief-c01-01\n  name: 任阳阳\n  unit: c01-01\n"
                                     "  roles:\n  - chief\n  - leader\n"), encoding="utf-8")
    await console.advance("1m")  # the hand edit is taken at the next tick
    await login(console, ADMIN)
    _, page = await preview(console, HANDOVER)
    assert "任阳阳 的其他角色保留" in page and "将不再有任何角色" not in page
    await confirm(console, page, replace=True)
    old = console.app.services.directory.person(OLD)
    assert old is not None and old.roles == ("leader",)


def test_the_cli_replaces_chiefs_only_when_asked(tmp_path: Path) -> None:
    r = run("import", "roster", "--help")
    assert "--replace-chiefs" in r.stdout and "handover" in r.stdout
    cfg, org_path = deployment(tmp_path)
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(HANDOVER, encoding="utf-8")

    def chiefs_in_file() -> list[str]:
        org = Org.model_validate(yaml.safe_load(org_path.read_text(encoding="utf-8")))
        return [p.id for p in org.people if p.unit == "c01-01" and "chief" in p.roles]

    r = run("import", "roster", str(csv_path), "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "warning: c01-01 now has two chiefs" in r.stderr and "--replace-chiefs" in r.stderr
    assert chiefs_in_file() == [OLD, "p-chief-hc-2"]
    r = run("import", "roster", str(csv_path), "--config", str(cfg), "--replace-chiefs")
    assert r.returncode == 0, r.stderr
    assert ("c01-01: chief role removed from p-chief-c01-01 (任阳阳), new chief 王海澄; "
            "they now have no role") in r.stdout
    assert chiefs_in_file() == ["p-chief-hc-2"]


# 任阳阳, chief of 海澄县 (c01-01), becomes chief of 乐顺市 (c01-02, 袁浩's); 海澄县 gets a new chief
MOVES = "c01-02,示范市乐顺市人民检察院,county,,,p-chief-c01-01,,\n"
SUCCEEDS = "c01-01,示范市海澄县人民检察院,county,,,p-chief-hc-2,王海澄,\n"
ORDERS = {"moving-chief-row-first": HEADER + MOVES + SUCCEEDS,
          "new-chief-row-first": HEADER + SUCCEEDS + MOVES}


def plan_of(text: str, replace: bool | frozenset[str]) -> dict[str, Any]:
    """What an import of `text` would do, without the row numbers (which follow the order)."""
    plan = plan_roster(read_org_file(DEFAULT_DIR / "org.yaml"), read_csv(text.encode()), replace)
    assert plan.ok, plan.errors
    return {"handovers": sorted(
                (h.unit, h.old_id, h.new_id, h.replaced, h.no_role_left, h.moved_to)
                for h in plan.handovers),
            "changes": sorted((c.id, c.op, c.fields) for c in plan.changes),
            "warnings": sorted(w.message for w in plan.warnings),
            "version": plan.new_version, "summary": plan.summary()}


@pytest.mark.parametrize("replace", [False, True, frozenset({"c01-01"})],
                         ids=["unchecked", "checked", "only-the-old-office-checked"])
def test_a_chief_moving_to_another_office_plans_the_same_in_either_order(
        replace: bool | frozenset[str]) -> None:
    """The moving chief hands their office over (whether or not 换任 is checked: they leave
    it), keeps the chief role at the new office, and the new office's chief is a handover."""
    first, second = (plan_of(text, replace) for text in ORDERS.values())
    assert first == second
    replaced = replace is True
    assert first["handovers"] == [
        ("c01-01", OLD, "p-chief-hc-2", True, False, "c01-02"),
        ("c01-02", "p-chief-c01-02", OLD, replaced, True, "")]
    assert first["warnings"] == ([] if replaced else [
        "示范市乐顺市人民检察院 已有检察长 袁浩（p-chief-c01-02），导入后将有两位检察长；"
        "如属换任，请勾选「换任」（命令行：--replace-chiefs）"])
    assert first["summary"]["chief_removed"] == (["p-chief-c01-02"] if replaced else [])
    assert (OLD, "change", (("单位", "c01-01", "c01-02"),)) in first["changes"]


def test_the_cli_says_the_same_in_either_order(tmp_path: Path) -> None:
    outputs = []
    for name, text in ORDERS.items():
        (tmp_path / name).mkdir()
        cfg, org_path = deployment(tmp_path / name)
        csv_path = tmp_path / name / "roster.csv"
        csv_path.write_text(text, encoding="utf-8")
        r = run("import", "roster", str(csv_path), "--config", str(cfg), "--replace-chiefs")
        assert r.returncode == 0, r.stderr
        org = Org.model_validate(yaml.safe_load(org_path.read_text(encoding="utf-8")))
        assert [(p.id, p.unit) for p in org.people if "chief" in p.roles
                and p.unit in ("c01-01", "c01-02")] == [(OLD, "c01-02"), ("p-chief-hc-2", "c01-01")]
        assert "warning:" not in r.stderr
        outputs.append(sorted(r.stdout.splitlines()[1:]))
    assert outputs[0] == outputs[1]
    assert "c01-01: new chief 王海澄; p-chief-c01-01 (任阳阳) moved to c01-02 as its chief" in outputs[0]
    assert ("c01-02: chief role removed from p-chief-c01-02 (袁浩), new chief 任阳阳; "
            "they now have no role") in outputs[0]


# 任阳阳 moves to 乐顺市 and nobody is named for 海澄县: imported, with a warning everywhere the
# import reports its handovers
NO_SUCCESSOR = ("任阳阳（p-chief-c01-01）调任示范市乐顺市人民检察院检察长，示范市海澄县人民检察院（c01-01）"
                "导入后将没有检察长；如需任命，请在文件中为 c01-01 加一行并填写新检察长（chief_id）")


@pytest.mark.parametrize("replace", [False, True], ids=["unchecked", "checked"])
def test_a_chief_moving_away_with_no_successor_is_warned_of(replace: bool) -> None:
    plan = plan_roster(read_org_file(DEFAULT_DIR / "org.yaml"), read_csv((HEADER + MOVES).encode()),
                       replace)
    assert plan.ok, plan.errors
    assert [(v.row, v.unit, v.old_id, v.moved_to) for v in plan.vacated] == [
        (2, "c01-01", OLD, "c01-02")]
    assert NO_SUCCESSOR in [w.message for w in plan.warnings]
    # a successor named, in either order: nothing to say
    for text in ORDERS.values():
        assert NO_SUCCESSOR not in plan_of(text, replace)["warnings"]


async def test_the_page_warns_of_an_office_left_with_no_chief(console: Console) -> None:
    await login(console, ADMIN)
    status, page = await preview(console, HEADER + MOVES)
    assert status == 200
    assert NO_SUCCESSOR in section(page, "preview-warnings")
    done = await confirm(console, page, replace=True)
    assert "导入成功" in done
    assert ("示范市海澄县人民检察院（c01-01）现在没有检察长：任阳阳（p-chief-c01-01）已调任"
            "示范市乐顺市人民检察院检察长，本次导入未任命新检察长。") in done
    assert chiefs(console, "c01-01") == [] and chiefs(console, "c01-02") == [OLD]


def test_the_cli_warns_of_an_office_left_with_no_chief(tmp_path: Path) -> None:
    cfg, _ = deployment(tmp_path)
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(HEADER + MOVES, encoding="utf-8")
    r = run("import", "roster", str(csv_path), "--config", str(cfg), "--replace-chiefs")
    assert r.returncode == 0, r.stderr
    assert [x for x in r.stderr.splitlines() if x.startswith("warning:")] == [
        "warning: c01-01 (示范市海澄县人民检察院) now has no chief: p-chief-c01-01 (任阳阳) moved "
        "to c01-02 as its chief and no row names a new one for c01-01; to name one, import a "
        "row for c01-01 with its chief_id"]
    assert "imported as roster #" in r.stdout
