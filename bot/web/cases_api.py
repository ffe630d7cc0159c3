"""The integration API for the case-management system: /api/v1 (bearer token)."""

from __future__ import annotations

import hmac
from datetime import date
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from bot import cases as ops
from bot import reviews
from bot.context import Outbound, unit_of_work
from bot.domain.codes import normalize_external_id
from bot.domain.scoring import ITEM_COUNT, Deduction, Evaluation, FieldError
from bot.reassign import reassign
from bot.reminders import replan_case
from bot.transports.console import MAX_ID
from bot.web import ApiError, json_body, json_response
from bot.web.openapi import OPENAPI
from storage import cases as repo
from storage.cases import CaseRow

if TYPE_CHECKING:
    from bot.app import App


MAX_LISTED = 10  # errors spelled out in the message; the rest are counted
# the fields named in the message (`error`) where the reason alone does not say which one
LABELS = {"title": "案件名称", "stage": "阶段", "police_unit": "侦查单位", "prosecutor": "承办检察官",
          "investigators": "侦查人员", "external_id": "统一受案号", "status": "状态",
          "by": "评分人", "base_version": "评分版本", "comment": "评分说明", "deductions": "扣分",
          "vetoes": "一票否决项",
          **ops.DEADLINES}


def shape_error(name: str, reason: str) -> FieldError:
    """A field of the wrong type, named in the message as well."""
    return FieldError(name, reason, label=LABELS.get(name, f"{name}："))


def not_found(code: str) -> ApiError:
    """404 naming the code asked for: at most 40 characters of it, printable (the path may
    hold thousands, or a NUL)."""
    shown = "".join(c if c.isprintable() else "?" for c in code[:40])
    return ApiError(404, f"案件 {shown}{'…' if len(code) > 40 else ''} 不存在", "code")


def unknown_fields(data: dict[str, Any], allowed: set[str]) -> list[FieldError]:
    return [FieldError(k, "未知字段", label=f"{k}：") for k in sorted(set(data) - allowed)]


def field_errors(errors: list[FieldError]) -> web.Response:
    """422 with every error in `errors` and one readable message (repeats said once)."""
    shown = list(dict.fromkeys(e.human() for e in errors))[:MAX_LISTED]
    more = f" 等 {len(errors)} 处" if len(errors) > len(shown) else ""
    return json_response({"error": "输入有误：" + "；".join(shown) + more,
                          "errors": [{"field": e.field, "reason": e.reason} for e in errors]},
                         status=422)


def date_field(data: dict[str, Any], name: str, errors: list[FieldError]) -> date | None:
    v = data.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        errors.append(shape_error(name, "须为 ISO 日期字符串，如 2026-12-31"))
        return None
    try:
        return ops.parse_day(v)
    except ValueError:
        errors.append(shape_error(name, "日期格式不对，须为 YYYY-MM-DD"))
        return None


def str_field(data: dict[str, Any], name: str, errors: list[FieldError], required: bool = True) -> str:
    v = data.get(name)
    if v is None and not required:
        return ""
    if not isinstance(v, str) or (required and not v.strip()):
        errors.append(shape_error(name, "必填，须为字符串" if required else "须为字符串"))
        return ""
    return v


def parse_deductions(raw: Any, errors: list[FieldError]) -> list[Deduction]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(shape_error("deductions", "须为数组"))
        return []
    if len(raw) > ITEM_COUNT:
        errors.append(FieldError("deductions", f"扣分最多 {ITEM_COUNT} 条（每个评分项一条）"))
        return []
    out: list[Deduction] = []
    for i, d in enumerate(raw):
        if not isinstance(d, dict):
            errors.append(FieldError(f"deductions[{i}]", "须为对象"))
            continue
        unknown = set(d) - {"item", "points", "problem", "purpose", "matters", "requirement"}
        if unknown:
            errors.append(FieldError(f"deductions[{i}]", f"未知字段 {', '.join(sorted(unknown))}"))
        points = d.get("points")
        if isinstance(points, bool) or not isinstance(points, int):
            errors.append(FieldError(f"deductions[{i}].points", "扣分须为整数"))
            continue
        texts = {k: d.get(k, "") for k in ("item", "problem", "purpose", "matters", "requirement")}
        bad = [k for k, v in texts.items() if not isinstance(v, str)]
        if bad:
            errors += [FieldError(f"deductions[{i}].{k}", "须为字符串") for k in bad]
            continue
        out.append(Deduction(points=points, **texts))
    return out


def parse_vetoes(raw: Any, errors: list[FieldError]) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        errors.append(shape_error("vetoes", "须为评分项编号数组"))
        return []
    if len(raw) > ITEM_COUNT:
        errors.append(FieldError("vetoes", f"一票否决项最多 {ITEM_COUNT} 个"))
        return []
    return list(raw)


class CasesApi:
    def __init__(self, app: App) -> None:
        self.app = app

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v1/openapi.json", self.openapi),
            web.get("/api/v1/score-template", self.template),
            web.post("/api/v1/cases", self.create),
            web.get("/api/v1/cases/{code}", self.get),
            web.patch("/api/v1/cases/{code}", self.update),
            web.post("/api/v1/cases/{code}/evaluations", self.evaluate),
        ]

    def _auth(self, request: web.Request) -> None:
        token = self.app.settings.secrets.api_token
        if not token:
            raise ApiError(503, "接口未启用：未设置环境变量 "
                                + self.app.settings.config.secrets.api_token_env)
        given = request.headers.get("Authorization", "")
        if not given.startswith("Bearer ") or not hmac.compare_digest(  # raw bytes: not UTF-8
                given[7:].encode(errors="surrogateescape"), token.encode()):
            raise ApiError(401, "缺少或错误的访问令牌（Authorization: Bearer …）")

    async def openapi(self, request: web.Request) -> web.Response:
        return json_response(OPENAPI)

    async def template(self, request: web.Request) -> web.Response:
        self._auth(request)
        t = self.app.settings.template
        return json_response({
            "version": t.version,
            "thresholds": {"red_below": t.thresholds.red_below,
                           "green_above": t.thresholds.green_above},
            "items": [{"id": i.id, "label": i.label, "dimension": i.dimension,
                       "max_points": i.max_points, "veto": i.veto, "guidance": i.guidance}
                      for i in t.items]})

    async def create(self, request: web.Request) -> web.Response:
        """201 with the new code; 200 with the existing one when a case already has the
        request's `external_id` (a retried or repeated create makes no second case)."""
        self._auth(request)
        data = await json_body(request)
        errors: list[FieldError] = []
        errors += unknown_fields(data, {
            "title", "stage", "police_unit", "prosecutor", "investigators",
            "investigation_deadline", "custody_deadline", "external_id"})
        invs = data.get("investigators")
        if not isinstance(invs, list) or not all(isinstance(i, str) for i in invs):
            errors.append(shape_error("investigators", "须为人员编号数组"))
            invs = []
        new = ops.NewCase(
            title=str_field(data, "title", errors), stage=str_field(data, "stage", errors),
            police_unit=str_field(data, "police_unit", errors),
            prosecutor=str_field(data, "prosecutor", errors), investigators=tuple(invs),
            investigation_deadline=date_field(data, "investigation_deadline", errors),
            custody_deadline=date_field(data, "custody_deadline", errors),
            external_id=normalize_external_id(
                str_field(data, "external_id", errors, required=False)))
        if errors:
            return field_errors(errors)
        try:
            async with unit_of_work(self.app.services) as out:
                if new.external_id is not None and (
                        found := await ops.case_by_external_id(out, new.external_id)):
                    return json_response({"code": found.code}, status=200)
                case = await ops.create_case(out, new, by="api")
        except ops.CaseInputError as e:
            return field_errors(e.errors)
        except IntegrityError:  # PostgreSQL: a concurrent create with this external_id won
            if new.external_id is None:
                raise
            async with unit_of_work(self.app.services) as out:
                found = await ops.case_by_external_id(out, new.external_id)
            if found is None:
                raise
            return json_response({"code": found.code}, status=200)
        return json_response({"code": case.code}, status=201)

    async def get(self, request: web.Request) -> web.Response:
        self._auth(request)
        code = ops.normalize_code(request.match_info["code"])
        async with self.app.services.db() as session:
            case = await repo.get_case(session, code)
            if case is None:
                raise not_found(code)
            evs = await repo.evaluations(session, code)
            invs = await repo.investigators(session, code)
            tcs = await repo.transcodes(session, code)
            intakes = await repo.intake_decisions(session, code)
        return json_response({
            "code": case.code, "external_id": case.external_id, "title": case.title,
            "stage": case.stage,
            "police_unit": case.police_unit, "prosecutor": case.prosecutor,
            "investigators": invs, "status": case.status,
            "closed_at": case.closed_at.isoformat() if case.closed_at else None,
            # 撤销案件 (status withdrawn): who, when, why; null on any other case
            "withdrawn": None if case.withdrawn_at is None else {
                "by": case.withdrawn_by, "at": case.withdrawn_at.isoformat(),
                "reason": case.withdraw_reason or ""},
            "investigation_deadline": _iso(case.investigation_deadline),
            "custody_deadline": _iso(case.custody_deadline),
            "version": case.version, "score": case.score, "color": case.color,
            "history": [{"version": e.version, "by": e.by, "at": e.at.isoformat(),
                         "score": e.score, "color": e.color.value, "vetoes": list(e.vetoes),
                         "comment": e.comment, "review_request": e.review_request_id,
                         "deductions": [d.__dict__ for d in e.deductions]} for e in evs],
            "transcodes": [{"from": t.from_color, "to": t.to_color, "by": t.by,
                            "at": t.at.isoformat(), "version": t.to_version} for t in tcs],
            "intake": [{"decision": i.decision, "color": i.color, "by": i.by,
                        "at": i.at.isoformat()} for i in intakes],
        })

    async def update(self, request: web.Request) -> web.Response:
        """Deadlines changed, the case closed/reopened or reassigned (改派, `prosecutor`) by the
        case-management system: the pending reminders are re-planned or cancelled in the same
        transaction. The stage moves forward only (a step back is a 422, and nothing in the
        request is applied). A withdrawn case (撤销案件) is frozen: any change is a 422."""
        self._auth(request)
        code = ops.normalize_code(request.match_info["code"])
        data = await json_body(request)
        errors: list[FieldError] = []
        allowed = {"investigation_deadline", "custody_deadline", "status", "stage", "prosecutor"}
        errors += unknown_fields(data, allowed)
        if not set(data) & allowed:
            errors.append(FieldError("body", "至少提供一个可修改的字段"))
        changes: dict[str, Any] = {}
        today = self.app.services.clock.now().astimezone(self.app.services.config.tz).date()
        for name in ops.DEADLINES:
            if name in data:
                changes[name] = date_field(data, name, errors)
                if (e := ops.day_error(name, changes[name], today)) is not None:
                    errors.append(e)
        if "status" in data:
            if data["status"] not in ("open", "closed"):
                errors.append(shape_error("status", "须为 open 或 closed"))
            else:
                changes["status"] = data["status"]
        stage = data.get("stage")
        if "stage" in data and stage not in repo.STAGES:
            errors.append(FieldError("stage", f"阶段须为 {' / '.join(repo.STAGES)} 之一"))
        to = None
        if "prosecutor" in data:  # 改派: checked as POST /api/v1/cases checks its prosecutor
            directory = self.app.services.directory
            pid = str_field(data, "prosecutor", errors)
            if pid and (e := ops.prosecutor_error(directory, pid)) is not None:
                errors.append(e)
            elif pid:
                to = directory.person(pid)
        if errors:
            return field_errors(errors)
        try:
            async with unit_of_work(self.app.services) as out:
                case = await repo.get_case(out.session, code, for_update=True)
                if case is None:
                    raise not_found(code)
                if (frozen := ops.withdrawn_refusal(out, case)) is not None:
                    # entered by mistake: neither reopened, closed, moved on, given deadlines
                    # nor reassigned
                    raise ApiError(422, frozen, "code")
                if isinstance(stage, str):
                    await ops.move_stage(out, case, stage, "api", {"via": "api"})
                if changes:
                    await self._apply(out, case, changes)
                if to is not None:
                    await reassign(out, case, to, "api")
        except ops.CaseInputError as e:  # a step back: rolled back, nothing applied
            return field_errors(e.errors)
        shown = {k: v.isoformat() if isinstance(v, date) else v for k, v in changes.items()}
        return json_response({"code": code, **shown, **({"stage": stage} if stage else {}),
                              **({"prosecutor": to.id} if to is not None else {})})

    async def _apply(self, out: Outbound, case: CaseRow, changes: dict[str, Any]) -> None:
        """Deadlines and status: the reminders, a 待定 intake, the investigators' code cards
        and review requests follow."""
        code = case.code
        was_open = case.status == "open"
        reopened = changes.get("status") == "open" and case.status != "open"
        closing = changes.get("status") == "closed" and case.status != "closed"
        if closing:
            case.closed_at = out.now()  # closing a closed case again does not move it
        elif changes.get("status") == "open":
            case.closed_at = None
        for k, v in changes.items():
            setattr(case, k, v)
        await out.session.flush()
        await out.audit("api", "case.update", code,
                        {k: v.isoformat() if isinstance(v, date) else v
                         for k, v in changes.items()})
        await replan_case(out, case, reopened=reopened)
        if closing:  # a 待定 intake no longer waits for the prosecutor
            await ops.intake_moot_by_closing(out, case)
        elif reopened:  # … and waits again
            await ops.intake_waits_again(out, case)
        if "status" in changes:  # the cards that act on the case follow (案件已结案（date）)
            await ops.redraw_deliveries(out, case)
            await ops.redraw_requested_cards(out, case)
            await reviews.on_case_status(out, case, ended=was_open and case.status != "open")

    async def evaluate(self, request: web.Request) -> web.Response:
        self._auth(request)
        code = ops.normalize_code(request.match_info["code"])
        data = await json_body(request)
        errors: list[FieldError] = []
        errors += unknown_fields(data, {"by", "deductions", "vetoes", "comment", "base_version"})
        by_id = str_field(data, "by", errors)
        comment = str_field(data, "comment", errors, required=False)
        deductions = parse_deductions(data.get("deductions"), errors)
        vetoes = parse_vetoes(data.get("vetoes"), errors)
        base = data.get("base_version")  # the version this score was made on (0: unscored)
        if base is not None and not (isinstance(base, int) and not isinstance(base, bool)
                                     and 0 <= base < MAX_ID):
            errors.append(shape_error("base_version", "须为该评分所依据的版本号（未评分为 0）"))
        if errors:
            return field_errors(errors)
        person = self.app.services.directory.person(by_id)
        if person is None:
            return field_errors([shape_error("by", "人员不存在")])
        try:
            async with unit_of_work(self.app.services) as out:
                case = await repo.get_case(out.session, code, for_update=True)
                if case is None:
                    raise not_found(code)
                if base is not None and case.version != base:
                    # a resend whose first answer was lost finds the version it made
                    try:
                        ev = await ops.recorded_before(out, case, base, person, deductions,
                                                       vetoes, comment)
                    except ops.ScoredSince as e:
                        raise ApiError(409, f"{e}请按第 {e.current.version} 版重新评分。",
                                       "base_version") from None
                    return _evaluation_answer(ev, status=200)
                ev = await ops.record_evaluation(out, case, person, deductions, vetoes, comment)
        except PermissionError as e:
            raise ApiError(403, str(e), "by") from None
        except ops.CaseInputError as e:
            return field_errors(e.errors)
        except IntegrityError:
            raise ApiError(409, "该案件正在被同时评分，请刷新后重试") from None
        return _evaluation_answer(ev, status=201)


def _evaluation_answer(ev: Evaluation, status: int) -> web.Response:
    return json_response({"version": ev.version, "score": ev.score, "color": ev.color.value},
                         status=status)


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None
