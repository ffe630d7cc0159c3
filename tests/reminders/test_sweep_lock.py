"""The Redis sweep lock (one instance sweeps at a time) against a real Redis: a sweep that ran
past the lock's expiry, so that another instance has taken it since, must not release that
instance's lock when it ends (a third instance would then sweep alongside it)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.reminders import ReminderService, service_of
from tests.conftest import free_port, make_settings, open_console


async def test_a_sweep_past_its_lock_s_expiry_leaves_the_next_holder_s_lock(
        tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path, storage={
        "redis_url": redis_url, "redis_prefix": f"t{uuid.uuid4().hex[:10]}:"})
    async with open_console(settings, free_port()) as c:
        redis = c.app.services.redis
        assert redis is not None
        a = service_of(c.app.services)
        b, third = (ReminderService(c.app.services, worker=w) for w in ("instance-b", "instance-c"))
        key = a.lock_key
        try:
            assert await a._lock()
            assert not await b._lock()  # A sweeps, B waits for its next tick

            # A's sweep ran long: right after A's first Redis command releasing the lock, the
            # lock expires and B's next tick takes it
            command = redis.execute_command
            hooked = True

            async def expires_meanwhile(*args: Any, **kwargs: Any) -> Any:
                nonlocal hooked
                found = await command(*args, **kwargs)
                if hooked:
                    hooked = False
                    await command("PEXPIRE", key, 1)
                    loop = asyncio.get_running_loop()
                    deadline = loop.time() + 5
                    while await command("EXISTS", key):
                        assert loop.time() < deadline, "the lock did not expire"
                        await asyncio.sleep(0.005)
                    assert await b._lock()
                return found

            monkeypatch.setattr(redis, "execute_command", expires_meanwhile)
            await a._unlock()
            monkeypatch.undo()
            assert not hooked

            held = await redis.get(key)
            assert held in (b"instance-b", "instance-b"), held  # B's lock stands
            assert not await third._lock()  # so nobody else sweeps alongside B
            await b._unlock()
            assert await redis.get(key) is None  # B releases its own
        finally:
            await redis.delete(key)
