"""`casebot import roster FILE.csv`: cities and county offices with their chiefs, merged into
org.yaml (other units and people are kept), validated, with the new roster version hash."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config.loader import ConfigError, read_yaml
from config.model import Org

COLUMNS = ("unit_id", "name", "kind", "parent", "code_prefix", "chief_id", "chief_name",
           "chief_dingtalk")


class RosterError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def merge_roster(org: dict[str, Any], rows: list[dict[str, str]], source: str) -> dict[str, Any]:
    errors: list[str] = []
    units = {u["id"]: dict(u) for u in org.get("units", [])}
    people = {p["id"]: dict(p) for p in org.get("people", [])}
    for n, row in enumerate(rows, start=2):
        kind = (row.get("kind") or "").strip()
        uid = (row.get("unit_id") or "").strip()
        if kind not in ("city", "county"):
            errors.append(f"{source}:{n}: kind must be city or county, got {kind!r}")
            continue
        if not uid or not (row.get("name") or "").strip():
            errors.append(f"{source}:{n}: unit_id and name are required")
            continue
        units[uid] = {"id": uid, "name": row["name"].strip(), "kind": kind,
                      "parent": (row.get("parent") or "").strip() or None,
                      "code_prefix": (row.get("code_prefix") or "").strip() or None}
        chief = (row.get("chief_id") or "").strip()
        if chief:
            old = people.get(chief, {})
            ids = dict(old.get("ids") or {})
            if (row.get("chief_dingtalk") or "").strip():
                ids["dingtalk"] = row["chief_dingtalk"].strip()
            people[chief] = {"id": chief, "name": (row.get("chief_name") or "").strip()
                             or old.get("name", ""), "unit": uid,
                             "roles": sorted(set(old.get("roles") or []) | {"chief"}), "ids": ids}
    if errors:
        raise RosterError(errors)
    merged = {**org, "units": list(units.values()), "people": list(people.values())}
    try:
        Org.model_validate(merged)
    except ValidationError as e:
        raise RosterError([f"{source}: {'.'.join(map(str, err['loc']))}: {err['msg']}"
                           for err in e.errors()]) from None
    return merged


def import_roster(csv_path: Path, org_path: Path) -> tuple[int, str]:
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS[:3] if c not in (reader.fieldnames or [])]
        if missing:
            raise RosterError([f"{csv_path}: missing columns: {', '.join(missing)}"])
        rows = list(reader)
    org = read_yaml(org_path) or {}  # ConfigError: one line naming the file and why
    if not isinstance(org, dict):
        raise ConfigError([f"{org_path}: top level must be a mapping, got {type(org).__name__}"])
    merged = merge_roster(org, rows, str(csv_path))
    header = "".join(line + "\n" for line in org_path.read_text(encoding="utf-8").splitlines()
                     if line.startswith("#"))
    org_path.write_text(header + yaml.safe_dump(merged, allow_unicode=True, sort_keys=False,
                                                width=120), encoding="utf-8")
    return len(rows), Org.model_validate(merged).version_hash()
