"""Sliding-window rate limits for outbound platform calls. In memory for one process; in Redis
(one Lua script, atomic across instances) when several instances share a robot."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    key: str
    count: int  # at most this many calls ...
    per_seconds: float  # ... in any window this long


class RateLimiter(Protocol):
    async def acquire(self, limits: Sequence[Limit]) -> float:
        """Take one slot under every limit, or none: 0 when granted, else seconds to wait."""
        ...

    async def block(self, key: str, seconds: float) -> None:
        """Refuse every call under `key` for a while (the platform said it is throttling us)."""
        ...


class MemoryRateLimiter:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._calls: dict[str, deque[float]] = {}
        self._blocked: dict[str, float] = {}

    async def acquire(self, limits: Sequence[Limit]) -> float:
        now = self._now()
        wait = 0.0
        for lim in limits:
            wait = max(wait, self._blocked.get(lim.key, 0.0) - now)
            calls = self._calls.setdefault(lim.key, deque())
            while calls and calls[0] <= now - lim.per_seconds:
                calls.popleft()
            if len(calls) >= lim.count:
                wait = max(wait, calls[0] + lim.per_seconds - now)
        if wait > 0:
            return wait
        for lim in limits:
            self._calls[lim.key].append(now)
        return 0.0

    async def block(self, key: str, seconds: float) -> None:
        self._blocked[key] = max(self._blocked.get(key, 0.0), self._now() + seconds)


# KEYS: the limit keys; ARGV: now_ms, then (count, window_ms) per key, then a unique member.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local blocked = tonumber(redis.call('GET', key .. ':blocked') or '0')
  if blocked - now > wait then wait = blocked - now end
  local count = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= count then
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(first[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
local member = ARGV[2 * #KEYS + 2]
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i + 1])))
end
return 0
"""


class RedisRateLimiter:
    """Shared by every instance; falls back to memory while Redis is down (a limit per process
    is better than none, and far better than failing the send)."""

    def __init__(self, redis: Redis, prefix: str = "casebot:rate:") -> None:
        self.redis = redis
        self.prefix = prefix
        self.fallback = MemoryRateLimiter()
        self._seq = 0
        self._down = False  # one warning per outage, one line when Redis answers again

    def _lost(self, e: Exception) -> None:
        if not self._down:
            self._down = True
            log.warning("redis rate limiter unavailable, limiting in memory (a window per "
                        "instance) until it is back: %s", e or type(e).__name__)

    def _back(self) -> None:
        if self._down:
            self._down = False
            log.info("redis rate limiter reachable again: one window across instances")

    async def acquire(self, limits: Sequence[Limit]) -> float:
        self._seq += 1
        keys = [self.prefix + lim.key for lim in limits]
        args: list[float | str] = [time.time() * 1000]
        for lim in limits:
            args += [lim.count, lim.per_seconds * 1000]
        args.append(f"{time.time_ns()}-{id(self)}-{self._seq}")
        try:
            wait_ms = await self.redis.eval(_ACQUIRE, len(keys), *keys, *args)
        except (RedisError, OSError) as e:
            self._lost(e)
            return await self.fallback.acquire(limits)
        self._back()
        return max(0.0, float(wait_ms) / 1000)

    async def block(self, key: str, seconds: float) -> None:
        await self.fallback.block(key, seconds)
        until = int((time.time() + seconds) * 1000)
        try:
            await self.redis.set(f"{self.prefix}{key}:blocked", until, px=max(1, int(seconds * 1000)))
        except (RedisError, OSError) as e:
            self._lost(e)
            return
        self._back()


def make_limiter(redis: Redis | None, prefix: str = "casebot:") -> RateLimiter:
    return RedisRateLimiter(redis, f"{prefix}rate:") if redis is not None else MemoryRateLimiter()
