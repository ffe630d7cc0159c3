"""Wiring. Reading this file tells you everything the bot does: the routers, in order, the web
routes and the periodic work."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import reminders as reminder_service
from bot.clock import Clock, ManualClock
from bot.context import Services
from bot.directory import Directory
from bot.dispatcher import Dispatcher
from bot.outbox_sender import OutboxSender, deliverers_of
from bot.transports.console import ConsoleTransport
from bot.web import api_errors, json_response
from bot.web.case_pages import CasePages
from bot.web.cases_api import CasesApi
from bot.web.signing import Signer
from config.loader import Settings
from handlers import basic, cases
from handlers import reminders as reminder_handlers
from storage import db, migrate

log = logging.getLogger(__name__)

Ticker = Callable[["App"], Awaitable[int]]


class App:
    """The running bot: services, dispatcher, and the periodic work the clock drives."""

    def __init__(self, settings: Settings, clock: Clock, scheduler: bool | None = None) -> None:
        self.settings = settings
        self.clock = clock
        # APScheduler drives run_due in real time; a manual (test) clock is driven by hand.
        self.use_scheduler = not isinstance(clock, ManualClock) if scheduler is None else scheduler
        self.scheduler: Any = None
        self.engine: AsyncEngine | None = None
        self._services: Services | None = None
        self._dispatcher: Dispatcher | None = None
        self.tickers: dict[str, Ticker] = {}
        self.seeders: list[Callable[[App], Awaitable[None]]] = []

    @property
    def services(self) -> Services:
        assert self._services is not None, "App not started"
        return self._services

    @property
    def dispatcher(self) -> Dispatcher:
        assert self._dispatcher is not None, "App not started"
        return self._dispatcher

    async def start(self) -> None:
        cfg = self.settings.config
        self.engine = db.create_engine(cfg.storage.database_url)
        applied = await migrate.upgrade(self.engine)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        redis = aioredis.from_url(cfg.storage.redis_url) if cfg.storage.redis_url else None
        self._services = Services(
            settings=self.settings, clock=self.clock, db=db.sessionmaker(self.engine),
            directory=Directory(self.settings.org), redis=redis,
            signer=Signer(self.settings.secrets.link_keys),
        )
        dp = Dispatcher(self._services)
        dp.include(basic.router, cases.router, reminder_handlers.router)
        self._dispatcher = dp
        reminder_service.install(self._services)
        self.tickers["reminders"] = _sweep_reminders
        self.tickers["outbox"] = _send_outbox
        if self.use_scheduler:
            self._start_scheduler()

    def _start_scheduler(self) -> None:
        """APScheduler 3 (in-memory job store) is only the ticker: what is due lives in the
        database, so several instances may tick at once."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        interval = self.settings.config.reminders.sweep_interval_seconds
        self.scheduler = AsyncIOScheduler(timezone=self.settings.config.tz)
        self.scheduler.add_job(self._tick, "interval", seconds=interval, id="run_due",
                               max_instances=1, coalesce=True, misfire_grace_time=None)
        self.scheduler.start()

    async def _tick(self) -> None:
        try:
            ran = await self.run_due()
            if any(ran.values()):
                log.info("periodic work: %s", ran)
        except Exception:
            log.exception("periodic work failed; retrying at the next tick")

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if self._services is not None and self._services.redis is not None:
            await self._services.redis.aclose()
        if self.engine is not None:
            await self.engine.dispose()

    async def run_due(self) -> dict[str, int]:
        """Run every periodic job once (the scheduler's tick, or the test clock's advance)."""
        return {name: await tick(self) for name, tick in self.tickers.items()}


async def _sweep_reminders(app: App) -> int:
    return (await reminder_service.service_of(app.services).sweep()).sent


async def _send_outbox(app: App) -> int:
    """Deliver what external transports are owed (no-op until a transport registers)."""
    deliverers = deliverers_of(app.services)
    if not deliverers:
        return 0
    sender = app.services.features.get("outbox_sender")
    if sender is None:
        sender = OutboxSender(app.services, deliverers, reminder_service.worker_id())
        app.services.features["outbox_sender"] = sender
    total = 0
    while n := await sender.run_once():
        total += n
    return total


APP_KEY = web.AppKey("casebot", App)


def create_web_app(app: App) -> web.Application:
    webapp = web.Application(middlewares=[api_errors])
    webapp[APP_KEY] = app

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        await app.start()
        for seed in app.seeders:
            await seed(app)
        yield
        await app.stop()

    webapp.cleanup_ctx.append(lifecycle)
    routes: list[Any] = [
        web.get("/healthz", healthz),
        web.get("/", index),
    ]
    routes += CasesApi(app).routes() + CasePages(app).routes()
    if app.settings.config.transports.console.enabled:
        routes += ConsoleTransport(app).routes()
    webapp.add_routes(routes)
    return webapp


async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console")


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})
