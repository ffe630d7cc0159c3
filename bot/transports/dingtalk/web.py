"""DingTalk's web routes: H5 in-app login (免登), signed action links for markdown cards, and the
robot's HTTP-mode callback. Signed code links keep working outside DingTalk: login here only adds
a session cookie."""

from __future__ import annotations

import html
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

from bot.context import unit_of_work
from bot.dispatcher import already_done
from bot.events import CardActionEvent
from bot.reviews import dispute_choices
from bot.signing import expired
from bot.transports.dingtalk.mapping import clicker_mention
from bot.transports.dingtalk.openapi import DingTalkApiError
from bot.transports.dingtalk.signing import check_sign
from bot.web import ApiError, field_str, form_body, json_body, json_response
from bot.web.session import session_person, start_session
from cards.model import Button, Card
from storage import messages as msgs

if TYPE_CHECKING:
    from bot.app import App
    from bot.transports.dingtalk import DingTalkTransport

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

JSAPI = "https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js"

H5_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>钉钉登录</title>
<script src="{jsapi}"></script></head><body><p id="s">正在通过钉钉登录…</p>
<p id="o" hidden><a id="a">在钉钉中打开</a></p><script>
var corpId = {corp}, next = {next};
function show(t) {{ document.getElementById("s").textContent = t; }}
function login(code) {{
  fetch("/dingtalk/h5/login", {{method: "POST", headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{code: code}})}})
  .then(function (r) {{ return r.json().then(function (b) {{
    if (r.ok) {{ location.replace(next); }} else {{ show(b.error || "登录失败"); }} }}); }})
  .catch(function () {{ show("网络错误，请重试"); }});
}}
if (typeof dd === "undefined" || dd.env.platform === "notInDingTalk") {{
  // a browser (a link opened outside DingTalk, e.g. on a PC): the login needs the DingTalk
  // client, which opens the page itself through this link (its sidebar on a PC)
  show("此页面需要钉钉登录，请点击下方链接在钉钉中打开。");
  document.getElementById("a").href = "dingtalk://dingtalkclient/page/link?url="
    + encodeURIComponent(location.origin + next) + "&pc_slide=true";
  document.getElementById("o").hidden = false;
}} else {{
  dd.ready(function () {{ dd.runtime.permission.requestAuthCode({{corpId: corpId,
    onSuccess: function (r) {{ login(r.code); }},
    onFail: function (e) {{ show("获取钉钉授权失败：" + JSON.stringify(e)); }} }}); }});
}}
</script></body></html>"""


def safe_next(value: str | None) -> str:
    """Only local paths: a login page must not redirect elsewhere (a browser drops tabs and
    newlines from a URL, so "/\t/evil" would be "//evil", another host)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value \
            or any(c < " " or c == "\x7f" for c in value):
        return "/"
    return value


def js_string(value: str) -> str:
    """A JSON string safe inside <script>: no "</script>" or "<!--" can end the script."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def _page(title: str, lines: list[str], status: int = 200) -> web.Response:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return web.Response(
        status=status, content_type="text/html", charset="utf-8",
        text=f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
             f'<meta name="viewport" content="width=device-width,initial-scale=1">'
             f"<title>{html.escape(title)}</title></head><body><h3>{html.escape(title)}</h3>"
             f"{body}</body></html>")


def confirm_question(button: Button, card: Card) -> str:
    """What an action link's page asks before it acts: the button and the card it is on."""
    return f"确定要对「{card.title}」执行「{button.label}」吗？"


def _confirm_page(button: Button, card: Card, action: str) -> web.Response:
    """The page an action link opens: it names the action and the card, and only its button
    (a POST of the same signed link) acts."""
    label = html.escape(button.label)
    return web.Response(
        content_type="text/html", charset="utf-8",
        text=f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" '
             f'content="width=device-width,initial-scale=1"><title>{label}</title></head><body>'
             f"<h3>{label}</h3><p>{html.escape(confirm_question(button, card))}</p>"
             f'<form method="post" action="{html.escape(action)}">'
             f'<button type="submit">确认{label}</button></form></body></html>')


# an expired link whose card is unknown, or names no command that brings a fresh one
USE_LATEST_CARD = "链接已过期。请在聊天中的最新卡片上操作，或发送「帮助」查看可用命令。"


def expired_hint(action: str, card: Card | None) -> str:
    """How to get a fresh card instead of an expired action link: the command that sends one
    (「待办」 for a review request's buttons, 「提醒」 for a reminder's, 「码 <案件码>」 for a
    case's); without the card (gone, or not the opener's to see) only to use the latest card."""
    if card is None:
        return USE_LATEST_CARD
    if action.startswith("review.") and action != "review.file":  # 申请复核: the case's card
        return "链接已过期。请在聊天中发送「待办」获取最新卡片。"
    if action.startswith("reminder."):
        return "链接已过期。请在聊天中发送「提醒」查看最新提醒。"
    # the case code: on the clicked button, else on any button of the card
    buttons = [b for b in (card.button(action), *card.actions) if b is not None]
    code = next((b.data["code"] for b in buttons if b.data.get("code")), None)
    if code is not None:
        return f"链接已过期。请在聊天中发送「码 {code}」获取最新卡片。"
    return USE_LATEST_CARD


def h5_login_url(request: web.Request) -> str:
    return f"/dingtalk/h5?next={quote(request.path_qs, safe='')}"


@web.middleware
async def login_in_dingtalk(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A page opened from a card (评分表, 统计, 名册, 督导) without a session: instead of its
    401 "请先登录" page, DingTalk's in-app login (免登), which comes back to the page. Only for
    pages (GET, not the JSON APIs): a script asking an API gets its 401."""
    page = request.method == "GET" and "/api/" not in request.path \
        and not request.path.startswith("/dingtalk/")
    try:
        response = await handler(request)
    except web.HTTPException as e:
        if page and e.status == 401:
            raise web.HTTPFound(h5_login_url(request)) from None
        raise
    if page and response.status == 401:
        raise web.HTTPFound(h5_login_url(request))
    return response


class DingTalkWeb:
    def __init__(self, app: App) -> None:
        self.app = app

    def routes(self) -> list[web.RouteDef]:
        r = [
            web.get("/dingtalk/h5", self.h5_page),
            web.post("/dingtalk/h5/login", self.h5_login),
            web.get("/dingtalk/act", self.act),
            web.post("/dingtalk/act", self.act),
        ]
        if self.app.settings.config.transports.dingtalk.http_callback:
            r.append(web.post("/dingtalk/callback", self.callback))
        return r

    @property
    def transport(self) -> DingTalkTransport:
        if self.app.dingtalk is None:
            raise ApiError(503, "钉钉未启用")
        return self.app.dingtalk

    # -- H5 in-app login --------------------------------------------------------------------
    async def h5_page(self, request: web.Request) -> web.Response:
        corp = self.app.settings.config.transports.dingtalk.corp_id or ""
        page = H5_PAGE.format(jsapi=JSAPI, corp=js_string(corp),
                              next=js_string(safe_next(request.query.get("next"))))
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def h5_login(self, request: web.Request) -> web.Response:
        code = field_str(await json_body(request), "code", max_len=200)
        try:
            user_id = await self.transport.api.user_id_from_auth_code(code)
        except DingTalkApiError as e:
            log.warning("dingtalk h5 login failed: %s", e)
            status = 401 if e.kind in ("fatal", "auth") else 502
            raise ApiError(status, "钉钉登录失败，请重新打开页面") from None
        services = self.app.services
        person = services.directory.by_platform("dingtalk", user_id)
        if person is None:
            log.warning("dingtalk h5 login by unregistered user %s", user_id)
            raise ApiError(403, "您的钉钉账号尚未在本系统登记，请联系管理员")
        resp = json_response({"user": person.id})
        start_session(resp, services.signer, person.id, services.clock.now(),
                      services.config.web.public_url)
        return resp

    # -- action links (markdown fallback) ---------------------------------------------------
    async def act(self, request: web.Request) -> web.Response:
        services = self.app.services
        now = services.clock.now()
        token = request.query.get("t", "")
        payload = services.signer.genuine("dtact", token) if token else None
        if payload is None or not isinstance(payload.get("m"), int):
            return _page("链接无效", ["链接无效或已过期。"], 403)  # forged: nothing more said
        person_id = session_person(request, services.signer, now)
        if person_id is None:
            raise web.HTTPFound(h5_login_url(request))
        person = services.directory.person(person_id)
        staff = person.ids.get("dingtalk") if person else None
        if person is None or not staff:
            return _page("无法操作", ["您的钉钉账号尚未在本系统登记，请联系管理员。"], 403)
        async with services.db() as session:
            msg = await msgs.get_message(session, payload["m"])
        card = msgs.message_card(msg) if msg else None
        done = card.done_by(str(payload.get("a")), person.id) if card else None
        if done is not None:  # the same link opened again after it did its work
            return _page(done.label, [already_done(done.label)])
        if expired(payload, now):
            # what the card was about only to a member of its chat (the link may have been
            # passed on): its case code, or the command that brings a fresh card
            mine = msg is not None and services.directory.may_post(person.id, msg.chat)
            hint = expired_hint(str(payload.get("a")), card if mine else None)
            return _page("链接已过期", [hint], 410)
        button = card.button(str(payload.get("a"))) if card else None
        if msg is None or card is None or button is None:
            return _page("按钮已失效", ["卡片已更新，请以最新卡片为准。"], 410)
        if request.method != "POST":
            # a GET changes nothing (a slip of the thumb, a link prefetch): the page asks, and
            # only its POST (same signed link; same-origin checked like every form) acts
            if not services.directory.may_post(person.id, msg.chat):
                return _page(button.label, ["您不在这张卡片所在的会话中，无法操作。"], 403)
            if button.form:
                return await self._form_page(button, request.path_qs)
            return _confirm_page(button, card, request.path_qs)
        form: dict[str, str] = {}
        if button.form:
            posted = await form_body(request)
            # a field may come more than once (the ticked deductions and the typed numbers)
            form = {f.name: "，".join(v for v in (str(x).strip() for x in posted.getall(f.name, []))
                                     if v) for f in button.form}
            missing = [f.label for f in button.form if f.required and not form[f.name]]
            if missing:
                return await self._form_page(button, request.path_qs, form,
                                             [f"请填写：{'、'.join(missing)}"], 400)
        event = CardActionEvent(
            event_id=f"dingtalk:act:{uuid.uuid4().hex}", platform="dingtalk", user_id=staff,
            chat=msg.chat, at=now, message_id=msg.id, action=button.id, form=form,
            raw={"link": True}, mention=clicker_mention(msg.chat, staff, person.name))
        result = await self.app.dispatcher.feed(event)
        if self.app.outbox is not None:
            self.app.outbox.wake()
        # only what the clicker's chat got: notices to other people are theirs, not this page's
        # (a refusal to someone outside that chat went to their own 1:1 chat)
        chats = {msg.chat, f"dm:{person.id}"} if result.forbidden else {msg.chat}
        texts = [m.text for m in result.messages if m.text and m.chat in chats]
        if result.forbidden:
            return _page(button.label, texts or ["您无权进行此操作。"], 403)
        if button.form and not result.acted and texts and await self._still_offered(msg.id, button):
            # refused (an item number, a missing reason …): the form again, as typed, with why
            return await self._form_page(button, request.path_qs, form, texts, 400)
        return _page(button.label, texts or [f"已完成：{button.label}"])

    async def _still_offered(self, message_id: int, button: Button) -> bool:
        """The card still shows this button: the click was refused rather than done."""
        async with self.app.services.db() as session:
            msg = await msgs.get_message(session, message_id)
        card = msgs.message_card(msg) if msg else None
        now = card.button(button.id) if card else None
        return now is not None and now.data == button.data

    async def _form_page(self, button: Button, action: str, values: dict[str, str] | None = None,
                         errors: list[str] | None = None, status: int = 200) -> web.Response:
        """The button's form; again after a refusal with what was typed and the reason above it.
        申请复核 lists the current deductions to tick (number, item, points)."""
        values = values or {}
        choices: list[tuple[int, str, str]] = []
        if button.id == "review.file" and button.data.get("code"):
            async with unit_of_work(self.app.services) as out:
                choices = await dispute_choices(out, button.data["code"])
        ticked = set(re.split(r"[,，、;；\s]+", values.get("items", "")))
        parts: list[str] = []
        for f in button.form:
            name, value = html.escape(f.name), values.get(f.name, "")
            if f.name == "items" and choices:
                boxes = "".join(
                    f'<label><input type="checkbox" name="items" value="{n}"'
                    f'{" checked" if str(n) in ticked else ""}> {n}. {html.escape(label)}'
                    f"（{html.escape(points)}）</label><br>" for n, label, points in choices)
                parts.append(f"<fieldset><legend>有异议的扣分项（可多选）</legend>{boxes}"
                             "</fieldset>")
                continue
            field = (f'<textarea name="{name}" placeholder="{html.escape(f.placeholder)}">'
                     f"{html.escape(value)}</textarea>" if f.multiline else
                     f'<input name="{name}" value="{html.escape(value)}" '
                     f'placeholder="{html.escape(f.placeholder)}">')
            parts.append(f"<p><label>{html.escape(f.label)}<br>{field}</label></p>")
        error = "".join(f'<p class="error" style="color:#c00">{html.escape(e)}</p>'
                        for e in errors or ())
        label = button.label
        return web.Response(
            status=status, content_type="text/html", charset="utf-8",
            text=f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" '
                 f'content="width=device-width,initial-scale=1"><title>{html.escape(label)}</title>'
                 f'</head><body><h3>{html.escape(label)}</h3>{error}<form method="post" '
                 f'action="{html.escape(action)}">{"".join(parts)}<button type="submit">提交</button>'
                 f"</form></body></html>")

    # -- HTTP-mode robot callback -----------------------------------------------------------
    async def callback(self, request: web.Request) -> web.Response:
        transport = self.transport
        # DingTalk signs with its real time: compared with the wall clock, not the bot's
        # (business) clock, which a demo or test may have moved on
        if not check_sign(request.headers.get("timestamp"), request.headers.get("sign"),
                          transport.creds.client_secret, int(time.time() * 1000)):
            log.warning("dingtalk http callback with a bad or stale sign refused")
            raise ApiError(403, "签名无效")
        data = await json_body(request)
        code, message = transport.inbound.accept_message(data)
        if code != 200:
            raise ApiError(400, message)
        return json_response({})
