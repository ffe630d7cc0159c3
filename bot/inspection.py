"""检务督导面对面 service: what the chat commands (handlers/inspection.py), the web pages
(bot/web/inspection.py), the CLI and the app's start share — create a session with its
manifest and commitment, read a stored session's parameters, manifest and publication, the
live big-screen publisher and its links, the unit views, and seeding the question bank."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta
from typing import Any

from bot.context import Outbound, Services
from bot.directory import Directory
from bot.domain.draw import (
    DrawQuestion,
    DrawUnit,
    Manifest,
    canonical_json,
    check_feasible,
    commit_secret,
    manifest_hash,
)
from bot.domain.inspection import (
    RawCreate,
    SessionParams,
    SpecialInquiry,
    asked_before_note,
    build_manifest,
    default_entropy_name,
    entropy_public_at,
    validate_params,
)
from bot.domain.question_bank import parse_file
from bot.live import Publisher, hub_for
from cards import inspection as cards
from cards.inspection import UnitView
from cards.model import Card
from config.model import Person, Unit
from storage import audit
from storage import inspection as store
from storage.inspection import Ask, InspectionSession, Note

log = logging.getLogger(__name__)


def publisher(services: Services) -> Publisher:
    if services.live is None:
        services.live = Publisher(hub_for(services.redis, services.config.storage.redis_prefix))
    return services.live


def channel(sid: str) -> str:
    return f"inspection:{sid}"


def notify(out: Outbound, sid: str) -> None:
    """Tell the big screens to re-read the session, once this transaction has committed."""
    publisher(out.services).after_commit(out.session, channel(sid), {"session": sid})


def base_url(out: Outbound) -> str:
    return out.config.web.base_url


def resolve_unit(d: Directory, ref: str, among: list[str] | None = None) -> Unit | None:
    """A county unit by id, by exact name or by a unique part of its name; the short names
    people say work too (乐宝区院, 乐宝区检察院 for 东川市乐宝区人民检察院)."""
    ref = ref.strip()
    pool = [d.units[u] for u in among] if among is not None else [
        u for u in d.org.units if u.kind == "county"]
    for u in pool:
        if u.id == ref or u.name == ref:
            return u
    for short in (ref, *(ref.removesuffix(s) for s in ("人民检察院", "检察院", "院")
                         if ref.endswith(s) and len(ref) > len(s) + 1)):
        hits = [u for u in pool if short and short in u.name]
        if hits:
            return hits[0] if len(hits) == 1 else None
    return None


def latest_reports(notes: list[Note]) -> list[Note]:
    """整改汇报 as they stand: each unit's latest report (a correction replaces the earlier
    one), in the order the units first reported."""
    latest: dict[str, Note] = {}
    for n in notes:
        if n.kind == "report" and n.unit_id:
            latest[n.unit_id] = n  # a key set again keeps its place
    return list(latest.values())


def unit_views(d: Directory, asks: list[Ask]) -> list[UnitView]:
    seen: dict[int, UnitView] = {}
    for a in asks:
        if a.position in seen:
            continue
        unit = d.units[a.unit_id]
        city = d.city_of(a.unit_id)
        chief = d.chief_of(a.unit_id)
        city_chief = d.chief_of(city.id) if city else None
        seen[a.position] = UnitView(
            pos=a.position, id=unit.id, name=unit.name, city=city.name if city else "",
            kind=a.kind, chief=chief.name if chief else "（未登记）",
            city_chief=city_chief.name if city_chief else "（未登记）",
            chief_id=chief.id if chief else None,
        )
    return [seen[p] for p in sorted(seen)]


def drawn_entry(d: Directory, unit_id: str) -> DrawUnit | None:
    city = d.city_of(unit_id)
    unit = d.units[unit_id]
    return DrawUnit(unit.id, unit.name, city.id, city.name) if city else None


async def create_session(out: Outbound, actor: Person, raw: RawCreate,
                         chat: str | None) -> tuple[InspectionSession | None, list[str]]:
    """Validate, fix the manifest (eligible units and questions, the named entropy source, the
    secret's commitment) and post the commitment card in the group, before any entropy exists."""
    d, db = out.directory, out.session
    errors: list[str] = []
    values = dict(raw.values)
    chat = values.pop("chat", None) or chat
    if not chat or d.chat(chat) is None:
        mine = "；".join(f"群={c.id}（{c.title}）" for c in d.chats_of(actor.id)) or "无"
        errors.append(("请指定会议所在的群：群=g-…（在群内发送时默认本群）" if not chat else
                       f"找不到群「{chat[:30]}」") + f"。您所在的群：{mine}")
    elif not d.may_post(actor.id, chat):
        errors.append(f"您不是群 {chat} 的成员")
    special: list[SpecialInquiry] = []
    for ref, qids in raw.special:
        u = resolve_unit(d, ref)
        if u is None:
            errors.append(f"专项问询单位「{ref}」不存在或不唯一")
        else:
            special.append(SpecialInquiry(u.id, qids))
    reports: tuple[str, ...] | None = None
    if raw.rectification is not None:
        found = [(r, resolve_unit(d, r)) for r in raw.rectification]
        errors += [f"整改汇报单位「{r}」不存在或不唯一" for r, u in found if u is None]
        reports = tuple(u.id for _, u in found if u is not None)
    today = out.now().astimezone(out.config.tz).date()
    if reports is None and chat:
        prev = await store.previous_session(db, chat)
        reports = tuple(json.loads(prev.result or "{}").get("units", [])) if prev else ()
    values.setdefault("entropy_name", default_entropy_name(out.now().astimezone(out.config.tz)))
    values.setdefault("answer_seconds", out.config.inspection.answer_seconds)
    p = SessionParams(title=raw.title or f"检务督导面对面 {today:%Y-%m-%d}", chat=chat or "",
                      special=tuple(special), rectification_units=reports, **values)
    errors += validate_params(p)
    bank = await store.all_questions(db)
    bank_ids = {q.id for q in bank}
    special_q = [q for s in p.special for q in s.question_ids]
    unknown = sorted(set(special_q) - bank_ids)
    if unknown:
        errors.append(f"专项问询题号不在题库中：{'、'.join(unknown)}")
    if len(set(special_q)) != len(special_q):
        errors.append("专项问询题号有重复")
    if errors:
        return None, errors

    recent = set(await store.recent_drawn_units(db, p.exclude_recent))
    skip = recent | {s.unit for s in p.special}
    units = [e for u in d.org.units if u.kind == "county" and u.id not in skip
             and (e := drawn_entry(d, u.id)) is not None]
    eligible = [DrawQuestion(q.id, q.category) for q in bank if q.id not in set(special_q)]
    asked = await store.asked_question_ids(db)
    secret = secrets.token_bytes(32)
    prefix = f"DD{today:%Y%m%d}-"
    sid = f"{prefix}{await store.count_sessions_on(db, prefix) + 1:02d}"
    manifest = build_manifest(session_id=sid, roster_version=d.org.version_hash(), units=units,
                              questions=eligible, asked=asked, p=p,
                              commitment=commit_secret(secret))
    try:
        check_feasible(manifest)
    except ValueError as e:
        return None, [f"候选单位或题目不足，无法抽签（{e}）"]
    m_hash = manifest_hash(manifest)
    now = out.now()
    s = await store.add_session(
        db, id=sid, title=p.title, chat=p.chat, created_by=actor.id, created_at=now,
        updated_at=now, stage="created", params=json.dumps(p.to_dict(), ensure_ascii=False),
        secret_hex=secret.hex(), manifest=canonical_json(manifest.to_dict()).decode(),
        manifest_hash=m_hash, current=-1,
    )
    await out.send(p.chat, card=await commitment_card(out, s))
    await out.audit(actor.id, "inspection.create", sid, {
        "chat": p.chat, "manifest_hash": m_hash, "secret_commitment": manifest.secret_commitment,
        "eligible_units": len(units), "eligible_questions": len(eligible),
        "params": {k: v for k, v in p.to_dict().items() if k != "title"}})
    notify(out, sid)
    return s, []


async def special_asked_before(out: Outbound, s: InspectionSession) -> str:
    """The note on the session's 专项 questions that an earlier session already asked in
    public (`asked_before_note`); empty when none was."""
    qids = [q for x in params_of(s).special for q in x.question_ids]
    latest = await store.latest_asks(out.session, qids)
    return asked_before_note([(q, a.session_id, a.answer_published_at is not None)
                              for q in qids if (a := latest.get(q)) and a.session_id != s.id])


async def commitment_card(out: Outbound, s: InspectionSession) -> Card:
    """The commitment card of a session not yet drawn: posted at 督导 新建, again at 抽签."""
    p, manifest = params_of(s), manifest_of(s)
    special = {x.unit for x in p.special}
    # left out by 排除近期 (docs/inspection.md): nobody has drawn since, this session included
    recent = set(await store.recent_drawn_units(out.session, p.exclude_recent)) - special
    return cards.commit_card(
        sid=s.id, title=s.title, manifest=manifest, manifest_hash=s.manifest_hash,
        base_url=base_url(out), cities=len({u.city_id for u in manifest.units}),
        special_units=len(special), recent_units=len(recent),
        special_questions=sum(len(x.question_ids) for x in p.special),
        public_at=f"{at:%Y-%m-%d %H:%M}" if (at := entropy_public_at(
            p.entropy_name, out.config.tz)) else "")


def params_of(s: InspectionSession) -> SessionParams:
    return SessionParams.from_dict(s.params_dict)


def manifest_of(s: InspectionSession) -> Manifest:
    return Manifest.from_dict(json.loads(s.manifest))


def publication_of(s: InspectionSession) -> dict[str, Any] | None:
    if s.result is None:
        return None
    return {"manifest": json.loads(s.manifest), "result": json.loads(s.result)}


def running_office(d: Directory, s: InspectionSession) -> Unit | None:
    """The office that runs a session: its creator's unit (a group has no owning unit on the
    roster); the province when the creator has left the roster."""
    creator = d.person(s.created_by)
    unit = d.unit(creator.unit) if creator is not None else None
    return unit or next((u for u in d.org.units if u.kind == "province"), None)


def may_open(d: Directory, person: Person, s: InspectionSession) -> bool:
    """Whether `person` may open a session's pages (report, big screen): the role AND the
    relation to the session (SPEC). Inspectors; members of the session's group (they saw it
    all live); 院领导 and 检察长 of the running office or of an office above it."""
    if person.has("inspector") or d.may_post(person.id, s.chat):
        return True
    office = running_office(d, s)
    return (office is not None and person.has("leader", "chief")
            and office.id in d.within(person.unit))


def open_rule(d: Directory, s: InspectionSession) -> str:
    """Who may open a session's pages, in Chinese, for the refusals and the docs' wording."""
    office = running_office(d, s)
    chat = d.chat(s.chat)
    group = f"「{chat.title}」" if chat is not None else ""
    return (f"会议 {s.id} 的报告和大屏仅向检务督察、会议群{group}成员，以及主办院"
            f"（{office.name if office else '省院'}）及其上级院的院领导、检察长开放")


LIVE_LINK_DAYS = 7  # how long a big-screen link (打开大屏, 督导 状态) opens the screen


def live_url(out: Outbound, sid: str) -> str:
    token = out.services.signer.sign("live", {"s": sid}, out.now() + timedelta(days=LIVE_LINK_DAYS))
    return f"{base_url(out)}/live/{sid}?t={token}"


async def seed_bank(services: Services) -> int:
    """At start: import the configured bank when the database has none yet (the demo bank by
    default). Returns the number of questions imported: 0 when the bank was already there,
    also when another instance starting at the same moment seeded it first (the bank's lock
    makes this one wait for it, then it finds the bank seeded and writes nothing)."""
    name = services.config.inspection.question_bank
    if not name:
        return 0
    path = services.settings.source.parent / name
    async with services.db() as session, session.begin():
        await store.lock_bank(session)
        if size := await store.bank_size(session):
            log.debug("question bank already seeded (%d questions): %s not imported", size,
                      path.name)
            return 0
        questions, demo = parse_file(path.name, path.read_bytes())
        added, _ = await store.import_questions(session, questions, demo=demo,
                                                at=services.clock.now())
        await audit.append(session, at=services.clock.now(), actor="system",
                           action="inspection.bank.import", subject="bank",
                           data={"file": path.name, "added": added, "demo": demo})
    log.info("imported %d questions from %s", added, path.name)
    if demo and not services.settings.org.demo:
        # a production roster with the shipped template's demo bank: real sessions would draw
        # synthetic questions
        log.warning("the question bank was seeded from %s, a SYNTHETIC demo bank (demo: true), "
                    "while the roster is not a demo roster: import the real bank (`casebot "
                    "import questions FILE` or /inspection/bank) and set "
                    "inspection.question_bank: null in %s (docs/deploy.md)",
                    path, services.settings.source)
    return added
