"""The roster file (org.yaml) and its CSV import: cities and county offices with their chiefs,
merged into org.yaml (other units and people are kept). `plan_roster` checks every row and
says what would change, in Chinese, without writing; `casebot import roster` and the admin page
(/admin/roster) both apply a plan through `write_org_file`.

The running bot reads org.yaml once at start; the admin page swaps the new roster in after
writing it (`App.use_org`). The CLI only writes the file: a running bot needs a restart."""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from config.loader import read_yaml
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


@dataclass
class RosterPlan:
    rows: int
    base_version: str
    changes: list[Change] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    merged: dict[str, Any] | None = None  # the new org.yaml data, when there is no error
    new_version: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.merged is not None

    def count(self, what: str, op: str) -> int:
        return sum(1 for c in self.changes if c.what == what and c.op == op)

    def summary(self) -> dict[str, Any]:
        """For the audit record: ids by what happens to them."""
        out: dict[str, Any] = {}
        for what in ("unit", "person"):
            for op in ("add", "change"):
                out[f"{what}_{op}"] = [c.id for c in self.changes if c.what == what and c.op == op]
        return out


# -- the file --------------------------------------------------------------------------------

def read_org_file(path: Path) -> dict[str, Any]:
    data = read_yaml(path) or {}  # ConfigError: one line naming the file and why
    if not isinstance(data, dict):
        raise RosterError([f"{path}: top level must be a mapping"])
    return data


def org_version(data: dict[str, Any]) -> str:
    return Org.model_validate(data).version_hash()


def write_org_file(path: Path, merged: dict[str, Any]) -> None:
    """Keep the file's leading comment lines; replace it atomically (a reader never sees half)."""
    header = "".join(line + "\n" for line in path.read_text(encoding="utf-8").splitlines()
                     if line.startswith("#"))
    body = yaml.safe_dump(merged, allow_unicode=True, sort_keys=False, width=120)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(header + body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# -- the CSV ---------------------------------------------------------------------------------

def read_csv(data: bytes) -> list[dict[str, str]]:
    """Rows of a roster CSV: UTF-8 (with or without BOM) or GB18030, as Excel saves it."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterError(["文件编码无法识别：请另存为 UTF-8 或 GBK 编码的 CSV"])
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
                    "、".join(ROLE_LABELS.get(r, r) for r in new_roles)))
    old_dt = (before.get("ids") or {}).get("dingtalk")
    new_dt = (after.get("ids") or {}).get("dingtalk")
    if old_dt != new_dt:
        out.append(("钉钉 ID", old_dt or "（无）", new_dt or "（无）"))
    return tuple(out)


def plan_roster(org: dict[str, Any], rows: list[dict[str, str]]) -> RosterPlan:
    """What importing `rows` into `org` (org.yaml's data) would do, row by row (rows are
    numbered as lines of the file: the header is line 1)."""
    plan = RosterPlan(rows=len(rows), base_version=org_version(org))
    old_units = {u["id"]: dict(u) for u in org.get("units", [])}
    old_people = {p["id"]: dict(p) for p in org.get("people", [])}
    units = dict(old_units)
    people = dict(old_people)
    err = plan.errors.append

    file_units: dict[str, tuple[int, str]] = {}  # id → (row, kind), for parents named later
    for n, row in enumerate(rows, start=2):
        uid, kind = row.get("unit_id", ""), row.get("kind", "")
        if uid and uid not in file_units:
            file_units[uid] = (n, kind)

    def kind_of(uid: str) -> str | None:
        if uid in file_units:
            return file_units[uid][1]
        return old_units[uid]["kind"] if uid in old_units else None

    prefixes = {u.get("code_prefix"): uid for uid, u in old_units.items() if u.get("code_prefix")}
    dingtalk_ids = {(p.get("ids") or {}).get("dingtalk"): pid for pid, p in old_people.items()
                    if (p.get("ids") or {}).get("dingtalk")}
    seen: dict[str, int] = {}
    for n, row in enumerate(rows, start=2):
        uid, name, kind = row.get("unit_id", ""), row.get("name", ""), row.get("kind", "")
        parent, prefix = row.get("parent", ""), row.get("code_prefix", "")
        chief, chief_name, chief_dt = (row.get("chief_id", ""), row.get("chief_name", ""),
                                       row.get("chief_dingtalk", ""))
        before = len(plan.errors)
        if not uid:
            err(Issue(n, "单位编号（unit_id）不能为空"))
        elif not _ID.match(uid):
            err(Issue(n, f"单位编号「{uid}」只能包含小写字母、数字和 . _ -"))
        elif uid in seen:
            err(Issue(n, f"单位编号 {uid} 与第 {seen[uid]} 行重复"))
        if not name:
            err(Issue(n, "单位名称（name）不能为空"))
        if kind not in PARENT_KIND:
            err(Issue(n, f"类型（kind）须为 city（市院）或 county（县区院），实际为「{kind}」"))
        elif uid in old_units and old_units[uid]["kind"] not in PARENT_KIND:
            err(Issue(n, f"单位 {uid} 已存在，是{KIND_LABELS[old_units[uid]['kind']]}，"
                         "不能用名册导入修改"))
        elif not parent:
            err(Issue(n, f"{KIND_LABELS[kind]}须填写上级单位（parent）"))
        elif kind_of(parent) is None:
            err(Issue(n, f"上级单位「{parent}」不存在"))
        elif kind_of(parent) != PARENT_KIND[kind]:
            err(Issue(n, f"{KIND_LABELS[kind]}的上级单位须为{KIND_LABELS[PARENT_KIND[kind]]}，"
                         f"「{parent}」是{KIND_LABELS.get(kind_of(parent) or '', kind_of(parent))}"))
        if prefix:
            owner = prefixes.get(prefix)
            if not _PREFIX.match(prefix):
                err(Issue(n, f"案件码前缀「{prefix}」须为 2–4 个大写字母"))
            elif owner is not None and owner != uid:
                owner_name = units[owner]["name"] if owner in units else owner
                err(Issue(n, f"案件码前缀 {prefix} 已被 {owner_name}（{owner}）使用"))
        if chief:
            if not _ID.match(chief):
                err(Issue(n, f"检察长编号「{chief}」只能包含小写字母、数字和 . _ -"))
            elif chief not in people and not chief_name:
                err(Issue(n, f"新增检察长 {chief} 须填写姓名（chief_name）"))
            if chief_dt and dingtalk_ids.get(chief_dt, chief) != chief:
                other = dingtalk_ids[chief_dt]
                err(Issue(n, f"钉钉 ID {chief_dt} 已属于 {people[other].get('name')}（{other}）"))
        elif chief_name or chief_dt:
            err(Issue(n, "填写了检察长姓名或钉钉 ID，但没有检察长编号（chief_id）"))
        if uid:
            seen.setdefault(uid, n)
        if len(plan.errors) > before:
            continue

        new_unit = {"id": uid, "name": name, "kind": kind, "parent": parent,
                    "code_prefix": prefix or None}
        old_unit = old_units.get(uid)
        if old_unit is None:
            plan.changes.append(Change(n, "unit", "add", uid, name))
        else:
            diff = _unit_fields(old_unit, new_unit)
            plan.changes.append(Change(n, "unit", "change" if diff else "same", uid, name, diff))
        old_prefix = units.get(uid, {}).get("code_prefix")
        if old_prefix and prefixes.get(old_prefix) == uid:
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
        others = [p for pid, p in people.items()
                  if pid != chief and p.get("unit") == uid and "chief" in (p.get("roles") or [])]
        for p in others:
            plan.warnings.append(Issue(n, f"{name} 已有检察长 {p.get('name')}（{p['id']}），导入后将有"
                                          "两位检察长；如属换任，请在 org.yaml 中去掉原检察长的角色"))
        if chief in old_people:
            diff = _person_fields(old_people[chief], new_person)
            plan.changes.append(Change(n, "person", "change" if diff else "same", chief,
                                       person_name, diff))
        else:
            plan.changes.append(Change(n, "person", "add", chief, person_name))
        people[chief] = new_person
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


def import_roster(csv_path: Path, org_path: Path) -> tuple[int, str]:
    """`casebot import roster`: all rows or none. Returns (rows, new roster version)."""
    try:
        rows = read_csv(csv_path.read_bytes())
    except RosterError as e:
        raise RosterError([f"{csv_path}: {m}" for m in e.errors]) from None
    plan = plan_roster(read_org_file(org_path), rows)
    if not plan.ok or plan.merged is None or plan.new_version is None:
        raise RosterError([f"{csv_path}:{i.row}: {i.message}" if i.row else f"{csv_path}: {i.message}"
                           for i in plan.errors])
    write_org_file(org_path, plan.merged)
    return len(rows), plan.new_version
