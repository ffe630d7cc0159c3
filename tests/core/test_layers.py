"""The architecture rules that imports can check: handlers and cards never load a platform or
web library, the domain loads no storage, network or web library either, and only `bot/app.py`
imports `handlers/` (services, web pages and tools use the service modules in `bot/`)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PLATFORM = ("aiohttp", "dingtalk_stream", "bot.web", "bot.transports")
IO = (*PLATFORM, "sqlalchemy", "redis", "storage")


def _loaded(module: str, forbidden: tuple[str, ...]) -> list[str]:
    """Which of `forbidden` importing `module` loads, in a fresh interpreter."""
    code = (f"import sys, {module}\n"
            f"print(' '.join(sorted({{m.split('.')[0] if m.split('.')[0] != 'bot' else "
            f"'.'.join(m.split('.')[:2]) for m in sys.modules}})))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    return [f for f in forbidden if f in out]


@pytest.mark.parametrize("module", ["handlers.basic", "handlers.cases", "handlers.reviews",
                                    "handlers.reminders", "handlers.inspection", "handlers.admin",
                                    "cards.cases", "cards.reviews", "cards.inspection",
                                    "cards.stats"])
def test_handlers_and_cards_load_no_platform(module: str) -> None:
    assert _loaded(module, PLATFORM) == []


@pytest.mark.parametrize("module", ["bot.domain.scoring", "bot.domain.reminders",
                                    "bot.domain.draw", "bot.domain.inspection",
                                    "bot.domain.review", "bot.domain.stats"])
def test_domain_loads_no_io(module: str) -> None:
    assert _loaded(module, IO) == []


def _imports_handlers(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                 else [])
        if any(n == "handlers" or n.startswith("handlers.") for n in names):
            return True
    return False


def test_only_the_app_imports_handlers() -> None:
    files = [p for d in ("bot", "cards", "storage", "config", "bench", "scripts")
             for p in sorted((ROOT / d).rglob("*.py"))]
    assert files
    importers = [str(p.relative_to(ROOT)) for p in files if _imports_handlers(p)]
    assert importers == ["bot/app.py"]


def _adds_rows(path: Path) -> bool:
    """Whether the module calls `<something>.session.add(…)` / `session.add_all(…)` itself."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("add", "add_all")
                and isinstance(node.func.value, (ast.Attribute, ast.Name))
                and getattr(node.func.value, "attr", getattr(node.func.value, "id", ""))
                in ("session", "db")):
            return True
    return False


def test_rows_are_added_only_in_storage() -> None:
    """Services and handlers write through repository functions (storage/), never by building
    and adding ORM rows themselves."""
    files = [p for d in ("bot", "handlers", "cards") for p in sorted((ROOT / d).rglob("*.py"))]
    assert [str(p.relative_to(ROOT)) for p in files if _adds_rows(p)] == []
