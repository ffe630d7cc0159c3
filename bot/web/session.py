"""Who is looking at a web page: a signed session cookie holding a person id. The console sets
it when you pick a user and again each time you tap a card's link; DingTalk's in-app login
(H5 免登) sets it after exchanging an auth code."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web

from bot.signing import Signer
from bot.web import render

COOKIE = "casebot_session"
LIFETIME = timedelta(hours=12)


def start_session(response: web.StreamResponse, signer: Signer, person_id: str,
                  now: datetime, public_url: str) -> None:
    """The session cookie: HttpOnly, SameSite=Lax and, when the bot is served over https (its
    `web.public_url`, usually TLS ended at a proxy in front), Secure, so that the browser never
    sends it over plain http, where anyone on the network path could read it and act as the
    person for 12 hours."""
    token = signer.sign("session", {"p": person_id}, now + LIFETIME)
    response.set_cookie(COOKIE, token, max_age=int(LIFETIME.total_seconds()), httponly=True,
                        samesite="Lax", path="/",
                        secure=urlsplit(public_url).scheme.lower() == "https")


def session_person(request: web.Request, signer: Signer, now: datetime) -> str | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    payload = signer.verify("session", token, now)
    person = payload.get("p") if payload else None
    return person if isinstance(person, str) else None


# what a form's script shows when its page outlived the session (a JSON 401)
EXPIRED = "登录已过期，本次未提交。请从聊天中的卡片重新打开此页面后再提交。"
# the same, from a form whose page keeps a draft in the browser (new case, score, review),
# restored when the form is opened again from the card
EXPIRED_DRAFT_KEPT = ("登录已过期，本次未提交，已填写的内容已保存在本机。"
                      "请从聊天中的卡片重新打开此页面，内容会自动恢复。")


def login_page(request: web.Request, console_on: bool) -> web.Response:
    """The 401 page of a web page opened without a live session: what to do, and with the
    console on (the only way to log in then, DingTalk's pages go to 免登 instead) a link to it,
    返回控制台 when the page was opened from there."""
    if not console_on:
        return render("error.html", status=401, title="请先登录",
                      message="未登录或登录已过期。请在钉钉中，从机器人发来的卡片打开此页面，"
                              "即可自动登录。")
    referer = urlsplit(request.headers.get("Referer", ""))
    from_console = referer.path == "/console" and referer.netloc == request.host
    if from_console:
        return render("error.html", status=401, title="请先登录",
                      message="未登录或登录已过期。请回到控制台，在卡片上重新点开此链接，"
                              "即以控制台当前选择的用户打开。",
                      link="/console", link_label="返回控制台")
    return render("error.html", status=401, title="请先登录",
                  message="未登录或登录已过期。请打开控制台并选择用户，然后在卡片上重新点开此链接。",
                  link="/console", link_label="打开控制台")
