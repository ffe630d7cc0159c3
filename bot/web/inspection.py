"""Web side of 检务督导面对面: the session list and create form, the confidential bank page
(inspectors only, every view audited), the live big screen (SSE), the draw verification page,
the published draw data and the .docx report."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import re
from datetime import timedelta, tzinfo
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import inspection as service
from bot.context import Outbound
from bot.domain.draw import Manifest, verify
from bot.domain.inspection import (
    METHOD_LABELS,
    STAGE_LABELS,
    RawCreate,
    SessionParams,
    held_days,
    normalize_session_id,
    operator_verify_line,
    outsider_steps,
    parse_create,
    verify_message,
    verify_outcome,
)
from bot.domain.question_bank import (
    CATEGORIES,
    MADE_NEW_LABEL,
    BankError,
    BankPlan,
    asked_notes,
    digest,
    made_new_error,
    plan_import,
    questions_from_json,
    questions_to_json,
    read_file,
)
from bot.inspection_report import (
    ReportData,
    ReportQuestion,
    ReportUnit,
    build_report,
    unreported_line,
)
from bot.web import (
    ApiError,
    TooLarge,
    form_body,
    json_response,
    loads_strict,
    multipart_fields,
    render,
)
from bot.web.session import login_page, session_person
from cards.inspection import UnitView
from config.model import ROLE_LABELS, Person
from storage import audit
from storage import inspection as store

if TYPE_CHECKING:
    from bot.app import App
    from bot.directory import Directory

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
RECONNECT_SECONDS = 5  # a screen whose stream ended for want of Redis tries again this often
MAX_UPLOAD = 5 * 1024 * 1024
MAX_CONFIRM = 4 * MAX_UPLOAD  # the parsed questions sent back (an .xlsx is compressed)
BANK_TOKEN = "bank-import"
MISSING_SHOWN = 20  # the preview names the first ids the file leaves out
CONFIRM_FOR = timedelta(minutes=30)
MAX_MADE_NEW = 1000  # 作为新题 ticks read from one confirm form (a real bank: a few hundred)
NOTHING_TO_IMPORT = "这些题目已导入，题库无需更改"
# what the confirm's redirect says (?imported=…), and nothing else: a link of anyone's making
# would otherwise put its own words, as the system's, on the confidential bank page
_IMPORTED = re.compile(rf"新增\d+道，更新\d+道(，停用\d+道)?|{NOTHING_TO_IMPORT}")


class InspectionWeb:
    def __init__(self, app: App) -> None:
        self.app = app
        self._streams: set[asyncio.Task[Any]] = set()  # open big-screen event streams
        self._closing = False
        self._live_down = False  # Redis unreachable: said once, not at every reconnect

    async def close_streams(self, _: web.Application) -> None:
        """On shutdown (aiohttp's on_shutdown, before it waits for running handlers): end every
        open event stream now. Otherwise a stop (SIGTERM in a rolling restart) waits for each
        stream's next keep-alive or aiohttp's shutdown timeout. The page's EventSource
        reconnects, through the load balancer, to an instance that is still up."""
        self._closing = True
        for task in list(self._streams):
            task.cancel()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/inspection", self.index),
            web.post("/inspection/sessions", self.create),
            web.get("/inspection/bank", self.bank_page),
            web.post("/inspection/bank/preview", self.bank_preview),
            web.post("/inspection/bank/confirm", self.bank_confirm),
            web.get("/inspection/{sid}/report.docx", self.report),
            web.get("/live/{sid}", self.live_page),
            web.get("/live/{sid}/state", self.live_state),
            web.get("/live/{sid}/events", self.live_events),
            web.get("/draw/verify", self.verify_page),
            web.post("/draw/verify", self.verify_post),
            web.get("/draw/verify.py", self.verifier),
            web.get("/draw/spec", self.spec),
            web.get("/draw/{sid}/manifest.json", self.manifest),
            web.get("/draw/{sid}/publication.json", self.publication),
        ]

    # -- who is looking -------------------------------------------------------------------------
    def _person(self, request: web.Request) -> Person | None:
        s = self.app.services
        pid = session_person(request, s.signer, s.clock.now())
        return s.directory.person(pid) if pid else None

    def _signed_in(self, request: web.Request) -> Person:
        person = self._person(request)
        if person is None:
            page = login_page(request, self.app.settings.config.transports.console_on)
            raise web.HTTPUnauthorized(text=page.text, content_type="text/html")
        return person

    def _require(self, request: web.Request, *roles: str) -> Person:
        person = self._signed_in(request)
        if not person.has(*roles):
            allowed = "、".join(ROLE_LABELS.get(r, r) for r in roles)
            mine = "、".join(ROLE_LABELS.get(r, r) for r in person.roles)
            raise _page_error(403, f"本页面仅限{allowed}打开，您（{person.name}，{mine}）无权查看。"
                                   "题库和会议材料严格保密，如需查阅请联系省院检务督察部门。")
        return person

    async def _session_or_404(self, db: AsyncSession, sid: str) -> store.InspectionSession:
        s = await store.get_session(db, sid)
        if s is None:
            raise _page_error(404, f"督导会议 {sid[:40]} 不存在。")
        return s

    def _may_watch(self, request: web.Request, s: store.InspectionSession) -> bool:
        services = self.app.services
        token = request.query.get("t")
        if token:
            data = services.signer.verify("live", token, services.clock.now())
            if data and data.get("s") == s.id:
                return True
        person = self._person(request)
        return person is not None and service.may_open(services.directory, person, s)

    def _refusal(self, person: Person, s: store.InspectionSession) -> str:
        """The rule, then who the viewer is: the relation is what is missing, not only a role."""
        d = self.app.services.directory
        mine = "、".join(ROLE_LABELS.get(r, r) for r in person.roles)
        return (f"{service.open_rule(d, s)}。您（{person.name}，{mine}，{d.unit_name(person.unit)}）"
                "无权查看。会议材料严格保密，如需查阅请联系省院检务督察部门。")

    def _require_session(self, request: web.Request, s: store.InspectionSession) -> Person:
        """A signed-in viewer with a relation to the session (service.may_open), else 403."""
        person = self._signed_in(request)
        if not service.may_open(self.app.services.directory, person, s):
            raise _page_error(403, self._refusal(person, s))
        return person

    def _watch_refused(self, request: web.Request,
                       s: store.InspectionSession) -> web.HTTPException:
        """Why the big screen does not open: an expired 打开大屏 link says so, and that the host's
        「督导 状态 <会议号>」 answers with a fresh one."""
        fresh = f"请主持会议的督察在会议群内发送「督导 状态 {s.id}」，回复中附有新的大屏链接"
        token = request.query.get("t")
        data = self.app.services.signer.genuine("live", token) if token else None
        if data is not None and data.get("s") == s.id:
            return _page_error(403, f"该「打开大屏」链接已过期（链接有效期 {service.LIVE_LINK_DAYS} 天）。"
                                    f"{fresh}；会议群成员也可以登录后直接打开本页。",
                               title="大屏链接已过期")
        if token:
            return _page_error(403, f"该大屏链接无效（可能复制不完整）。{fresh}；"
                                    "会议群成员也可以登录后直接打开本页。", title="大屏链接无效")
        person = self._person(request)
        if person is not None:  # signed in, but no relation to this session
            return _page_error(403, f"{self._refusal(person, s)}投屏请使用会议群内的「打开大屏」"
                                    f"链接（主持会议的督察在群内发送「督导 状态 {s.id}」可获取新链接）。")
        return _page_error(403, "请使用会议群内的「打开大屏」链接打开（主持会议的督察在群内发送"
                                f"「督导 状态 {s.id}」可获取新链接），或登录后打开："
                                f"{service.open_rule(self.app.services.directory, s)}。")

    # -- sessions -------------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.Response:
        person = self._require(request, "inspector")
        return await self._index(person, created=request.query.get("created", "")[:40])

    async def _index(self, person: Person, errors: list[str] | None = None,
                     form: dict[str, str] | None = None, status: int = 200,
                     created: str = "") -> web.Response:
        """The sessions and the create form; after creating (`created`, where the form
        redirects), what was created, with the note `督导 新建` gives in chat on a 专项
        question an earlier session already asked."""
        d = self.app.services.directory
        done: dict[str, str] | None = None
        async with self.app.services.db() as db:
            sessions = await store.list_sessions(db)
            size = await store.bank_size(db)
            if created and (s := await store.get_session(db, created)) is not None:
                done = {"id": s.id, "chat": d.chat_title(s.chat),
                        "note": await service.special_asked_before(
                            Outbound(self.app.services, db), s)}
        rows = [{"id": s.id, "title": s.title, "stage": STAGE_LABELS.get(s.stage, s.stage),
                 "chat": d.chat_title(s.chat), "drawn": s.drawn_at is not None}
                for s in sessions]
        chats = [c for c in d.chats_of(person.id)]
        return render("inspection_index.html", status=status, person=person, sessions=rows,
                      chats=chats, errors=errors or [], form=form or {}, bank_size=size,
                      created=done,
                      answer_seconds=self.app.settings.config.inspection.answer_seconds,
                      demo=d.org.demo)

    async def create(self, request: web.Request) -> web.Response:
        person = self._require(request, "inspector")
        form = {k: str(v) for k, v in (await form_body(request)).items()}
        raw, errors = _raw_from_form(form)
        if errors:
            return await self._index(person, errors, form, 400)
        services = self.app.services
        async with services.db() as db, db.begin():
            if await store.latest_in_chat(db, raw.values.get("chat", ""), open_only=True):
                errors = ["该群已有进行中的督导会议，请先在群内发送「结束」。"]
                s = None
            else:
                s, errors = await service.create_session(Outbound(services, db), person, raw, None)
        if s is None:
            return await self._index(person, errors, form, 400)
        raise web.HTTPSeeOther(f"/inspection?created={s.id}")

    # -- the bank -------------------------------------------------------------------------------
    async def bank_page(self, request: web.Request) -> web.Response:
        person = self._require(request, "inspector")
        services = self.app.services
        category = request.query.get("category", "")
        imported = request.query.get("imported", "")
        async with services.db() as db, db.begin():
            questions = await store.all_questions(db)
            asked = set(await store.asked_question_ids(db))
            if category in CATEGORIES:
                questions = [q for q in questions if q.category == category]
            await audit.append(db, at=services.clock.now(), actor=person.id,
                               action="inspection.bank.list", subject="bank",
                               data={"via": "web", "category": category or None,
                                     "ids": [q.id for q in questions]})
        rows = [{"id": q.id, "category": q.category, "text": q.text, "points": q.points,
                 "dept": q.source_department, "tags": "、".join(q.tag_list),
                 "asked": q.id in asked, "demo": q.demo} for q in questions]
        resp = render("inspection_bank.html", person=person, questions=rows,
                      categories=CATEGORIES, category=category,
                      message=imported if _IMPORTED.fullmatch(imported) else "")
        resp.headers["Cache-Control"] = "no-store"  # every question's text and points
        return resp

    async def bank_preview(self, request: web.Request) -> web.Response:
        """The uploaded file against the bank as it is now: new, changed (ids, categories and
        which fields) and unchanged questions, or the file's errors. Nothing is imported; the
        confirm form sends the parsed questions back with a signed digest of them."""
        person = self._require(request, "inspector")
        services = self.app.services
        if request.content_type != "multipart/form-data":
            raise _page_error(400, "请选择 .yaml、.csv 或 .xlsx 文件。")
        try:  # read as a stream: a larger file is refused before it is held
            name, data = (await multipart_fields(request, ("file",), MAX_UPLOAD)).get(
                "file", ("", b""))
        except TooLarge:
            raise _page_error(400, "文件超过 5 MB。") from None
        except ValueError:  # no boundary, a broken part
            raise _page_error(400, "上传的表单格式有误，请在页面上重新选择文件提交。") from None
        if not name:
            raise _page_error(400, "请选择 .yaml、.csv 或 .xlsx 文件。")
        filename = name[-80:]
        try:
            # seconds of CPU for a big workbook: off the loop, so other chats keep answering
            parsed = await asyncio.to_thread(read_file, name, data)
        except BankError as e:
            return render("inspection_import_errors.html", status=400, errors=e.errors,
                          filename=filename, categories=CATEGORIES)
        questions, demo = parsed.questions, parsed.demo
        payload = questions_to_json(questions)
        if len(payload.encode()) > MAX_CONFIRM:
            raise _page_error(400, "题库内容过大，请分批导入。")
        now = services.clock.now()
        async with services.db() as db, db.begin():
            plan = plan_import(await store.bank_snapshot(db), questions, demo)
            notes = asked_notes(plan.changed, await store.asks_of_questions(
                db, [c.id for c in plan.changed]))
            # asked questions whose text the file changes: a typo fix, or the id reused for
            # another question; the inspector ticks the latter (作为新题)
            asked = set(await store.asked_question_ids(db))
            reusable = [i for i in plan.text_changed if i in asked]
            before = await store.last_asked(db, reusable)
            # the preview shows existing ids and their categories: a read of the bank, audited
            await audit.append(db, at=now, actor=person.id, action="inspection.bank.preview",
                               subject="bank", data={"via": "web", **_plan_ids(plan)})
        token = services.signer.sign(BANK_TOKEN, {
            "p": person.id, "h": digest(payload), "b": plan.base_version, "d": demo,
            "f": filename, "r": reusable}, now + CONFIRM_FOR)
        in_file = {q.id: q for q in questions}
        reused = [{"id": i, "session": before[i][0], "asked": before[i][1].text,
                   "file": in_file[i].text} for i in reusable if i in before]
        resp = render("inspection_import_preview.html", person=person, plan=plan,
                      reused=reused, made_new_label=MADE_NEW_LABEL,
                      filename=filename, total=len(questions), demo=demo, payload=payload,
                      notes=notes, file_notes=parsed.notes, missing_shown=MISSING_SHOWN,
                      token=token, minutes=int(CONFIRM_FOR.total_seconds()) // 60)
        resp.headers["Cache-Control"] = "no-store"  # the confirm form carries the texts
        return resp

    async def bank_confirm(self, request: web.Request) -> web.Response:
        """Confirmed: apply exactly the previewed questions, unless the bank changed since."""
        person = self._require(request, "inspector")
        services = self.app.services
        fields, made_new = await _confirm_fields(request)
        retire_missing = fields.get("retire") == "1"
        payload, now = fields.get("questions", ""), services.clock.now()
        signed = services.signer.verify(BANK_TOKEN, fields.get("token", ""), now)
        if (signed is None or signed.get("p") != person.id
                or signed.get("h") != digest(payload)):
            raise _page_error(400, "确认已失效（预览超过 30 分钟或页面内容有误），本次未导入。"
                                   "请重新上传文件预览。")
        questions, demo = questions_from_json(payload), bool(signed.get("d"))
        offered = [str(i) for i in signed.get("r") or ()]
        if (error := made_new_error(made_new, offered)) is not None:
            raise _page_error(400, f"{error}。本次未导入，请重新上传文件预览。")
        async with services.db() as db, db.begin():
            plan = plan_import(await store.bank_snapshot(db, lock=True), questions, demo)
            retire = plan.missing if retire_missing else ()
            if plan.empty and not retire:  # a second click, or the same file imported meanwhile
                raise web.HTTPSeeOther(f"/inspection/bank?imported={NOTHING_TO_IMPORT}")
            if plan.base_version != signed.get("b"):
                raise _page_error(409, "题库在预览之后已被修改（可能有其他督察刚导入过），"
                                       "本次未导入。请重新上传文件预览。")
            write = plan.to_write
            added, updated = await store.import_questions(
                db, [q for q in questions if q.id in write], demo=demo, at=now,
                made_new=made_new)
            retired = await store.retire_questions(db, retire)
            await audit.append(db, at=now, actor=person.id,
                               action="inspection.bank.import", subject="bank",
                               data={"via": "web", "added": added, "updated": updated,
                                     "file": str(signed.get("f", "")), **_plan_ids(plan),
                                     "retired": list(retire), "made_new": made_new})
        done = f"新增{added}道，更新{updated}道" + (f"，停用{retired}道" if retired else "")
        raise web.HTTPSeeOther(f"/inspection/bank?imported={done}")

    # -- report ---------------------------------------------------------------------------------
    async def report(self, request: web.Request) -> web.Response:
        self._signed_in(request)  # 401 first: whether a session exists is not for strangers
        sid = request.match_info["sid"]
        services = self.app.services
        async with services.db() as db, db.begin():
            s = await self._session_or_404(db, sid)
            person = self._require_session(request, s)
            data = await report_data(services.directory, db, s, services.config.tz,
                                     services.config.web.base_url)
            await audit.append(db, at=services.clock.now(), actor=person.id,
                               action="inspection.report", subject=sid, data={"via": "web"})
        return web.Response(
            body=build_report(data),
            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            # the asked questions and their points: not kept in a shared browser's cache
            headers={"Content-Disposition": f'attachment; filename="{sid}-report.docx"',
                     "Cache-Control": "no-store"})

    # -- live big screen ------------------------------------------------------------------------
    async def live_page(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        async with self.app.services.db() as db:
            s = await self._session_or_404(db, sid)
        if not self._may_watch(request, s):
            raise self._watch_refused(request, s)
        # the full address: the audience reads it off the projector and types it
        verify_url = f"{self.app.services.config.web.base_url}/draw/verify?session="
        return render("inspection_live.html", sid=sid, title=s.title, verify_url=verify_url,
                      token=request.query.get("t", ""), demo=self.app.services.directory.org.demo)

    async def live_state(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        state = await self._state_for(request, sid)
        return json_response(state)

    async def _state_for(self, request: web.Request, sid: str) -> dict[str, Any]:
        async with self.app.services.db() as db:
            s = await store.get_session(db, sid)
            if s is None:
                raise ApiError(404, f"督导会议 {sid[:40]} 不存在")
            if not self._may_watch(request, s):
                person = self._person(request)
                raise ApiError(403, f"无权查看该会议大屏：{self._refusal(person, s)}"
                                    if person is not None else
                                    f"无权查看该会议大屏：请使用会议群内的「打开大屏」链接，或登录后打开"
                                    f"（{service.open_rule(self.app.services.directory, s)}）")
            return await screen_state(self.app.services.directory, db, s,
                                      self.app.services.clock.now().isoformat())

    async def live_events(self, request: web.Request) -> web.StreamResponse:
        sid = request.match_info["sid"]
        await self._state_for(request, sid)  # checks access before streaming
        hub = service.publisher(self.app.services).hub
        resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        task = asyncio.current_task()
        assert task is not None
        self._streams.add(task)
        try:
            with contextlib.suppress(ConnectionResetError):
                async with hub.subscription(service.channel(sid)) as sub:
                    if self._live_down:
                        self._live_down = False
                        log.info("live: redis reachable again, big screens updating")
                    await _sse(resp, await self._state_for(request, sid))
                    while True:
                        msg = await sub.get(KEEPALIVE_SECONDS)
                        if msg is None:
                            await resp.write(b": keepalive\n\n")
                            continue
                        await _sse(resp, await self._state_for(request, sid))
        except RedisError as e:  # the fan-out is down: end the stream, the page retries
            if not self._live_down:
                self._live_down = True
                log.warning("live: redis unavailable, big screens stopped updating (%s); they "
                            "reconnect every %ds", e, RECONNECT_SECONDS)
            with contextlib.suppress(ConnectionResetError):
                await resp.write(f"retry: {RECONNECT_SECONDS * 1000}\n\n".encode())
        except asyncio.CancelledError:
            if not self._closing:
                raise
            task.uncancel()  # our own shutdown cancelled it: end the stream normally
        finally:
            self._streams.discard(task)
        return resp

    # -- verification ---------------------------------------------------------------------------
    # The page verifies on the server, for convenience; what makes the draw verifiable without
    # trusting the bot is the outsider's path it spells out (outsider_steps): the published
    # files, the stand-alone verify.py (bot/domain/draw.py, served unchanged) and the spec.
    def _verify_page(self, *, sid: str = "", text: str = "", result: dict[str, Any] | None = None,
                     summary: dict[str, Any] | None = None, note: str = "", typed: str = "",
                     status: int = 200) -> web.Response:
        """`typed`: an id that found no session, kept in its field to be corrected."""
        base = self.app.services.config.web.base_url
        return render("draw_verify.html", status=status, sid=sid, typed=typed or sid, text=text,
                      result=result,
                      summary=summary or {}, note=note, base_url=base,
                      steps=outsider_steps(base, sid or "<会议编号>"),
                      operator=operator_verify_line(sid or "<会议编号>"),
                      verifier_sha256=verifier_sha256())

    async def verify_page(self, request: web.Request) -> web.Response:
        typed = request.query.get("session", "")
        if not typed.strip():
            return self._verify_page()
        return await self._verify_session(typed)

    async def _verify_session(self, typed: str) -> web.Response:
        """By session id, however it was typed (dd20261127-01, ＤＤ20261127－01). An unknown id
        checked nothing: 无法复核 with what to do, never the mismatch heading."""
        sid = normalize_session_id(typed)
        async with self.app.services.db() as db:
            s = await store.get_session(db, sid) if sid else None
        if s is None:
            shown = sid[:40] or typed.strip()[:40]
            return self._verify_page(status=404, typed=typed.strip()[:40], result={
                "outcome": "unusable",
                "line": f"无法复核：没有编号为「{shown}」的督导会议。请核对会议编号（见抽签承诺卡片"
                        "或大屏，形如 DD20261102-01），或在下方粘贴公布的抽签数据复核。"})
        pub = service.publication_of(s)
        if pub is None:  # the commitment card's 复核说明: the steps, for after the draw
            return self._verify_page(sid=s.id, note=f"会议 {s.id} 尚未抽签。请现在保存抽签清单"
                                                    "（或承诺卡片），抽签后按下列步骤复核。")
        return self._verify_response(pub, s.id, json.dumps(pub, ensure_ascii=False, indent=1))

    def _verify_response(self, pub: Any, sid: str, text: str) -> web.Response:
        report = verify(pub) if isinstance(pub, dict) else verify({})
        names = self._unit_names()
        summary: dict[str, Any] = {}
        if report.match:
            m = Manifest.from_dict(pub["manifest"])
            names = {u.id: f"{u.city_name} · {u.name}" for u in m.units}
            summary = {"units": [names.get(u, u) for u in pub["result"]["units"]],
                       "entropy": pub["result"]["entropy"], "source": m.entropy_source,
                       "hash": pub["result"]["manifest_hash"]}
        outcome = verify_outcome(report)
        # pasted JSON that is no publication is bad input: nothing was re-run
        return self._verify_page(sid=sid, text=text, summary=summary,
                                 status=400 if outcome == "unusable" else 200,
                                 result={"outcome": outcome, "line": verify_message(report, names)})

    async def verify_post(self, request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            return await self._verify_api(request)
        form = await form_body(request)
        typed = str(form.get("session") or "")
        if typed.strip():
            return await self._verify_session(typed)
        text = str(form.get("publication") or "")
        if not text.strip():  # a button tapped with its field empty: say what to fill in
            return self._verify_page(status=400, result={
                "outcome": "unusable",
                "line": "无法复核：请填写会议编号（形如 DD20261102-01）" if "session" in form
                        else "无法复核：请粘贴公布的抽签数据（publication.json 的全部内容）"})
        try:
            pub = loads_strict(text)
        except ValueError as e:
            where = f"（第 {e.lineno} 行第 {e.colno} 列附近）" if isinstance(e, json.JSONDecodeError) \
                else ""  # nested too deeply, or a lone surrogate
            return self._verify_page(status=400, text=text, result={
                "outcome": "unusable",
                "line": f"无法复核：粘贴的内容不是合法的 JSON{where}，请粘贴完整的抽签公布数据"})
        return self._verify_response(pub, "", text)

    async def _verify_api(self, request: web.Request) -> web.Response:
        """POST JSON: a publication itself, `{"publication": <it, or its text>}` or
        `{"session": <id>}`, as the page's two fields. Input that checked nothing is no
        MISMATCH: unreadable → 400, an unknown or not yet drawn session → 404, each
        `{"error": "无法复核：…"}`; `match` is false only when the re-run differs."""
        try:
            body = loads_strict(await request.text())
        except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
            raise ApiError(400, "无法复核：请求体不是合法的 JSON") from None
        pub: Any = body
        if isinstance(body, dict) and "session" in body and "manifest" not in body:
            typed = body["session"]
            sid = normalize_session_id(typed) if isinstance(typed, str) else ""
            if not sid:
                raise ApiError(400, "无法复核：session 须为督导会议编号，形如 DD20261102-01", "session")
            async with self.app.services.db() as db:
                s = await store.get_session(db, sid)
            if s is None:
                raise ApiError(404, f"无法复核：没有编号为「{sid}」的督导会议。请核对会议编号"
                                    "（见抽签承诺卡片或大屏，形如 DD20261102-01）", "session")
            pub = service.publication_of(s)
            if pub is None:
                raise ApiError(404, f"无法复核：会议 {s.id} 尚未抽签，抽签后公布抽签数据", "session")
        elif isinstance(body, dict) and "publication" in body and "manifest" not in body:
            pub = body["publication"]
            if isinstance(pub, str):
                try:
                    pub = loads_strict(pub)
                except ValueError:
                    raise ApiError(400, "无法复核：publication 不是合法的 JSON，"
                                        "请提供完整的抽签公布数据", "publication") from None
        report = verify(pub) if isinstance(pub, dict) else verify({})
        message = verify_message(report, self._unit_names())
        if verify_outcome(report) == "unusable":  # nothing was re-run
            raise ApiError(400, message)
        return json_response({"match": report.match, "result": str(report),
                              "first_difference": report.first_difference, "message": message})

    async def verifier(self, request: web.Request) -> web.Response:
        """bot/domain/draw.py byte for byte: the stand-alone verifier (standard library only),
        shown in the browser and saved as verify.py."""
        return web.Response(body=verifier_source(), content_type="text/plain", charset="utf-8",
                            headers={"Content-Disposition": 'inline; filename="verify.py"',
                                     "X-Content-Type-Options": "nosniff"})

    async def spec(self, request: web.Request) -> web.Response:
        """The draw's specification (bot/domain/draw.md), shipped with the package."""
        return web.Response(body=spec_source(), content_type="text/markdown", charset="utf-8",
                            headers={"Content-Disposition": 'inline; filename="draw.md"',
                                     "X-Content-Type-Options": "nosniff"})

    def _unit_names(self) -> dict[str, str]:
        return {u.id: u.name for u in self.app.services.directory.org.units}

    async def manifest(self, request: web.Request) -> web.Response:
        async with self.app.services.db() as db:
            s = await self._session_or_404(db, request.match_info["sid"])
        return json_response({"manifest": json.loads(s.manifest), "manifest_hash": s.manifest_hash})

    async def publication(self, request: web.Request) -> web.Response:
        async with self.app.services.db() as db:
            s = await self._session_or_404(db, request.match_info["sid"])
        pub = service.publication_of(s)
        if pub is None:
            raise ApiError(404, "尚未抽签：抽签后公布抽签数据")
        return json_response(pub)


PAGE_ERRORS: dict[int, tuple[type[web.HTTPException], str]] = {
    400: (web.HTTPBadRequest, "无法处理"), 403: (web.HTTPForbidden, "无权查看"),
    404: (web.HTTPNotFound, "未找到"), 409: (web.HTTPConflict, "未能完成"),
}


def _page_error(status: int, message: str, title: str = "") -> web.HTTPException:
    """A refusal of a page (not of the API): the styled, phone-sized error.html the other pages
    use, with the status."""
    cls, default = PAGE_ERRORS[status]
    page = render("error.html", title=title or default, message=message)
    return cls(text=page.text, content_type="text/html")


def _plan_ids(plan: BankPlan) -> dict[str, Any]:
    """For the audit record: ids and counts, never a text."""
    return {"new": [i for i, _ in plan.new], "changed": [c.id for c in plan.changed],
            "unchanged": len(plan.unchanged), "missing": len(plan.missing)}


async def _confirm_fields(request: web.Request) -> tuple[dict[str, str], list[str]]:
    """The bank confirm form: its fields, and the ids ticked 作为新题 (one `new` checkbox
    per offered question, so the name repeats), in form order, once each."""
    if request.content_type != "multipart/form-data":
        raise _page_error(400, "表单格式有误，请重新上传文件预览。")
    fields: dict[str, str] = {}
    made_new: list[str] = []

    async def read(part: BodyPartReader, limit: int) -> str:
        data = bytearray()
        while chunk := await part.read_chunk():
            data += chunk
            if len(data) > limit:
                raise TooLarge(part.name or "")
        return data.decode()

    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name in ("questions", "token", "retire"):
                fields[part.name] = await read(part, MAX_CONFIRM)
            elif part.name == "new" and len(made_new) < MAX_MADE_NEW:
                qid = (await read(part, 200)).strip()
                if qid and qid not in made_new:
                    made_new.append(qid)
    except TooLarge:
        raise _page_error(400, "表单过大，请重新上传文件预览。") from None
    except (ValueError, UnicodeDecodeError):
        raise _page_error(400, "表单格式有误，请重新上传文件预览。") from None
    return fields, made_new


async def _sse(resp: web.StreamResponse, state: dict[str, Any]) -> None:
    data = json.dumps(state, ensure_ascii=False)
    await resp.write(f"event: state\ndata: {data}\n\n".encode())


@functools.cache
def verifier_source() -> bytes:
    """The stand-alone verifier served as /draw/verify.py: the reference implementation itself,
    so there is no second copy of the algorithm to drift."""
    return resources.files("bot.domain").joinpath("draw.py").read_bytes()


@functools.cache
def verifier_sha256() -> str:
    return hashlib.sha256(verifier_source()).hexdigest()


@functools.cache
def spec_source() -> bytes:
    return resources.files("bot.domain").joinpath("draw.md").read_bytes()


def _raw_from_form(form: dict[str, str]) -> tuple[RawCreate, list[str]]:
    """The web form is the chat syntax with one field per key."""
    parts = []
    for field, key in (("unit_count", "单位数"), ("questions_per_unit", "题数"), ("method", "方式"),
                       ("exclude_recent", "排除近期"), ("entropy_name", "熵源"),
                       ("entropy_format", "熵格式"), ("answer_seconds", "计时"), ("chat", "群")):
        v = form.get(field, "").strip()
        if v:  # a source's name keeps its words (福彩3D 2026-11-29 开奖号码), one space apart
            parts.append(f"{key}={' '.join(v.split()) if field == 'entropy_name' else v.replace(' ', '')}")
    parts.append("每市一个=" + ("是" if form.get("one_per_city") else "否"))
    special = ";".join(line.strip().replace(" ", "") for line in form.get("special", "").splitlines()
                       if line.strip())
    if special:
        parts.append(f"专项={special}")
    reports = form.get("reports", "").strip().replace(" ", "")
    if reports:
        parts.append(f"整改汇报={reports}")
    raw, errors = parse_create(" ".join(parts), titled=False)
    raw.title = form.get("title", "").strip()
    if not raw.title:
        errors.append("请填写会议标题")
    if not form.get("chat"):
        errors.append("请选择会议群")
    return raw, errors


# -- read models ----------------------------------------------------------------------------------

QUESTIONING = ("inquiry", "comment", "answer")  # the stages with a unit in front of the room


async def screen_state(d: Any, db: AsyncSession, s: store.InspectionSession,
                       now: str) -> dict[str, Any]:
    """What the big screen shows. A question's text is included only once revealed, its answer
    points only once published."""
    asks = await store.asks_of(db, s.id)
    views = service.unit_views(d, asks)
    p = service.params_of(s)
    out: dict[str, Any] = {
        "id": s.id, "title": s.title, "stage": s.stage,
        "stage_label": STAGE_LABELS.get(s.stage, s.stage), "now": now,
        "version": s.updated_at.isoformat(), "draw": None, "current": None, "question": None,
        "answers": [], "timer": None, "demo": bool(d.org.demo),
    }
    if s.result is not None:
        result = json.loads(s.result)
        groups: dict[int, list[store.Ask]] = {}
        for a in asks:
            groups.setdefault(a.position, []).append(a)
        # a unit is marked current while it is being questioned, commented on or answered,
        # as the panel shows it: not after the inquiries (整改汇报) nor once the session closed
        questioned = s.current if s.stage in QUESTIONING else None
        out["draw"] = {
            "entropy": result["entropy"], "manifest_hash": s.manifest_hash,
            "units": [{"pos": v.pos, "name": v.name, "city": v.city, "kind": v.kind,
                       "done": all(a.answer_published_at for a in groups[v.pos]),
                       "current": v.pos == questioned} for v in views],
        }
    cur = next((v for v in views if v.pos == s.current), None)
    if cur is not None and s.stage in QUESTIONING:
        group = [a for a in asks if a.position == cur.pos]
        revealed = [a for a in group if a.revealed_at is not None]
        out["current"] = {"name": cur.name, "city": cur.city, "chief": cur.chief,
                          "kind": cur.kind, "total": len(group), "revealed": len(revealed)}
        qs = await store.asked_questions(db, revealed)  # as revealed, not as the bank is now
        if revealed:
            last = revealed[-1]
            q = qs[last.id]
            out["question"] = {"seq": last.seq + 1, "total": len(group), "category": q.category,
                               "text": q.text}
        out["answers"] = [{"seq": a.seq + 1, "text": qs[a.id].text, "points": list(qs[a.id].points)}
                          for a in revealed if a.answer_published_at is not None]
        if s.stage == "inquiry" and s.timer_started_at is not None and revealed:
            out["timer"] = {"started_at": s.timer_started_at.isoformat(),
                            "seconds": p.answer_seconds}
    out["phase"] = await _phase(d, db, s, p, views, cur, out["current"])
    return out


def _screen_unit(d: Any, unit_id: str) -> dict[str, str | None]:
    """A unit as the big screen names it: its name, its city, its chief (None: not on the
    roster)."""
    city = d.city_of(unit_id)
    chief = d.chief_of(unit_id)
    return {"name": d.units[unit_id].name, "city": city.name if city else "",
            "chief": chief.name if chief else None}


async def _phase(d: Any, db: AsyncSession, s: store.InspectionSession, p: SessionParams,
                 views: list[UnitView], cur: UnitView | None,
                 current: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the room is doing when no question is on the screen (or during 点评): for the
    audience, never a word to the host, and never a question not yet revealed. None while a
    question or the published answers fill the screen."""
    if s.stage == "created":
        return {"kind": "waiting", "title": "会议即将开始"}
    if s.stage == "agenda":
        return {"kind": "waiting", "title": "即将抽签",
                "text": f"随机抽取 {p.unit_count} 个基层院，每院 {p.questions_per_unit} 题"}
    if s.stage == "drawn" and views:
        return {"kind": "next", "title": "抽签完成，即将问询第 1 个单位",
                "unit": _screen_unit(d, views[0].id)}
    if s.stage == "inquiry" and current is not None and not current["revealed"]:
        return {"kind": "waiting", "title": "即将公布第 1 题"}
    if s.stage == "comment" and cur is not None:
        city = d.city_of(cur.id)
        chief = d.chief_of(city.id) if city else None
        return {"kind": "comment", "title": "点评", "unit": cur.name,
                "commenter": chief.name if chief else None,
                "office": city.name if city else ""}
    if s.stage == "rectification":
        latest = {n.unit_id: n.status for n in service.latest_reports(
            await store.notes_of(db, s.id))}
        due = [u for u in p.rectification_units or () if u in d.units]
        reported = await store.reported_counts(db, due)  # 整改完成 reports, to check live
        units: list[dict[str, Any]] = [
            {**_screen_unit(d, u), "status": latest.get(u), "reported": reported.get(u, 0)}
            for u in due]
        return {"kind": "reports", "title": "整改汇报", "units": units,
                "text": "" if units else "本次会议没有需要整改汇报的单位"}
    if s.stage == "closed":
        return {"kind": "closed", "title": "会议已结束"}
    return None


async def report_data(d: Directory, db: AsyncSession, s: store.InspectionSession,
                      tz: tzinfo, base_url: str) -> ReportData:
    asks = await store.asks_of(db, s.id)
    notes = await store.notes_of(db, s.id)
    qs = await store.asked_questions(db, [a for a in asks if a.revealed_at])  # as revealed

    units = []
    for v in service.unit_views(d, asks):
        questions = tuple(
            ReportQuestion(q.id, q.category, q.text, q.points if a.answer_published_at else ())
            for a in asks if a.position == v.pos and a.revealed_at
            for q in (qs[a.id],))
        comments = tuple(f"{d.person_name(n.author)}：{n.text}" for n in notes
                         if n.kind == "comment" and n.unit_id == v.id)
        units.append(ReportUnit(v.name, v.city, v.chief, v.kind, questions, comments))
    latest = service.latest_reports(notes)
    closed = await store.closed_counts(db, [n.id for n in latest])  # items still closed by it
    reports = [f"{d.units[n.unit_id].name}：{n.status}"
               f"{f'（销号整改事项 {closed[n.id]} 项）' if closed.get(n.id) else ''}。{n.text}"
               for n in latest if n.unit_id]
    if s.drawn_at is not None:  # a unit due that was not recorded is in the record, 未汇报
        recorded = {n.unit_id for n in latest}
        for uid in service.params_of(s).rectification_units or ():
            if uid in recorded:
                continue
            pending = [*await store.open_rectifications_for_unit(db, uid),
                       *await store.reported_rectifications_for_unit(db, uid)]
            reports.append(unreported_line(d.unit_name(uid), [
                (i.id, i.text, _item_status(i)) for i in sorted(pending, key=lambda i: i.id)
                if i.session_id != s.id]))
    items = await store.rectifications_of(db, s.id)
    tasks = await store.site_tasks_of(db, s.id)
    verification: list[tuple[str, str]] = [("抽签清单 SHA-256", s.manifest_hash)]
    manifest = json.loads(s.manifest)
    verification += [("密钥承诺 SHA-256", manifest["secret_commitment"]),
                     ("公开随机数来源", manifest["entropy_source"]),
                     ("抽签方式", METHOD_LABELS.get(manifest["method"], manifest["method"]))]
    if s.result:
        r = json.loads(s.result)
        verification += [("公开随机数", r["entropy"]), ("服务器密钥", r["secret_hex"]),
                         ("派生密钥", r["key_hex"]), ("抽中单位", "、".join(
                             d.unit_name(u) for u in r["units"])),
                         ("本系统复核结果", verify_message(verify(service.publication_of(s) or {}),
                                                     {u.id: u.name for u in d.org.units})),
                         ("复核程序 verify.py 的 SHA-256", verifier_sha256())]
        steps = (*outsider_steps(base_url, s.id), operator_verify_line(s.id))
    else:
        steps = ("本次会议未抽签，没有抽签结果需要复核。",)
    return ReportData(
        # the day it was held (draw and Q&A), not the day it was created
        sid=s.id, title=s.title, date=held_days(
            [s.drawn_at, *(t for a in asks for t in (a.revealed_at, a.answer_published_at))], tz)
        or "未举行（未抽签）",
        stage=STAGE_LABELS.get(s.stage, s.stage), demo=bool(d.org.demo), units=tuple(units),
        reports=tuple(reports),
        rectifications=tuple((f"#{i.id}", d.units[i.unit_id].name, i.text, d.person_name(i.owner_person_id),
                              f"{i.due_date:%Y-%m-%d}", _item_status(i))
                             for i in items),
        site_tasks=tuple((d.units[t.unit_id].name, d.person_name(t.assignee_person_id),
                          f"{t.due_date:%Y-%m-%d}" if t.due_date else "—", t.text) for t in tasks),
        verification=tuple(verification), verify_steps=steps)


def _item_status(item: store.RectificationItem) -> str:
    """An item's 状态 in the report: 已报告完成 when its chief reported it done (整改完成)."""
    if item.status != "closed":
        return "整改中"
    return "已报告完成" if item.closed_by_person else "已销号"
