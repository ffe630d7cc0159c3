"""Who is looking at a web page: a signed session cookie holding a person id. The console sets
it when you pick a user; DingTalk's in-app login (H5 免登) sets it after exchanging an auth code."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from bot.signing import Signer

COOKIE = "casebot_session"
LIFETIME = timedelta(hours=12)


def start_session(response: web.StreamResponse, signer: Signer, person_id: str,
                  now: datetime) -> None:
    token = signer.sign("session", {"p": person_id}, now + LIFETIME)
    response.set_cookie(COOKIE, token, max_age=int(LIFETIME.total_seconds()), httponly=True,
                        samesite="Lax", path="/")


def session_person(request: web.Request, signer: Signer, now: datetime) -> str | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    payload = signer.verify("session", token, now)
    person = payload.get("p") if payload else None
    return person if isinstance(person, str) else None
