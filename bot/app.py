"""Wiring. Reading this file tells you everything the bot does: the routers, in order, the web
routes and the periodic work."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import inspection as inspection_service
from bot import reminders as reminder_service
from bot import reviews as review_service
from bot.clock import Clock, ManualClock
from bot.context import Services
from bot.directory import Directory
from bot.dispatcher import Dispatcher
from bot.outbox import OutboxWorker
from bot.roster_sync import RosterSync
from bot.roster_versions import describe, former_names, short_hash
from bot.signing import Signer, key_fingerprint
from bot.transports import dingtalk
from bot.transports.console import ConsoleTransport, local_request, loopback_only
from bot.transports.dingtalk.web import DingTalkWeb, login_in_dingtalk
from bot.web import (
    MAX_BODY,
    api_errors,
    json_response,
    known_host,
    no_framing,
    same_origin,
    unreadable_requests,
)
from bot.web.admin import AdminWeb
from bot.web.case_pages import CasePages
from bot.web.cases_api import CasesApi
from bot.web.inspection import InspectionWeb
from bot.web.new_case import NewCasePage
from config.loader import ConfigError, Settings
from config.model import AppConfig, Org, TransportsConfig, is_loopback
from handlers import admin, basic, cases, inspection, rectification, reviews
from handlers import reminders as reminder_handlers
from storage import audit, db, migrate

log = logging.getLogger(__name__)

Ticker = Callable[["App"], Awaitable[int]]
AUDIT_HEAD_EVERY = timedelta(hours=1)  # the audit chain's head in the log, besides start and stop
# A Redis that takes connections but does not answer (stalled, cut off without a reset) costs
# each request this per Redis call, then the fallback runs; without it a request waited for
# the client library's default (5 s in redis-py 8, for ever in 5.x) at every call
REDIS_TIMEOUT_SECONDS = 1.0
READY_DB_SECONDS = 5.0  # /readyz: the database's answer (more than a busy pool's checkout)


class App:
    """The running bot: services, dispatcher, and the periodic work the clock drives."""

    def __init__(self, settings: Settings, clock: Clock, scheduler: bool | None = None) -> None:
        self.settings = settings
        self.clock = clock
        # APScheduler drives run_due in real time; a manual (test) clock is driven by hand.
        self.use_scheduler = not isinstance(clock, ManualClock) if scheduler is None else scheduler
        self.scheduler: Any = None
        self.engine: AsyncEngine | None = None
        self.read_engine: Engine | None = None  # SQLite: inline (storage/inline_sqlite.py)
        self.journal_conn: sqlite3.Connection | None = None  # the journal's inline writer
        self._services: Services | None = None
        self._dispatcher: Dispatcher | None = None
        self.tickers: dict[str, Ticker] = {}
        self.seeders: list[Callable[[App], Awaitable[None]]] = []
        self.outbox: OutboxWorker | None = None
        self.dingtalk: dingtalk.DingTalkTransport | None = None
        self.roster: RosterSync | None = None  # the roster versions in the database
        self._head_logged: datetime | None = None  # when the audit head was last logged
        self.stopping = False  # set when the web server shuts down (SIGTERM)

    @property
    def services(self) -> Services:
        assert self._services is not None, "App not started"
        return self._services

    @property
    def dispatcher(self) -> Dispatcher:
        assert self._dispatcher is not None, "App not started"
        return self._dispatcher

    @staticmethod
    def _redis_unreachable(e: Exception) -> None:
        log.warning("redis unreachable at start (%s): running without it until it answers "
                    "(docs/deploy.md, 'What breaks when Redis is lost'); /readyz answers 503 "
                    "meanwhile", e or type(e).__name__)

    async def start(self) -> None:
        cfg = self.settings.config
        dt_creds = (dingtalk.credentials(cfg.transports.dingtalk, os.environ)
                    if cfg.transports.dingtalk.enabled else None)
        url = cfg.storage.database_url
        self.engine = db.create_engine(url, timeout=cfg.storage.statement_timeout_seconds)
        # a migration may rightly take long (an index built on a big table): on PostgreSQL it
        # runs on an engine of its own, without the statement timeout
        migrating = db.create_engine(url) if db.is_postgresql(url) else self.engine
        try:
            await migrate.upgrade(migrating)  # logs each migration as it is applied
        except migrate.SchemaTooNew as e:  # a rolling upgrade: this is the old instance
            log.warning("%s; this instance keeps running on it, as the old instances of a "
                        "rolling upgrade do; replace it with the newer casebot "
                        "(docs/deploy.md, 'Migrations')", e)
        finally:
            if migrating is not self.engine:
                await migrating.dispose()
        # once the database opened (a start that cannot open it is one error line naming it):
        # what this instance shares with the others, to compare their logs
        # (the link key's fingerprint, never the key: links signed by one are checked by another)
        log.info("casebot starting: database %s, redis %s, redis prefix %s, transports %s, "
                 "link key %s",
                 db.describe(cfg.storage.database_url),
                 without_password(cfg.storage.redis_url) if cfg.storage.redis_url else "none",
                 cfg.storage.redis_prefix, _transports(cfg.transports),
                 key_fingerprint(self.settings.secrets.link_keys))
        redis = aioredis.from_url(cfg.storage.redis_url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                  socket_connect_timeout=REDIS_TIMEOUT_SECONDS
                                  ) if cfg.storage.redis_url else None
        if redis is not None:
            try:
                await asyncio.wait_for(redis.ping(), timeout=2)
            except ResponseError as e:
                if "DB index is out of range" not in str(e):  # e.g. a wrong password
                    self._redis_unreachable(e)
                else:  # the server answered: not an outage but a config mistake
                    await redis.aclose()
                    await self.engine.dispose()
                    index = redis.connection_pool.connection_kwargs.get("db", 0)
                    raise ConfigError([
                        f"{self.settings.source}: {self.settings.label('storage.redis_url')}: "
                        f"the Redis server has no database {index} (it answered 'DB index is "
                        "out of range'; it has `databases` in redis.conf, 16 by default, "
                        "numbered from 0)"]) from None
            except (RedisError, OSError, TimeoutError) as e:  # started anyway: Redis is optional
                self._redis_unreachable(e)
        if exposure := console_exposure(cfg):
            log.log(*exposure)
        for line in start_warnings(self.settings):  # check-config prints the same lines
            log.warning("%s", line)
        self.read_engine = db.create_read_engine(cfg.storage.database_url)
        journal, self.journal_conn = db.journal_for(self.engine)
        self._services = Services(
            settings=self.settings, clock=self.clock, db=db.sessionmaker(self.engine),
            read_db=db.read_sessionmaker(self.read_engine) if self.read_engine else None,
            directory=Directory(self.settings.org), redis=redis,
            signer=Signer(self.settings.secrets.link_keys, warn_random=False),
            external_transports=("dingtalk",) if dt_creds else (),
        )
        self._services.journal = journal
        today = self.clock.now().astimezone(cfg.tz).date()
        if note := self._services.calendar.coverage_warning(today):
            log.warning("%s", note)  # once, at start: not when a reminder first hits that year
        self._services.bulk = db.bulk_reader(self.engine)
        journal.on_batch = self._services.metrics.journal_batch.observe
        dp = Dispatcher(self._services)
        dp.include(basic.router, cases.router, reviews.router, reminder_handlers.router,
                   inspection.router, rectification.router, admin.router)
        self._services.on_evaluation = [review_service.on_evaluation]
        reminder_service.install(self._services)  # re-plans on every evaluation
        await inspection_service.seed_bank(self._services)
        self._dispatcher = dp
        self.tickers["reminders"] = _sweep_reminders
        self.tickers["roster"] = _reload_roster
        self.tickers["audit_head"] = _log_audit_head
        # the roster shared by every instance: org.yaml seeds a fresh database, and the newest
        # version stored is the one in use, before any transport receives
        self.roster = RosterSync(self.settings.org_path, self._services.db, self.clock)
        # the names on earlier roster versions: a case of someone who has since left still
        # names them, also after a restart
        async with self._services.db() as session:
            former = await former_names(session)
        self._services.directory = Directory(self.settings.org, former)
        await self.reload_org()
        await self.log_audit_head("at start")
        await self._start_transports(dt_creds)
        if self.use_scheduler:
            self._start_scheduler()

    def use_org(self, org: Org) -> None:
        """Swap in a new roster (the admin page's import, or a newer version found by
        `reload_org`). Safe in process: everything looks people, units and chats up through
        `services.directory` at use time, and an event already being handled keeps the person
        it resolved."""
        self.settings = dataclasses.replace(self.settings, org=org)
        self.services.settings = self.settings
        # who left keeps their name (张三（已离开名册）)
        self.services.directory = Directory(org, self.services.directory.known_names())
        if self.dingtalk is not None:
            self.dingtalk.use_org(org)

    async def reload_org(self) -> bool:
        """At start and at each tick: publish org.yaml when it holds a new text (a fresh
        database, a hand edit), then use the newest roster version in the database when it is
        not the one in use (an import or an edit through any instance): no restart. A file that
        does not pass the start-up checks is one warning, and the roster in use stays
        (bot/roster_sync.py). True when a new roster is now in use."""
        assert self.roster is not None, "App not started"
        async with self.roster.lock:  # not during an import through this instance's page
            found = await self.roster.sync(self.settings.org)
            if found is None:
                return False
            version, org = found
            before = self.settings.org.version_hash()
            if org.version_hash() == before:
                return False
            self.use_org(org)
        log.info("roster: %s now in use (%s, was %s)", describe(version),
                 short_hash(org.version_hash()), short_hash(before))
        return True

    async def log_audit_head(self, when: str) -> None:
        """The audit chain's head (seq and hash) as one INFO line: the log archive, kept apart
        from the database, then holds anchors that `casebot audit verify --heads` checks, to
        show records removed from the chain's end (docs/deploy.md, 'Audit trail'). At start,
        at stop, and on the first tick an hour after the last one."""
        self._head_logged = self.clock.now()
        try:
            async with asyncio.timeout(5), self.services.db() as session:
                found = await audit.head(session)
        except Exception as e:  # never stops (nor holds up) a start, a tick or a stop
            log.warning("could not read the audit chain's last record %s: %s", when,
                        db.unavailable(e) or repr(e))
            return
        log.info("%s, %s", audit.head_line(found, self.settings.config.tz), when)

    async def _start_transports(self, dt_creds: dingtalk.Credentials | None) -> None:
        """External platforms: their inbound loops, and the outbox worker that delivers to them."""
        assert self.engine is not None
        self.dingtalk = dingtalk.DingTalkTransport(self, dt_creds) if dt_creds else None
        deliverers = {"dingtalk": self.dingtalk.delivery} if self.dingtalk else {}
        self.outbox = OutboxWorker(self.services.db, self.clock, self.settings.config.transports.outbox,
                                   deliverers, dialect=self.engine.dialect.name)
        sends = self.services.metrics.sends
        self.outbox.on_result = lambda transport, result: sends.labels(transport, result).inc()
        if self.dingtalk is not None:
            await self.dingtalk.start(wake=self.outbox.wake)
        self.outbox.start()
        if self.outbox.running:  # console only: nothing to deliver, no worker, no line
            # the id it writes to outbox.claimed_by while it holds a row: which instance has it
            log.info("outbox worker %s started (delivers to %s)", self.outbox.worker_id,
                     ", ".join(self.outbox.transports))

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
        except Exception as e:
            if why := db.unavailable(e):
                log.warning("periodic work: database unavailable (%s); retrying at the next tick",
                            why)
            else:
                log.exception("periodic work failed; retrying at the next tick")

    async def stop(self) -> None:
        log.info("casebot stopping")
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if self.dingtalk is not None:
            await self.dingtalk.stop()
        if self.outbox is not None:
            await self.outbox.stop()
        if self.dingtalk is not None:
            await self.dingtalk.close()
        if self._services is not None:  # its callers may still use Redis once written
            await self._services.journal.close()
        if self._services is not None and self._services.redis is not None:
            await self._services.redis.aclose()
        if self._services is not None:
            await self.log_audit_head("at stop")  # after this instance's last write
            self._services.bulk.dispose()
        if self.read_engine is not None:
            self.read_engine.dispose()
        if self.journal_conn is not None:
            self.journal_conn.close()
        if self.engine is not None:
            await self.engine.dispose()
        log.info("casebot stopped")

    async def run_due(self) -> dict[str, int]:
        """Run every periodic job once (the scheduler's tick, or the test clock's advance)."""
        return {name: await tick(self) for name, tick in self.tickers.items()}

    async def advance_clock(self, clock: ManualClock, delta: timedelta) -> dict[str, int]:
        """Move the test clock by ``delta`` as if the bot had been running: stop at each
        moment a reminder falls due (now included) and run what is due there, in order, then
        at the end. When the bot
        is stopping (SIGTERM), it stops at the next of those moments, short of ``delta``."""
        target = clock.now() + delta
        totals: dict[str, int] = dict.fromkeys(self.tickers, 0)
        reminders = reminder_service.service_of(self.services)
        for i in range(10_000):  # a bound, not a budget: every stop moves the clock forward
            if self.stopping:
                return totals
            # the first stop may be now: a reminder planned at this moment (owed at once, like a
            # 诉前会商 already behind when the case is scored) goes out now, not as a 补发 later
            stop = await reminders.next_wakeup(clock.now(), target, inclusive=i == 0)
            if stop is None:
                break
            clock.advance(stop - clock.now())
            for name, n in (await self.run_due()).items():
                totals[name] += n
        clock.advance(target - clock.now())
        for name, n in (await self.run_due()).items():
            totals[name] += n
        return totals


def without_password(url: str) -> str:
    """A Redis URL for a log line: its password (in the address or a `password=` parameter)
    shown as ***, so that an operator can compare the instances' logs."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        url = url.replace(f"//{parts.netloc}", f"//{parts.username or ''}:***@{host}", 1)
    head, sep, query = url.partition("?")
    return head + sep + re.sub(r"(?i)(^|&)(password=)[^&#]*", r"\1\2***", query)


def redis_address(redis: aioredis.Redis) -> str:
    """Where a client connects, for /readyz: host:port/db or the socket, never a password."""
    kw = redis.connection_pool.connection_kwargs
    where = kw.get("path") or f"{kw.get('host', 'localhost')}:{kw.get('port', 6379)}"
    return f"{where}/{kw.get('db', 0)}"


def _why(e: BaseException, waited: float = 1) -> str:
    """An exception as `Type: text`, on one line (redis-py's texts end with a period)."""
    text = " ".join(str(e).split()) if not isinstance(e, TimeoutError) \
        else f"no answer in {waited:g} s"
    return f"{type(e).__name__}: {text}".removesuffix(": ")


def start_warnings(settings: Settings, env: Mapping[str, str] | None = None) -> list[str]:
    """What `serve` warns of at start and `check-config` prints: a deployment that runs but
    breaks (the console beside DingTalk, no API token, no link keys)."""
    cfg, env = settings.config, os.environ if env is None else env
    out = []
    if cfg.transports.console_on and cfg.transports.dingtalk.enabled:
        out.append(f"the console (/console) is on beside DingTalk: it has no passwords, so "
                   f"whoever reaches {cfg.web.public_url} can act as any person; set "
                   "transports.console.enabled: false in a deployment (docs/deploy.md)")
    if not settings.secrets.api_token:
        out.append(f"integration API (/api/v1) disabled: environment variable "
                   f"{cfg.secrets.api_token_env} is not set")
    if not settings.secrets.link_keys:
        var = cfg.secrets.link_keys_env
        how = ("holds no key" if env.get(var, "").strip() else "is not set")
        out.append(f"environment variable {var} {how}: this instance signs links and session "
                   "cookies with a random key, so they fail on every other instance and after "
                   "its restart; set the same keys on every instance (docs/deploy.md)")
    return out


def console_exposure(cfg: AppConfig) -> tuple[int, str] | None:
    """What the start (and check-config) says of the console on a web.host other machines
    reach: a WARNING when it answers them (allow_remote), else an INFO that it does not."""
    t, web_cfg = cfg.transports, cfg.web
    if not t.console_on or is_loopback(web_cfg.host):
        return None
    if t.console.allow_remote:
        return logging.WARNING, (
            f"the console (/console, no passwords) answers every address "
            f"(transports.console.allow_remote: true) on web.host {web_cfg.host}: anyone who "
            f"can reach port {web_cfg.port} can act as any user")
    return logging.INFO, (
        f"the console (/console) answers loopback only (127.0.0.0/8, ::1): other addresses "
        f"reaching web.host {web_cfg.host} get 403 (transports.console.allow_remote)")


def _transports(t: TransportsConfig) -> str:
    """The chat transports that receive, for the start-up line."""
    on = ["console"] if t.console_on else []
    if t.dingtalk.enabled:
        modes = [m for m, yes in (("stream", t.dingtalk.stream_mode),
                                  ("http callback", t.dingtalk.http_callback)) if yes]
        on.append(f"dingtalk ({', '.join(modes) or 'sending only'})")
    return ", ".join(on) or "none"


async def _sweep_reminders(app: App) -> int:
    return (await reminder_service.service_of(app.services).sweep()).sent


async def _reload_roster(app: App) -> int:
    return int(await app.reload_org())


async def _log_audit_head(app: App) -> int:
    """Hourly; it logs its own line, so it counts 0 (no `periodic work` line for it)."""
    if app._head_logged is None or app.clock.now() - app._head_logged >= AUDIT_HEAD_EVERY:
        await app.log_audit_head("hourly")
    return 0


APP_KEY = web.AppKey("casebot", App)


def create_web_app(app: App) -> web.Application:
    logging.getLogger("aiohttp.server").addFilter(unreadable_requests)  # added once only
    cfg = app.settings.config
    console_local = cfg.transports.console_on and not cfg.transports.console.allow_remote
    webapp = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[known_host(cfg.web.public_url, cfg.web.allowed_hosts),
                     *([loopback_only] if console_local else []),
                     *([login_in_dingtalk] if cfg.transports.dingtalk.enabled else []),
                     api_errors, same_origin(cfg.web.public_url)])
    webapp[APP_KEY] = app
    webapp.on_response_prepare.append(no_framing)

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        await app.start()
        for seed in app.seeders:
            await seed(app)
        yield
        await app.stop()

    webapp.cleanup_ctx.append(lifecycle)

    async def stopping(_: web.Application) -> None:
        # before the server waits for the requests in progress (up to 60 s) and then stops
        # the app: a long test-clock advance ends at its next stop instead
        app.stopping = True

    webapp.on_shutdown.append(stopping)
    routes: list[Any] = [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics),
        web.get("/", index),
        web.get("/favicon.svg", favicon),
        web.get("/favicon.ico", favicon_ico),
    ]
    routes += (CasesApi(app).routes() + CasePages(app).routes() + NewCasePage(app).routes()
               + AdminWeb(app).routes())
    if app.settings.config.transports.console_on:
        routes += ConsoleTransport(app).routes()
    inspection_web = InspectionWeb(app)
    routes += inspection_web.routes()
    webapp.on_shutdown.append(inspection_web.close_streams)
    if app.settings.config.transports.dingtalk.enabled:
        routes += DingTalkWeb(app).routes()
    webapp.add_routes(routes)
    return webapp


async def index(request: web.Request) -> web.Response:
    transports = request.app[APP_KEY].settings.config.transports
    if not transports.console_on or not (transports.console.allow_remote
                                         or local_request(request)):
        return web.Response(content_type="text/html", charset="utf-8", text=(
            "<!doctype html><meta charset=utf-8><title>casebot</title>"
            "<p>casebot 运行中。请在钉钉中与机器人对话，或打开卡片中的链接。</p>"))
    # relative on purpose: the browser stays on the host it asked for (127.0.0.1 or a name),
    # never web.public_url, so the console's localStorage and cookies stay with it
    raise web.HTTPFound("/console")


# a chat bubble with a check mark, the console's blue
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#1677ff"/>'
    '<path d="M8 7h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2h-9l-5 4v-4H8a2 2 0 0 1-2-2V9a2 2 0 0 1 2-2z"'
    ' fill="#fff"/>'
    '<path d="M11 14l3 3 6-6" stroke="#1677ff" stroke-width="2.4" fill="none"'
    ' stroke-linecap="round" stroke-linejoin="round"/></svg>'
)


async def favicon(request: web.Request) -> web.Response:
    return web.Response(text=FAVICON_SVG, content_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


async def favicon_ico(request: web.Request) -> web.Response:
    raise web.HTTPFound("/favicon.svg")  # browsers ask for /favicon.ico on their own


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers, Redis too when it is configured, and the DingTalk
    stream is connected (or has been down for less than its grace period) when it runs."""
    app = request.app[APP_KEY]
    services = app.services
    checks: dict[str, str] = {}

    async def select_one() -> None:
        async with services.db() as session:
            await session.execute(text("SELECT 1"))

    try:  # a database that takes connections but does not answer must not hold the answer
        await asyncio.wait_for(select_one(), timeout=READY_DB_SECONDS)
        checks["database"] = "ok"
    except TimeoutError as e:
        checks["database"] = f"error: {_why(e, READY_DB_SECONDS)}"
    except Exception as e:  # any failure means not ready; say which
        checks["database"] = f"error: {db.unavailable(e) or type(e).__name__}"
    if services.redis is None:
        checks["redis"] = "not configured"
    else:
        try:
            await asyncio.wait_for(services.redis.ping(), timeout=1)
            checks["redis"] = "ok"
        except Exception as e:
            checks["redis"] = f"error at {redis_address(services.redis)}: {_why(e)}"
    ok = all(v in ("ok", "not configured") for v in checks.values())
    if app.dingtalk is not None:  # its own rule: not ok for a moment is still ready
        checks["dingtalk"], dingtalk_ready = app.dingtalk.health()
        ok = ok and dingtalk_ready
    return json_response({"ready": ok, **checks}, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    services = request.app[APP_KEY].services
    async with services.db() as session:
        await services.metrics.refresh_outbox(session, services.clock.now().timestamp())
    return web.Response(body=services.metrics.render(),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})
