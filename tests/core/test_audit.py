"""The audit chain: intact chains verify; a tampered record is named."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from config.loader import Settings
from storage import audit, db, migrate
from tests.conftest import open_console


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


async def test_records_are_written_at_the_commit_and_only_what_it_keeps(
        settings: Settings) -> None:
    """A transaction's records go in when it commits, in the order they were made; those made
    in a savepoint rolled back, or in a transaction rolled back, are not kept."""
    await _fill(settings, 2)
    engine = db.create_engine(settings.config.storage.database_url)
    sessions = db.sessionmaker(engine)
    at = datetime(2026, 11, 3, tzinfo=UTC)

    async def add(s: AsyncSession, subject: str) -> None:
        await audit.append(s, at=at, actor="p-prosecutor-1", action="case.evaluate",
                           subject=subject)

    async with sessions() as s, s.begin():
        await add(s, "kept-1")
        with contextlib.suppress(ValueError):
            async with s.begin_nested():
                await add(s, "savepoint-rolled-back")
                raise ValueError
        async with s.begin_nested():
            await add(s, "savepoint-kept")
        await add(s, "kept-2")
        found = await audit.head(s)
        assert found is not None and found[0].seq == 2  # not yet written
    with contextlib.suppress(ValueError):
        async with sessions() as s, s.begin():
            await add(s, "rolled-back")
            raise ValueError
    async with sessions() as s:
        subjects = (await s.execute(text("SELECT subject FROM audit_log WHERE seq > 2 "
                                         "ORDER BY seq"))).scalars().all()
    await engine.dispose()
    assert subjects == ["kept-1", "savepoint-kept", "kept-2"]
    report = await _verify(settings)
    assert report.ok and report.records == 5


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


# -- anchors: the head kept outside the database shows records removed from the end -----------

def _cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", "audit", *args, "--config", str(cfg)],
                          capture_output=True, text=True)


def _config(settings: Settings, tmp_path: Path) -> Path:
    cfg = tmp_path / "cfg.yaml"
    src = Path(__file__).resolve().parents[2] / "config"
    cfg.write_text(
        f"org: {src / 'org.yaml'}\nscore_template: {src / 'score_template.yaml'}\n"
        f"storage: {{database_url: '{settings.config.storage.database_url}'}}\n",
        encoding="utf-8")
    return cfg


async def test_truncated_tail_is_seen_only_with_an_anchor(settings: Settings, tmp_path: Path) -> None:
    await _fill(settings, 20)
    cfg = _config(settings, tmp_path)
    head = _cli(cfg, "head")
    assert head.returncode == 0, head.stderr
    [line] = head.stdout.splitlines()  # one line to paste into a ticket
    assert line.startswith("audit head 20:") and "2026-11-02 08:19:00 +0800" in line
    anchor = audit.parse_head(line)
    # the untouched chain holds its head, given as the pasted line or as SEQ:HASH alone
    for given in (line, str(anchor)):
        ok = _cli(cfg, "verify", "--head", given)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert f"intact: 20 records, head {anchor}; holds the 1 anchor given" in ok.stdout
    engine = db.create_engine(settings.config.storage.database_url)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_log WHERE seq > 17"))
    await engine.dispose()
    # the limit: what is left is a shorter chain that holds, and verify alone says so
    alone = _cli(cfg, "verify")
    assert alone.returncode == 0
    assert "audit chain intact: 17 records" in alone.stdout
    assert "records removed from the end" in alone.stdout and "--head" in alone.stdout
    cut = _cli(cfg, "verify", "--head", line)
    assert cut.returncode == 1
    assert cut.stdout.strip() == (f"audit chain does not hold anchor {anchor}: record 20 is gone, "
                                  "the chain ends at record 17 (records removed from its end, "
                                  "or the chain rebuilt)")
    assert "intact" not in cut.stdout


async def test_a_rebuilt_chain_does_not_hold_the_anchor(settings: Settings, tmp_path: Path) -> None:
    """Records 6.. replaced by others with freshly computed hashes: the chain links and hashes
    hold, and it is longer than before, but record 10 is not the one anchored."""
    await _fill(settings, 10)
    cfg = _config(settings, tmp_path)
    early = audit.parse_head(_cli(cfg, "head").stdout)
    engine = db.create_engine(settings.config.storage.database_url)
    async with db.sessionmaker(engine)() as s, s.begin():
        await s.execute(text("DELETE FROM audit_log WHERE seq > 5"))
        for i in range(8):
            await audit.append(s, at=datetime(2026, 11, 3, tzinfo=UTC), actor="mallory",
                               action="case.evaluate", subject=f"HY-2026-{i:04d}")
    async with db.sessionmaker(engine)() as s:  # the records are written at the commit
        now = await audit.head(s)
    await engine.dispose()
    assert now is not None and now[0].seq == 13
    anchors = tmp_path / "heads.txt"
    anchors.write_text(f"# kept by the operator\n\n{early}\n", encoding="utf-8")
    r = _cli(cfg, "verify", "--heads", str(anchors))
    assert r.returncode == 1
    current = (await _head(settings, 10)).hash
    assert r.stdout.strip() == (f"audit chain does not hold anchor {early}: record 10 now has "
                                f"hash {current} (the chain was rewritten up to it)")


async def _head(settings: Settings, seq: int) -> audit.Head:
    engine = db.create_engine(settings.config.storage.database_url)
    async with engine.connect() as conn:
        h = (await conn.execute(text("SELECT hash FROM audit_log WHERE seq = :s"), {"s": seq})
             ).scalar_one()
    await engine.dispose()
    return audit.Head(seq, h)


async def test_a_bad_anchor_is_one_line(settings: Settings, tmp_path: Path) -> None:
    await _fill(settings, 3)
    cfg = _config(settings, tmp_path)
    short = _cli(cfg, "verify", "--head", "3:abcdef")
    assert short.returncode == 2 and short.stdout == ""
    assert short.stderr.strip() == ("error: --head '3:abcdef': no SEQ:HASH (a record number, a "
                                    "colon and 64 lowercase hex digits) in it")
    heads = tmp_path / "heads.txt"
    heads.write_text(f"{await _head(settings, 3)}\nabc\n", encoding="utf-8")
    bad = _cli(cfg, "verify", "--heads", str(heads))
    assert bad.returncode == 2 and bad.stderr.startswith(f"error: {heads}:2: no SEQ:HASH")
    missing = _cli(cfg, "verify", "--heads", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "file not found" in missing.stderr


async def test_the_running_bot_logs_its_head(settings: Settings, port: int, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """At start, hourly on the clock and at stop; the log lines, grepped into a file, are the
    anchors `audit verify --heads` takes."""
    caplog.set_level(logging.INFO, logger="bot.app")

    def heads() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.getMessage().startswith("audit head ")]

    async with open_console(settings, port) as console:
        [at_start] = heads()
        assert at_start.endswith(", at start")
        started = audit.parse_head(at_start)
        assert started == await _head(settings, started.seq)
        async with console.app.services.db() as s, s.begin():
            await audit.append(s, at=console.clock.now(), actor="p-admin-1", action="roster.import",
                               subject="v2")
        await console.advance("30m")
        assert len(heads()) == 1  # not every tick
        await console.advance("40m")
        [_, hourly] = heads()
        assert hourly.endswith(", hourly")
        later = audit.parse_head(hourly)
        assert later.seq > started.seq and later == await _head(settings, later.seq)
    assert heads()[-1].endswith(", at stop")
    logged = tmp_path / "casebot.log"
    logged.write_text("".join(f"2026-11-02 10:00:00,000 INFO bot.app: {m}\n" for m in heads()),
                      encoding="utf-8")
    r = _cli(_config(settings, tmp_path), "verify", "--heads", str(logged))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "holds the 3 anchors given" in r.stdout
