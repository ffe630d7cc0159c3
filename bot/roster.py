"""The roster file (org.yaml) and its CSV import: cities and county offices with their chiefs,
merged into the roster (other units and people are kept). `plan_roster` checks every row and
says what would change, in Chinese, without writing; `casebot import roster` and the admin page
(/admin/roster) both apply a plan as a new roster version in the database
(bot/roster_versions.py), and write it to their org.yaml (bot/org_file.py).

Every instance uses the newest version at its next tick (`App.reload_org`), no restart."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from bot.domain.text import (
    CSV_EMPTY_ERROR,
    CSV_ENCODING_ERROR,
    char_problem,
    decode_csv,
    invisible,
)
from bot.org_file import write_org_text
from config.loader import parse_yaml, read_yaml
from config.model import ID_PATTERN, ROLE_LABELS, Org

COLUMNS = ("unit_id", "name", "kind", "parent", "code_prefix", "chief_id", "chief_name",
           "chief_dingtalk")
REQUIRED = COLUMNS[:3]
KIND_LABELS = {"province": "省院", "city": "市院", "county": "县区院", "police": "公安机关"}
_ID = re.compile(ID_PATTERN)
_PREFIX = re.compile(r"^[A-Z]{2,4}$")
PARENT_KIND = {"city": "province", "county": "city"}


class RosterError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Issue:
    """A problem (or a warning) with one CSV row; row 0 is the file as a whole."""

    row: int
    message: str


@dataclass(frozen=True)
class Change:
    row: int
    what: Literal["unit", "person"]
    op: Literal["add", "change", "same"]
    id: str
    name: str
    fields: tuple[tuple[str, str, str], ...] = ()  # (label, before, after) of what changes


@dataclass(frozen=True)
class Handover:
    """A row names a new 检察长 for a unit that has one (换任). `replaced`: the import removes
    the outgoing chief's `chief` role (their other roles, unit and ids stay); `no_role_left`:
    it was their only role, so they stay on the roster but may do nothing. `moved_to`: another
    row makes the outgoing chief chief of that unit (调任): they leave this one whatever
    `replace_chiefs` says, so the handover always happens and they keep the chief role."""

    row: int
    unit: str
    unit_name: str
    old_id: str
    old_name: str
    new_name: str
    replaced: bool
    no_role_left: bool
    new_id: str  # the incoming chief: the outgoing one's open 整改事项 move to them
    moved_to: str = ""  # unit id
    moved_to_name: str = ""

    @property
    def label(self) -> str:
        if self.moved_to:
            return f"调任：{self.old_name}（{self.old_id}）调任{self.moved_to_name}检察长"
        return f"换任：撤销 {self.old_name} 的检察长身份"


@dataclass(frozen=True)
class Vacated:
    """A chief another row makes chief of another unit (调任), leaving their unit with no
    chief: no row names a new one and it has no other. Imported all the same (a successor
    may not be known yet), with a warning; their open 整改事项 of it stay theirs."""

    row: int  # the row that moves them
    unit: str
    unit_name: str
    old_id: str
    old_name: str
    moved_to: str
    moved_to_name: str

    @property
    def message(self) -> str:
        return (f"{self.old_name}（{self.old_id}）调任{self.moved_to_name}检察长，"
                f"{self.unit_name}（{self.unit}）导入后将没有检察长；如需任命，请在文件中为 "
                f"{self.unit} 加一行并填写新检察长（chief_id）")


@dataclass
class RosterPlan:
    rows: int
    base_version: str
    changes: list[Change] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    handovers: list[Handover] = field(default_factory=list)
    vacated: list[Vacated] = field(default_factory=list)  # also among the warnings
    merged: dict[str, Any] | None = None  # the new org.yaml data, when there is no error
    new_version: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.merged is not None

    @property
    def unchanged(self) -> bool:
        """The roster already holds what the file says: importing it would change nothing."""
        return self.ok and self.new_version == self.base_version

    def count(self, what: str, op: str) -> int:
        return sum(1 for c in self.changes if c.what == what and c.op == op)

    def summary(self) -> dict[str, Any]:
        """For the audit record: ids by what happens to them."""
        out: dict[str, Any] = {}
        for what in ("unit", "person"):
            for op in ("add", "change"):
                out[f"{what}_{op}"] = [c.id for c in self.changes if c.what == what and c.op == op]
        out["chief_removed"] = [h.old_id for h in self.handovers
                                if h.replaced and not h.moved_to]
        return out


# -- the file --------------------------------------------------------------------------------

def read_org_file(path: Path) -> dict[str, Any]:
    data = read_yaml(path) or {}  # ConfigError: one line naming the file and why
    if not isinstance(data, dict):
        raise RosterError([f"{path}: top level must be a mapping"])
    return data


def parse_org_text(text: str, where: str) -> dict[str, Any]:
    """An org.yaml's text (a stored roster version) as `read_org_file` reads the file."""
    data = parse_yaml(text, where) or {}
    if not isinstance(data, dict):
        raise RosterError([f"{where}: top level must be a mapping"])
    return data


def org_version(data: dict[str, Any]) -> str:
    return Org.model_validate(data).version_hash()


def header_of(text: str) -> str:
    """The leading comment lines of an org.yaml: kept when an import rewrites it."""
    return "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))


def org_text(merged: dict[str, Any], header: str) -> str:
    """The roster data as org.yaml text, under `header` (comment lines)."""
    return header + yaml.safe_dump(merged, allow_unicode=True, sort_keys=False, width=120)


def write_org_file(path: Path, merged: dict[str, Any]) -> None:
    """Keep the file's leading comment lines; replace it atomically."""
    write_org_text(path, org_text(merged, header_of(path.read_text(encoding="utf-8"))))


def roster_changes(before: Org, after: Org) -> dict[str, list[str]]:
    """What a new roster changes, by id ({"person_remove": ["p-x"], "unit_change": ["c01"],
    …}; nothing when only comments differ): the log line and audit record of a hand edit."""
    out: dict[str, list[str]] = {}
    for what, old_items, new_items in (("unit", before.units, after.units),
                                       ("person", before.people, after.people),
                                       ("chat", before.chats, after.chats)):
        old = {x.id: x for x in old_items}
        new = {x.id: x for x in new_items}
        for op, ids in (("add", [i for i in new if i not in old]),
                        ("remove", [i for i in old if i not in new]),
                        ("change", [i for i in new if i in old and new[i] != old[i]])):
            if ids:
                out[f"{what}_{op}"] = ids
    if before.demo != after.demo:
        out["demo"] = [str(after.demo).lower()]
    return out


_WHAT = {"unit": "单位", "person": "人员", "chat": "群"}
_OP = {"add": "新增", "remove": "移除", "change": "修改"}


def changes_text(before: Org, after: Org, limit: int = 30) -> list[str]:
    """`roster_changes` for an admin: 新增单位：示范市另一县人民检察院（c01-03）, one line per
    unit, person or chat (at most `limit`, then how many more)."""
    names: dict[str, str] = {}
    for org in (before, after):  # a removed one by its name before
        names.update({f"unit:{u.id}": u.name for u in org.units})
        names.update({f"person:{p.id}": p.name for p in org.people})
        names.update({f"chat:{c.id}": c.title for c in org.chats})
    lines = []
    for key, ids in roster_changes(before, after).items():
        if key == "demo":
            lines.append("演示数据标记已更改")
            continue
        what, _, op = key.partition("_")
        lines += [f"{_OP[op]}{_WHAT[what]}：{names.get(f'{what}:{i}', i)}（{i}）" for i in ids]
    return lines if len(lines) <= limit else [*lines[:limit], f"另有 {len(lines) - limit} 处"]


# -- the CSV ---------------------------------------------------------------------------------

def read_csv(data: bytes) -> list[dict[str, str]]:
    """Rows of a roster CSV: UTF-8 (with or without BOM) or GB18030, as Excel saves it."""
    text = decode_csv(data)
    if text is None:
        raise RosterError([CSV_ENCODING_ERROR])
    if not text.strip():
        raise RosterError([CSV_EMPTY_ERROR])
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = [f.strip() for f in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in fields]
    if missing:
        raise RosterError([f"缺少列：{', '.join(missing)}（表头应为 {','.join(COLUMNS)}）"])
    reader.fieldnames = fields
    rows = [{k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
            for row in reader]
    if not rows:
        raise RosterError(["文件中没有数据行"])
    return rows


# -- the plan --------------------------------------------------------------------------------

def _unit_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    labels = (("name", "名称"), ("kind", "类型"), ("parent", "上级单位"), ("code_prefix", "案件码前缀"))
    out = []
    for key, label in labels:
        old, new = before.get(key), after.get(key)
        if old != new:
            if key == "kind":
                old, new = KIND_LABELS.get(old or "", old), KIND_LABELS.get(new or "", new)
            out.append((label, str(old or "（无）"), str(new or "（无）")))
    return tuple(out)


def _person_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    out = []
    if before.get("name") != after["name"]:
        out.append(("姓名", before.get("name") or "（无）", after["name"]))
    if before.get("unit") != after["unit"]:
        out.append(("单位", before.get("unit") or "（无）", after["unit"]))
    old_roles, new_roles = list(before.get("roles") or []), list(after["roles"])
    if sorted(old_roles) != sorted(new_roles):
        out.append(("角色", "、".join(ROLE_LABELS.get(r, r) for r in old_roles) or "（无）",
                    "、".join(ROLE_LABELS.get(r, r) for r in new_roles) or "（无）"))
    old_dt = (before.get("ids") or {}).get("dingtalk")
    new_dt = (after.get("ids") or {}).get("dingtalk")
    if old_dt != new_dt:
        out.append(("钉钉 ID", old_dt or "（无）", new_dt or "（无）"))
    return tuple(out)


def _names(units: list[dict[str, Any]]) -> str:
    shown = "、".join(f"{u['name']}（{u['id']}）" for u in units[:3])
    return shown + (f" 等 {len(units)} 个" if len(units) > 3 else "")


def plan_roster(org: dict[str, Any], rows: list[dict[str, str]],
                replace_chiefs: bool | Collection[str] = False) -> RosterPlan:
    """What importing `rows` into `org` (org.yaml's data) would do, row by row (rows are
    numbered as lines of the file: the header is line 1).

    A refused row never influences another: first each row on its own (ids, kind, a unit the
    import may not touch …); then the hierarchy, against what each parent really is (the unit
    as it exists, or as a row that passes adds or changes it); then, in file order, what rows
    share (code prefixes, DingTalk ids, chiefs), where only rows that pass count. A blank
    optional column (parent of an existing unit, code_prefix, chief_name, chief_dingtalk) keeps
    the current value.

    A new chief for a unit that has one is a handover (`plan.handovers`): with
    `replace_chiefs` (True: every such unit; else the unit ids) the outgoing chief loses the
    `chief` role, otherwise the unit has two chiefs (a warning)."""
    plan = RosterPlan(rows=len(rows), base_version=org_version(org))
    old_units = {u["id"]: dict(u) for u in org.get("units", [])}
    old_people = {p["id"]: dict(p) for p in org.get("people", [])}
    errors: dict[int, list[str]] = {}
    numbered = list(enumerate(rows, start=2))

    # 1. each row on its own
    parents: dict[int, str] = {}  # row → the parent it would have
    seen: dict[str, int] = {}
    for n, row in numbered:
        uid, name, kind = row.get("unit_id", ""), row.get("name", ""), row.get("kind", "")
        parent, prefix = row.get("parent", ""), row.get("code_prefix", "")
        chief, chief_name, chief_dt = (row.get("chief_id", ""), row.get("chief_name", ""),
                                       row.get("chief_dingtalk", ""))
        err = errors.setdefault(n, []).append
        if not uid:
            err("单位编号（unit_id）不能为空")
        elif not _ID.match(uid):
            err(f"单位编号「{uid}」只能包含小写字母、数字和 . _ -")
        elif uid in seen:
            err(f"单位编号 {uid} 与第 {seen[uid]} 行重复")
        if invisible(name):  # blank, or only characters that are not drawn
            err("单位名称（name）不能为空")
        # names reach every chat and card: no control or bidi characters (README, input rules)
        for label, text in (("单位名称（name）", name), ("检察长姓名（chief_name）", chief_name)):
            if (problem := char_problem(label, text)) is not None:
                err(problem)
        if kind not in PARENT_KIND:
            err(f"类型（kind）须为 city（市院）或 county（县区院），实际为「{kind}」")
        elif uid in old_units and old_units[uid]["kind"] not in PARENT_KIND:
            err(f"单位 {uid} 已存在，是{KIND_LABELS[old_units[uid]['kind']]}，不能用名册导入修改")
        elif not parent and uid not in old_units:
            err(f"{KIND_LABELS[kind]}须填写上级单位（parent）")
        else:
            parents[n] = parent or str(old_units[uid].get("parent") or "")
        if prefix and not _PREFIX.match(prefix):
            err(f"案件码前缀「{prefix}」须为 2–4 个大写字母")
        if chief and not _ID.match(chief):
            err(f"检察长编号「{chief}」只能包含小写字母、数字和 . _ -")
        elif not chief and (chief_name or chief_dt):
            err("填写了检察长姓名或钉钉 ID，但没有检察长编号（chief_id）")
        if uid:
            seen.setdefault(uid, n)
    candidates = {n for n, _ in numbered if not errors[n]}
    dropped: dict[int, list[str]] = {}  # rows refused for what they share with other rows
    while True:
        # 2. the hierarchy, against the rows that pass: a refused row leaves its unit as it is
        hierarchy = _check_hierarchy(rows, old_units, parents, candidates - set(dropped))
        ok = candidates - set(dropped) - set(hierarchy)
        # 3. what rows share, in file order
        shared, units, people = _check_shared(plan, rows, old_units, old_people, parents, ok,
                                              replace_chiefs)
        refused = {n for n in ok if n in shared}
        if not refused:
            break
        dropped.update({n: shared[n] for n in refused})
    for n, _ in numbered:
        messages = errors[n] + hierarchy.get(n, []) + (shared.get(n) or dropped.get(n, []))
        plan.errors += [Issue(n, m) for m in messages]
    if plan.errors:
        return plan
    merged = {**org, "units": list(units.values()), "people": list(people.values())}
    try:
        plan.new_version = Org.model_validate(merged).version_hash()
    except ValidationError as e:  # a safety net: the checks above should have said it
        plan.errors += [Issue(0, f"导入后名册校验失败：{'.'.join(map(str, x['loc']))}: {x['msg']}")
                        for x in e.errors()]
        return plan
    plan.merged = merged
    return plan


def _check_hierarchy(rows: list[dict[str, str]], old_units: dict[str, dict[str, Any]],
                     parents: dict[int, str], passed: set[int]) -> dict[int, list[str]]:
    """Errors of the rows in `passed` about parents and kinds, found by removing refused rows
    until the rest fit together; a row is refused for a row that is refused itself only when
    nothing else is wrong."""
    rows_of = {r.get("unit_id", ""): n for n, r in enumerate(rows, start=2)}
    passed = set(passed)
    errors: dict[int, list[str]] = {}
    while True:
        kinds = {rows[n - 2]["unit_id"]: rows[n - 2]["kind"] for n in passed}
        found: dict[int, tuple[str, bool]] = {}  # row → (message, depends on another row)
        for n in sorted(passed):
            row = rows[n - 2]
            uid, kind, parent = row["unit_id"], row["kind"], parents[n]
            on_row = parent in kinds
            pkind = kinds.get(parent) or (old_units[parent]["kind"] if parent in old_units
                                          else None)
            if pkind is None:
                if parent in rows_of:
                    found[n] = (f"上级单位「{parent}」（第 {rows_of[parent]} 行）有误，未能新增", True)
                else:
                    found[n] = (f"上级单位「{parent}」不存在", False)
            elif pkind != PARENT_KIND[kind]:
                found[n] = (f"{KIND_LABELS[kind]}的上级单位须为{KIND_LABELS[PARENT_KIND[kind]]}，"
                            f"「{parent}」是{KIND_LABELS.get(pkind, pkind)}", on_row)
            old_kind = old_units.get(uid, {}).get("kind")
            if n not in found and old_kind is not None and old_kind != kind:
                children = [u for u in old_units.values() if u.get("parent") == uid
                            and u["kind"] in PARENT_KIND and u["id"] not in kinds]
                if children:
                    found[n] = (f"单位 {uid} 下有 {len(children)} 个下级单位（{_names(children)}），"
                                f"不能由{KIND_LABELS[old_kind]}改为{KIND_LABELS[kind]}；"
                                "如需调整，请先在 org.yaml 中移走其下级单位", False)
        if not found:
            return errors
        sure = {n for n, (_, depends) in found.items() if not depends} or set(found)
        for n in sure:
            errors[n] = [found[n][0]]
            passed.discard(n)


def _check_shared(plan: RosterPlan, rows: list[dict[str, str]],
                  old_units: dict[str, dict[str, Any]], old_people: dict[str, dict[str, Any]],
                  parents: dict[int, str], passed: set[int],
                  replace_chiefs: bool | Collection[str] = False
                  ) -> tuple[dict[int, list[str]], dict[str, dict[str, Any]],
                             dict[str, dict[str, Any]]]:
    """Code prefixes, DingTalk ids and chiefs, in file order: every row is checked, only the
    rows in `passed` that pass change the roster. Sets the plan's changes and warnings.

    A unit's outgoing chiefs are those of the roster before the import, so that the plan does
    not depend on the order of the rows: a chief another row moves to another unit (调任)
    hands this one over while keeping the chief role there."""
    units = dict(old_units)
    people = dict(old_people)
    plan.changes, plan.warnings, plan.handovers, plan.vacated = [], [], [], []
    leaving: list[tuple[int, str, str, str]] = []  # (row, chief, unit left, unit joined)
    errors: dict[int, list[str]] = {}
    prefixes = {u.get("code_prefix"): uid for uid, u in old_units.items() if u.get("code_prefix")}
    dingtalk_ids = {(p.get("ids") or {}).get("dingtalk"): pid for pid, p in old_people.items()
                    if (p.get("ids") or {}).get("dingtalk")}
    moving = {r["chief_id"]: (r["unit_id"], r["name"])
              for n, r in enumerate(rows, start=2) if n in passed and r.get("chief_id")}
    for n, row in enumerate(rows, start=2):
        uid, name, kind = row.get("unit_id", ""), row.get("name", ""), row.get("kind", "")
        prefix = row.get("code_prefix", "")
        chief, chief_name, chief_dt = (row.get("chief_id", ""), row.get("chief_name", ""),
                                       row.get("chief_dingtalk", ""))
        err = errors.setdefault(n, []).append
        if prefix and _PREFIX.match(prefix):
            owner = prefixes.get(prefix)
            if owner is not None and owner != uid:
                owner_name = units[owner]["name"] if owner in units else owner
                err(f"案件码前缀 {prefix} 已被 {owner_name}（{owner}）使用")
        if chief and _ID.match(chief):
            current = people.get(chief)
            if current is None and not chief_name:
                err(f"新增检察长 {chief} 须填写姓名（chief_name）")
            if chief_dt and dingtalk_ids.get(chief_dt, chief) != chief:
                other = dingtalk_ids[chief_dt]
                err(f"钉钉 ID {chief_dt} 已属于 {people[other].get('name')}（{other}）")
            home = units.get(str(current.get("unit"))) if current else None
            if current is not None and ((home or {}).get("kind") == "police"
                                        or "investigator" in (current.get("roles") or [])):
                err(f"{current.get('name')}（{chief}）是公安机关人员"
                    f"（{(home or {}).get('name', current.get('unit'))}），不能任检察长，"
                    "也不能调入检察院")
        if errors[n] or n not in passed:
            continue

        old_unit = old_units.get(uid)
        new_unit = {"id": uid, "name": name, "kind": kind, "parent": parents[n],
                    "code_prefix": prefix or (old_unit or {}).get("code_prefix") or None}
        if old_unit is None:
            plan.changes.append(Change(n, "unit", "add", uid, name))
        else:
            diff = _unit_fields(old_unit, new_unit)
            plan.changes.append(Change(n, "unit", "change" if diff else "same", uid, name, diff))
        old_prefix = units.get(uid, {}).get("code_prefix")
        if prefix and old_prefix and prefixes.get(old_prefix) == uid:
            del prefixes[old_prefix]
        if prefix:
            prefixes[prefix] = uid
        units[uid] = new_unit
        if not chief:
            continue
        old = people.get(chief, {})
        ids = dict(old.get("ids") or {})
        if chief_dt:
            ids["dingtalk"] = chief_dt
            dingtalk_ids[chief_dt] = chief
        roles = list(old.get("roles") or [])
        person_name = chief_name or str(old.get("name", ""))
        new_person = {"id": chief, "name": person_name, "unit": uid,
                      "roles": roles if "chief" in roles else [*roles, "chief"], "ids": ids}
        others = [p for pid, p in old_people.items()
                  if pid != chief and p.get("unit") == uid and "chief" in (p.get("roles") or [])]
        replace = replace_chiefs is True or (not isinstance(replace_chiefs, bool)
                                             and uid in replace_chiefs)
        for p in others:
            to, to_name = moving.get(p["id"], (uid, name))
            if to != uid:
                plan.handovers.append(Handover(n, uid, name, p["id"], str(p.get("name")),
                                               person_name, True, False, chief, to, to_name))
                continue
            left = [r for r in p.get("roles") or [] if r != "chief"]
            plan.handovers.append(Handover(n, uid, name, p["id"], str(p.get("name")),
                                           person_name, replace, not left, chief))
            if not replace:
                plan.warnings.append(Issue(n, (
                    f"{name} 已有检察长 {p.get('name')}（{p['id']}），导入后将有两位检察长；"
                    "如属换任，请勾选「换任」（命令行：--replace-chiefs）")))
                continue
            outgoing = {**p, "roles": left}
            plan.changes.append(Change(n, "person", "change", p["id"], str(p.get("name")),
                                       _person_fields(p, outgoing)))
            people[p["id"]] = outgoing
        was = old_people.get(chief, {})
        if "chief" in (was.get("roles") or []) and was.get("unit") not in (None, uid):
            leaving.append((n, chief, str(was["unit"]), uid))
        if chief in old_people:
            diff = _person_fields(old_people[chief], new_person)
            plan.changes.append(Change(n, "person", "change" if diff else "same", chief,
                                       person_name, diff))
        else:
            plan.changes.append(Change(n, "person", "add", chief, person_name))
        people[chief] = new_person
    # a unit its chief left (调任) with none named for it: imported, and said (order-free: the
    # roster after every row)
    chiefs_after = {p.get("unit") for p in people.values() if "chief" in (p.get("roles") or [])}
    for n, chief, unit_left, joined in leaving:
        if unit_left not in chiefs_after:
            gone = Vacated(n, unit_left, str(units.get(unit_left, {}).get("name") or unit_left),
                           chief, str(old_people[chief].get("name")), joined,
                           str(units[joined]["name"]))
            plan.vacated.append(gone)
            plan.warnings.append(Issue(n, gone.message))
    return {n: m for n, m in errors.items() if m}, units, people

