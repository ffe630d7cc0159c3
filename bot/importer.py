"""`casebot import cases FILE.csv`: all rows or none, with every bad row named."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path

from bot.clock import Clock
from bot.context import Services, unit_of_work
from bot.directory import Directory
from config.loader import Settings
from handlers import case_ops as ops
from storage import db, migrate

COLUMNS = ("title", "stage", "police_unit", "prosecutor", "investigators",
           "investigation_deadline", "custody_deadline")


class CaseImportError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def read_cases(path: Path) -> tuple[list[ops.NewCase], list[str]]:
    errors: list[str] = []
    rows: list[ops.NewCase] = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS[:5] if c not in (reader.fieldnames or [])]
        if missing:
            return [], [f"{path}: missing columns: {', '.join(missing)}"]
        for n, row in enumerate(reader, start=2):
            def day(name: str, row: dict[str, str] = row, n: int = n) -> date | None:
                v = (row.get(name) or "").strip()
                if not v:
                    return None
                try:
                    return ops.parse_day(v)
                except ValueError:
                    errors.append(f"{path}:{n}: {name}: not a date (YYYY-MM-DD): {v!r}")
                    return None
            rows.append(ops.NewCase(
                title=(row.get("title") or "").strip(), stage=(row.get("stage") or "").strip(),
                police_unit=(row.get("police_unit") or "").strip(),
                prosecutor=(row.get("prosecutor") or "").strip(),
                investigators=tuple(i.strip() for i in (row.get("investigators") or "").split("|")
                                    if i.strip()),
                investigation_deadline=day("investigation_deadline"),
                custody_deadline=day("custody_deadline")))
    return rows, errors


async def import_cases(settings: Settings, clock: Clock, path: Path,
                       progress: Callable[[int, int], None]) -> list[str]:
    rows, errors = read_cases(path)
    # an existing database at head (DatabaseUnavailable otherwise): never creates or migrates
    engine = await migrate.open_existing(settings.config.storage.database_url, readonly=False)
    try:
        services = Services(settings=settings, clock=clock, db=db.sessionmaker(engine),
                            directory=Directory(settings.org))
        codes: list[str] = []
        async with unit_of_work(services) as out:
            for n, new in enumerate(rows, start=2):
                for e in ops.validate_new_case(out, new):
                    errors.append(f"{path}:{n}: {e.field}: {e.reason}")
            if errors:
                raise CaseImportError(errors)
            for i, new in enumerate(rows, 1):
                codes.append((await ops.create_case(out, new, by="import")).code)
                progress(i, len(rows))
        return codes
    finally:
        await engine.dispose()
