"""Shared bits of the web side: JSON errors, body parsing, templates."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from multidict import MultiDictProxy
from sqlalchemy.exc import SQLAlchemyError

from bot.domain.workcal import day_text
from config.model import host_name, is_loopback
from storage import db, jsonio

log = logging.getLogger(__name__)

templates = Environment(
    loader=PackageLoader("bot.web", "templates"),
    autoescape=select_autoescape(["html"]),
)

_ADDRESS = re.compile(r"https?://[!-~]+")  # up to the first space or non-ASCII character (（，：)


def linkify(text: str) -> Markup:
    """`text`, escaped, with every full address a link (a file one the browser downloads); an
    address holding a placeholder (<会议编号>) stays text."""
    out, at = [], 0
    for m in _ADDRESS.finditer(text):
        url = m.group(0)
        out.append(escape(text[at:m.start()]))
        if "<" in url:
            out.append(escape(url))
        else:
            download = " download" if url.endswith((".py", ".json")) else ""
            out.append(Markup('<a href="{0}"{1}>{0}</a>').format(url, Markup(download)))
        at = m.end()
    out.append(escape(text[at:]))
    return Markup("").join(out)


templates.filters["linkify"] = linkify
templates.filters["day"] = day_text  # 2026-12-01（周二）, as the cards write a deadline


MAX_BODY = 1024 ** 2  # aiohttp's client_max_size: a larger body is refused (413)


class ApiError(Exception):
    """Raised by API handlers; turned into `{"error": message}` with the status."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


@web.middleware
async def api_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        body: dict[str, Any] = {"error": e.message}
        if e.field:
            body["field"] = e.field
        return json_response(body, status=e.status)
    except (OSError, SQLAlchemyError) as e:
        if (why := db.unavailable(e)) is None:
            raise
        if request.transport is None or request.transport.is_closing():
            # the client left while sending its body (aiohttp's ConnectionResetError): not the
            # database, and nobody is there to read an answer (499 in the access log, as nginx)
            log.debug("%s %s: client gone: %s", request.method, request.path, why)
            return web.Response(status=499)
        return _database_unavailable(request, why)
    except web.RequestPayloadError:
        # a body aiohttp cannot decode (Content-Encoding: gzip over plain bytes): the client's
        # mistake, answered 400 instead of aiohttp's 500 and traceback; the rest of the body
        # cannot be read either, so the connection is not kept for another request
        message = "请求体无法读取（内容与 Content-Encoding 不符）"
        resp = (json_response({"error": message}, status=400) if "/api/" in request.path
                else web.Response(status=400, text=message))
        resp.force_close()
        return resp
    except web.HTTPRequestEntityTooLarge:
        if "/api/" not in request.path:
            raise
        # aiohttp says it in English plain text; the API answers every refusal as {"error"}
        return json_response({"error": f"请求体过大（上限 {MAX_BODY // 1024 ** 2} MB）"},
                             status=413)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as e:
        if e.text != f"{e.status}: {e.reason}":
            raise  # ours, with its own message; aiohttp's router says it in English
        message = "页面不存在" if e.status == 404 else "不支持该请求方法"
        allow = {"Allow": e.headers["Allow"]} if "Allow" in e.headers else {}  # RFC 9110, on 405
        if "/api/" in request.path:
            return json_response({"error": f"{message}：{request.method} {request.path}"},
                                 status=e.status, headers=allow)
        return web.Response(status=e.status, content_type="text/html", charset="utf-8",
                            headers=allow, text=f"<!doctype html><meta charset=utf-8><title>{message}</title>"
                                 f"<p>{message}。请检查链接，或回到聊天中重新打开。</p>")


class UnreadableRequests(logging.Filter):
    """For the ``aiohttp.server`` logger: a request aiohttp cannot parse (a URL or header over
    its line limit, a malformed request line) is answered 400 by aiohttp and was logged as an
    ERROR with a full traceback, so any client could fill the log. It is the client's mistake:
    one WARNING line, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, web.RequestPayloadError):  # the body, read after the answer
            exc = exc.__cause__
        if isinstance(exc, HttpProcessingError) and record.levelno > logging.WARNING:
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "unreadable request from %s, answered %s: %s", (
                remote, exc.code, " ".join(str(exc.message).split())[:200])
            record.exc_info = record.exc_text = None
        return True


unreadable_requests = UnreadableRequests()


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def same_origin(public_url: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Refuse a state-changing request that a browser sends from another origin (CSRF): the
    session cookie is SameSite=Lax, which still rides along from a sibling site (another port
    of this host, another subdomain). Requests without an Origin header (the chat platforms'
    callbacks, scripts, the tests) and the bearer-token API are not affected."""
    own = urlsplit(public_url)
    public = f"{own.scheme}://{own.netloc}".lower()

    @web.middleware
    async def check(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if (request.method in UNSAFE_METHODS and origin is not None
                and not request.path.startswith("/api/v1/")
                and origin.lower() not in (public, f"{request.scheme}://{request.host}".lower())):
            raise ApiError(403, "跨站请求已拒绝：请在本系统的页面中操作")
        return await handler(request)

    return check


async def no_framing(request: web.Request, response: web.StreamResponse) -> None:
    """No page is shown inside another site's frame, nor kept in the browser's cache.

    Frames (clickjacking): a sibling site (another
    port of this host, another subdomain) gets the SameSite=Lax session cookie sent into its
    frame, and could lay a decoy over a page's own button (确认, 扫码受理, 提交评分), whose
    request is then same-origin. For aiohttp's on_response_prepare, so that every answer,
    refusals and streams included, carries it."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    # what a person was shown (a case's page, its outline, 统计 and its CSV, an API answer)
    # stays out of the browser's cache, where the next user of a shared office PC would find
    # it; an answer that says how it may be cached (the QR image, the public verifier) keeps it
    response.headers.setdefault("Cache-Control", "no-store")


# probes and scrapers address an instance by its own address (a load balancer's GET /readyz
# with Host: 10.0.3.7:8080); these answer nothing a person wrote
HOST_EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})


def refusal(request: web.Request, status: int, message: str) -> web.Response:
    """`{"error": message}` for an API path, else a short HTML page saying it."""
    if "/api/" in request.path:
        return json_response({"error": message}, status=status)
    return web.Response(status=status, content_type="text/html", charset="utf-8",
                        text=f"<!doctype html><meta charset=utf-8><title>{escape(message)}</title>"
                             f"<p>{escape(message)}</p>")


def known_host(public_url: str, allowed_hosts: Iterable[str]
               ) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Refuse (421) a request whose Host header names another server: a page of a site whose
    name was re-pointed at this machine (DNS rebinding) is same-origin with itself, so the
    Origin check alone lets it act through the console on 127.0.0.1. Accepted: the host of
    `web.public_url`, `web.allowed_hosts`, and loopback (localhost, 127.0.0.0/8, [::1]), any
    port. A request without a Host header (HTTP/1.0; no browser sends one) passes."""
    own = urlsplit(public_url).hostname or ""
    known = frozenset({own.lower().rstrip("."), *allowed_hosts})

    @web.middleware
    async def check(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        host = request.headers.get("Host")
        if host is not None and request.path not in HOST_EXEMPT:
            name = host_name(host)
            if name is None or not (name in known or is_loopback(name)):
                shown = host if len(host) <= 60 else host[:60] + "…"
                log.info("%s %s refused: unknown Host %r", request.method, request.path, shown)
                return refusal(request, 421, f"主机名「{shown}」不是本系统的地址，请求已拒绝"
                                             "（Misdirected Request: unknown Host; "
                                             "web.public_url / web.allowed_hosts）")
        return await handler(request)

    return check


def _database_unavailable(request: web.Request, why: str) -> web.Response:
    """A 503 and one log line: the event was not stored, a retry after the outage is handled
    normally (docs/deploy.md, "What breaks when PostgreSQL is lost")."""
    log.warning("%s %s: database unavailable: %s", request.method, request.path, why)
    message = "数据库暂不可用，请稍后重试"
    if "/api/" in request.path:
        return json_response({"error": message}, status=503)
    return web.Response(status=503, content_type="text/html", charset="utf-8",
                        text=f"<!doctype html><meta charset=utf-8><title>{message}</title>"
                             f"<p>{message}。</p>")


def json_response(data: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    """web.json_response(data) (application/json; charset=utf-8), encoded by orjson: every
    JSON answer of the API."""
    return web.Response(body=jsonio.dumps_bytes(data), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


MAX_JSON_DEPTH = 32
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def loads_strict(text: str | bytes) -> Any:
    """json.loads, refusing (ValueError) what no handler can use and no database can store:
    nesting deeper than MAX_JSON_DEPTH and lone surrogates (``"\\ud800"``)."""
    try:
        data = jsonio.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    todo: list[tuple[Any, int]] = [(data, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise ValueError("lone surrogate in a JSON string")
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ValueError("JSON nested too deeply")
            items = [*value, *value.values()] if isinstance(value, dict) else value
            todo += [(v, depth + 1) for v in items]
    return data


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        data = loads_strict(await request.text())
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
        raise ApiError(400, "请求体不是合法的 JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "请求体必须是 JSON 对象")
    return data


async def form_body(request: web.Request
                    ) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """request.post(); a malformed body (multipart without its boundary, a broken part) is a
    400, not a 500."""
    try:
        return await request.post()
    except ValueError:
        raise ApiError(400, "表单格式有误，请在页面上重新提交") from None


class TooLarge(Exception):
    """A multipart field passed its limit; the rest of the request was not read."""


async def multipart_fields(request: web.Request, names: tuple[str, ...], limit: int,
                           repeated: tuple[str, ...] = ()) -> dict[str, tuple[str, bytes]]:
    """The named parts of a multipart form as name -> (file name or "", bytes), read as a
    stream, so a form larger than aiohttp's request.post() cap (1 MiB) can be read and an
    oversized one refused before it is held: TooLarge as soon as one part passes ``limit``
    bytes. Other parts are skipped unread. ValueError: no boundary, a broken part. The values
    of a name in ``repeated`` (checkboxes of one name) are joined with newlines."""
    out: dict[str, tuple[str, bytes]] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name not in names:
            continue
        data = bytearray()
        while chunk := await part.read_chunk():
            data += chunk
            if len(data) > limit:
                raise TooLarge(part.name)
        if part.name in repeated and part.name in out:
            data = bytearray(out[part.name][1] + b"\n" + data)
        out[part.name] = (part.filename or "", bytes(data))
    return out


def field_str(data: dict[str, Any], name: str, *, max_len: int = 2000,
              required: bool = True) -> str:
    v = data.get(name)
    if v is None:
        if required:
            raise ApiError(400, f"缺少字段 {name}", name)
        return ""
    if not isinstance(v, str):
        raise ApiError(400, f"字段 {name} 必须是字符串", name)
    if required and not v.strip():
        raise ApiError(400, f"字段 {name} 不能为空", name)
    if len(v) > max_len:
        raise ApiError(400, f"字段 {name} 超过 {max_len} 字", name)
    return v


def render(template_name: str, /, status: int = 200, **values: Any) -> web.Response:
    html = templates.get_template(template_name).render(**values)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
