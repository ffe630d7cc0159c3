"""新建案件 on the web: the form a prosecutor opens from the chat's 「新建案件」 card
(`GET /cases/new`) and its submission (`POST /cases/new`, JSON, as the score form posts). The
viewer is the signed session cookie; the case's prosecutor is the viewer. Each page carries a
signed one-time token, recorded with the case it creates, so that the same form submitted twice
creates one case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from bot import cases as ops
from bot.context import Outbound, unit_of_work
from bot.directory import Directory
from bot.domain.codes import normalize_external_id
from bot.domain.scoring import FieldError
from bot.signing import expired
from bot.web import ApiError, json_body, json_response, render
from bot.web.cases_api import date_field, field_errors, shape_error, str_field
from bot.web.session import EXPIRED_DRAFT_KEPT, login_page, session_person
from config.model import Person
from storage import cases as repo

if TYPE_CHECKING:
    from bot.app import App

ONLY_PROSECUTORS = "只有承办检察官可以新建案件。"
BAD_FORM = "录入表无效，请在聊天中发送「新建案件」重新打开。"


@dataclass(frozen=True)
class PoliceGroup:
    """A police unit and its investigators, as the form offers them (checkboxes)."""

    unit: str
    name: str
    people: tuple[tuple[str, str], ...]  # (person id, name)


def investigator_groups(d: Directory, prosecutor: Person
                        ) -> tuple[list[PoliceGroup], list[PoliceGroup]]:
    """The police units with investigators, in roster order: (those of the prosecutor's own
    office, then of the rest of its city; every other one). The form shows the first list
    open and the second folded."""
    home = d.unit(prosecutor.unit)
    city = d.city_of(prosecutor.unit)
    near_units = d.within(city.id) if city is not None else {prosecutor.unit}
    investigators: dict[str, list[tuple[str, str]]] = {}
    for p in d.with_role("investigator"):
        investigators.setdefault(p.unit, []).append((p.id, p.name))
    groups = [PoliceGroup(u.id, u.name, tuple(investigators[u.id])) for u in d.org.units
              if u.kind == "police" and u.id in investigators]
    own = [g for g in groups if home is not None and d.units[g.unit].parent == home.id]
    city_rest = [g for g in groups if g not in own and g.unit in near_units]
    return own + city_rest, [g for g in groups if g not in own and g not in city_rest]


def _optional_date(data: dict[str, Any], name: str, errors: list[FieldError]) -> Any:
    """A date input left empty sends "": no deadline."""
    return None if data.get(name) in (None, "") else date_field(data, name, errors)


class NewCasePage:
    def __init__(self, app: App) -> None:
        self.app = app

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/cases/new", self.form), web.post("/cases/new", self.submit)]

    def _viewer(self, request: web.Request) -> Person | None:
        s = self.app.services
        pid = session_person(request, s.signer, s.clock.now())
        return s.directory.person(pid) if pid else None

    async def form(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request)
        if viewer is None:
            return login_page(request, self.app.settings.config.transports.console_on)
        if not viewer.has("prosecutor"):
            return render("error.html", status=403, title="无权新建案件", message=ONLY_PROSECUTORS)
        s = self.app.services
        near, other = investigator_groups(s.directory, viewer)
        title = ops.prefill_title(request.query.get("title", ""))[:ops.TITLE_MAX]
        return render("new_case.html", title=title,
                      stages=ops.FORM_STAGES, stage=ops.FORM_STAGES[-1],
                      token=ops.form_token(s, viewer), prosecutor=viewer.name,
                      person_id=viewer.id,
                      office=s.directory.unit_name(viewer.unit), near=near, other=other)

    async def submit(self, request: web.Request) -> web.Response:
        """201 with the new case's code and its score form; 200 with the case the same form
        created before (nothing created); 422 with the field errors; 409 when the prosecutor
        has an open case of the same title, unless the form says `"confirm_duplicate": true`."""
        viewer = self._viewer(request)
        if viewer is None:  # the page has kept what was typed (its draft), to come back
            raise ApiError(401, EXPIRED_DRAFT_KEPT)
        if not viewer.has("prosecutor"):
            raise ApiError(403, ONLY_PROSECUTORS)
        data = await json_body(request)
        s = self.app.services
        token = data.get("token")
        payload = s.signer.genuine("case-form", token) if isinstance(token, str) else None
        key = payload.get("f") if payload is not None else None
        if payload is None or not isinstance(key, str):
            raise ApiError(403, BAD_FORM, "token")
        if payload.get("p") != viewer.id:  # opened as someone else (the console switched user)
            raise ApiError(403, "该录入表不是以您的身份打开的，请在聊天中发送「新建案件」重新打开。", "token")
        errors: list[FieldError] = []
        new = self._parse(viewer, data, errors)
        try:
            async with unit_of_work(s) as out:
                if (done := await repo.form_token_case(out.session, key)) is not None:
                    return self._answer(done, created=False)
                if expired(payload, out.now()):  # a fresh token: the page keeps what was typed
                    return json_response({"error": "录入表已过期，已为您更新，请核对后再次提交。",
                                          "token": ops.form_token(s, viewer)}, status=410)
                # the police unit comes from the investigators: without one, their errors say
                # why; the stages the form accepts are said by _parse
                errors += [e for e in ops.validate_new_case(out, new) if e.field != "stage"
                           and (new.police_unit or e.field != "police_unit")]
                errors += self._past_deadlines(out, new, {e.field for e in errors})
                if not errors and new.external_id is not None and (
                        other := await ops.case_by_external_id(out, new.external_id)):
                    errors.append(self._taken(new.external_id, other.code))
                if errors:
                    raise ops.CaseInputError(errors)
                # a second case of the same title, from another tap on the card: asked first
                if data.get("confirm_duplicate") is not True and (same := await repo.open_namesakes(
                        out.session, viewer.id, new.title.strip(), key)):
                    return self._namesakes(out, same)
                case, created = await ops.create_from_form(out, new, viewer, key)
        except ops.CaseInputError as e:
            return field_errors(e.errors)
        except IntegrityError:  # PostgreSQL: a create with this 统一受案号 committed meanwhile
            if new.external_id is None:
                raise
            async with unit_of_work(s) as out:
                other = await ops.case_by_external_id(out, new.external_id)
            if other is None:
                raise
            return field_errors([self._taken(new.external_id, other.code)])
        if self.app.outbox is not None:
            self.app.outbox.wake()  # the 「已录入案件」 card
        return self._answer(case.code, created=created)

    def _parse(self, viewer: Person, data: dict[str, Any], errors: list[FieldError]
               ) -> ops.NewCase:
        """The form's fields as a new case of the viewer's; the 侦查单位 is the chosen
        investigators' unit (one, else an error)."""
        title = str_field(data, "title", errors, required=False)  # blank: validate_new_case
        stage = str_field(data, "stage", errors)
        if stage not in ops.FORM_STAGES:  # said instead of validate_new_case's (all stages)
            errors.append(FieldError("stage", f"阶段须为 {' / '.join(ops.FORM_STAGES)} 之一"))
        invs = data.get("investigators")
        if not isinstance(invs, list) or not all(isinstance(i, str) for i in invs):
            errors.append(shape_error("investigators", "须为人员编号数组"))
            invs = []
        police_unit, unit_error = ops.police_unit_of(self.app.services.directory, invs)
        if unit_error is not None:
            errors.append(unit_error)
        return ops.NewCase(
            title=title, stage=stage,
            police_unit=police_unit, prosecutor=viewer.id, investigators=tuple(invs),
            investigation_deadline=_optional_date(data, "investigation_deadline", errors),
            custody_deadline=_optional_date(data, "custody_deadline", errors),
            external_id=normalize_external_id(
                str_field(data, "external_id", errors, required=False)))

    @staticmethod
    def _past_deadlines(out: Outbound, new: ops.NewCase, said: set[str]) -> list[FieldError]:
        """A deadline before today (the app's clock) typed on the form: refused, next to its
        field, unless something is said of that field already (须在 … 之间)."""
        today = out.now().astimezone(out.config.tz).date()
        return [e for name in ops.DEADLINES if name not in said
                and (e := ops.past_day_error(name, getattr(new, name), today)) is not None]

    @staticmethod
    def _namesakes(out: Outbound, found: list[repo.Namesake]) -> web.Response:
        """409: the prosecutor has open cases of this title; the page asks, and sends the form
        again with `confirm_duplicate` to create the case all the same."""
        return json_response({
            "error": ops.namesakes_question(out, found), "confirm": "confirm_duplicate",
            "duplicates": [{"code": c.code, "entered_on": ops.entered_on(out, c).isoformat(),
                            "scored": c.color is not None, "color": c.color, "score": c.score,
                            "url": f"/cases/{c.code}/score"}
                           for c in found[:ops.NAMESAKES_LISTED]]}, status=409)

    @staticmethod
    def _taken(external_id: str, code: str) -> FieldError:
        return FieldError("external_id", f"统一受案号「{external_id}」已有案件 {code}，请勿重复录入")

    @staticmethod
    def _answer(code: str, *, created: bool) -> web.Response:
        message = (f"已录入案件 {code}，正在打开评分表…" if created else
                   f"该录入表已提交过，案件 {code} 已录入（未重复创建），正在打开评分表…")
        return json_response({"code": code, "created": created, "message": message,
                              "url": f"/cases/{code}/score"}, status=201 if created else 200)
