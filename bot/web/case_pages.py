"""Case-code web pages: the code page behind the QR, the QR image, the score form, the outline
(补充侦查提纲) downloads and the statistics page. The viewer is the signed session cookie."""

from __future__ import annotations

import csv
import io
import uuid
from typing import TYPE_CHECKING, Any

import segno
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from bot import cases as ops
from bot import reviews
from bot.context import unit_of_work
from bot.domain.period import PERIOD_EXAMPLES, PeriodError, period_of_query, presets
from bot.domain.scoring import (
    Color,
    Evaluation,
    FieldError,
    cleared_items,
    open_deductions,
)
from bot.domain.stats import Group
from bot.events import MessageEvent
from bot.transports.console import MAX_ID
from bot.web import ApiError, json_body, json_response, render
from bot.web.cases_api import field_errors, parse_deductions, parse_vetoes, str_field
from bot.web.session import EXPIRED, EXPIRED_DRAFT_KEPT, login_page, session_person
from cards.cases import local
from cards.outline import outline_docx, outline_markdown
from cards.reviews import filer_next_step
from cards.stats import closed_text, intake_text, percent, period_query
from cards.stats import days as _days
from config.model import Person
from storage import cases as repo
from storage import messages as msgs
from storage import reviews as review_repo
from storage.cases import CaseRow
from storage.models import Message

if TYPE_CHECKING:
    from bot.app import App

QR_COLORS = {"red": "#c4271e", "yellow": "#a86f00", "green": "#17804a"}
QR_STALE = "#707070"  # an expired link: no colour, nothing to read from it


def fresh_code_hint(code: str) -> str:
    """What the holder of an expired link to a case does instead."""
    return f"链接已过期。请在聊天中发送「码 {code}」获取最新卡片。"


def _evaluation_json(ev: Evaluation, status: int) -> web.Response:
    return json_response({"version": ev.version, "score": ev.score, "color": ev.color.value,
                          "label": ev.color.label}, status=status)


def excel_text(value: str) -> str:
    """A CSV cell Excel shows as text: a leading =, +, -, @ (or tab, CR) would start a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _said(msg: Message) -> str:
    """A bot message as page text: its text, or its card's title and body."""
    card = msgs.message_card(msg)
    if msg.text or card is None:
        return msg.text or ""
    return "\n".join(x for x in (card.title, card.body) if x)


def _share(g: Group) -> str:
    return percent(g.green_at_intake, g.intakes) if g.intakes else ""


class CasePages:
    def __init__(self, app: App) -> None:
        self.app = app

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/c/{token}", self.code_page),
            web.get("/qr/{token}.png", self.qr),
            web.post("/c/{token}/review", self.file_review),
            web.post("/c/{token}/intake", self.take_in),
            web.get("/cases/{code}/score", self.score_form),
            web.post("/cases/{code}/score", self.score_submit),
            web.get("/cases/{code}/outline.docx", self.outline_docx),
            web.get("/cases/{code}/outline.md", self.outline_md),
            web.get("/stats", self.stats_page),
            web.get("/stats.csv", self.stats_csv),
        ]

    # -- helpers ------------------------------------------------------------------------------
    def _viewer(self, request: web.Request) -> Person | None:
        s = self.app.services
        pid = session_person(request, s.signer, s.clock.now())
        return s.directory.person(pid) if pid else None

    def _login_page(self, request: web.Request) -> web.Response:
        return login_page(request, self.app.settings.config.transports.console_on)

    def _deny(self, status: int, title: str, message: str) -> web.Response:
        return render("error.html", status=status, title=title, message=message)

    async def _read_link(self, token: str) -> tuple[str | None, str | None]:
        """(the case of a live link, the case of a genuine link that has expired): a code link
        lives while its case is open (`ops.link_expired`); a forged one is (None, None)."""
        payload = self.app.services.signer.genuine("code", token)
        code = payload.get("c") if payload else None
        if payload is None or not isinstance(code, str):
            return None, None
        async with self.app.services.db() as session:
            case = await repo.get_case(session, code)
        status = case.status if case is not None else repo.CLOSED
        if ops.link_expired(payload, status, self.app.services.clock.now()):
            return None, code
        return code, None

    def _bad_link(self, old: str | None) -> web.Response:
        # the code is in the token itself (signed, not hidden): naming it tells its holder
        # nothing new; a forged or damaged token is named nothing
        if old is not None:
            return self._deny(410, "链接已过期", fresh_code_hint(old))
        return self._deny(403, "链接无效或已过期",
                          "该案件码链接已被篡改或不完整，请向承办检察官索取最新案件码。")

    async def _viewable(self, request: web.Request, code: str
                        ) -> tuple[Person, CaseRow] | web.Response:
        viewer = self._viewer(request)
        if viewer is None:
            return self._login_page(request)
        async with unit_of_work(self.app.services) as out:
            case = await repo.get_case(out.session, code)
            if case is None:
                return self._deny(404, "案件不存在", f"未找到案件 {code}。")
            if not await ops.may_view(out, viewer, case):
                if (moved := await ops.reassigned_refusal(out, viewer, case)) is not None:
                    return self._deny(403, "案件已改派", moved)
                return self._deny(403, "无权查看", f"{ops.VIEW_RULE}此案件码。")
        return viewer, case

    # -- the code page -----------------------------------------------------------------------
    async def code_page(self, request: web.Request) -> web.Response:
        code, old = await self._read_link(request.match_info["token"])
        if code is None:
            return self._bad_link(old)
        got = await self._viewable(request, code)
        if isinstance(got, web.Response):
            return got
        viewer, case = got
        s = self.app.services
        tz = s.config.tz
        async with unit_of_work(s) as out:
            evs = await repo.evaluations(out.session, code)
            tcs = await repo.transcodes(out.session, code)
            last_intake = await repo.latest_intake(out.session, case)
            view = ops.case_view(out, case, last_intake,
                                 await ops.receipts_for(out, [viewer], case),
                                 await ops.taken_in_on(out, case))
            invs = await repo.investigators(out.session, code)
            await out.audit(viewer.id, "case.view", code, {"via": "page"})
            ev = evs[-1] if evs else None
            can_intake = ops.offers_intake(out, viewer, case, ev, last_intake)
            # the review form only for one who may file now (the check submitting makes); one
            # with an open request of their own sees that request instead
            can_review, open_review = False, None
            if viewer.id in invs:
                try:
                    await reviews.check_may_file(out, case, viewer)
                    can_review = True
                except reviews.AlreadyFiled as filed:
                    open_review = await reviews.review_view(out, filed.row, case)
                except reviews.ReviewError:
                    pass  # not scored, nothing to dispute, closed
            # every open request for whoever may see the case (a leader's 责任倒查 included):
            # its state and a scheduled 共同评议's time; the viewer's own is shown as theirs
            open_reviews = [await reviews.review_view(out, row, case)
                            for row in await review_repo.open_for(out.session, code)
                            if open_review is None or row.id != open_review.id]
        template = s.settings.template
        deductions = [
            {"label": template.item(d.item).label, "points": d.points, "problem": d.problem,
             "purpose": d.purpose, "matters": d.matters, "requirement": d.requirement}
            for d in (ev.deductions if ev else ())
        ]
        timeline = [{"at": local(e.at, tz), "version": e.version, "score": e.score,
                     "color": e.color.value, "label": e.color.label,
                     "by": s.directory.person_name(e.by),
                     "transcode": next((f"{Color(t.from_color).label} → {Color(t.to_color).label}"
                                        for t in tcs if t.to_version == e.version), None),
                     "cleared": "、".join(template.item(i).label
                                         for i in cleared_items(prev, e))}
                    for prev, e in zip([None, *evs], evs, strict=False)]
        receipts = [{"name": r.name, "delivered": r.delivered_text(tz),
                     "acknowledged": r.acknowledged_text(tz), "late": r.delivered_at is None,
                     "unacked": r.acknowledged_at is None} for r in view.receipts or ()]
        return render(
            "code_page.html", case=view, ev=ev, deductions=deductions, timeline=timeline,
            receipts=receipts,
            vetoes=[template.item(v).label for v in (ev.vetoes if ev else ())],
            open_reviews=open_reviews,
            custody_passed=view.custody_passed,
            viewer=viewer, token=request.match_info["token"],
            closed=case.status == repo.CLOSED,
            closed_at=(local(case.closed_at, tz) if case.status != "open" and case.closed_at
                       else None),
            can_review=can_review, open_review=open_review,
            open_review_next=filer_next_step(open_review) if open_review else None,
            can_score=viewer.id == case.prosecutor and case.status == repo.OPEN,
            can_intake=can_intake,
            open_items=[template.item(d.item).label for d in open_deductions(ev)],
            # the card's items in the card's order: a veto once, though it has an entry too
            review_items=[{"id": i, "label": template.item(i).label
                           + ("（一票否决）" if i in ev.vetoes else "")}
                          for i in reviews.candidates(ev)] if ev else [],
        )

    async def file_review(self, request: web.Request) -> web.Response:
        """The review form on the code page (复核申请)."""
        code, old = await self._read_link(request.match_info["token"])
        if code is None:
            if old is not None:
                raise ApiError(410, f"复核申请未提交：{fresh_code_hint(old)}")
            raise ApiError(403, "链接无效或已过期")
        viewer = self._viewer(request)
        if viewer is None:
            raise ApiError(401, EXPIRED_DRAFT_KEPT)  # the page keeps what was typed
        data = await json_body(request)
        items = data.get("items")
        reason = data.get("reason")
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ApiError(400, "items 须为评分项编号数组", "items")
        if not isinstance(reason, str):
            raise ApiError(400, "reason 须为字符串", "reason")
        note = "" if data.get("note") is None else data["note"]
        if not isinstance(note, str):
            raise ApiError(400, "note 须为字符串", "note")
        try:
            async with unit_of_work(self.app.services) as out:
                case = await repo.get_case(out.session, code, for_update=True)
                if case is None:
                    raise ApiError(404, "案件不存在")
                # 补充说明 is about the whole request, as on the card
                row = await reviews.file_request(out, case, viewer, items, reason,
                                                 reviews.request_note(note))
        except reviews.ReviewError as e:
            raise ApiError(403 if "只有本案侦查人员" in str(e) else 422, str(e)) from None
        due = reviews.due_text(out, row)
        return json_response({"review": row.id, "message":
                              f"复核申请 #{row.id} 已提交，承办检察官将在 {due}答复。"},
                             status=201)

    async def take_in(self, request: web.Request) -> web.Response:
        """扫码受理 on the code page, what a case manager's scan of the QR opens: the same as
        sending 受理 <案件码> to the bot, whose answer also lands in their 1:1 chat."""
        token = request.match_info["token"]
        code, old = await self._read_link(token)
        if code is None:
            if old is not None:
                raise ApiError(410, f"未受理：{fresh_code_hint(old)}")
            raise ApiError(403, "链接无效或已过期")
        viewer = self._viewer(request)
        if viewer is None:
            raise ApiError(401, EXPIRED)
        if not viewer.has("case_manager"):
            raise ApiError(403, "扫码受理仅限案管部门。")
        await json_body(request)  # a JSON POST, as the page sends: no cross-site form
        services = self.app.services
        event = MessageEvent(
            event_id=f"web:intake:{uuid.uuid4().hex}", platform="web", user_id=viewer.id,
            chat=f"dm:{viewer.id}", at=services.clock.now(), text=f"受理 {code}",
            is_direct=True)
        result = await self.app.dispatcher.feed(event)
        if self.app.outbox is not None:
            self.app.outbox.wake()
        if result.status == "error":
            raise ApiError(500, "受理时出错，请稍后重试。")
        said = [_said(m) for m in result.messages if m.chat == event.chat]
        return json_response({"message": "\n".join(t for t in said if t) or "已受理。",
                              "decision": await self._decision(code)})

    async def _decision(self, code: str) -> str | None:
        """The intake decision on the case's current score after a scan (放行, 待定, 退回, or
        the prosecutor's 延期受理 / 先收后补), for the page's button; None when none was made
        (not scored, closed, out of the manager's offices)."""
        async with self.app.services.db() as session:
            case = await repo.get_case(session, code)
            if case is None or case.status != repo.OPEN:
                return None
            last = await repo.latest_intake(session, case)
            return last.decision if last is not None and last.version == case.version else None

    async def qr(self, request: web.Request) -> web.Response:
        """The QR image in the code's colour. An expired link's QR (an old card in the chat
        history) is drawn in grey instead of breaking: scanning it opens the page that says
        how to get a fresh code."""
        token = request.match_info["token"]
        code, old = await self._read_link(token)
        stale = old is not None
        if code is None and not stale:
            raise ApiError(403, "链接无效")
        color = QR_STALE
        if code is not None:
            async with self.app.services.db() as session:
                case = await repo.get_case(session, code)
            if case is None:
                raise ApiError(404, "案件不存在")
            color = QR_COLORS.get(case.color or "", "#1f2d3d")
        url = f"{self.app.settings.config.web.base_url}/c/{token}"
        buf = io.BytesIO()
        segno.make(url, error="m").save(buf, kind="png", scale=6, border=4, dark=color)
        cache = "no-store" if stale else "private, max-age=3600"
        return web.Response(body=buf.getvalue(), content_type="image/png",
                            headers={"Cache-Control": cache})

    # -- scoring -------------------------------------------------------------------------------
    async def _prosecutor_case(self, request: web.Request) -> tuple[Person, CaseRow] | web.Response:
        code = ops.normalize_code(request.match_info["code"])
        got = await self._viewable(request, code)
        if isinstance(got, web.Response):
            return got
        viewer, case = got
        if viewer.id != case.prosecutor:
            return self._deny(403, "无权评分", "只有本案承办检察官可以评分。")
        if case.status != repo.OPEN:  # withdrawn, or closed: a submission would be refused
            async with unit_of_work(self.app.services) as out:
                state = ops.not_open_text(out, case)
            title = "案件已撤销" if case.status == repo.WITHDRAWN else "案件已结案"
            return self._deny(409, title, f"案件 {case.code} {state}，不能评分。")
        return viewer, case

    async def score_form(self, request: web.Request) -> web.Response:
        got = await self._prosecutor_case(request)
        if isinstance(got, web.Response):
            return got
        viewer, case = got
        s = self.app.services
        t = s.settings.template
        asked = request.query.get("review", "")
        row = None
        async with s.db() as session:
            ev = await repo.current_evaluation(session, case)
            if asked.isascii() and asked.isdigit() and int(asked) < MAX_ID:
                row = await review_repo.get(session, int(asked))
        async with unit_of_work(s) as out:
            view = ops.case_view(out, case)
        # 去调整评分 of a request: say which items it disputes and why; a link whose request was
        # answered since (a message in the chat history) scores without it instead of a form
        # that can never be submitted (该复核申请已重新评分)
        review, disputed, review_note = "", set(), ""
        if reviews.awaits_rescore(row, case.code):
            assert row is not None
            review, disputed = str(row.id), set(review_repo.items_of(row))
            review_note = (f"按复核申请 #{row.id}（申请人 {s.directory.person_name(row.filed_by)}）"
                           f"调整评分。有异议的项目："
                           f"{'、'.join(t.item(i).label for i in review_repo.items_of(row))}；"
                           f"复核理由：{row.reason}")
        elif asked:
            if row is None:
                why = f"未找到复核申请「{asked[:20]}」"
            elif row.case_code != case.code:
                why = f"复核申请 #{row.id} 不属于本案"
            elif row.new_version:
                why = f"复核申请 #{row.id} 已于第{row.new_version}版重新评分"
            else:
                why = f"复核申请 #{row.id} 无需重新评分"
            review_note = f"{why}，本次评分不关联复核申请。"
        prefill = {d.item: d.__dict__ for d in ev.deductions} if ev else {}
        return render("score_form.html", case=view, ev=ev, template=t, prefill=prefill,
                      person_id=viewer.id,
                      vetoes=set(ev.vetoes) if ev else set(), review=review,
                      disputed=disputed, review_note=review_note)

    async def score_submit(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request)
        if viewer is None:
            raise ApiError(401, EXPIRED_DRAFT_KEPT)  # the page keeps what was typed
        code = ops.normalize_code(request.match_info["code"])
        data = await json_body(request)
        errors: list[Any] = []
        deductions = parse_deductions(data.get("deductions"), errors)
        vetoes = parse_vetoes(data.get("vetoes"), errors)
        comment = str_field(data, "comment", errors, required=False)
        review = data.get("review_request")
        review_id = None
        if review is not None and review != "":
            text = str(review) if isinstance(review, str | int) and not isinstance(review, bool) else ""
            if text.isascii() and text.isdigit() and int(text) < MAX_ID:  # not ² nor 10**30
                review_id = int(text)
            else:
                errors.append(FieldError("review_request", "复核申请编号无效"))
        base = data.get("base_version")  # the version the form was opened on (0: unscored)
        if base is not None and not (isinstance(base, int) and not isinstance(base, bool)
                                     and 0 <= base < MAX_ID):
            errors.append(FieldError("base_version", "评分表版本无效，请重新打开评分表"))
        if errors:
            return field_errors(errors)
        try:
            async with unit_of_work(self.app.services) as out:
                case = await repo.get_case(out.session, code, for_update=True)
                if case is None:
                    raise ApiError(404, f"案件 {code} 不存在")
                if viewer.id != case.prosecutor:  # before any answer that tells of the case
                    if await ops.reassigned_away(out, viewer.id, case):  # the form left open
                        raise ApiError(403, f"案件 {code} {ops.reassigned_text(out, case)}，"
                                            "您已不能评分。")
                    raise ApiError(403, "只有本案承办检察官可以评分")
                if case.status == repo.WITHDRAWN:  # 撤销案件: entered by mistake
                    raise ApiError(409, f"案件 {code} {ops.withdrawn_text(out, case)}，不能评分。")
                if base is not None and case.version != base:
                    # under the case lock: of two submissions of one form the second finds
                    # the version the first made
                    try:
                        current = await ops.recorded_before(out, case, base, viewer, deductions,
                                                            vetoes, comment, review_id)
                    except ops.ScoredSince as e:
                        raise ApiError(409, f"{e}请重新打开评分表。") from None
                    return _evaluation_json(current, status=200)
                # checked under the case lock: a double-clicked 提交评分 answers the request once
                if review_id is not None and not reviews.awaits_rescore(
                        await review_repo.get(out.session, review_id), code):
                    raise ops.CaseInputError([FieldError(
                        "review_request", "该复核申请已重新评分，或不需要重新评分")])
                ev = await ops.record_evaluation(out, case, viewer, deductions, vetoes, comment,
                                                 review_request_id=review_id)
        except PermissionError as e:
            raise ApiError(403, str(e)) from None
        except ops.CaseInputError as e:
            return field_errors(e.errors)
        except IntegrityError:
            raise ApiError(409, "该案件正在被同时评分，请刷新后重试") from None
        return _evaluation_json(ev, status=201)

    # -- outline -------------------------------------------------------------------------------
    async def _outline_data(self, request: web.Request) -> tuple[Any, Any] | web.Response:
        got = await self._viewable(request, ops.normalize_code(request.match_info["code"]))
        if isinstance(got, web.Response):
            return got
        viewer, case = got
        async with unit_of_work(self.app.services) as out:
            ev = await repo.current_evaluation(out.session, case)
            view = ops.case_view(out, case)
            await out.audit(viewer.id, "case.outline", case.code, {})
        return view, ev

    async def outline_docx(self, request: web.Request) -> web.Response:
        got = await self._outline_data(request)
        if isinstance(got, web.Response):
            return got
        view, ev = got
        body = outline_docx(view, ev, self.app.settings.template)
        return web.Response(body=body, headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Content-Disposition": f'attachment; filename="outline-{view.code}.docx"'})

    async def outline_md(self, request: web.Request) -> web.Response:
        got = await self._outline_data(request)
        if isinstance(got, web.Response):
            return got
        view, ev = got
        return web.Response(text=outline_markdown(view, ev, self.app.settings.template),
                            content_type="text/markdown", charset="utf-8", headers={
                                "Content-Disposition": f'attachment; filename="outline-{view.code}.md"'})

    # -- statistics ------------------------------------------------------------------------------
    async def _stats(self, request: web.Request) -> Any:
        viewer = self._viewer(request)
        if viewer is None:
            return self._login_page(request)
        if not viewer.has(*ops.STATS_ROLES):
            return self._deny(403, "无权查看", "统计仅限承办检察官、案管部门和院领导（含检察长）查看。")
        q = request.query
        services = self.app.services
        today = services.clock.now().astimezone(services.config.tz).date()
        try:
            period = period_of_query(q.get("period"), q.get("from", ""), q.get("to", ""), today)
        except PeriodError as e:
            if "period" not in q:
                return render("error.html", status=400, title="统计期间有误", message=f"{e}。",
                              link="/stats", link_label="查看全部案件的统计")
            # the box with what was typed, to correct it where the answer is
            return render("error.html", status=400, title="统计期间有误",
                          message=f"{e}。可填写如：{PERIOD_EXAMPLES}。", typed=q["period"],
                          link="/stats", link_label="查看全部案件的统计")
        return await ops.case_stats(services, viewer, period)

    async def stats_page(self, request: web.Request) -> web.Response:
        v = await self._stats(request)
        if isinstance(v, web.Response):
            return v

        def rows(groups: tuple[tuple[str, Group], ...]) -> list[dict[str, Any]]:
            return [{"name": name, "cases": g.cases, "red": g.by_color["red"],
                     "yellow": g.by_color["yellow"], "green": g.by_color["green"],
                     "unscored": g.by_color["unscored"], "transcodes": g.transcodes,
                     "median": _days(g.median_days_to_green) or "—",
                     "intake": (f"{g.green_at_intake}/{g.intakes}（{_share(g)}）"
                                if g.intakes else "—"),
                     "custody": g.red_at_custody} for name, g in groups]

        groups = [("按承办检察官", "人", rows(v.prosecutors)),
                  ("按侦查单位", "个单位", rows(v.police_units))]
        today = v.taken.date()  # in the bot's time zone
        links = [(word, period_query(p), p == v.period) for word, p in presets(today)]
        return render("stats.html", st=v.stats, scope=v.scope, taken=v.taken_text, groups=groups,
                      period=v.period_text, query=v.query, presets=links, chosen=v.period,
                      typed=request.query.get("period", v.period.text if v.period else ""),
                      median=_days(v.stats.median_days_to_green),
                      intake=intake_text(v.stats.total), closed=closed_text(v.stats.total))

    async def stats_csv(self, request: web.Request) -> web.Response:
        v = await self._stats(request)
        if isinstance(v, web.Response):
            return v
        st = v.stats
        buf = io.StringIO()
        buf.write("\ufeff")  # a BOM, so that Excel reads the Chinese as UTF-8
        w = csv.writer(buf)
        w.writerow(["分组", "名称", "案件数", "红码", "黄码", "绿码", "未评分", "转码次数",
                    "首次红/黄码到转绿（中位数，天）", "扫码受理件数", "受理时绿码占比",
                    "羁押期限届满仍为红码（件）"])
        for label, groups in (("合计", (("全部", st.total),)), ("承办检察官", v.prosecutors),
                              ("侦查单位", v.police_units)):
            for name, g in groups:  # the roster's order, those without a case with zeros
                w.writerow([label, excel_text(name), g.cases, g.by_color["red"],
                            g.by_color["yellow"], g.by_color["green"], g.by_color["unscored"],
                            g.transcodes, _days(g.median_days_to_green), g.intakes,
                            _share(g), g.red_at_custody])
        w.writerow([])
        w.writerow(["指标", "数值"])
        w.writerow(["统计范围", excel_text(v.scope)])
        w.writerow(["统计期间", v.period_text])
        w.writerow(["数据截至", v.taken_text])
        w.writerow(["已结案（件）", st.total.closed])
        w.writerow(["首次红/黄码到转绿（中位数，天）", _days(st.median_days_to_green)])
        w.writerow(["受理时绿码占比", _share(st.total)])
        w.writerow(["扫码受理件数", st.intakes])
        w.writerow(["羁押期限届满仍为红码（件）", st.red_at_custody])
        # dated: a second download sits beside the first instead of being renamed or replacing
        # it; with the period it counts (case-stats-20261001-to-20261231-20261105-0930.csv)
        days = "" if v.period is None else f"{v.period.start:%Y%m%d}-to-{v.period.end:%Y%m%d}-"
        name = v.taken.strftime(f"case-stats-{days}%Y%m%d-%H%M.csv")
        return web.Response(text=buf.getvalue(), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
