"""DingTalk OpenAPI over aiohttp (never the SDK's blocking `requests` helpers). One access token
per app, cached until shortly before it expires and refreshed once when a call says it is bad.
Every failure is classified so the outbox knows whether to retry."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal, cast

import aiohttp

log = logging.getLogger(__name__)

# retry: failed, may be tried again (a 5xx, a timeout); limited: refused by a rate limit of
# this API (not done), tried again later, after its Retry-After if it names one; throttled:
# the robot itself is paused (the webhook robot's 20/min, the per-IP ban); auth: the token;
# fatal: never tried again
ErrorKind = Literal["retry", "limited", "throttled", "auth", "fatal"]
THROTTLED_ERRCODES = {130101}  # "send too fast, exceed 20 times per minute"
RETRY_ERRCODES = {-1, 15, 88}  # system busy; server-side timeouts (isp.top-remote-…)
# QPS limits per app and API / per API over all apps (open.dingtalk.com "附录B：如何处理钉钉服务端
# API限流"): "the limit lasts a second: sleep a second and go on". The new APIs answer HTTP 403
# with these codes, the old ones errcode 90018 / 90002; an HTTP 429 (not in that page, but what
# a gateway in front of an API answers) and Alibaba Cloud's `Throttling.*` codes are read alike
QPS_ERRCODES = {90018, 90002}
QPS_CODES = {"Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
             "Forbidden.AccessDenied.QpsLimitForApi"}
RETRY_AFTER_MAX_SECONDS = 600.0  # a Retry-After longer than this is taken as this
AUTH_ERRCODES = {40001, 40014, 42001}  # invalid credential / access_token / expired token
AUTH_CODES = {"InvalidAuthentication", "InvalidAccessToken", "InvalidAuthentication.AccessToken"}
# createAndDeliver with an outTrackId that already has a card: HTTP 400 with this code (卡片已经
# 存在; error table of open.dingtalk.com/document/development/create-and-deliver-cards). What a
# retry gets after an attempt that timed out once DingTalk had created the card
CARD_EXISTS = "param.cardAlreadyExist"


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    robot_code: str


class DingTalkApiError(Exception):
    def __init__(self, kind: ErrorKind, status: int, code: str, message: str,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{kind}: HTTP {status} {code} {message}".strip())
        self.kind = kind
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, from the answer's Retry-After header


class FileTooLarge(DingTalkApiError):
    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__("fatal", 200, "FileTooLarge", f"{size} bytes, at most {max_bytes}")


def retry_after_seconds(value: str | None, date: str | None = None) -> float | None:
    """An answer's Retry-After in seconds: delta-seconds, or an HTTP date read against the
    answer's own Date header (no local clock involved); None when absent or unreadable. At
    most RETRY_AFTER_MAX_SECONDS."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - parsedate_to_datetime(date or "")
                       ).total_seconds()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_SECONDS)


def classify(status: int, body: Any, retry_after: float | None = None) -> DingTalkApiError | None:
    """None when the answer is a success; otherwise the error and whether it can be retried.
    `retry_after`: the answer's Retry-After (seconds), kept with a rate limit error."""
    data = body if isinstance(body, dict) else {}
    errcode = data.get("errcode")
    code = str(data.get("code") or (errcode if errcode not in (None, 0) else "") or "")
    message = str(data.get("message") or data.get("errmsg") or "")[:300]

    def err(kind: ErrorKind) -> DingTalkApiError:
        return DingTalkApiError(kind, status, code, message)

    if isinstance(errcode, int) and errcode in THROTTLED_ERRCODES:
        return err("throttled")
    if data.get("status") == 1111 and data.get("punish") == "deny":  # the per-IP ban (5 min)
        return DingTalkApiError("throttled", status, "IpBan", f"wait {data.get('wait')}")
    if status == 429 or code in QPS_CODES or code.startswith("Throttling") \
            or (isinstance(errcode, int) and errcode in QPS_ERRCODES):
        return DingTalkApiError("limited", status, code or "TooManyRequests", message,
                                retry_after)
    if status == 401 or code in AUTH_CODES or (isinstance(errcode, int) and errcode in AUTH_ERRCODES) \
            or "不合法的access_token" in message:
        return err("auth")
    if status >= 500 or (isinstance(errcode, int) and errcode in RETRY_ERRCODES):
        return err("retry")
    if status >= 400:
        return err("fatal")
    if isinstance(errcode, int) and errcode != 0:
        return err("fatal")
    if data.get("success") is False:  # the card APIs' {"success", "result"} answer
        return DingTalkApiError("fatal", status, code or "NotSuccess", message)
    return None


def _raise_undelivered(results: Any) -> None:
    """A card call answered 200 with success per space: the card exists, but a space marked
    `success: false` did not get it (robot not in the group, no such user …)."""
    for r in results if isinstance(results, list) else []:
        if isinstance(r, dict) and r.get("success") is False:
            raise DingTalkApiError("fatal", 200, "DeliverFailed",
                                   f"{r.get('spaceId')}: {r.get('errorMsg')}"[:300])


class OpenApi:
    def __init__(self, creds: Credentials, *, api_base: str, oapi_base: str,
                 timeout_seconds: float = 10.0, refresh_margin_seconds: int = 300) -> None:
        self.creds = creds
        self.api_base = api_base.rstrip("/")
        self.oapi_base = oapi_base.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.refresh_margin = refresh_margin_seconds
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0  # monotonic
        self._token_lock = asyncio.Lock()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- transport ----------------------------------------------------------------------------
    async def _request(self, method: str, url: str, *, json_body: Any = None,
                       headers: dict[str, str] | None = None) -> Any:
        try:
            async with self.session.request(method, url, json=json_body, headers=headers) as r:
                text = await r.text()
                status = r.status
                retry_after = retry_after_seconds(r.headers.get("Retry-After"),
                                                  r.headers.get("Date"))
        except (aiohttp.ClientError, TimeoutError) as e:
            raise DingTalkApiError("retry", 0, type(e).__name__, str(e)[:200]) from e
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = {"message": text[:200]}
        error = classify(status, body, retry_after)
        if error is not None:
            raise error
        return body

    async def token(self, *, rejected: str | None = None) -> str:
        """The cached token, or a new one. `rejected`: the token a call was refused with; it
        is replaced unless another call has replaced it meanwhile (so a burst of calls refused
        at once refreshes once)."""
        async with self._token_lock:
            cached = self._token
            if cached and cached != rejected and time.monotonic() < self._token_expires:
                return cached
            try:
                body = await self._request(
                    "POST", f"{self.api_base}/v1.0/oauth2/accessToken",
                    json_body={"appKey": self.creds.client_id, "appSecret": self.creds.client_secret})
            except DingTalkApiError as e:
                if e.kind != "fatal":
                    raise
                # the app's credentials refused (a rotated secret, say): no message is at fault,
                # so what waits to be sent keeps waiting until the environment is fixed
                raise DingTalkApiError("auth", e.status, e.code, f"{e.message} (access token "
                                       "refused: check DINGTALK_CLIENT_ID / DINGTALK_CLIENT_SECRET)"
                                       ) from e
            token = body.get("accessToken")
            if not isinstance(token, str) or not token:
                raise DingTalkApiError("retry", 200, "NoToken", "accessToken missing in answer")
            expire_in = int(body.get("expireIn") or 7200)
            self._token = token
            self._token_expires = time.monotonic() + max(1, expire_in - self.refresh_margin)
            log.info("dingtalk access token refreshed, valid %ds", expire_in)
            return token

    async def call(self, method: str, path: str, body: dict[str, Any]) -> Any:
        """A new-style API call with the token header; on an auth error the token is refreshed
        once and the call repeated once."""
        url = f"{self.api_base}{path}"
        token: str | None = None
        for attempt in (1, 2):
            token = await self.token(rejected=token)
            try:
                return await self._request(method, url, json_body=body,
                                           headers={"x-acs-dingtalk-access-token": token})
            except DingTalkApiError as e:
                if e.kind != "auth" or attempt == 2:
                    raise
                log.info("dingtalk token rejected (%s), refreshing once", e.code)
        raise AssertionError("unreachable")

    # -- robot messages -------------------------------------------------------------------------
    async def send_group(self, open_conversation_id: str, msg_key: str,
                         msg_param: dict[str, Any]) -> Any:
        return await self.call("POST", "/v1.0/robot/groupMessages/send", {
            "robotCode": self.creds.robot_code, "openConversationId": open_conversation_id,
            "msgKey": msg_key, "msgParam": json.dumps(msg_param, ensure_ascii=False)})

    async def send_users(self, user_ids: list[str], msg_key: str, msg_param: dict[str, Any]) -> Any:
        """batchSend answers 200 even for recipients it did not deliver to: they are listed
        (`flowControlledStaffIdList`: pushed too often, try later; `invalidStaffIdList`: no such
        user in the org; `filteredStaffIdList`); any of ours there is an error."""
        body = await self.call("POST", "/v1.0/robot/oToMessages/batchSend", {
            "robotCode": self.creds.robot_code, "userIds": user_ids,
            "msgKey": msg_key, "msgParam": json.dumps(msg_param, ensure_ascii=False)})
        for key, kind in (("invalidStaffIdList", "fatal"), ("filteredStaffIdList", "fatal"),
                          ("flowControlledStaffIdList", "retry")):
            listed = body.get(key) if isinstance(body, dict) else None
            missed = [u for u in user_ids if isinstance(listed, list) and u in listed]
            if missed:
                raise DingTalkApiError(cast(ErrorKind, kind), 200, key, ",".join(missed)[:300])
        return body

    async def post_webhook(self, url: str, body: dict[str, Any]) -> Any:
        """A reply through a message's sessionWebhook (no token needed)."""
        return await self._request("POST", url, json_body=body)

    # -- files people send the bot --------------------------------------------------------------
    async def message_file(self, download_code: str, max_bytes: int) -> bytes:
        """A file (a picture) sent to the robot: `messageFiles/download` gives a short-lived
        URL (DINGTALK.md §1.9 (e)), then it is fetched, never more than `max_bytes`."""
        answer = await self.call("POST", "/v1.0/robot/messageFiles/download", {
            "robotCode": self.creds.robot_code, "downloadCode": download_code})
        url = answer.get("downloadUrl") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url:
            raise DingTalkApiError("fatal", 200, "NoDownloadUrl", "downloadUrl missing in answer")
        try:
            async with self.session.get(url) as r:
                if r.status != 200:
                    kind: ErrorKind = "limited" if r.status == 429 else \
                        "retry" if r.status >= 500 else "fatal"
                    raise DingTalkApiError(kind, r.status, "DownloadFailed", url[:100],
                                           retry_after_seconds(r.headers.get("Retry-After"),
                                                               r.headers.get("Date")))
                if (r.content_length or 0) > max_bytes:
                    raise FileTooLarge(r.content_length or 0, max_bytes)
                data = bytearray()
                async for chunk in r.content.iter_chunked(65536):
                    data += chunk
                    if len(data) > max_bytes:
                        raise FileTooLarge(len(data), max_bytes)
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise DingTalkApiError("retry", 0, type(e).__name__, str(e)[:200]) from e

    # -- interactive cards ----------------------------------------------------------------------
    def _deliver_model(self, group: bool, at_users: dict[str, str] | None) -> dict[str, Any]:
        """How a card reaches a group (by the robot, mentioning `at_users`) or a 1:1 chat; the
        same for createAndDeliver and deliver."""
        if group:
            model: dict[str, Any] = {"robotCode": self.creds.robot_code}
            if at_users:
                model["atUserIds"] = at_users
            return {"imGroupOpenDeliverModel": model}
        return {"imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT",
                                            "robotCode": self.creds.robot_code}}

    async def create_and_deliver_card(self, *, template_id: str, out_track_id: str,
                                      card_data: dict[str, Any], open_space_id: str,
                                      group: bool, at_users: dict[str, str] | None = None) -> Any:
        """`at_users` (staff userId → name): in a group, who is @-mentioned with the card."""
        space_model = "imGroupOpenSpaceModel" if group else "imRobotOpenSpaceModel"
        body: dict[str, Any] = {
            "cardTemplateId": template_id, "outTrackId": out_track_id, "cardData": card_data,
            "callbackType": "STREAM", "openSpaceId": open_space_id, "userIdType": 1,
            space_model: {"supportForward": True}, **self._deliver_model(group, at_users),
        }
        answer = await self.call("POST", "/v1.0/card/instances/createAndDeliver", body)
        result = answer.get("result") if isinstance(answer, dict) else None
        _raise_undelivered(result.get("deliverResults") if isinstance(result, dict) else None)
        return answer

    async def deliver_card(self, *, out_track_id: str, open_space_id: str, group: bool,
                           at_users: dict[str, str] | None = None) -> Any:
        """Deliver a card created before (`POST /v1.0/card/instances/deliver`, DINGTALK.md
        §1.9 (d) 2) to its group or 1:1 chat; it answers `result` as a list of
        {spaceId, spaceType, success, errorMsg, carrierId} (the card SDK's
        DeliverCardResponseBody)."""
        body = {"outTrackId": out_track_id, "openSpaceId": open_space_id, "userIdType": 1,
                **self._deliver_model(group, at_users)}
        answer = await self.call("POST", "/v1.0/card/instances/deliver", body)
        _raise_undelivered(answer.get("result") if isinstance(answer, dict) else None)
        return answer

    async def update_card(self, out_track_id: str, card_data: dict[str, Any]) -> Any:
        return await self.call("PUT", "/v1.0/card/instances", {
            "outTrackId": out_track_id, "cardData": card_data,
            "cardUpdateOptions": {"updateCardDataByKey": False}})

    # -- H5 in-app login ------------------------------------------------------------------------
    async def user_id_from_auth_code(self, code: str) -> str:
        """Exchange a JSAPI auth code (requestAuthCode / getAuthCode) for the staff userId."""
        token: str | None = None
        for attempt in (1, 2):
            token = await self.token(rejected=token)
            url = f"{self.oapi_base}/topapi/v2/user/getuserinfo"
            try:
                body = await self._request("POST", f"{url}?access_token={token}",
                                           json_body={"code": code})
            except DingTalkApiError as e:
                if e.kind != "auth" or attempt == 2:
                    raise
                continue
            user_id = (body.get("result") or {}).get("userid")
            if not isinstance(user_id, str) or not user_id:
                raise DingTalkApiError("fatal", 200, "NoUser", "userid missing in answer")
            return user_id
        raise AssertionError("unreachable")
