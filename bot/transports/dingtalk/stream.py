"""Stream-mode connection: the `dingtalk-stream` 0.24.3 client with its loop replaced.

We keep the SDK's client class, frame models (`SystemMessage`, `CallbackMessage`, `AckMessage`)
and handler protocol (`CallbackHandler.raw_process`, `SystemHandler`). We replace `start()` and
`open_connection()` because 0.24.3 reconnects with no delay after a clean close, swallows
cancellation, opens connections with blocking `requests` on the event loop, pings without ever
waiting for the pong, and ACKs on whatever socket is current. Our loop: aiohttp for the open
call, exponential backoff with jitter (1 s → 60 s by default), a watchdog that reconnects when
neither a frame nor a pong arrives for a while, ACKs on the socket the frame came from, and
`await stop()` that really stops. It also keeps what /readyz and /metrics say of the stream
(`health()`, `on_connected`, `on_failure`)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import socket
import time
from collections.abc import Callable
from datetime import tzinfo
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import dingtalk_stream
import websockets
from dingtalk_stream import AckMessage, CallbackMessage, Credential, SystemMessage
from dingtalk_stream.version import VERSION_STRING
from websockets.asyncio.client import ClientConnection

from bot.clock import Clock
from bot.outbox import backoff
from bot.web import loads_strict
from config.model import DingTalkStreamConfig
from storage.db import unavailable

log = logging.getLogger(__name__)

OPEN_PATH = "/v1.0/gateway/connections/open"


# casebot_dingtalk_stream_failures_total{reason}: a connection attempt that failed (refused:
# nothing listens; auth: 401/403 on open; timeout; other), or an established one that ended
# without DingTalk asking us to move (dropped)
FAILURE_REASONS = ("refused", "auth", "timeout", "other", "dropped")


class OpenFailed(Exception):
    def __init__(self, text: str, status: int | None = None, code: str = "") -> None:
        super().__init__(text)
        self.status = status
        self.code = code  # DingTalk's `code` in the error body, e.g. InvalidClient


def failure_reason(e: BaseException) -> str:
    """The `reason` label of a failed connection attempt."""
    if isinstance(e, OpenFailed) and e.status in (401, 403):
        return "auth"
    if isinstance(e, TimeoutError):  # aiohttp's ServerTimeoutError is one too
        return "timeout"
    os_error = e.os_error if isinstance(e, aiohttp.ClientConnectorError) else e
    if isinstance(os_error, ConnectionRefusedError) or (
            isinstance(os_error, OSError) and os_error.errno == errno.ECONNREFUSED):
        return "refused"
    return "other"


def ack(message_id: str | None, code: int, data: Any = None, message: str = "") -> str:
    a = AckMessage()
    a.code = code
    a.headers.message_id = message_id
    a.headers.content_type = "application/json"
    a.message = message
    a.data = data if data is not None else {}
    return json.dumps(a.to_dict(), ensure_ascii=False)


class StreamClient(dingtalk_stream.DingTalkStreamClient):
    def __init__(self, client_id: str, client_secret: str, *, api_base: str,
                 config: DingTalkStreamConfig, clock: Clock, tz: tzinfo,
                 credential_vars: tuple[str, str] = ("DINGTALK_CLIENT_ID",
                                                     "DINGTALK_CLIENT_SECRET")) -> None:
        super().__init__(Credential(client_id, client_secret), logger=log)
        self.api_base = api_base.rstrip("/")
        self.config = config
        self.clock = clock
        self.tz = tz
        self.credential_vars = credential_vars  # the environment variables, for the operator
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._ws: ClientConnection | None = None
        self._frame_tasks: set[asyncio.Task[None]] = set()
        self._local_ip = ""
        # observable state, for logs, health and tests
        self.opens = 0  # /connections/open calls
        self.connects = 0  # websocket sessions established
        self.delays: list[float] = []  # every reconnect delay chosen
        self.watchdog_fired = 0
        self.connected = asyncio.Event()
        # health: since when the stream is down (start, or the last drop; monotonic for the
        # grace period, the clock for the operator), and why (None: no failure yet)
        self._down_mono = time.monotonic()
        self._down_since = clock.now()
        self.problem: str | None = None
        self.on_connected: Callable[[bool], None] = lambda up: None  # the gauge
        self.on_failure: Callable[[str], None] = lambda reason: None  # the counter

    # -- lifecycle ------------------------------------------------------------------------------
    def run(self) -> asyncio.Task[None]:
        """Start the loop as a task (what the app tracks)."""
        if self._task is None:
            self._stopping = False
            self._went_down(None)
            self._task = asyncio.create_task(self.start(), name="dingtalk-stream")
        return self._task

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for t in list(self._frame_tasks):
            t.cancel()
        await asyncio.gather(*self._frame_tasks, return_exceptions=True)

    async def start(self) -> None:
        """Replaces the SDK's loop: one connection at a time, backoff between them."""
        self.pre_start()
        self._local_ip = await asyncio.to_thread(self.get_host_ip)
        attempt = 0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            began = loop.time()
            asked_to_move = False
            connects = self.connects
            try:
                conn = await self.open_connection_async()
                asked_to_move = await self._serve(conn)
                if not asked_to_move:
                    self.on_failure("dropped")
            except asyncio.CancelledError:
                raise
            except (OpenFailed, OSError, websockets.exceptions.WebSocketException,
                    aiohttp.ClientError, TimeoutError) as e:
                self._failed(e, dropped=self.connects > connects)
            except Exception as e:
                log.exception("dingtalk stream connection crashed")
                self._failed(e, dropped=self.connects > connects, logged=True)
            if loop.time() - began >= self.config.stable_seconds:
                attempt = 0
            if asked_to_move and attempt == 0:
                delay = 0.0  # the server rotates connections: come back at once, once
            else:
                delay = backoff(attempt + 1, self.config.reconnect_min_seconds,
                                self.config.reconnect_max_seconds)
            attempt += 1
            self.delays.append(delay)
            log.info("dingtalk stream reconnecting in %.2fs (attempt %d)", delay, attempt)
            await asyncio.sleep(delay)

    # -- health ---------------------------------------------------------------------------------
    def health(self) -> tuple[str, bool]:
        """What /readyz says of the stream, and whether the instance still counts as ready:
        connected, or down for less than `ready_grace_seconds` (since start or the last drop;
        a reconnect after DingTalk rotates the connection takes well under a second)."""
        if self.connected.is_set():
            return "ok", True
        within = time.monotonic() - self._down_mono < self.config.ready_grace_seconds
        if self.problem is None:
            return "connecting", within
        if self.problem.startswith("credentials refused"):
            return self.problem, within
        since = self._down_since.astimezone(self.tz).isoformat(timespec="seconds")
        return f"disconnected since {since}: {self.problem}", within

    def _went_down(self, problem: str | None) -> None:
        self._down_mono = time.monotonic()
        self._down_since = self.clock.now()
        self.problem = problem

    def _failed(self, e: BaseException, *, dropped: bool, logged: bool = False) -> None:
        """One failed attempt (or a connection that broke): counted, and logged. Credentials
        refused are one ERROR naming the variables, not a warning at every retry."""
        reason = "dropped" if dropped else failure_reason(e)
        self.on_failure(reason)
        text = str(e) or type(e).__name__
        if reason == "auth":
            assert isinstance(e, OpenFailed)
            id_var, secret_var = self.credential_vars
            problem = (f"credentials refused ({e.status} {e.code or 'no code'}): "
                       f"check {id_var} / {secret_var}")
            if problem != self.problem:
                log.error("dingtalk stream: DingTalk refused the app's credentials (HTTP %s %s "
                          "on %s): check the environment variables %s / %s "
                          "(transports.dingtalk.client_id_env / client_secret_env); retrying "
                          "with backoff", e.status, e.code or "no code", OPEN_PATH, id_var,
                          secret_var)
            else:
                log.debug("dingtalk stream: credentials still refused")
        else:
            problem = f"{'connection lost' if dropped else reason}: {text[:200]}"
            if not logged:
                log.warning("dingtalk stream connection %s: %s",
                            "lost" if dropped else "failed", text)
        self.problem = problem  # a drop: since when was set as the socket ended

    def get_host_ip(self) -> str:
        """Only informative for DingTalk; never probes the network (the SDK's does)."""
        try:
            return socket.gethostbyname(socket.gethostname())
        except OSError:
            return "127.0.0.1"

    def open_connection(self) -> Any:
        raise NotImplementedError("blocking; use open_connection_async")

    async def open_connection_async(self) -> dict[str, str]:
        topics = [{"type": "CALLBACK", "topic": t} for t in self.callback_handler_map]
        if self._is_event_required:
            topics.insert(0, {"type": "EVENT", "topic": "*"})
        body = {
            "clientId": self.credential.client_id, "clientSecret": self.credential.client_secret,
            "subscriptions": topics, "ua": f"dingtalk-sdk-python/v{VERSION_STRING}-union",
            "localIp": self._local_ip,
        }
        self.opens += 1
        timeout = aiohttp.ClientTimeout(total=self.config.open_timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
            self.api_base + OPEN_PATH, json=body, headers={"Accept": "application/json"},
        ) as r:
            text = await r.text()
            if r.status != 200:
                code = ""
                with contextlib.suppress(ValueError, AttributeError, TypeError):
                    code = str(json.loads(text).get("code") or "")[:60]
                raise OpenFailed(f"open connection: HTTP {r.status} {text[:200]}", r.status, code)
        try:
            data = json.loads(text)
        except ValueError:
            raise OpenFailed(f"open connection: not JSON: {text[:200]}") from None
        endpoint, ticket = data.get("endpoint"), data.get("ticket")
        if not isinstance(endpoint, str) or not endpoint or not isinstance(ticket, str) or not ticket:
            raise OpenFailed(f"open connection: no endpoint/ticket in {text[:200]}")
        return {"endpoint": endpoint, "ticket": ticket}

    # -- one connection -------------------------------------------------------------------------
    async def _serve(self, conn: dict[str, str]) -> bool:
        """Read frames until the socket ends or the watchdog fires; True when the server sent
        `disconnect` (it is moving us to another connection)."""
        uri = f"{conn['endpoint']}?ticket={quote_plus(conn['ticket'])}"
        async with websockets.connect(
            uri, open_timeout=self.config.open_timeout_seconds, ping_interval=None,
            close_timeout=2, max_size=4 * 2**20, proxy=None,
        ) as ws:
            self._ws = ws
            self.connects += 1
            self.connected.set()
            self.problem = None
            self.on_connected(True)
            log.info("dingtalk stream connected (%d)", self.connects)
            state = {"last": asyncio.get_running_loop().time(), "moved": False, "silent": False}
            reader = asyncio.create_task(self._read(ws, state))
            keeper = asyncio.create_task(self._keepalive(ws, state))
            try:
                await asyncio.wait({reader, keeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.connected.clear()
                self.on_connected(False)
                for t in (reader, keeper):
                    t.cancel()
                await asyncio.gather(reader, keeper, return_exceptions=True)
                ended: BaseException | None = None
                if reader.done() and not reader.cancelled() and reader.exception():
                    ended = reader.exception()
                    log.info("dingtalk stream socket ended: %s", ended)
                self._went_down(
                    "moving to a new connection at DingTalk's request" if state["moved"]
                    else f"silent for over {self.config.watchdog_seconds:g}s (watchdog)"
                    if keeper.done() and not keeper.cancelled() and state["silent"]
                    else f"connection lost: {str(ended)[:200]}" if ended
                    else "connection closed by DingTalk")
                self._ws = None
            return bool(state["moved"])

    async def _read(self, ws: ClientConnection, state: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        async for raw in ws:
            state["last"] = loop.time()
            if await self._on_frame(ws, raw):
                state["moved"] = True
                await ws.close()
                return

    async def _keepalive(self, ws: ClientConnection, state: dict[str, Any]) -> None:
        """Our own ping, and the watchdog: no frame and no pong for `watchdog_seconds` →
        drop the socket (a silent stall is the SDK's most reported failure)."""
        loop = asyncio.get_running_loop()
        cfg = self.config
        tick = min(cfg.ping_interval_seconds, cfg.watchdog_seconds / 4)
        next_ping = loop.time() + cfg.ping_interval_seconds
        pong: Any = None
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            if pong is not None and pong.done():
                pong = None
                state["last"] = max(state["last"], now)
            if now - state["last"] > cfg.watchdog_seconds:
                self.watchdog_fired += 1
                state["silent"] = True
                log.warning("dingtalk stream silent for %.1fs, reconnecting", now - state["last"])
                ws.transport.abort()
                return
            if now >= next_ping and pong is None:
                next_ping = now + cfg.ping_interval_seconds
                try:
                    pong = await ws.ping()
                except websockets.exceptions.ConnectionClosed:
                    return

    # -- frames ---------------------------------------------------------------------------------
    async def _on_frame(self, ws: ClientConnection, raw: str | bytes) -> bool:
        """Handle one frame; True for a SYSTEM `disconnect`."""
        try:
            frame = loads_strict(raw)
            if not isinstance(frame, dict):
                raise ValueError("frame is not an object")
            headers = frame.get("headers") or {}
            if not isinstance(headers, dict):
                raise ValueError("headers is not an object")
        except ValueError as e:
            log.warning("dingtalk stream: malformed frame refused (%s): %.200r", e, raw)
            return False
        message_id = headers.get("messageId")
        kind = frame.get("type")
        try:
            if kind == SystemMessage.TYPE:
                msg = SystemMessage.from_dict(frame)
                reply = await self.system_handler.raw_process(msg)
                await ws.send(json.dumps(reply.to_dict()))
                if msg.headers.topic == SystemMessage.TOPIC_DISCONNECT:
                    log.info("dingtalk stream: server asked to disconnect: %s", msg.data)
                    return True
                return False
            if kind == CallbackMessage.TYPE:
                if isinstance(frame.get("data"), str):  # the SDK parses it without our limits
                    loads_strict(frame["data"])
                cb = CallbackMessage.from_dict(frame)
                self._spawn(self._callback(ws, cb))
                return False
            if kind == "EVENT":  # not subscribed; answer in the spec's shape
                await ws.send(ack(message_id, 200, {"status": "SUCCESS", "message": "ignored"}))
                return False
            raise ValueError(f"unknown frame type {kind!r}")
        except (ValueError, TypeError, KeyError) as e:
            log.warning("dingtalk stream: malformed frame %s refused: %s", message_id, e)
            with contextlib.suppress(websockets.exceptions.ConnectionClosed):
                await ws.send(ack(message_id, AckMessage.STATUS_BAD_REQUEST, message=str(e)[:200]))
            return False

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._frame_tasks.add(task)
        task.add_done_callback(self._frame_tasks.discard)

    async def _callback(self, ws: ClientConnection, cb: CallbackMessage) -> None:
        handler = self.callback_handler_map.get(cb.headers.topic)
        if handler is None:
            log.warning("dingtalk stream: no handler for topic %s", cb.headers.topic)
            reply = ack(cb.headers.message_id, AckMessage.STATUS_NOT_IMPLEMENT, message="no handler")
        else:
            try:
                reply = json.dumps((await handler.raw_process(cb)).to_dict(), ensure_ascii=False)
            except Exception as e:
                if why := unavailable(e):  # a card click in a database outage: click again
                    log.warning("dingtalk stream: handler for %s failed, database unavailable: "
                                "%s", cb.headers.topic, why)
                else:
                    log.exception("dingtalk stream: handler for %s failed", cb.headers.topic)
                reply = ack(cb.headers.message_id, AckMessage.STATUS_SYSTEM_EXCEPTION,
                            message=type(e).__name__)
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            await ws.send(reply)
