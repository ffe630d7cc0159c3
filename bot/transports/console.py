"""The console transport (SPEC §5): a local web chat and its JSON API. It only translates HTTP
into events and renders messages; everything else happens in the dispatcher and handlers."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.clock import ManualClock, parse_duration
from bot.dispatcher import strip_mentions
from bot.events import CardActionEvent, MessageEvent
from bot.web import ApiError, field_str, json_body, json_response, refusal, render
from bot.web.session import start_session
from cards.console import render as render_card
from cards.model import Card, card_from_dict
from config.model import ROLE_LABELS, Person, is_loopback
from storage import jsonio
from storage import messages as msgs
from storage.models import Message

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

MAX_ID = 2**62  # ids are 64-bit integers in every database we support
PAGE_MAX = 500  # messages in one answer of GET /console/api/messages
MAX_ADVANCE = timedelta(days=400)  # one test-clock advance: 365 days take a few seconds

# next_updated_after lags the clock: an update stamped just before a poll may commit after it
SYNC_MARGIN = timedelta(seconds=30)


def _int_param(q: Mapping[str, str], name: str, default: int | None, low: int,
               high: int) -> Any:
    if name not in q:
        return default
    try:
        value = int(q[name])
    except ValueError:
        raise ApiError(400, f"参数 {name} 必须是整数", name) from None
    if not low <= value <= high:
        raise ApiError(400, f"参数 {name} 超出范围", name)
    return value


def _time_param(q: Mapping[str, str], name: str) -> datetime | None:
    if name not in q:
        return None
    try:
        value = datetime.fromisoformat(q[name].replace(" ", "+"))  # an unencoded +
    except ValueError:
        raise ApiError(400, f"参数 {name} 必须是 ISO 8601 时间", name) from None
    if value.tzinfo is None:
        raise ApiError(400, f"参数 {name} 必须带时区，如 2026-11-02T01:30:00+00:00", name)
    return value


def message_json(m: Message, cards: Mapping[str, Card] | None = None) -> dict[str, Any]:
    """`cards`: Card objects by their stored JSON (`FeedResult.cards`), rendered as they are
    rather than parsed back from `m.card`."""
    card = None
    if m.card:
        known = cards.get(m.card) if cards else None
        card = render_card(known if known is not None else card_from_dict(jsonio.loads(m.card)))
    return {
        "id": m.id, "chat": m.chat, "at": m.at.isoformat(), "from": m.sender,
        "text": m.text, "card": card,
        "updated_at": m.updated_at.isoformat() if m.updated_at else None,
    }


# said to a request from another machine (Chinese for the person, English for the operator)
REMOTE_REFUSED = ("控制台仅限本机访问，请求已拒绝（the console answers loopback only: "
                  "transports.console.allow_remote）")
# headers a reverse proxy adds: such a request came from elsewhere, whatever its peer address
_PROXIED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def is_console(path: str) -> bool:
    return path == "/console" or path.startswith("/console/")


def local_request(request: web.Request) -> bool:
    """From this machine: a loopback peer (127.0.0.0/8, ::1), not relayed by a proxy on it."""
    remote = request.remote
    return (remote is not None and is_loopback(remote)
            and not any(h in request.headers for h in _PROXIED))


@web.middleware
async def loopback_only(request: web.Request,
                        handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                        ) -> web.StreamResponse:
    """The console has no passwords (SPEC §5): its page and API, and the login that gives a
    web session from it, answer this machine only unless `transports.console.allow_remote`."""
    if is_console(request.path) and not local_request(request):
        log.info("%s %s from %s refused: the console answers loopback only", request.method,
                 request.path, request.remote)
        return refusal(request, 403, REMOTE_REFUSED)
    return await handler(request)


PICKER_ORDER = ("investigator", "prosecutor", "case_manager", "leader", "inspector",
                "admin", "chief")


class ConsoleTransport:
    def __init__(self, app: App) -> None:
        self.app = app

    def routes(self) -> list[web.RouteDef]:
        r = [
            web.get("/console", self.page),
            web.get("/console/", self.to_page),
            web.post("/console/api/send", self.send),
            web.post("/console/api/click", self.click),
            web.get("/console/api/messages", self.messages),
            web.get("/console/api/users", self.users),
            web.get("/console/api/chats", self.chats),
            web.post("/console/api/login", self.login),
        ]
        if self.app.settings.config.transports.console.test_clock:
            r.append(web.post("/console/api/clock", self.clock))
        return r

    # -- helpers ----------------------------------------------------------------------------
    def _user(self, data: dict[str, Any]) -> Person:
        user_id = field_str(data, "user", max_len=80)
        person = self.app.services.directory.person(user_id)
        if person is None:
            raise ApiError(403, f"未知用户 {user_id}", "user")
        return person

    def _chat(self, data: dict[str, Any], person: Person) -> str:
        chat = field_str(data, "chat", max_len=80)
        directory = self.app.services.directory
        if not chat.startswith("dm:") and directory.chat(chat) is None:
            raise ApiError(400, f"未知会话 {chat}", "chat")
        if chat.startswith("dm:") and directory.person(chat[3:]) is None:
            raise ApiError(400, f"未知会话 {chat}", "chat")
        if not directory.may_post(person.id, chat):
            raise ApiError(403, f"{person.name} 不是会话 {chat} 的成员", "chat")
        return chat

    def _event_id(self, data: dict[str, Any]) -> str:
        given = data.get("event_id")
        if given is None:
            return f"console:{uuid.uuid4().hex}"
        if not isinstance(given, str) or not 0 < len(given) <= 120:
            raise ApiError(400, "字段 event_id 必须是 1 到 120 字的字符串", "event_id")
        return f"console:{given}"

    async def _result(self, events_result: Any) -> web.Response:
        return json_response({
            "messages": [message_json(m, events_result.cards) for m in events_result.messages],
            "status": events_result.status,
        })

    # -- API ----------------------------------------------------------------------------------
    async def send(self, request: web.Request) -> web.Response:
        data = await json_body(request)
        person = self._user(data)
        chat = self._chat(data, person)
        text = field_str(data, "text", max_len=2000)
        event = MessageEvent(
            event_id=self._event_id(data), platform="console", user_id=person.id, chat=chat,
            at=self.app.services.clock.now(), text=text.strip(), is_direct=chat.startswith("dm:"),
            mentioned=strip_mentions(text.lstrip())[1],
            raw=data,
        )
        return await self._result(await self.app.dispatcher.feed(event))

    async def click(self, request: web.Request) -> web.Response:
        data = await json_body(request)
        person = self._user(data)
        message_id = data.get("message_id")
        if not isinstance(message_id, int) or isinstance(message_id, bool) \
                or not 0 < message_id < MAX_ID:
            raise ApiError(400, "字段 message_id 必须是正整数", "message_id")
        action = field_str(data, "action", max_len=80)
        form = data.get("form") or {}
        if not isinstance(form, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float | bool | list)
            for k, v in form.items()
        ):
            raise ApiError(400, "字段 form 必须是键值对象", "form")
        async with self.app.services.db() as session:
            msg = await msgs.get_message(session, message_id)
        if msg is None:
            raise ApiError(404, f"消息 {message_id} 不存在", "message_id")
        event = CardActionEvent(
            event_id=self._event_id(data), platform="console", user_id=person.id, chat=msg.chat,
            at=self.app.services.clock.now(), message_id=message_id, action=action,
            form={k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                  for k, v in form.items()},
            raw=data,
        )
        return await self._result(await self.app.dispatcher.feed(event))

    async def messages(self, request: web.Request) -> web.Response:
        """The chat's messages with id > after, oldest first (SPEC §5), and the optional
        extensions documented in the README (limit, latest, before, updated_after)."""
        q = request.query
        chat = q.get("chat", "")
        if not chat:
            raise ApiError(400, "缺少参数 chat", "chat")
        after = _int_param(q, "after", 0, 0, MAX_ID - 1)
        before = _int_param(q, "before", None, 1, MAX_ID - 1)
        limit = _int_param(q, "limit", PAGE_MAX, 1, PAGE_MAX)
        latest = q.get("latest", "0")
        if latest not in ("0", "1", "false", "true"):
            raise ApiError(400, "参数 latest 必须是 1 或 0", "latest")
        updated_after = _time_param(q, "updated_after")
        updated_from = _int_param(q, "updated_from", 0, 0, MAX_ID - 1)
        now = self.app.services.clock.now()
        async with self.app.services.db() as session:
            rows = await msgs.list_messages(session, chat, after, limit + 1, before=before,
                                            latest=latest in ("1", "true"))
            more = len(rows) > limit
            if more:  # one row more than asked tells whether there are more
                rows = rows[1:] if latest in ("1", "true") else rows[:limit]
            updated = [] if updated_after is None else await msgs.list_updated(
                session, chat, since=updated_after, start=updated_from, upto=after)
        body: dict[str, Any] = {"messages": [message_json(m) for m in rows], "more": more,
                                "next_updated_after": (now - SYNC_MARGIN).isoformat()}
        if updated_after is not None:
            body["updated"] = [message_json(m) for m in updated]
        return json_response(body)

    async def users(self, request: web.Request) -> web.Response:
        d = self.app.services.directory
        return json_response({"users": [
            {"id": p.id, "name": p.name, "unit": p.unit, "unit_name": d.units[p.unit].name,
             "roles": list(p.roles)}
            for p in d.org.people
        ]})

    async def chats(self, request: web.Request) -> web.Response:
        return json_response({"chats": [
            {"id": c.id, "title": c.title, "members": list(c.members)}
            for c in self.app.services.directory.org.chats
        ]})

    async def login(self, request: web.Request) -> web.Response:
        """Act as this user in the web pages (code page, forms): the console has no passwords;
        it is the local test bed. DingTalk users get the same cookie through in-app login."""
        person = self._user(await json_body(request))
        resp = json_response({"user": person.id})
        start_session(resp, self.app.services.signer, person.id, self.app.services.clock.now(),
                      self.app.settings.config.web.public_url)
        return resp

    async def clock(self, request: web.Request) -> web.Response:
        clock = self.app.services.clock
        if not isinstance(clock, ManualClock):
            raise ApiError(409, "测试时钟未启用")
        data = await json_body(request)
        advance = field_str(data, "advance", max_len=20)
        try:
            delta = parse_duration(advance)
        except ValueError:
            raise ApiError(400, f"advance「{advance}」无效：应为一个数字加单位 s、m、h 或 d"
                                "（秒、分、时、天），如 8d、90m", "advance") from None
        if delta > MAX_ADVANCE:  # 99999d kept the bot busy for hours
            raise ApiError(400, f"advance「{advance}」过大：一次最多前进 {MAX_ADVANCE.days} 天",
                           "advance")
        ran = await self.app.advance_clock(clock, delta)
        if self.app.stopping:
            raise ApiError(503, f"服务正在停止：测试时钟停在 {clock.now().isoformat()}，"
                                "未走完本次前进")
        return json_response({"now": clock.now().isoformat(), "ran": ran})

    # -- the page -----------------------------------------------------------------------------
    async def to_page(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/console")  # relative: the browser stays on the host it asked

    async def page(self, request: web.Request) -> web.Response:
        d = self.app.services.directory
        # the picker grouped by role, the roles of the README's tour first and the many chiefs
        # (one per office) last, so a newcomer finds 侦查人员 and 承办检察官 at once
        groups: dict[str, list[dict[str, str]]] = {r: [] for r in PICKER_ORDER}
        for p in d.org.people:
            first = min(p.roles, key=lambda r: PICKER_ORDER.index(r) if r in PICKER_ORDER else 99)
            groups.setdefault(first, []).append({
                "id": p.id, "name": p.name, "roles": "、".join(ROLE_LABELS[r] for r in p.roles),
                "unit": d.units[p.unit].name})
        people = [(ROLE_LABELS[r], found) for r, found in groups.items() if found]
        return render("console.html", people=people, demo=d.org.demo,
                      timezone=self.app.settings.config.timezone)
