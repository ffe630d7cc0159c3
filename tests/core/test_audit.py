"""The audit chain: intact chains verify; a tampered record is named."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from config.loader import Settings
from storage import audit, db, migrate


async def _fill(settings: Settings, n: int) -> None:
    engine = db.create_engine(settings.config.storage.database_url)
    await migrate.upgrade(engine)
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    async with db.sessionmaker(engine)() as s, s.begin():
        for i in range(n):
            await audit.append(s, at=t0 + timedelta(minutes=i), actor="p-prosecutor-1",
                               action="case.evaluate", subject=f"HY-2026-{i:04d}",
                               data={"score": 60 + i, "note": "扣分"})
    await engine.dispose()


async def _verify(settings: Settings) -> audit.ChainReport:
    engine = db.create_engine(settings.config.storage.database_url)
    async with db.sessionmaker(engine)() as s:
        report = await audit.verify(s, batch=7)
    await engine.dispose()
    return report


async def test_intact_chain_verifies(settings: Settings) -> None:
    await _fill(settings, 20)
    report = await _verify(settings)
    assert report.ok and report.records == 20


async def test_tampered_record_is_named(settings: Settings) -> None:
    await _fill(settings, 20)
    engine = db.create_engine(settings.config.storage.database_url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE audit_log SET data = :d WHERE seq = 13"), {"d": '{"score":99}'})
    await engine.dispose()
    report = await _verify(settings)
    assert not report.ok
    assert report.first_broken == 13
    assert report.records == 12


async def test_deleted_record_is_named(settings: Settings) -> None:
    await _fill(settings, 10)
    engine = db.create_engine(settings.config.storage.database_url)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    await engine.dispose()
    report = await _verify(settings)
    assert (report.ok, report.first_broken) == (False, 4)


async def test_cli_verify(settings: Settings, tmp_path: Path) -> None:
    await _fill(settings, 5)
    cfg = tmp_path / "cfg.yaml"
    src = Path(__file__).resolve().parents[2] / "config"
    cfg.write_text(
        f"org: {src / 'org.yaml'}\nscore_template: {src / 'score_template.yaml'}\n"
        f"storage: {{database_url: '{settings.config.storage.database_url}'}}\n",
        encoding="utf-8")
    ok = subprocess.run([sys.executable, "-m", "bot.cli", "audit", "verify", "--config", str(cfg)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "intact: 5 records" in ok.stdout
    engine = db.create_engine(settings.config.storage.database_url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    await engine.dispose()
    bad = subprocess.run([sys.executable, "-m", "bot.cli", "audit", "verify", "--config", str(cfg)],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert "BROKEN at record 2" in bad.stdout
