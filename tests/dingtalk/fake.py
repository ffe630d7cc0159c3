"""A fake DingTalk on loopback, in its own thread and event loop: the Stream gateway
(`/v1.0/gateway/connections/open` + websocket), the OpenAPI (token, robot messages, cards), the
sessionWebhook and the H5 auth-code exchange. Faults are injected per call; everything the bot
sends is recorded with the time it arrived (time.perf_counter, for the bench)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiohttp import WSMsgType, web

CLIENT_ID = "ding-test-app"
CLIENT_SECRET = "test-secret-不要外传"
# served after the token check
PARTIAL = {"invalid_user", "flow_user", "deliver_fail", "late_answer", "created_undelivered"}
# what DingTalk does with big messages (sources in cards/dingtalk.py): a robot message body over
# 20000 bytes is refused with errcode 460101; markdown over ~3500 characters is accepted but not
# rendered, and a card with ~3000 characters of markdown shows blank — this fake refuses those
# too, so a test sees what a person would not
BODY_MAX_BYTES = 20000
MARKDOWN_MAX_CHARS = 3500
CARD_MARKDOWN_MAX_CHARS = 3000
# the card template the fake plays, designed from docs/dingtalk.md ("Card template"): it binds
# every documented variable. DingTalk shows a bound variable that a cardParamMap leaves out as
# nothing (or, in an update applied key by key, as what it was before); this fake refuses such
# a map, so a test sees what a person would not
TEMPLATE_VARIABLES = frozenset(
    ["title", "body", "markdown", "color", "color_label", "image", "footer", "actions",
     "has_actions", "notice"]
    + [f"btn{i}_{part}" for i in range(1, 6) for part in ("label", "action", "url")])
# an external contact (外部联系人, not in the org): a callback without senderStaffId; their
# senderId (a dingtalkId) is all there is to @ them by
EXTERNAL = "$:LWCP_v1:$ext-0001=="
NICKS = {"dt-0129": "余斌梅", "dt-0123": "谢平", "dt-stranger": "路人甲",  # DingTalk nicks
         EXTERNAL: "访客王"}
TOO_LONG = "description: body 大小不合法;solution:请保持大小在 20000bytes 以内;"


def opened(link: str) -> str:
    """The page DingTalk opens for a link in a message: the `url` of a
    dingtalk://dingtalkclient/page/link (opened inside the client), else the link itself."""
    parsed = urlparse(link)
    if (parsed.scheme, parsed.netloc, parsed.path) == ("dingtalk", "dingtalkclient", "/page/link"):
        return parse_qs(parsed.query)["url"][0]
    return link


@dataclass
class Sent:
    """One message that reached 'DingTalk' successfully."""

    kind: str  # "webhook" | "group" | "users" | "card" | "card_update"
    target: str  # conversation id, user ids, session or outTrackId
    text: str  # what a person would read (content / markdown / card title + body)
    body: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)

    @property
    def mentioned(self) -> list[str]:
        """Ids @-mentioned for real: a sessionWebhook's `at.atUserIds` / `atDingtalkIds`, a card's
        `imGroupOpenDeliverModel.atUserIds` (groupMessages/send has no way to mention)."""
        if self.kind == "webhook":  # staff by userId, others (EXTERNAL) by dingtalkId
            at = self.body.get("at") or {}
            return list(at.get("atUserIds") or []) + list(at.get("atDingtalkIds") or [])
        if self.kind == "card":
            return list((self.body.get("imGroupOpenDeliverModel") or {}).get("atUserIds") or {})
        return []

    @property
    def shown(self) -> str:
        """The text as DingTalk shows it: 「@userId」 of a mentioned user becomes 「@昵称」
        (NICKS), which is how a test sees a mention that would not render."""
        text = self.text
        for user in self.mentioned:
            text = text.replace(f"@{user}", f"@{NICKS.get(user, user)}")
        return text


class FakeDingTalk:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="fake-dingtalk",
                                        daemon=True)
        self._ids = itertools.count(1)
        # gateway state
        self.opens: list[dict[str, Any]] = []
        self.tickets: set[str] = set()
        self.connections = 0  # websocket sessions accepted and served
        self.clean_closes_left = 0  # close this many new sockets cleanly at once
        self.clean_closes = 0
        self.silent = False  # stop answering pings and frames
        self.open_failures = 0  # answer this many /connections/open calls with 500
        self.ws: web.WebSocketResponse | None = None  # the newest connection
        self.live: list[web.WebSocketResponse] = []  # every open connection
        self.acks: dict[str, dict[str, Any]] = {}
        # OpenAPI state
        self.tokens: set[str] = set()
        self.token_calls = 0
        # "500" | "timeout" | "throttle" | "expire" | "400" | "pass" (none: to fault a later call)
        # | "429" (HTTP 429 with the QPS-limit code) | "429:<s>" (the same with Retry-After: <s>)
        self.faults: deque[str] = deque()
        self.limited: list[tuple[str, float]] = []  # (path, time.perf_counter()) of each 429
        self.refused: list[tuple[str, str]] = []  # (path, why) of bodies refused as too big
        # answered 200 but not delivered: "invalid_user" / "flow_user" (batchSend lists the user
        # in invalidStaffIdList / flowControlledStaffIdList), "deliver_fail" (createAndDeliver
        # reports deliverResults[].success false); "late_answer": createAndDeliver creates and
        # delivers the card, then answers after fault_delay (past the bot's timeout);
        # "created_undelivered": createAndDeliver creates the card, then fails after fault_delay
        # (504) without delivering it to the chat
        self.fault_delay = 2.0  # how long a "timeout", "late_answer" or "created_undelivered" takes
        self.sent: list[Sent] = []
        self.cards: dict[str, dict[str, Any]] = {}  # outTrackId → latest cardParamMap
        # outTrackId → the openSpaceIds showing it. A card is shown in a space once: delivering
        # it again there posts nothing (what the bot assumes of DingTalk; not verified)
        self.card_spaces: dict[str, set[str]] = {}
        # DingTalk's answer to delivering a card to a chat that already shows it is unknown:
        # True models a refusal (success: false for that space) instead of a silent no-op
        self.deliver_refuses_shown = False
        self.auth_codes: dict[str, str] = {}  # H5 auth code → userid
        # files people sent the robot, by downloadCode (messageFiles/download, then the URL)
        self.files: dict[str, bytes] = {}
        self.downloads: list[str] = []  # downloadCodes asked for
        self.requests: list[str] = []

    # -- lifecycle (called from the test thread) ------------------------------------------------
    def start(self) -> FakeDingTalk:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        app = web.Application()
        app.add_routes([
            web.post("/v1.0/gateway/connections/open", self._open),
            web.get("/connect", self._ws),
            web.post("/v1.0/oauth2/accessToken", self._token),
            web.post("/v1.0/robot/groupMessages/send", self._group),
            web.post("/v1.0/robot/oToMessages/batchSend", self._users),
            web.post("/v1.0/card/instances/createAndDeliver", self._card_create),
            web.post("/v1.0/card/instances/deliver", self._card_deliver),
            web.put("/v1.0/card/instances", self._card_update),
            web.post("/robot/sendBySession", self._webhook),
            web.post("/topapi/v2/user/getuserinfo", self._userinfo),
            web.post("/v1.0/robot/messageFiles/download", self._file_url),
            web.get("/files/{code}", self._file),
        ])
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _stop(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- gateway ----------------------------------------------------------------------------------
    async def _open(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.opens.append(body)
        if self.open_failures > 0:
            self.open_failures -= 1
            return web.json_response({"code": "ServiceUnavailable"}, status=500)
        if body.get("clientId") != CLIENT_ID or body.get("clientSecret") != CLIENT_SECRET:
            return web.json_response({"code": "InvalidClient"}, status=401)
        ticket = uuid.uuid4().hex
        self.tickets.add(ticket)
        return web.json_response({"endpoint": f"ws://127.0.0.1:{self.port}/connect",
                                  "ticket": ticket})

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:  # a ticket opens exactly one connection
            return web.Response(status=403)
        self.tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        if self.clean_closes_left > 0:
            self.clean_closes_left -= 1
            self.clean_closes += 1
            await ws.close()
            return ws
        self.connections += 1
        self.ws = ws
        self.live.append(ws)
        async for msg in ws:
            if self.silent:
                continue
            if msg.type == WSMsgType.PING:
                await ws.pong(msg.data)
            elif msg.type == WSMsgType.TEXT:
                frame = json.loads(msg.data)
                self.acks[str(frame.get("headers", {}).get("messageId"))] = frame
        self.live.remove(ws)
        if self.ws is ws:
            self.ws = self.live[-1] if self.live else None
        return ws

    def push(self, frame: dict[str, Any] | str, everywhere: bool = False) -> None:
        """Send a frame on the newest connection, or on all of them (from the test thread)."""
        text = frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False)

        async def send() -> None:
            assert self.ws is not None, "no connection"
            for ws in list(self.live) if everywhere else [self.ws]:
                await ws.send_str(text)

        self.call(send())

    def frame(self, topic: str, data: dict[str, Any], kind: str = "CALLBACK",
              message_id: str | None = None) -> dict[str, Any]:
        return {"specVersion": "1.0", "type": kind,
                "headers": {"appId": "app", "connectionId": "c", "contentType": "application/json",
                            "messageId": message_id or f"frame-{next(self._ids)}",
                            "time": str(int(time.time() * 1000)), "topic": topic},
                "data": json.dumps(data, ensure_ascii=False)}

    def bot_message(self, text: str, *, staff_id: str, group: str | None = None,
                    msg_id: str | None = None, webhook: bool = True,
                    webhook_ttl_ms: int = 5_400_000) -> dict[str, Any]:
        msg_id = msg_id or f"msg-{uuid.uuid4().hex[:12]}"
        now = int(time.time() * 1000)
        data: dict[str, Any] = {
            "conversationId": group or f"cid-dm-{staff_id}", "conversationType": "2" if group else "1",
            "msgId": msg_id, "msgtype": "text", "text": {"content": f" {text} "},
            "senderId": f"$:LWCP_v1:${staff_id}", "senderStaffId": staff_id,
            "senderNick": NICKS.get(staff_id, staff_id),
            "senderCorpId": "corp", "chatbotCorpId": "corp", "chatbotUserId": "bot",
            "robotCode": CLIENT_ID, "isAdmin": False, "isInAtList": True, "createAt": now,
            "atUsers": [{"dingtalkId": "bot"}],
        }
        if staff_id == EXTERNAL:  # someone from outside the org: no senderStaffId at all
            del data["senderStaffId"]
            data.update(senderId=EXTERNAL, senderCorpId="other-corp")
        if group:
            data["conversationTitle"] = "测试群"
        if webhook:
            data["sessionWebhook"] = f"{self.base}/robot/sendBySession?session={msg_id}"
            data["sessionWebhookExpiredTime"] = now + webhook_ttl_ms
        return data

    def send_message(self, text: str, **kw: Any) -> str:
        data = self.bot_message(text, **kw)
        frame = self.frame("/v1.0/im/bot/messages/get", data)
        self.push(frame)
        return str(frame["headers"]["messageId"])

    def click(self, out_track_id: str, user_id: str | None, action: str,
              params: dict[str, Any] | None = None, **fields: Any) -> str:
        """A card callback; `user_id` None: without a `userId` field; `fields` are added."""
        data: dict[str, Any] = {
            "outTrackId": out_track_id, "corpId": "corp", "userId": user_id, "userIdType": 1,
            "spaceType": "IM", "spaceId": "s", "type": "actionCallback", "extension": "{}",
            "content": json.dumps({"cardPrivateData": {
                "actionIds": [action], "params": {"action": action, **(params or {})}}}),
            **fields}
        if user_id is None:
            del data["userId"]
        frame = self.frame("/v1.0/card/instances/callback", data)
        self.push(frame)
        return str(frame["headers"]["messageId"])

    # -- OpenAPI ----------------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.token_calls += 1
        if body.get("appKey") != CLIENT_ID or body.get("appSecret") != CLIENT_SECRET:
            return web.json_response({"code": "InvalidAppKey", "message": "bad"}, status=400)
        token = f"tok-{next(self._ids)}"
        self.tokens.add(token)
        return web.json_response({"accessToken": token, "expireIn": 7200})

    async def _fault(self, request: web.Request, token: str | None) -> web.Response | None:
        """Apply the next injected fault, then check the token."""
        self.requests.append(request.path)
        fault = self.faults.popleft() if self.faults and self.faults[0] not in PARTIAL else None
        if fault == "500":
            return web.json_response({"code": "ServiceUnavailable"}, status=500)
        if fault == "timeout":
            await asyncio.sleep(self.fault_delay)
            return web.json_response({"code": "TooLate"}, status=504)
        if fault == "throttle":
            return web.json_response({"errcode": 130101,
                                      "errmsg": "send too fast, exceed 20 times per minute"})
        if fault == "400":
            return web.json_response({"code": "InvalidParameter", "message": "bad"}, status=400)
        if fault is not None and fault.startswith("429"):
            self.limited.append((request.path, time.perf_counter()))
            headers = {"Retry-After": fault[4:]} if fault.startswith("429:") else None
            return web.json_response({"code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
                                      "message": "请求太频繁"}, status=429, headers=headers)
        if fault == "expire":
            self.tokens.clear()
        if token is not None and token not in self.tokens:
            return web.json_response({"code": "InvalidAuthentication",
                                      "message": "不合法的access_token"}, status=401)
        return None

    async def _too_big(self, request: web.Request, chars: int, max_chars: int,
                       webhook: bool = False) -> web.Response | None:
        """DingTalk's size rules (see BODY_MAX_BYTES): the refusal, or None."""
        size = len(await request.read())
        why = f"body {size} bytes" if size > BODY_MAX_BYTES else \
            f"markdown {chars} characters" if chars > max_chars else None
        if why is None:
            return None
        self.refused.append((request.path, why))
        if webhook:  # the custom-robot style answer: HTTP 200 with an errcode
            return web.json_response({"errcode": 460101, "errmsg": TOO_LONG})
        return web.json_response({"code": "460101", "message": TOO_LONG}, status=400)

    def _unbound(self, request: web.Request, params: dict[str, Any]) -> web.Response | None:
        """A cardParamMap that leaves out a variable the template binds: refused."""
        missing = sorted(TEMPLATE_VARIABLES - params.keys())
        if not missing:
            return None
        self.refused.append((request.path, f"template variables not set: {', '.join(missing)}"))
        return web.json_response({"code": "InvalidParameter.CardParamMap",
                                  "message": f"missing {missing}"}, status=400)

    async def _robot(self, request: web.Request, kind: str, target_key: str) -> web.Response:
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        if (err := await self._fault(request, token)) is not None:
            return err
        body = await request.json()
        param = json.loads(body["msgParam"])
        markdown = param.get("text", "") if body["msgKey"] != "sampleText" else ""
        if (err := await self._too_big(request, len(markdown), MARKDOWN_MAX_CHARS)) is not None:
            return err
        text = param.get("content") or param.get("text") or ""
        target = body[target_key]
        partial = self.faults.popleft() if kind == "users" and self.faults and \
            self.faults[0] in ("invalid_user", "flow_user") else None
        if partial is not None:  # batchSend accepts the call but not the recipient
            key = "invalidStaffIdList" if partial == "invalid_user" else "flowControlledStaffIdList"
            return web.json_response({"processQueryKey": uuid.uuid4().hex, key: list(target)})
        self.sent.append(Sent(kind, ",".join(target) if isinstance(target, list) else target,
                              text, body))
        return web.json_response({"processQueryKey": uuid.uuid4().hex})

    async def _group(self, request: web.Request) -> web.Response:
        return await self._robot(request, "group", "openConversationId")

    async def _users(self, request: web.Request) -> web.Response:
        return await self._robot(request, "users", "userIds")

    async def _card_create(self, request: web.Request) -> web.Response:
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        if (err := await self._fault(request, token)) is not None:
            return err
        body = await request.json()
        if body["outTrackId"] in self.cards:  # as DingTalk: one outTrackId, one card
            return web.json_response({"code": "param.cardAlreadyExist", "message": "卡片已经存在",
                                      "requestid": uuid.uuid4().hex}, status=400)
        params = body["cardData"]["cardParamMap"]
        assert all(isinstance(v, str) for v in params.values()), "cardParamMap values must be strings"
        assert body["callbackType"] == "STREAM"
        if (err := self._unbound(request, params)) is not None:
            return err
        longest = max(len(params.get("markdown", "")), len(params.get("body", "")))
        if (err := await self._too_big(request, longest, CARD_MARKDOWN_MAX_CHARS)) is not None:
            return err
        if self.faults and self.faults[0] == "deliver_fail":  # created, not delivered
            self.faults.popleft()
            return web.json_response({"success": True, "result": {
                "outTrackId": body["outTrackId"], "deliverResults": [
                    {"spaceId": body["openSpaceId"], "spaceType": "IM", "success": False,
                     "errorMsg": "robot not in conversation"}]}})
        self.cards[body["outTrackId"]] = params
        if self.faults and self.faults[0] == "created_undelivered":  # created, then it fails
            self.faults.popleft()
            await asyncio.sleep(self.fault_delay)
            return web.json_response({"code": "TooLate"}, status=504)
        self._show(body["outTrackId"], body)
        if self.faults and self.faults[0] == "late_answer":  # created; the answer comes too late
            self.faults.popleft()
            await asyncio.sleep(self.fault_delay)
        return web.json_response({"success": True, "result": {
            "outTrackId": body["outTrackId"], "deliverResults": [
                {"spaceId": body["openSpaceId"], "spaceType": "IM", "success": True}]}})

    def _show(self, track: str, body: dict[str, Any]) -> None:
        """The card appears in the request's space, unless it is there already."""
        spaces = self.card_spaces.setdefault(track, set())
        if body["openSpaceId"] in spaces:
            return
        spaces.add(body["openSpaceId"])
        params = self.cards[track]
        self.sent.append(Sent("card", body["openSpaceId"], f"{params['title']}\n{params['body']}",
                              body))

    async def _card_deliver(self, request: web.Request) -> web.Response:
        """instances/deliver (DINGTALK.md §1.9 (d) 2): a card created before, to one space."""
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        if (err := await self._fault(request, token)) is not None:
            return err
        body = await request.json()
        space = str(body.get("openSpaceId", ""))
        group = space.startswith("dtv1.card//IM_GROUP.")
        model = body.get("imGroupOpenDeliverModel" if group else "imRobotOpenDeliverModel")
        if body.get("outTrackId") not in self.cards:
            return web.json_response({"code": "CardNotExist"}, status=400)
        if not isinstance(model, dict) or model.get("robotCode") != CLIENT_ID or \
                (not group and model.get("spaceType") != "IM_ROBOT"):
            return web.json_response({"code": "InvalidParameter", "message": "deliver model"},
                                     status=400)
        if self.deliver_refuses_shown and space in self.card_spaces.get(body["outTrackId"], ()):
            return web.json_response({"success": True, "result": [
                {"spaceId": space, "spaceType": "IM_GROUP" if group else "IM_ROBOT",
                 "success": False, "errorMsg": "card already delivered"}]})
        self._show(body["outTrackId"], body)
        return web.json_response({"success": True, "result": [
            {"spaceId": space, "spaceType": "IM_GROUP" if group else "IM_ROBOT",
             "success": True, "carrierId": uuid.uuid4().hex}]})

    async def _card_update(self, request: web.Request) -> web.Response:
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        if (err := await self._fault(request, token)) is not None:
            return err
        body = await request.json()
        if body["outTrackId"] not in self.cards:
            return web.json_response({"code": "CardNotExist"}, status=400)
        params = body["cardData"]["cardParamMap"]
        if (err := self._unbound(request, params)) is not None:
            return err
        longest = max(len(params.get("markdown", "")), len(params.get("body", "")))
        if (err := await self._too_big(request, longest, CARD_MARKDOWN_MAX_CHARS)) is not None:
            return err
        self.cards[body["outTrackId"]] = params
        self.sent.append(Sent("card_update", body["outTrackId"],
                              f"{params['title']}\n{params['body']}", body))
        return web.json_response({"success": True})

    async def _webhook(self, request: web.Request) -> web.Response:
        if (err := await self._fault(request, None)) is not None:
            return err
        body = await request.json()
        markdown = (body.get("markdown") or {}).get("text", "")
        if (err := await self._too_big(request, len(markdown), MARKDOWN_MAX_CHARS, webhook=True)):
            return err
        text = (body.get("text") or {}).get("content") or markdown
        self.sent.append(Sent("webhook", request.query.get("session", ""), text, body))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _file_url(self, request: web.Request) -> web.Response:
        """messageFiles/download (DINGTALK.md §1.9 (e)): a short-lived URL for the file."""
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        if (err := await self._fault(request, token)) is not None:
            return err
        body = await request.json()
        code = str(body.get("downloadCode"))
        self.downloads.append(code)
        if body.get("robotCode") != CLIENT_ID or code not in self.files:
            return web.json_response({"code": "InvalidParameter.DownloadCode",
                                      "message": "downloadCode 无效"}, status=400)
        return web.json_response({"downloadUrl": f"{self.base}/files/{code}"})

    async def _file(self, request: web.Request) -> web.Response:
        """The file at the URL messageFiles/download gave (faults apply: a 5xx, a timeout)."""
        if (err := await self._fault(request, None)) is not None:
            return err
        return web.Response(body=self.files[request.match_info["code"]],
                            content_type="image/png")

    def send_picture(self, data: bytes, *, staff_id: str, group: str | None = None,
                     rich: bool = False, text: str = "") -> str:
        """A picture as DingTalk pushes it: msgtype `picture` with `content.downloadCode`, or
        (`rich`, or with `text`) a richText with the picture (what a picture with an @ in a
        group is, or one sent with words: 「扫码受理」 and the picture)."""
        code = f"dl-{uuid.uuid4().hex[:10]}"
        self.files[code] = data
        msg = self.bot_message("", staff_id=staff_id, group=group)
        del msg["text"]
        if rich or text:
            msg.update(msgtype="richText", content={"richText": [
                {"text": text}, {"type": "picture", "downloadCode": code}]})
        else:
            msg.update(msgtype="picture", content={"downloadCode": code})
        self.push(self.frame("/v1.0/im/bot/messages/get", msg))
        return code

    async def _userinfo(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") not in self.tokens:
            return web.json_response({"errcode": 40014, "errmsg": "不合法的access_token"})
        code = (await request.json()).get("code")
        user = self.auth_codes.get(str(code))
        if user is None:
            return web.json_response({"errcode": 40078, "errmsg": "不存在的临时授权码"})
        return web.json_response({"errcode": 0, "result": {"userid": user, "name": "x"}})

    # -- reading (from the test thread) -------------------------------------------------------------
    def texts(self, kind: str | None = None) -> list[str]:
        return [s.text for s in list(self.sent) if kind is None or s.kind == kind]
