"""The architecture rules that imports can check: handlers and cards never load a platform or
web library, and the domain loads no storage, network or web library either."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
                                    "cards.cases", "cards.reviews", "cards.inspection"])
def test_handlers_and_cards_load_no_platform(module: str) -> None:
    assert _loaded(module, PLATFORM) == []


@pytest.mark.parametrize("module", ["bot.domain.scoring", "bot.domain.reminders",
                                    "bot.domain.draw", "bot.domain.inspection",
                                    "bot.domain.review", "bot.domain.stats"])
def test_domain_loads_no_io(module: str) -> None:
    assert _loaded(module, IO) == []
