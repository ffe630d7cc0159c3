"""Several real `casebot serve` OS processes against one PostgreSQL database and one Redis.

Each instance is `python -m bot.cli serve --config <its yaml>` on its own loopback port, with
the secrets in its environment and its own copy of the demo org.yaml (an instance rewrites its
org.yaml with the roster in use), exactly as `docs/deploy.md` describes a deployment."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import yaml

from config.loader import DEFAULT_DIR
from tests.conftest import free_port, fresh_postgres, port_open, require

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/13"  # the scale tests' Redis database


@dataclass(frozen=True)
class RedisSpace:
    """Where a test's instances share Redis: a server and a key prefix of their own, so that
    test runs side by side on one machine never see (or delete) each other's keys."""

    url: str
    prefix: str
TOKEN = "scale-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    async with fresh_postgres("casebot_scale") as url:
        yield url


@pytest.fixture
async def shared_redis() -> AsyncIterator[RedisSpace]:
    """One Redis key space for all instances of a test, empty at the start, removed after."""
    require("Redis on 127.0.0.1:6379", port_open("127.0.0.1", 6379))
    space = RedisSpace(REDIS_URL, f"casebot-test-{uuid.uuid4().hex[:10]}:")
    yield space
    r = aioredis.from_url(space.url)
    try:
        keys = [k async for k in r.scan_iter(match=f"{space.prefix}*", count=1000)]
        if keys:
            await r.delete(*keys)
    finally:
        await r.aclose()


def write_config(path: Path, *, db_url: str, redis: RedisSpace | None, port: int, org: Path,
                 question_bank: str | None = None, tick_seconds: float | None = None) -> Path:
    """An instance's casebot.yaml; `tick_seconds`: the periodic work's interval (default 60 s)."""
    storage: dict[str, Any] = {"database_url": db_url, "redis_url": redis.url if redis else None}
    if redis is not None:
        storage["redis_prefix"] = redis.prefix
    cfg: dict[str, Any] = {
        "org": str(org),
        "score_template": str(DEFAULT_DIR / "score_template.yaml"),
        "storage": storage,
        "transports": {"console": {"enabled": True, "test_clock": False},
                       "dingtalk": {"enabled": False}},
        "web": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "inspection": {"question_bank": question_bank},
    }
    if tick_seconds is not None:
        cfg["reminders"] = {"sweep_interval_seconds": tick_seconds}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def instance_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOT_")}
    env.update(PYTHONPATH=str(ROOT), CASEBOT_API_TOKEN=TOKEN,
               CASEBOT_LINK_KEYS="scale-link-key-0123456789", PYTHONUNBUFFERED="1")
    return env


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `casebot <args>` (this worktree's code) and return the finished process."""
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=instance_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class Instance:
    """One `casebot serve` process."""

    name: str
    port: int
    config: Path
    log: Path
    org: Path  # its own org.yaml
    proc: subprocess.Popen[bytes] | None = None
    _log_file: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log_file = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--config", str(self.config)],
            cwd=ROOT, env=instance_env(), stdout=self._log_file, stderr=subprocess.STDOUT)

    async def wait_ready(self, within: float = 60) -> float:
        """Poll /readyz until 200; returns the seconds it took."""
        started = time.monotonic()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while True:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n"
                                         f"{self.tail()}")
                try:
                    async with http.get(f"{self.url}/readyz") as r:
                        if r.status == 200:
                            return time.monotonic() - started
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if time.monotonic() - started > within:
                    raise AssertionError(f"{self.name} not ready after {within} s:\n{self.tail()}")
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, open transactions die with the connections."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def errors(self) -> list[str]:
        """Tracebacks and ERROR lines in the log (an instance must not fail while handling)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]


@dataclass
class Cluster:
    instances: list[Instance]
    db_url: str

    async def start(self) -> list[float]:
        """Start every instance at once (as a rollout would); seconds until each was ready."""
        for i in self.instances:
            i.start()
        return list(await asyncio.gather(*(i.wait_ready() for i in self.instances)))

    def stop(self) -> None:
        for i in self.instances:
            i.stop()


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Any]:
    made: list[Cluster] = []

    def make(db_url: str, redis: RedisSpace | None, n: int = 2,
             question_bank: str | None = None, tick_seconds: float | None = None) -> Cluster:
        instances = []
        for k in range(n):
            name = "ab"[k] if n <= 2 else f"i{k}"
            port = free_port()
            org = tmp_path / f"{name}-org.yaml"
            shutil.copy(DEFAULT_DIR / "org.yaml", org)
            cfg = write_config(tmp_path / f"{name}.yaml", db_url=db_url, redis=redis,
                               port=port, org=org, question_bank=question_bank,
                               tick_seconds=tick_seconds)
            instances.append(Instance(name, port, cfg, tmp_path / f"{name}.log", org))
        c = Cluster(instances, db_url)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()
