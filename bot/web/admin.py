"""/admin/roster: the roster for admins (管理员): the units tree, people with their roles and
platform ids, chats with their members, a search; and the roster import (the CSV that
`casebot import roster` takes): upload → preview (what is added or changed, errors per row)
→ confirm. The import is checked against the roster in use (the newest roster version in the
database); applying adds the result as a new version, writes it to this instance's org.yaml,
records who did it in the audit chain and swaps it into this instance at once (App.use_org);
every other instance takes it at its next tick (bot/roster_sync.py). The viewer is the
signed session cookie."""

from __future__ import annotations

import asyncio
import csv
import errno
import io
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import ValidationError

from bot.context import unit_of_work
from bot.directory import parent_line
from bot.org_file import write_copy
from bot.rectification import hand_over, items_to_hand_over
from bot.roster import (
    COLUMNS,
    KIND_LABELS,
    Issue,
    RosterError,
    RosterPlan,
    org_version,
    plan_roster,
    read_csv,
)
from bot.roster_versions import (
    Current,
    Newer,
    Saved,
    VersionConflict,
    add_import,
    current,
    newer_than,
)
from bot.web import ApiError, TooLarge, form_body, multipart_fields, render
from bot.web.session import login_page, session_person
from cards.cases import local
from config.loader import ConfigError
from config.model import ROLE_LABELS, Org, Person, Unit

if TYPE_CHECKING:
    from bot.app import App

MAX_UPLOAD = 2 * 1024 * 1024
# the confirm form carries the rows again as UTF-8 (a GBK file grows by half) and the page's
# fields: it is sent as multipart, so nothing is percent-encoded
MAX_CONFIRM = 2 * MAX_UPLOAD
PEOPLE_PER_PAGE = 50
CHANGED = "名册在预览之后已被修改，本次未导入"


class AdminWeb:
    def __init__(self, app: App) -> None:
        self.app = app

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/admin/roster", self.page),
            web.post("/admin/roster/preview", self.preview),
            web.post("/admin/roster/apply", self.apply),
        ]

    # -- helpers ------------------------------------------------------------------------------
    def _admin(self, request: web.Request) -> Person | web.Response:
        s = self.app.services
        pid = session_person(request, s.signer, s.clock.now())
        viewer = s.directory.person(pid) if pid else None
        if viewer is None:
            return login_page(request, s.settings.config.transports.console_on)
        if not viewer.has("admin"):
            return render("error.html", status=403, title="无权查看",
                          message="名册管理仅限管理员使用。")
        return viewer

    def _render(self, viewer: Person, *, q: str = "", page: int = 1, status: int = 200,
                applied: RosterPlan | None = None, **extra: Any) -> web.Response:
        """The page; the people list shows PEOPLE_PER_PAGE at a time (the whole roster on a
        phone was some 30,000 px, the import out of reach), folded unless searched, paged or
        just imported, when it shows the people the import added or changed."""
        d = self.app.services.directory
        units = d.find_units(q) if q else []
        people = d.find_people(q) if q else list(d.org.people)
        if units:  # a unit's name finds its people too
            found = {p.id for p in people}
            in_units = {u.id for u in units}
            people += [p for p in d.org.people if p.unit in in_units and p.id not in found]
        if applied is not None and not q:
            imported = {c.id for c in applied.changes if c.what == "person" and c.op != "same"}
            people = [p for p in people if p.id in imported]
        pages = max(1, -(-len(people) // PEOPLE_PER_PAGE))
        page = min(max(page, 1), pages)
        first = (page - 1) * PEOPLE_PER_PAGE
        chats = ([c for c in d.org.chats
                  if c in d.find_chats(q) or any(p.id in c.members for p in people)]
                 if q else list(d.org.chats))
        return render(
            "admin_roster.html", status=status, viewer=viewer, q=q, org=d.org,
            version=d.org.version_hash(), org_path=str(self.app.settings.org_path),
            tree=[self._node(u) for u in d.org.units if u.parent is None],
            units=[{"unit": u, "path": parent_line(d, u).partition("：")[2],
                    "kind": KIND_LABELS.get(u.kind, u.kind), "chief": d.chief_of(u.id),
                    "people": len(d.people_of(u.id))} for u in units],
            people=[self._person(p) for p in people[first:first + PEOPLE_PER_PAGE]],
            people_total=len(people), people_first=first + 1, page=page, pages=pages,
            people_open=bool(q) or page > 1 or applied is not None, applied=applied,
            per_page=PEOPLE_PER_PAGE,
            chats=[{"chat": c, "members": [d.person(m) for m in c.members]} for c in chats],
            columns=",".join(COLUMNS), kinds=KIND_LABELS, **extra)

    def _node(self, u: Unit) -> dict[str, Any]:
        d = self.app.services.directory
        return {"unit": u, "kind": KIND_LABELS.get(u.kind, u.kind), "chief": d.chief_of(u.id),
                "people": len(d.people_of(u.id)),
                "children": [self._node(c) for c in d.children(u.id)]}

    def _person(self, p: Person) -> dict[str, Any]:
        d = self.app.services.directory
        return {"person": p, "unit": d.unit_path(p.unit),
                "roles": "、".join(ROLE_LABELS.get(r, r) for r in p.roles),
                "chats": "、".join(c.title for c in d.chats_of(p.id))}

    async def _current(self) -> Current:
        async with self.app.services.db() as session:
            return await current(session, self.app.settings.org_path)

    @staticmethod
    def _plan(base: Current, csv_text: str, replace_chiefs: bool | frozenset[str]) -> RosterPlan:
        """The CSV checked against `base` (CPU work for a large file: run it in a thread);
        `replace_chiefs` as `plan_roster` takes it."""
        try:
            org = base.data()
            base_version = org_version(org)
        except (ValidationError, ConfigError, RosterError):  # a newer casebot stored it
            return RosterPlan(rows=0, base_version="", errors=[Issue(0, (
                "当前名册由较新版本的 casebot 保存，本实例无法读取；请在已升级的实例上导入。"))])
        try:
            rows = read_csv(csv_text.encode("utf-8"))
        except RosterError as e:
            return RosterPlan(rows=0, base_version=base_version,
                              errors=[Issue(0, m) for m in e.errors])
        return plan_roster(org, rows, replace_chiefs)

    # -- pages ----------------------------------------------------------------------------------
    async def page(self, request: web.Request) -> web.Response:
        viewer = self._admin(request)
        if isinstance(viewer, web.Response):
            return viewer
        raw = request.query.get("page", "1")
        page = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 1
        return self._render(viewer, q=request.query.get("q", "").strip()[:50], page=page)

    async def preview(self, request: web.Request) -> web.Response:
        """The uploaded file, checked against the roster as it is now; nothing is written."""
        viewer = self._admin(request)
        if isinstance(viewer, web.Response):
            return viewer
        # read as a stream with the page's own cap (aiohttp's 1 MiB cap of request.post()
        # answered a file between 1 and 2 MB with an English 413)
        form = await _form(request, ("file",), MAX_UPLOAD)
        if form is None:
            return self._render(viewer, status=413, upload_error="文件过大（上限 2 MB）。")
        filename, data = form.get("file", ("", b""))
        if not data and not filename:  # a chosen file has a name, even when it is empty
            return self._render(viewer, status=400, upload_error="请选择要导入的 CSV 文件。")
        try:
            rows = await asyncio.to_thread(read_csv, data)  # off the loop: up to 2 MB
        except RosterError as e:
            return self._render(viewer, status=422, upload_error="；".join(e.errors))
        buf = io.StringIO()  # the rows again, as UTF-8 text for the confirm form
        writer = csv.DictWriter(buf, COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buf.getvalue()
        # a handover (换任) is offered checked: a unit has one 检察长
        base = await self._current()
        plan = await asyncio.to_thread(self._plan, base, text, True)
        return self._render(viewer, status=200 if plan.ok else 422, plan=plan, csv_text=text,
                            filename=filename, base_id=base.version_id,
                            moving=await self._moving(plan))

    async def _moving(self, plan: RosterPlan) -> dict[tuple[str, str], int]:
        """移交 N 项未完成整改, per handover of the plan."""
        if not plan.handovers:
            return {}
        async with self.app.services.db() as session:
            return await items_to_hand_over(session, plan.handovers)

    def _saved(self, v: Saved) -> str:
        """Who saved a version and when, for the admin whose confirmation it overtook."""
        at = local(v.at, self.app.services.config.tz)
        if v.source == "file":
            return f"{v.by or '某实例'} 上的 org.yaml 于 {at} 被直接修改"
        if v.by == "cli" or not v.by:
            return f"命令行（casebot import roster）于 {at} 导入了新版本"
        name = self.app.services.directory.person_name(v.by)
        return f"{name}（{v.by}）于 {at} 在名册页面导入了新版本"

    async def _overtaken(self, viewer: Person, base_id: int | None, text: str, filename: str,
                         replace: frozenset[str], offered: frozenset[str]) -> web.Response:
        """A confirmation previewed on an older version: refused (409), saying who saved what
        since, with the admin's file previewed again against the roster in use now (their
        handover choices kept; a handover their page did not offer is offered checked), ready
        to confirm again, and the file's text to copy."""
        async with self.app.services.db() as session:
            base = await current(session, self.app.settings.org_path)
            newer: Newer = await newer_than(session, base_id)
        plan = await asyncio.to_thread(self._plan, base, text, replace)
        new = frozenset(h.unit for h in plan.handovers if not h.moved_to) - offered - replace
        if new:
            plan = await asyncio.to_thread(self._plan, base, text, replace | new)
        return self._render(
            viewer, status=409, plan=plan, csv_text=text, filename=filename,
            base_id=base.version_id, conflict=CHANGED,
            newer=[self._saved(v) for v in newer.versions], newer_changes=newer.changes,
            touched=newer.touched, moving=await self._moving(plan))

    async def apply(self, request: web.Request) -> web.Response:
        """Confirmed: check again against the roster in use now (another admin may have
        imported meanwhile, through this instance or another), add it as the newest version,
        write org.yaml, audit, and use the new roster in this instance."""
        viewer = self._admin(request)
        if isinstance(viewer, web.Response):
            return viewer
        form = await _form(request, ("csv", "base", "base_id", "filename", "replace", "offered"),
                           MAX_CONFIRM)
        if form is None:
            return self._render(viewer, status=413, upload_error=(
                "表单过大，本次未导入。请重新上传文件预览。"))
        try:
            text, base_version, filename = (form.get(k, ("", b""))[1].decode()
                                    for k in ("csv", "base", "filename"))
        except UnicodeDecodeError:
            raise ApiError(400, "表单格式有误，请在页面上重新提交") from None
        filename = filename[:200]
        # the units whose outgoing chief loses the role: the checked 换任 boxes (none: two chiefs)
        replace, offered = (frozenset(form.get(k, ("", b""))[1].decode(errors="replace").split())
                            for k in ("replace", "offered"))
        # the version the preview was made on (a page from before it carried one: unknown)
        raw_id = form.get("base_id", ("", b""))[1].decode(errors="replace").strip()
        base_id = (int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 12
                   else None)
        path = self.app.settings.org_path
        roster = self.app.roster
        assert roster is not None, "App not started"
        async with roster.lock:  # one import at a time, and no tick of this instance meanwhile
            base = await self._current()
            plan = await asyncio.to_thread(self._plan, base, text, replace)
            if plan.unchanged:  # a second click, or the same file again: nothing to write
                return self._render(viewer, done="这些内容已导入，名册无需更改。")
            if plan.base_version != base_version:
                return await self._overtaken(viewer, base_id, text, filename, replace, offered)
            if not plan.ok or plan.merged is None or plan.new_version is None:
                return self._render(viewer, status=422, plan=plan, csv_text=text,
                                    filename=filename)
            try:
                async with unit_of_work(self.app.services) as out:
                    await out.audit(viewer.id, "roster.import", plan.new_version, {
                        "file": filename, "rows": plan.rows, "org": str(path),
                        "version_before": plan.base_version, **plan.summary()})
                    version_id, yaml_text = await add_import(
                        out.session, base, plan.merged, plan.new_version, by=viewer.id,
                        at=out.now())
                    moved = await hand_over(out, plan.handovers, viewer.id)
            except VersionConflict:  # another instance's import came first
                return await self._overtaken(viewer, base_id, text, filename, replace, offered)
            failed = await write_copy(path, yaml_text)
            roster.adopted(version_id, yaml_text, written=failed is None)
            self.app.use_org(Org.model_validate(plan.merged))
        return self._render(viewer, applied=plan, moved=moved,
                            not_written=why_not_written(failed) if failed else None)


def why_not_written(e: OSError) -> str:
    """Why org.yaml could not be written, for the page."""
    if e.errno in (errno.EACCES, errno.EPERM):
        return "没有写入权限"
    if e.errno == errno.EROFS:
        return "文件系统只读"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return "磁盘空间不足"
    if e.errno == errno.ENOENT:
        return "所在目录不存在"
    return str(e.strerror or e)


async def _form(request: web.Request, names: tuple[str, ...], limit: int
                ) -> dict[str, tuple[str, bytes]] | None:
    """The named fields of the form as name -> (file name or "", bytes), a multipart form read
    as a stream: None as soon as one of them passes ``limit`` bytes (the rest is not read;
    other fields are skipped unread). A url-encoded form (no file; the confirm form before it
    was multipart) through request.post()."""
    if request.content_type != "multipart/form-data":
        body = await form_body(request)
        return {k: ("", "\n".join(v for v in body.getall(k) if isinstance(v, str)).encode())
                for k in names if k in body}
    try:
        return await multipart_fields(request, names, limit, repeated=("replace",))
    except TooLarge:
        return None
    except ValueError:  # no boundary, a broken part
        raise ApiError(400, "表单格式有误，请在页面上重新提交") from None
