"""Live fan-out for pages that follow a chat in real time (the inspection big screen).

A tiny pub/sub interface with two implementations: in-process (one instance) and Redis pub/sub
(several instances serving pages, one Redis). Messages are small change notices; a subscriber
re-reads the state from the database, which stays the source of truth. Handlers publish only
after their transaction commits (`Publisher.after_commit`), so a page never sees uncommitted
state. A subscription is active as soon as `async with hub.subscription(...)` is entered, so
a page that reads the state right after cannot miss a change."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)
_PENDING = "casebot.live.pending"


class Subscription(Protocol):
    async def get(self, wait: float) -> dict[str, Any] | None:
        """The next message, or None when `wait` seconds pass without one."""
        ...


class LiveHub(Protocol):
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    def subscription(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        ...


class _QueueSubscription:
    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)

    async def get(self, wait: float) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self.queue.get(), wait)
        except TimeoutError:
            return None


class MemoryHub:
    """One process: every subscriber has a bounded queue; a stalled page loses old notices
    (each notice means "re-read the state", so only the newest matters)."""

    def __init__(self, maxsize: int = 50) -> None:
        self._subs: dict[str, set[_QueueSubscription]] = {}
        self._maxsize = maxsize

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        for sub in list(self._subs.get(channel, ())):
            if sub.queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    sub.queue.get_nowait()
            sub.queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscription(self, channel: str) -> AsyncIterator[Subscription]:
        sub = _QueueSubscription(self._maxsize)
        self._subs.setdefault(channel, set()).add(sub)
        try:
            yield sub
        finally:
            self._subs[channel].discard(sub)
            if not self._subs[channel]:
                del self._subs[channel]

    def subscribers(self, channel: str) -> int:
        return len(self._subs.get(channel, ()))


class _RedisSubscription:
    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    async def get(self, wait: float) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while (left := deadline - loop.time()) > 0:
            msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if msg is None or msg.get("type") != "message":
                continue
            try:
                return dict(json.loads(msg["data"]))
            except (ValueError, TypeError):
                log.warning("ignored a malformed live message")
        return None


class RedisHub:
    def __init__(self, redis: Redis, prefix: str = "casebot:") -> None:
        self.redis = redis
        self.prefix = f"{prefix}live:"

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self.redis.publish(self.prefix + channel, json.dumps(message, ensure_ascii=False))

    @contextlib.asynccontextmanager
    async def subscription(self, channel: str) -> AsyncIterator[Subscription]:
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(self.prefix + channel)
            yield _RedisSubscription(pubsub)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(self.prefix + channel)
            await pubsub.aclose()


class Publisher:
    """Publishes after a database commit; keeps every task referenced until it is done."""

    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub
        self._tasks: set[asyncio.Task[None]] = set()
        self._redis_down = False  # one warning per Redis outage, not one per publish

    def after_commit(self, session: AsyncSession, channel: str, message: dict[str, Any]) -> None:
        """Publish once the session's current transaction commits; a rollback drops it."""
        sync = session.sync_session
        pending: list[tuple[str, dict[str, Any]]] | None = sync.info.get(_PENDING)
        if pending is None:
            pending = sync.info[_PENDING] = []

            def committed(_: Any) -> None:
                for ch, msg in pending:
                    self._spawn(ch, self.hub.publish(ch, msg))
                pending.clear()

            def rolled_back(*_: Any) -> None:
                pending.clear()

            event.listen(sync, "after_commit", committed)
            event.listen(sync, "after_rollback", rolled_back)
        if (channel, message) not in pending:
            pending.append((channel, message))

    def _spawn(self, channel: str, coro: Coroutine[Any, Any, None]) -> None:
        async def run() -> None:
            try:
                await coro
            except RedisError as e:  # Redis down: the screens stop updating
                if not self._redis_down:
                    self._redis_down = True
                    log.warning("live publish on %s failed (%s): big screens miss updates "
                                "until redis answers again", channel, e)
                return
            except Exception:
                log.exception("live publish on %s failed", channel)
                return
            if self._redis_down:
                self._redis_down = False
                log.info("live: redis reachable again, publishing to big screens")

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def hub_for(redis: Redis | None, prefix: str = "casebot:") -> LiveHub:
    return RedisHub(redis, prefix) if redis is not None else MemoryHub()
