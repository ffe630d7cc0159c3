"""The case service: the case-code use cases shared by the chat handlers, the integration API,
the web pages, the importer, the demo and the reminder service — create a case, record an
evaluation (with 转码 and delivery), acknowledge, intake, and who may see what. All run inside the
caller's transaction through an `Outbound`, so the state change and its messages commit together."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bot.context import Context, Outbound, Services
from bot.directory import Directory
from bot.domain.codes import CODE_PATTERN as CODE_PATTERN
from bot.domain.codes import normalize_code as normalize_code
from bot.domain.codes import padded_code, several_codes, spoken_code
from bot.domain.helptext import is_placeholder, placeholder_answer, usage_example
from bot.domain.period import Period
from bot.domain.scoring import (
    Color,
    Deduction,
    Evaluation,
    EvaluationError,
    FieldError,
    cleared_items,
    custody_ends_at,
    new_evaluation,
    open_deductions,
    transcode_between,
)
from bot.domain.stats import compute
from bot.domain.suggest import without_courtesy
from bot.domain.text import char_problem, invisible, one_line
from bot.signing import Signer, expired
from cards.cases import (
    SCORE_FORM_BUTTON,
    CaseView,
    OwnCode,
    ReceiptView,
    case_created_card,
    choice_settled,
    created_card_scored,
    created_card_title,
    deduction_lines,
    delivery_card,
    intake_choices,
    intake_notice_card,
    intake_state,
    intake_waiting_card,
    local,
    offers_choice_on,
    score_button,
    score_card_title,
    view_actions,
)
from cards.model import Button, Card
from cards.stats import StatsView
from config.model import Person
from storage import audit
from storage import cases as repo
from storage import messages as msgs
from storage.cases import (
    EXTERNAL_ID_MAX,
    OPEN,
    STAGES,
    WITHDRAW_REASON_MAX,
    WITHDRAWN,
    CaseRow,
    DeliveryRow,
    IntakeRow,
    WaitingCase,
)
from storage.models import Message

DEADLINE_YEARS = 5  # deadlines from 1 January this many years before the bot's year
                    # to 31 December this many years after it
DEADLINES = {"investigation_deadline": "侦查期限", "custody_deadline": "羁押期限"}
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CODE = re.compile(CODE_PATTERN)
SHOWN = 30  # characters of a person's bad input quoted back


def parse_day(text: str) -> date:
    """Exactly YYYY-MM-DD; ValueError otherwise (date.fromisoformat alone also takes 20261231
    and 2026-W52-1)."""
    if not _DAY.fullmatch(text):
        raise ValueError(f"not YYYY-MM-DD: {text!r}")
    return date.fromisoformat(text)


def day_error(name: str, day: date | None, today: date) -> FieldError | None:
    """A deadline outside the DEADLINE_YEARS window around `today` (a typo such as 9999-12-31
    or 2000-01-01, which would plan reminders for ever or at once)."""
    earliest = date(today.year - DEADLINE_YEARS, 1, 1)
    latest = date(today.year + DEADLINE_YEARS, 12, 31)
    if day is None or earliest <= day <= latest:
        return None
    return FieldError(name, f"{DEADLINES.get(name, name)}须在 {earliest.isoformat()} 至 "
                            f"{latest.isoformat()} 之间")


def past_day_error(name: str, day: date | None, today: date) -> FieldError | None:
    """A deadline before `today` on a case a person enters now (the 新建案件 form): surely a
    typo, whose overdue reminders would go out at once. The API and `casebot import cases`
    take one: a running case entered late (its 责任倒查 owed at once, as documented)."""
    if day is None or day >= today:
        return None
    return FieldError(name, f"{DEADLINES.get(name, name)}不能早于今天")


class CaseInputError(ValueError):
    """Bad input from a person or a system, field by field (reasons in Chinese)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class NewCase:
    title: str
    stage: str
    police_unit: str
    prosecutor: str
    investigators: tuple[str, ...]
    investigation_deadline: date | None
    custody_deadline: date | None
    external_id: str | None = None  # the case-management system's id (统一受案号)


# -- reading a code from chat ------------------------------------------------------------------

# a code-page link (查看详情, what a phone's QR scanner gives): http://host/c/<signed token>;
# one cut short (before or after the token's dot) is still one, to be told it is incomplete
LINK_PATTERN = r"/c/([A-Za-z0-9_\-]{8,}(?:\.[A-Za-z0-9_\-]*)?)"
_LINK = re.compile(LINK_PATTERN)
BAD_LINK = ("该案件码链接无效（可能复制不完整）。知道案件码的，可直接发送「码 案件码」查看"
            "（如：码 HY-2026-0001）；也可向承办检察官索取最新案件码。")
EXPIRED_LINK = "该链接已过期，以下为最新案件码。"


# what a scanned QR code must be, whole, to name a case: a code-page link (any site and path
# before /c/<token>: the bot's base URL may have moved since it was printed), or a case code
_SCANNED_LINK = re.compile(rf"https?://[^/\s?#]+(?:/[^\s?#]*)?{LINK_PATTERN}/?")
_SCANNED_CODE = re.compile(CODE_PATTERN)


def code_in_scan(signer: Signer, text: str) -> str | None:
    """The case code a scanned QR code names: a code-page link of ours (its signature genuine;
    an expired one still names its case, like an old printout), or a QR code that holds only a
    case code (spaces, full-width and lower case aside). None for anything else: another
    site's link, even one with a code in it (…?c=HY-2026-0001), a forged link, no code."""
    if (m := _SCANNED_LINK.fullmatch(text.strip())) is not None:
        payload = signer.genuine("code", m.group(1))
        if payload is not None and isinstance(payload.get("c"), str):
            return str(payload["c"])
        return None
    bare = "".join(unicodedata.normalize("NFKC", text).split()).upper()
    return bare if _SCANNED_CODE.fullmatch(bare) else None


async def case_from_link(ctx: Context, text: str) -> tuple[CaseRow, bool] | None:
    """The case a code-page link in `text` names, and whether the link has expired: a genuine
    link still names its case once expired (an old card in the chat history). None once the
    person is told why not: a forged or damaged link (named nothing), no such case."""
    m = _LINK.search(text)
    payload = ctx.services.signer.genuine("code", m.group(1)) if m else None
    if payload is None:
        await ctx.reply(BAD_LINK)
        return None
    case = await repo.get_case(ctx.session, str(payload.get("c")))
    if case is None:
        await ctx.reply("该案件码对应的案件不存在。")
        return None
    return case, link_expired(payload, case.status, ctx.now())


async def case_from_args(ctx: Context, usage: str, expired_note: str | None = None,
                         text: str | None = None) -> CaseRow | None:
    """The case the command's arguments name (码, 评分, 受理, 复核 …): a code as typed, or a
    code-page link (`受理 http://host/c/<token>`, the QR scanned; read by `case_from_link`, an
    expired link too, then with `expired_note` said first when given). None once the person is
    told why not: nothing given (the usage), not a code (with the code they likely meant:
    「HY 2026 0001」, 「HY20260001」), a bad link, no such case. `text`: read that instead of
    the whole arguments (the code part of 撤销案件 <案件码> <原因>)."""
    args = ctx.args if text is None else text
    if _LINK.search(args):
        got = await case_from_link(ctx, args)
        if got is None:
            return None
        if got[1] and expired_note:
            await ctx.reply(expired_note)
        return got[0]
    # ＨＹ－２０２６…, hy-…, 「…。」 as phones type it, and a polite ending (「…，谢谢」)
    code = normalize_code(without_courtesy(args))
    if not code:
        await ctx.reply(f"用法：{usage_with_example(usage)}")
        return None
    if is_placeholder(code):  # 受理 <案件码> copied from 帮助: nothing is done
        await ctx.reply(placeholder_answer(usage.split()[0], args))
        return None
    if not _CODE.fullmatch(code):
        typed = " ".join(args.split())
        shown = typed if len(typed) <= SHOWN else typed[:SHOWN] + "…"
        if several_codes(code):
            await ctx.reply(f"一次请只发一个案件码（收到：「{shown}」）。用法：{usage}")
            return None
        meant = spoken_code(code) or padded_code(code)
        hint = f"您是不是想输入「{usage.split()[0]} {meant}」？" if meant else ""
        await ctx.reply(f"案件码格式不对：「{shown}」。{hint}示例：HY-2026-0001。用法：{usage}")
        return None
    case = await repo.get_case(ctx.session, code)
    if case is None:
        await ctx.reply(f"未找到案件码 {code}。")
    return case


def usage_with_example(usage: str) -> str:
    """A usage answer someone can follow at once: 「码 案件码，如：码 HY-2026-0001」; of a command
    that acts (受理), what to put in the code's stead."""
    return usage_example(usage)  # of a command that acts, never a code that could be real


# a code at the start of the arguments, as phones type it (full-width, lower case, in quotes),
# with what follows it (撤销案件 HY-2026-0005，重复录入)
_LEADING_CODE = re.compile(rf"[「『“\"'(（]?({CODE_PATTERN})[」』”\"')）]?", re.IGNORECASE)
_REST_LEAD = "，,、：:;；。 \u3000"


def split_code_arg(args: str) -> tuple[str, str]:
    """(the case part, the rest) of arguments that start with a case code or a code link and
    go on with free text: 「HY-2026-0005 重复录入」, 「ｈｙ－２０２６－０００５，重复录入」. Anything
    else: its first word and the rest, for `case_from_args` to explain. The case part is read
    as ASCII (NFKC); the rest is free text, kept as typed (，。！ stay full-width, a final 。
    stays) but for the separators before it and the blanks after it."""
    args = args.strip()
    plain = unicodedata.normalize("NFKC", args)
    m = _LEADING_CODE.match(plain)
    if m is not None:
        return m.group(1).upper(), _typed_after(args, m.end()).lstrip(_REST_LEAD).rstrip()
    first, rest = [*re.split(r"\s+", args, maxsplit=1), ""][:2]  # a full-width space too
    return unicodedata.normalize("NFKC", first), rest.lstrip(_REST_LEAD).rstrip()


def _typed_after(text: str, plain_end: int) -> str:
    """What follows, in `text` as typed, the first `plain_end` characters of its NFKC form
    (ＨＹ－２０２６－０００５ is as long as HY-2026-0005; ﾊﾟ is one character less)."""
    seen = 0
    for i, ch in enumerate(text):
        if seen >= plain_end:
            return text[i:]
        seen += len(unicodedata.normalize("NFKC", ch))
    return ""


def starts_with_code(text: str) -> bool:
    """Whether `text` (what follows the code of 撤销案件 <案件码> <原因>) starts with another
    code: two codes sent at once, not a reason."""
    return bool(_CODE.fullmatch(split_code_arg(text)[0])) if text else False


# -- who may do what ----------------------------------------------------------------------------

def in_scope(out: Outbound, person: Person, unit_id: str) -> bool:
    """True when the person's unit is the case's unit or one above it (city, province)."""
    u = out.directory.unit(unit_id)
    while u is not None:
        if u.id == person.unit:
            return True
        u = out.directory.unit(u.parent) if u.parent else None
    return False


# Who may read 统计 (chat, /stats, CSV) of their office and the offices below it: its
# prosecutors, and those who oversee it (below)
STATS_ROLES = ("prosecutor", "case_manager", "leader", "chief")

# Who oversees the cases of an office: its case managers (案管部门) and its 院领导, that is its
# leaders and its 检察长 (`chief`, of a county or city office), and those of the offices above it
OVERSEERS = ("case_manager", "leader", "chief")
# the rule `may_view` applies, as a refusal names it (chat and code page)
VIEW_RULE = "仅本案侦查人员、承办检察官，以及本院或上级院的案管部门、院领导可以查看"


def oversees(out: Outbound, person: Person, case: CaseRow) -> bool:
    """A case manager or 院领导 (leader, 检察长) of the case's office or of one above it."""
    return person.has(*OVERSEERS) and in_scope(out, person, case.unit)


def _sees(out: Outbound, person: Person, case: CaseRow, investigators: Collection[str]) -> bool:
    """Who may see a case: its prosecutor and investigators, and those who oversee its office."""
    return (person.id == case.prosecutor or person.id in investigators
            or oversees(out, person, case))


async def may_view(out: Outbound, person: Person, case: CaseRow) -> bool:
    return (await view_access(out, person, case))[0]


async def view_access(out: Outbound, person: Person, case: CaseRow) -> tuple[bool, bool]:
    """(whether `person` may see the case, whether they investigate it), with `may_view`'s
    queries: none for its prosecutor and those who oversee it, one otherwise."""
    if _sees(out, person, case, ()):
        return True, False
    investigates = person.id in await repo.investigators(out.session, case.code)
    return investigates, investigates


async def chat_may_view(out: Outbound, chat_id: str, case: CaseRow) -> bool:
    """Whether everyone who reads `chat_id` may see the case (a 1:1 chat: its person)."""
    if chat_id.startswith("dm:"):
        person = out.directory.person(chat_id[3:])
        return person is not None and await may_view(out, person, case)
    chat = out.directory.chat(chat_id)
    if chat is None:
        return False
    investigators = set(await repo.investigators(out.session, case.code))
    members = [out.directory.person(pid) for pid in chat.members]
    return all(p is not None and _sees(out, p, case, investigators) for p in members)


async def notify(out: Outbound, case: CaseRow, person_id: str, text: str | None = None, *,
                 card: Card | None = None) -> Message | None:
    """Send `text` or `card` about `case` to `person_id`'s 1:1 chat if they may see the case
    now (`may_view`): everyone recorded on it earlier (a case manager who scanned it, an
    investigator, a review's filer or invitees, a reminder's recipient) may have been moved to
    another office, reassigned away (改派) or taken off the roster since. Those are skipped
    silently (None): even 「您已无权查看」 would tell them the case moved on."""
    person = out.directory.person(person_id)
    if person is None or not await may_view(out, person, case):
        return None
    return await out.send_dm(person_id, text, card=card)


async def reassigned_away(out: Outbound, person_id: str, case: CaseRow) -> bool:
    """Whether the case was reassigned (改派) away from `person_id`, not its prosecutor now."""
    return person_id != case.prosecutor and await repo.was_prosecutor(out.session, case.code,
                                                                      person_id)


async def reassigned_refusal(out: Outbound, person: Person, case: CaseRow) -> str | None:
    """What a former prosecutor of the case is told instead of a bare refusal (chat, pages):
    案件 X 已改派给 李四，您已无权查看。 None for anyone else (or one who may see it anyway)."""
    if not await reassigned_away(out, person.id, case):
        return None
    return f"案件 {case.code} {reassigned_text(out, case)}，您已无权查看。"


# the footer of a card about a case redrawn in a group where not everyone may now see it
STALE_CARD = "本卡片已失效，请以最新卡片为准"
# … in the 1:1 chat of someone who may no longer see the case (moved to another unit, off the
# case, off the roster); one reassigned away from it gets `reassigned_text` instead
NO_LONGER_VIEWABLE = "您已无权查看此案件，本卡片不再更新"


async def _neutral_footer(out: Outbound, chat_id: str, case: CaseRow) -> str | None:
    """None when everyone reading `chat_id` may see the case; else the footer its cards about
    the case are redrawn neutrally with (`redraw_case_card`)."""
    if await chat_may_view(out, chat_id, case):
        return None
    if not chat_id.startswith("dm:"):
        return STALE_CARD
    if await reassigned_away(out, chat_id.removeprefix("dm:"), case):
        return reassigned_text(out, case)
    return NO_LONGER_VIEWABLE


async def redraw_case_card(out: Outbound, case: CaseRow, msg: Message, card: Card, *,
                           retire: bool = False) -> None:
    """Every redraw of a sent card about `case` goes through here (`Outbound.update_card`,
    `retire` as there). Where not everyone reading the chat may now see the case (a group:
    the roster added a member since the card was sent, or dropped the group; a 1:1 chat: its
    person was moved to another unit, reassigned away from the case (改派) or left the
    roster), the card is redrawn neutrally rather than as `card`: no buttons, what it said
    when sent (what its readers could see then), footed STALE_CARD (a group),
    `reassigned_text` (a former prosecutor) or NO_LONGER_VIEWABLE, so they do not learn the
    case's new state."""
    footer = await _neutral_footer(out, msg.chat, case)
    if footer is not None:
        old = msgs.message_card(msg)
        if old is None:
            return
        card = replace(old, actions=(), footer=footer)
        if card == old:
            return
    await out.update_card(msg, card, retire=retire)


async def reply_in_confidence(ctx: Context, card: Card | None, case: CaseRow | None,
                              text: str | None = None, *, group_note: str | None = None
                              ) -> Message:
    """Show `card` or `text` (case details) where only people allowed to see them read it: in
    the chat when every reader may see `case` (None: a list only the asker may see), else to
    the asker privately, with a note in the group (`group_note`, when the caller names what
    it sends; by default about the 案件码). Returns the message that holds them."""
    chat = ctx.event.chat
    if chat == f"dm:{ctx.user.id}" or (case is not None and await chat_may_view(ctx, chat, case)):
        return await ctx.reply(text, card=card)
    sent = await ctx.send_dm(ctx.user.id, text, card=card)
    what = f"案件码 {case.code} 涉及" if case is not None else "该内容涉及"
    await ctx.reply(group_note or f"{what}办案信息，本群有成员无权查看，已私信发给您。")
    return sent


# -- views --------------------------------------------------------------------------------------

def sees_receipts(out: Outbound, person: Person, case: CaseRow) -> bool:
    """Who sees which investigators got and acknowledged the case's card: its prosecutor, and
    case managers and 院领导 of its office or above (an investigator sees only their own 已知悉,
    on their card)."""
    return person.id == case.prosecutor or oversees(out, person, case)


async def audience(out: Outbound, chat_id: str, asker: Person, case: CaseRow) -> list[Person]:
    """Who reads a card about `case` that `asker` asked for in `chat_id`, as
    `reply_in_confidence` places it: the asker alone in their 1:1 chat or when it comes to
    them privately, else everyone in the chat."""
    if chat_id == f"dm:{asker.id}" or not await chat_may_view(out, chat_id, case):
        return [asker]
    chat = out.directory.chat(chat_id)
    ids = chat.members if chat is not None else [chat_id.removeprefix("dm:")]
    return [p for pid in ids if (p := out.directory.person(pid)) is not None]


async def receipts_for(out: Outbound, readers: Sequence[Person], case: CaseRow
                       ) -> tuple[ReceiptView, ...] | None:
    """The current version's cards to the investigators (送达, 已知悉), names resolved, when
    every reader may see them and the case is scored; else None, without a query."""
    if case.version == 0 or not readers or not all(sees_receipts(out, p, case) for p in readers):
        return None
    return tuple(ReceiptView(out.directory.person_name(r.person_id), r.delivered_at, r.failed,
                             r.acknowledged_at)
                 for r in await repo.receipts(out.session, case.code, case.version))


def case_view(out: Outbound, case: CaseRow, intake: IntakeRow | None = None,
              receipts: tuple[ReceiptView, ...] | None = None,
              taken_in: date | None = None) -> CaseView:
    """What a card or page shows about a case; with `intake` (its last decision), what became
    of it at intake as it stands now; with `receipts`, the investigators' cards; with
    `taken_in` (`taken_in_on`), the day it was taken in, shown after its stage 审查起诉."""
    d = out.directory
    police = d.unit(case.police_unit)
    return CaseView(
        code=case.code, title=case.title, stage=case.stage,
        police_unit=police.name if police else case.police_unit,
        prosecutor=d.person_name(case.prosecutor),
        investigation_deadline=case.investigation_deadline,
        custody_deadline=case.custody_deadline,
        external_id=case.external_id, taken_in=taken_in,
        intake=None if intake is None else intake_state(
            intake.decision, d.person_name(intake.by), intake.at, intake.version, case.version,
            case.status == "open", out.config.tz),
        receipts=receipts, withdrawn=withdrawn_text(out, case),
        custody_passed=custody_passed(out, case),
    )


def custody_passed(out: Outbound, case: CaseRow) -> bool:
    """Whether the case's 羁押期限 has run out (届满 at the end of its day, as for 责任倒查 and
    the statistics): the code page and the 码 card say 已届满 alike."""
    return (case.custody_deadline is not None
            and out.now() >= custody_ends_at(case.custody_deadline, out.config.tz))


def withdrawn_text(out: Outbound, case: CaseRow) -> str | None:
    """已撤销（张三 2026-11-27：重复录入） for a withdrawn case (no reason: 已撤销（张三 2026-11-27））;
    None for any other."""
    if case.status != WITHDRAWN:
        return None
    who = out.directory.person_name(case.withdrawn_by or "")
    day = f" {case.withdrawn_at.astimezone(out.config.tz):%Y-%m-%d}" if case.withdrawn_at else ""
    why = f"：{case.withdraw_reason}" if case.withdraw_reason else ""
    return f"已撤销（{who}{day}{why}）"


def withdrawn_refusal(out: Outbound, case: CaseRow, doing: str = "修改") -> str | None:
    """案件 X 已撤销（…），不能修改: a withdrawn case is frozen (entered by mistake, nothing about
    it changes any more); None for a case not withdrawn."""
    if (withdrawn := withdrawn_text(out, case)) is None:
        return None
    return f"案件 {case.code} {withdrawn}，不能{doing}"


def reassigned_text(out: Outbound, case: CaseRow) -> str:
    """已改派给 张三: the footer of a card whose prosecutor's buttons went with the case (改派)."""
    return f"已改派给 {out.directory.person_name(case.prosecutor)}"


def not_open_text(out: Outbound, case: CaseRow) -> str:
    """What a case no longer open is, for a refusal: 已撤销（…） or 已于 2026-11-27 10:00 结案."""
    if (withdrawn := withdrawn_text(out, case)) is not None:
        return withdrawn
    when = f"于 {local(case.closed_at, out.config.tz)} " if case.closed_at else ""
    return f"已{when}结案"


def closed_footer(out: Outbound, case: CaseRow) -> str | None:
    """案件已结案（2026-11-27）: the footer of the cards about a case that is no longer open
    (已撤销（…） for one withdrawn), whose actions the case now refuses; None while open."""
    if case.status == OPEN:
        return None
    if (withdrawn := withdrawn_text(out, case)) is not None:
        return f"案件{withdrawn}"
    day = f"（{case.closed_at.astimezone(out.config.tz):%Y-%m-%d}）" if case.closed_at else ""
    return f"案件已结案{day}"


async def taken_in_on(out: Outbound, case: CaseRow) -> date | None:
    """The day (in the bot's time zone) a case in 审查起诉 was first taken in (放行 or 先收后补);
    None, without a query, for a case in an earlier stage or never scanned."""
    if case.stage != PROSECUTION or case.intake is None:
        return None
    at = await repo.first_intake_at(out.session, case.code, TAKEN_IN)
    return at.astimezone(out.config.tz).date() if at is not None else None


def code_links(out: Outbound, code: str) -> tuple[str, str]:
    """(page URL, QR image URL) behind a fresh signed, unguessable token bound to the case;
    its expiry (`link_ttl_days`) counts only once the case is no longer open: see
    `link_expired`."""
    ttl = timedelta(days=out.config.cases.link_ttl_days)
    token = out.services.signer.sign("code", {"c": code}, out.now() + ttl)
    base = out.config.web.base_url
    return f"{base}/c/{token}", f"{base}/qr/{token}.png"


def link_expired(payload: dict[str, Any], status: str, now: datetime) -> bool:
    """Whether a genuine code-page link (its signature already checked, in constant time, by
    `Signer.genuine`) has expired for a case now in `status`. A code link is a locator, not a
    capability: it names one case, the page asks for a web session and applies `may_view`,
    and each action behind it (复核, 扫码受理) is checked against the case as it stands. So the
    link of an open case keeps working as long as the case is open (a printed QR, a card
    still current after 30 days); its expiry only retires links to a case that is over
    (closed, withdrawn), which then open nothing that acts. Action links (which act by
    themselves) keep their own short expiry."""
    return status != OPEN and expired(payload, now)


def score_url(out: Outbound, code: str) -> str:
    return f"{out.config.web.base_url}/cases/{code}/score"


# -- create ------------------------------------------------------------------------------------

TITLE_MAX = 200  # characters in a case's title (案件名称)


def validate_new_case(out: Outbound, data: NewCase) -> list[FieldError]:
    d = out.directory
    errors: list[FieldError] = []
    if invisible(data.title) or len(data.title) > TITLE_MAX:  # "\u200b" is blank too
        errors.append(FieldError("title", f"案件名称必填，且不超过 {TITLE_MAX} 字"))
    elif (problem := char_problem("案件名称", data.title)) is not None:
        errors.append(FieldError("title", problem))
    if data.stage not in STAGES:
        errors.append(FieldError("stage", f"阶段须为 {' / '.join(STAGES)} 之一"))
    police = d.unit(data.police_unit)
    if police is None or police.kind != "police":
        errors.append(FieldError("police_unit", "侦查单位不存在（须为公安机关单位编号）"))
    if (e := prosecutor_error(d, data.prosecutor)) is not None:
        errors.append(e)
    if not data.investigators:
        errors.append(FieldError("investigators", "至少指定一名侦查人员"))
    for i, inv in enumerate(data.investigators):
        q = d.person(inv)
        if q is None or "investigator" not in q.roles:
            errors.append(FieldError(f"investigators[{i}]", "侦查人员不存在或不具有侦查人员角色"))
    if len(set(data.investigators)) != len(data.investigators):
        errors.append(FieldError("investigators", "侦查人员重复"))
    today = out.now().astimezone(out.config.tz).date()
    for name in DEADLINES:
        if (e := day_error(name, getattr(data, name), today)) is not None:
            errors.append(e)
    if data.external_id is not None:
        if invisible(data.external_id) or len(data.external_id) > EXTERNAL_ID_MAX:
            errors.append(FieldError("external_id",
                                     f"统一受案号不能为空白，且不超过 {EXTERNAL_ID_MAX} 字"))
        elif (problem := char_problem("统一受案号", data.external_id)) is not None:
            errors.append(FieldError("external_id", problem))
    return errors


def prosecutor_error(d: Directory, person_id: str) -> FieldError | None:
    """What is wrong with `person_id` as a case's prosecutor (承办检察官): on the roster, with
    the prosecutor role, in an office with a code prefix; None when nothing is."""
    p = d.person(person_id)
    if p is None or "prosecutor" not in p.roles:
        return FieldError("prosecutor", "承办检察官不存在或不具有检察官角色")
    unit = d.unit(p.unit)
    if unit is None or not unit.code_prefix:
        return FieldError("prosecutor", "承办检察官所在院未配置案件码前缀")
    return None


def _prefix_of(out: Outbound, unit_id: str) -> str | None:
    u = out.directory.unit(unit_id)
    return u.code_prefix if u else None


def _case_values(out: Outbound, data: NewCase, code: str, by: str, now: datetime
                 ) -> dict[str, Any]:
    """The columns of a new case's row (the same for one case and for an import)."""
    return {"code": code, "unit": out.directory.people[data.prosecutor].unit,
            "title": data.title.strip(), "stage": data.stage, "police_unit": data.police_unit,
            "prosecutor": data.prosecutor, "investigation_deadline": data.investigation_deadline,
            "custody_deadline": data.custody_deadline, "status": "open", "created_at": now,
            "created_by": by, "version": 0, "external_id": data.external_id}


def _code_year(out: Outbound) -> int:
    return out.now().astimezone(out.config.tz).year


async def create_case(out: Outbound, data: NewCase, by: str, via: str | None = None
                      ) -> CaseRow:
    """A new case with the next code of its prosecutor's office; `via` names, in its
    `case.create` audit record, where a person created it (`web`: the 新建案件 form)."""
    errors = validate_new_case(out, data)
    if errors:
        raise CaseInputError(errors)
    prefix = _prefix_of(out, out.directory.people[data.prosecutor].unit)
    assert prefix is not None
    code = await repo.next_code(out.session, prefix, _code_year(out))
    case = await repo.add_case(out.session, _case_values(out, data, code, by, out.now()),
                               data.investigators)
    record = _create_record(case.title, case.stage, data.external_id)
    await out.audit(by, "case.create", code, record if via is None else {**record, "via": via})
    return case


def _create_record(title: str, stage: str, external_id: str | None) -> dict[str, Any]:
    record = {"title": title, "stage": stage}
    return record if external_id is None else {**record, "external_id": external_id}


# -- create in chat (新建案件: the prosecutor's form) ------------------------------------------

FORM_STAGES = STAGES[:2]  # a case created in chat: 提前介入 or 审查逮捕 (SPEC §1 scope)
FORM_TTL = timedelta(hours=12)  # a form's token (a web session's lifetime: the form needs one)


# what people type between 新建案件 and the title (新建案件，张三盗窃案; a colon glued to the
# command is read by the dispatcher already): not part of the title
_TITLE_LEAD = "，,、：:;；。 \u3000"


def prefill_title(typed: str) -> str:
    """The 案件名称 typed after 新建案件 as the form prefills it: as typed (`one_line`), without
    the punctuation and blanks typed before it; "" for a text that shows nothing."""
    title = one_line(typed).lstrip(_TITLE_LEAD).lstrip()
    return "" if invisible(title) else title


def new_case_url(out: Outbound, title: str = "") -> str:
    """The 新建案件 form, its 案件名称 prefilled with `title` (cut at the `TITLE_MAX`
    characters a title may have)."""
    url = f"{out.config.web.base_url}/cases/new"
    return f"{url}?{urlencode({'title': title[:TITLE_MAX]})}" if title else url


def form_token(services: Services, person: Person) -> str:
    """A new form's one-time token: signed, the person's, with a fresh random id (`f`)."""
    return services.signer.sign("case-form", {"p": person.id, "f": secrets.token_urlsafe(18)},
                                services.clock.now() + FORM_TTL)


def police_unit_of(d: Directory, investigators: Sequence[str]) -> tuple[str, FieldError | None]:
    """The police unit of the investigators chosen on the form, which is the case's 侦查单位:
    "" when none of them is a known investigator (what is wrong with them is said by
    `validate_new_case`), and an error when they belong to more than one unit."""
    units = list(dict.fromkeys(p.unit for i in investigators
                               if (p := d.person(i)) is not None and "investigator" in p.roles))
    if len(units) > 1:
        return "", FieldError("investigators", "所选侦查人员须属于同一侦查单位，现分属："
                                               + "、".join(d.unit_name(u) for u in units))
    return (units[0] if units else ""), None


async def create_from_form(out: Outbound, data: NewCase, by: Person, token: str
                           ) -> tuple[CaseRow, bool]:
    """新建案件 submitted on the web form: the case (prosecutor `by`, `case.create` with
    `"via": "web"`) and, in the same transaction, the form's one-time `token` (its id) and a
    「已录入案件」 card with 去评分 in the prosecutor's 1:1 chat. The same form submitted again
    creates nothing: (the case it created, False). Investigators get nothing until the first
    scoring."""
    if not await repo.claim_form_token(out.session, token, by.id, out.now()):
        code = await repo.form_token_case(out.session, token)
        case = await repo.get_case(out.session, code) if code else None
        assert case is not None, f"form token {token} recorded without its case"
        return case, False
    case = await create_case(out, data, by.id, via="web")
    await repo.set_form_token_case(out.session, token, case.code)
    names = [out.directory.person_name(i) for i in data.investigators]
    await out.send_dm(by.id, card=case_created_card(case_view(out, case), names,
                                                    score_url(out, case.code)))
    return case, True


NAMESAKES_LISTED = 5  # a prosecutor's open cases of the same title named in the question


def entered_on(out: Outbound, case: repo.Namesake) -> date:
    """The day a case entered casebot, in the bot's time zone."""
    return case.created_at.astimezone(out.config.tz).date()


def namesake_state(out: Outbound, case: repo.Namesake) -> str:
    """「2026-11-27 录入，尚未评分」: when a namesake was entered and whether it is scored."""
    scored = ("尚未评分" if case.color is None
              else f"已评分：{Color(case.color).label} {case.score}分")
    return f"{entered_on(out, case).isoformat()} 录入，{scored}"


def namesakes_question(out: Outbound, found: Sequence[repo.Namesake]) -> str:
    """What the 新建案件 form asks before creating a case whose title one of the prosecutor's
    open cases has: 「您已有同名在办案件 HY-2026-0005（2026-11-27 录入，尚未评分），确定仍要新建吗？」."""
    named = "、".join(f"{c.code}（{namesake_state(out, c)}）" for c in found[:NAMESAKES_LISTED])
    more = f" 等 {len(found)} 件" if len(found) > NAMESAKES_LISTED else ""
    return f"您已有同名在办案件 {named}{more}，确定仍要新建吗？"


async def create_cases(out: Outbound, items: Sequence[NewCase], by: str,
                       progress: Callable[[int, int], None] | None = None,
                       chunk: int = 1000) -> list[str]:
    """Create many cases, already checked by `validate_new_case`, as `create_case` would one
    by one (codes from the counter in order, a `case.create` audit record each), but with a
    handful of bulk statements: for imports, so the write transaction stays short."""
    now, year = out.now(), _code_year(out)
    prefixes = [_prefix_of(out, out.directory.people[d.prosecutor].unit) or "" for d in items]
    taken = {p: iter(await repo.take_codes(out.session, p, year, prefixes.count(p)))
             for p in dict.fromkeys(prefixes)}
    codes = [next(taken[p]) for p in prefixes]
    for start in range(0, len(items), chunk):
        part = list(zip(codes[start:start + chunk], items[start:start + chunk], strict=True))
        rows = [_case_values(out, d, code, by, now) for code, d in part]
        await repo.add_cases(out.session, rows, [
            {"case_code": code, "person_id": inv} for code, d in part for inv in d.investigators])
        await audit.append_many(out.session, [
            audit.Entry(now, by, "case.create", r["code"],
                        _create_record(r["title"], r["stage"], r["external_id"])) for r in rows])
        if progress is not None:
            progress(start + len(part), len(items))
    return codes


async def case_by_external_id(out: Outbound, external_id: str) -> CaseRow | None:
    codes = await repo.codes_by_external_id(out.session, [external_id])
    return await repo.get_case(out.session, codes[external_id]) if codes else None


# -- withdraw (撤销案件: entered by mistake) ----------------------------------------------------

WITHDRAW_USAGE = "撤销案件 <案件码> [原因]"
WITHDRAW_SEPARATORS = _REST_LEAD  # what may stand between a reason and its 确认


def withdraw_refusal(out: Outbound, case: CaseRow, person: Person) -> str | None:
    """Why `person` may not withdraw `case` (None: they may). Only its prosecutor, and only
    while it was never scored: once scored, its code is in the investigators' hands and the
    case ends by closing (结案) in the case-management system, not by vanishing."""
    if person.id != case.prosecutor:
        return f"只有本案承办检察官可以撤销案件 {case.code}。"
    if case.status == WITHDRAWN:
        return f"{case.code} {withdrawn_text(out, case)}，无需重复撤销。"
    if case.status != OPEN:
        return f"{case.code} {not_open_text(out, case)}，不能撤销。"
    if case.version > 0:
        return (f"{case.code} 已评分，案件码已发送给侦查人员，不能撤销。"
                "如需结案，请通过案件管理系统办理结案。")
    return None


def withdraw_reason_error(reason: str) -> str | None:
    """What is wrong with a typed 撤销原因 (None: nothing; it may be empty)."""
    if len(reason) > WITHDRAW_REASON_MAX:
        return f"撤销原因不超过 {WITHDRAW_REASON_MAX} 字。"
    if (problem := char_problem("撤销原因", reason)) is not None:
        return f"{problem}。"
    return None


async def withdraw(out: Outbound, case: CaseRow, by: Person, reason: str) -> None:
    """Withdraw `case` (locked by the caller, `withdraw_refusal` said yes): status withdrawn,
    who/when/why kept on it and in a `case.withdraw` audit record. The caller re-plans its
    reminders (bot.reminders.replan_case)."""
    case.status, case.withdrawn_at, case.withdrawn_by = WITHDRAWN, out.now(), by.id
    case.withdraw_reason = reason or None
    await out.session.flush()
    await out.audit(by.id, "case.withdraw", case.code, {"title": case.title, "reason": reason})


# -- stage (阶段) -------------------------------------------------------------------------------

PROSECUTION = STAGES[-1]  # 审查起诉: where a case goes once taken in (受理)
STAGE_ORDER = " → ".join(STAGES)


async def move_stage(out: Outbound, case: CaseRow, to: str, by: str,
                     record: dict[str, Any] | None = None) -> bool:
    """Move a case (locked by the caller) forward to stage `to`, with a `case.stage` audit
    record (from, to, by, and `record`'s details: what moved it). False when it is already
    there; CaseInputError going back: a stage never moves backwards."""
    if to not in STAGES:
        raise CaseInputError([FieldError("stage", f"阶段须为 {' / '.join(STAGES)} 之一")])
    if to == case.stage:
        return False
    if case.stage in STAGES and STAGES.index(to) < STAGES.index(case.stage):
        raise CaseInputError([FieldError(
            "stage", f"阶段只能向前推进（{STAGE_ORDER}），{case.code} 已在{case.stage}阶段，"
                     f"不能改回{to}")])
    before, case.stage = case.stage, to
    await out.session.flush()
    await out.audit(by, "case.stage", case.code, {"from": before, "to": to, **(record or {})})
    return True


# -- evaluate ----------------------------------------------------------------------------------

class ScoredSince(Exception):
    """A score submitted on version `base` of a case that has another version now, and is
    not that very submission's own (a resend of it is answered with what it recorded)."""

    def __init__(self, out: Outbound, current: Evaluation) -> None:
        super().__init__(f"该案件已有第 {current.version} 版评分（"
                         f"{out.directory.person_name(current.by)} "
                         f"{local(current.at, out.config.tz)}），本次未提交。")
        self.current = current


async def recorded_before(out: Outbound, case: CaseRow, base: int, by: Person,
                          deductions: list[Deduction], vetoes: list[str], comment: str,
                          review_request_id: int | None = None) -> Evaluation:
    """For a score submitted on version `base` (0: unscored) of a case now at another
    version (checked by the caller, under the case's lock): the evaluation this very
    submission recorded before, when a double tap or a resend finds the version the first
    made (same person, the next version, same content); else ScoredSince."""
    current = await repo.current_evaluation(out.session, case)
    assert current is not None  # the version only grows
    if current.by == by.id and current.version == base + 1:
        try:
            again = new_evaluation(out.services.settings.template, None,
                                   case_code=current.case_code, by=by.id, at=current.at,
                                   deductions=deductions, vetoes=vetoes, comment=comment,
                                   review_request_id=review_request_id)
        except EvaluationError:
            raise ScoredSince(out, current) from None
        if (again.deductions, again.vetoes, again.comment, again.review_request_id) == (
                current.deductions, current.vetoes, current.comment,
                current.review_request_id):
            return current
    raise ScoredSince(out, current)


async def record_evaluation(out: Outbound, case: CaseRow, by: Person,
                            deductions: list[Deduction], vetoes: list[str], comment: str,
                            review_request_id: int | None = None) -> Evaluation:
    """Score a case; deliver its card to the investigators."""
    if by.id != case.prosecutor:
        raise PermissionError("只有本案承办检察官可以评分")
    if case.status == WITHDRAWN:
        raise CaseInputError([FieldError("code", f"案件{withdrawn_text(out, case)}，不能评分")])
    if case.status != OPEN:
        raise CaseInputError([FieldError("code", "案件已结案，不能再评分")])
    previous = await repo.current_evaluation(out.session, case)
    try:
        ev = new_evaluation(out.services.settings.template, previous, case_code=case.code,
                            by=by.id, at=out.now(), deductions=deductions, vetoes=vetoes,
                            comment=comment, review_request_id=review_request_id)
    except EvaluationError as e:
        raise CaseInputError(list(e.errors)) from None
    transcode = transcode_between(previous, ev)
    await repo.add_evaluation(out.session, case, ev, transcode)
    await out.audit(by.id, "case.evaluate", case.code, {
        "version": ev.version, "score": ev.score, "color": ev.color.value,
        "deductions": [d.item for d in ev.deductions], "vetoes": list(ev.vetoes),
        "review_request": review_request_id})
    if transcode is not None:
        await out.audit(by.id, "case.transcode", case.code, {
            "from": transcode.from_color.value, "to": transcode.to_color.value,
            "version": ev.version})
    # every version reaches the investigators (a re-score in the same colour changes what they
    # must fix too), and the cards of earlier versions lose their buttons
    await supersede_deliveries(out, case, ev)
    await deliver(out, case, ev, transcode.from_color if transcode else None,
                  cleared_items(previous, ev))
    if previous is None:
        await redraw_created_card(out, case, ev)
    if case.intake == INTAKE_BY_COLOR[Color.YELLOW]:  # yellow again too: a new score
        await intake_moot_by_rescore(out, case, ev)  # the case must be scanned again
    for hook in out.services.on_evaluation:
        await hook(out, case, ev)
    return ev


async def redraw_created_card(out: Outbound, case: CaseRow, ev: Evaluation) -> None:
    """The case's first scoring: the prosecutor's 已录入案件 card no longer says 尚未评分."""
    for msg in await msgs.bot_cards_mentioning(out.session, [f"dm:{case.prosecutor}"],
                                               case.created_at, case.code):
        card = msgs.message_card(msg)
        if card is not None and card.title == created_card_title(case.code):
            if (scored := created_card_scored(card, ev)) != card:
                await redraw_case_card(out, case, msg, scored)


async def supersede_deliveries(out: Outbound, case: CaseRow, ev: Evaluation) -> None:
    """Earlier versions' cards stay readable but can no longer be acted on."""
    for msg in await repo.last_delivered_cards_before(out.session, case.code, ev.version):
        card = msgs.message_card(msg)
        if card is not None and card.actions:
            await redraw_case_card(out, case, msg, replace(
                card, actions=(), footer=f"已更新为第{ev.version}版，请以最新卡片为准。"), retire=True)


async def deliver(out: Outbound, case: CaseRow, ev: Evaluation, from_color: Color | None,
                  cleared: tuple[str, ...] = ()) -> None:
    view = case_view(out, case)
    for person_id in await repo.investigators(out.session, case.code):
        page, qr = code_links(out, case.code)
        card = delivery_card(view, ev, out.services.settings.template, page, qr, None,
                             out.config.tz, transcode_from=from_color, cleared=cleared)
        msg = await notify(out, case, person_id, card=card)
        if msg is None:  # off the roster since: not delivered
            continue
        repo.add_delivery(out.session, case.code, ev.version, person_id, msg.id, out.now())
        await out.audit("bot", "case.deliver", case.code,
                        {"to": person_id, "version": ev.version, "message": msg.id})
    await out.session.flush()


async def redraw_deliveries(out: Outbound, case: CaseRow) -> None:
    """The case was closed or reopened: the investigators' cards of its current version follow.
    Closed, they keep only 查看详情, footed 案件已结案（date）; reopened, 申请复核 and (unless
    acknowledged meanwhile) 已知悉 are back. What a card said when sent (转码, 已销号) stays;
    earlier versions' cards, already retired (已更新为第n版), are left alone."""
    ev = await repo.current_evaluation(out.session, case)
    if ev is None:
        return
    view, closed = case_view(out, case), closed_footer(out, case)
    page, qr = code_links(out, case.code)
    for d in await repo.deliveries(out.session, case.code):
        msg = await msgs.get_message(out.session, d.message_id) if d.version == ev.version \
            else None
        old = msgs.message_card(msg) if msg is not None else None
        if msg is None or old is None:
            continue
        opener = old.button("case.open")
        ack = (None if d.acknowledged_at is None
               else (out.directory.person_name(d.person_id), d.acknowledged_at))
        card = replace(delivery_card(view, ev, out.services.settings.template,
                                     opener.url if opener and opener.url else page,
                                     old.image or qr, ack, out.config.tz, closed=closed),
                       body=old.body, done=old.done)
        if card != old:  # closing a closed case again redraws nothing
            await redraw_case_card(out, case, msg, card)


async def retire_withdrawn_cards(out: Outbound, case: CaseRow) -> None:
    """The case was withdrawn: every 撤销案件 confirmation sent to its prosecutor (in their 1:1
    chat or a group they are in, after the case was created) loses 确认撤销, footed
    已撤销（…）; the cards offering 去评分 follow as on closing (`redraw_requested_cards`)."""
    done = withdrawn_text(out, case)
    if done is None:
        return
    for msg, card, _ in await _withdraw_confirmations(out, case):
        await redraw_case_card(out, case, msg, replace(card, actions=(), footer=done))
    await redraw_requested_cards(out, case)


async def pending_withdraw_reason(out: Outbound, case: CaseRow) -> str:
    """The 撤销原因 of the newest 撤销案件 card of ``case`` still offering 确认撤销 ('' when
    none does): what a bare 「撤销案件 <案件码> 确认」 confirms."""
    pending = await _withdraw_confirmations(out, case)
    return str(pending[-1][2].data.get("reason", "")) if pending else ""


async def _withdraw_confirmations(out: Outbound, case: CaseRow
                                  ) -> list[tuple[Message, Card, Button]]:
    """The 撤销案件 cards of ``case`` still offering 确认撤销 (in its prosecutor's 1:1 chat or a
    group they are in, since the case was created), oldest first, with that button."""
    chats = [f"dm:{case.prosecutor}"] + [c.id for c in out.directory.chats_of(case.prosecutor)]
    found = []
    for msg in await msgs.bot_cards_mentioning(out.session, chats, case.created_at, case.code):
        card = msgs.message_card(msg)
        confirm = card.button("case.withdraw") if card is not None else None
        if card is not None and confirm is not None and confirm.data.get("code") == case.code:
            found.append((msg, card, confirm))
    return found


# the buttons of the cards people asked for (码, 评分, 已录入案件) that a case no longer open
# refuses: 去评分 / 打开评分表, 扫码受理, and an investigator's 申请复核 and 已知悉
NOT_WHEN_CLOSED = ("case.score", "case.intake", "intake.defer", "intake.receive", "review.file",
                   "case.ack")
CLOSED_FOOTER_START = "案件已结案"  # closed_footer of a closed (not withdrawn) case


async def redraw_requested_cards(out: Outbound, case: CaseRow) -> None:
    """The case was closed, reopened or withdrawn: the cards people asked for that act on it
    follow, as the investigators' code cards do (`redraw_deliveries`). Closed or withdrawn,
    the 码 cards lose 去评分 and 扫码受理, the 评分 card 打开评分表 and 已录入案件 去评分, footed
    案件已结案（date） (案件已撤销（…）); reopened, the cards the closing redrew get back what
    their reader is offered now. What each card said when sent stays."""
    footer = closed_footer(out, case)
    delivered = {d.message_id for d in await repo.deliveries(out.session, case.code)}
    asked = (score_card_title(case.code), created_card_title(case.code))
    investigators = await repo.investigators(out.session, case.code)
    # every chat it went to, not those the roster links to the case now: a 码 card asked for
    # in a group since dropped, or by a case manager since moved to another office, is still
    # there with its buttons (a full scan of the stored cards since the case was created)
    for msg in await msgs.bot_cards_mentioning(out.session, None, case.created_at, case.code):
        card = msgs.message_card(msg)
        if card is None or msg.id in delivered or not (
                card.title in asked or card.title.startswith(f"案件码 {case.code} · ")):
            continue
        if footer is not None:
            if any(card.button(a) is not None for a in NOT_WHEN_CLOSED):
                await redraw_case_card(out, case, msg, replace(card, footer=footer, actions=tuple(
                    b for b in card.actions if b.id not in NOT_WHEN_CLOSED)))
        elif card.footer is not None and card.footer.startswith(CLOSED_FOOTER_START):
            actions, again = await _offered_again(out, case, msg, card, investigators)
            await redraw_case_card(out, case, msg, replace(card, footer=again, actions=actions))


async def _offered_again(out: Outbound, case: CaseRow, msg: Message, card: Card,
                         investigators: Collection[str]
                         ) -> tuple[tuple[Button, ...], str | None]:
    """The buttons (and footer) a card the closing redrew has again, the case reopened:
    打开评分表 / 去评分 on the prosecutor's 评分 and 已录入案件 cards; on a 码 card, what its
    reader (the person it was sent to or who asked for it in a group) is offered now, as `码`
    would: in an investigator's 1:1 chat 申请复核, and 已知悉 or who acknowledged it."""
    url = score_url(out, case.code)
    reader = (msg.chat.removeprefix("dm:") if msg.chat.startswith("dm:")
              else await msgs.sender_of_event(out.session, msg))
    if card.title in (score_card_title(case.code), created_card_title(case.code)):
        if reader != case.prosecutor:  # reassigned (改派) while it was closed
            return (), reassigned_text(out, case)
        label = SCORE_FORM_BUTTON if card.title == score_card_title(case.code) else "去评分"
        return (score_button(url, label),), None
    person = out.directory.person(reader) if reader else None
    opener = card.button("case.open")
    page = opener.url if opener is not None and opener.url else code_links(out, case.code)[0]
    if person is None:
        return (*card.actions,), None
    ev = await repo.current_evaluation(out.session, case)
    last = await repo.last_intake(out.session, case.code)
    own = None
    if ev is not None and msg.chat == f"dm:{person.id}" and person.id in investigators:
        mine = await repo.own_delivery(out.session, case.code, ev.version, person.id)
        acked = mine.acknowledged_at if mine is not None else None
        own = OwnCode((person.name, acked) if acked is not None else None, out.config.tz,
                      delivered=mine is not None)
    footer = (f"已知悉：{person.name} {local(own.acknowledged[1], out.config.tz)}"
              if own is not None and own.acknowledged is not None else None)
    return view_actions(case.code, page, can_score=person.id == case.prosecutor,
                        score_url=url, can_intake=offers_intake(out, person, case, ev, last),
                        can_choose=offers_choice(person, case, ev, last), ev=ev,
                        own=own), footer


async def acknowledge(out: Outbound, delivery: DeliveryRow, person: Person) -> bool:
    """已知悉: once per delivery; returns False when it was already acknowledged (compare-and-set:
    of two clicks at the same moment on PostgreSQL, exactly one wins)."""
    if delivery.acknowledged_at is not None:
        return False
    if not await repo.acknowledge_delivery(out.session, delivery.id, out.now()):
        return False
    await out.audit(person.id, "case.acknowledge", delivery.case_code,
                    {"version": delivery.version, "message": delivery.message_id})
    return True


# -- intake (扫码分类受理) -------------------------------------------------------------------------

INTAKE_BY_COLOR = {Color.GREEN: "放行", Color.YELLOW: "待定", Color.RED: "退回"}
INTAKE_FINAL = ("放行", "退回", "延期受理", "先收后补")  # 待定 waits for the prosecutor
TAKEN_IN = ("放行", "先收后补")  # the decisions that take the case in: it moves to 审查起诉
# how the prosecutor's line about a case manager's 放行 / 退回 ends
PROSECUTOR_TOLD = {"放行": "。", "退回": "，已通知侦查人员补充完善后重新移送。"}


def offers_intake(out: Outbound, person: Person, case: CaseRow, ev: Evaluation | None,
                  last: IntakeRow | None) -> bool:
    """Whether the 码 card and the code page (what scanning the QR opens) offer this person
    扫码受理: a case manager of the case's office or one above it, an open case that is scored,
    and no decision yet on its current score (scanned again, `受理` says what was decided)."""
    return (person.has("case_manager") and in_scope(out, person, case.unit)
            and case.status == "open" and ev is not None
            and (last is None or last.version != ev.version))


def offers_choice(person: Person, case: CaseRow, ev: Evaluation | None,
                  last: IntakeRow | None) -> bool:
    """Whether the 码 card offers this person 延期受理 / 先收后补: the prosecutor of an open
    case whose intake is 待定 on its current (yellow) score, as the 受理待定 card does."""
    return (person.id == case.prosecutor and case.status == OPEN and ev is not None
            and ev.color is Color.YELLOW and last is not None
            and last.decision == INTAKE_BY_COLOR[Color.YELLOW] and last.version == ev.version)


async def waiting_choices(out: Outbound, prosecutor: Person
                          ) -> list[tuple[CaseRow, Evaluation, IntakeRow]]:
    """The prosecutor's open cases whose intake waits for their 延期受理 / 先收后补
    (`offers_choice`), by code, each with its current evaluation and that 待定 decision."""
    found: list[tuple[CaseRow, Evaluation, IntakeRow]] = []
    for case in await repo.cases_of(out.session, prosecutor.id):
        if case.prosecutor != prosecutor.id or case.intake != INTAKE_BY_COLOR[Color.YELLOW]:
            continue
        ev = await repo.current_evaluation(out.session, case)
        last = await repo.latest_intake(out.session, case)
        if offers_choice(prosecutor, case, ev, last):
            assert ev is not None and last is not None
            found.append((case, ev, last))
    return found


async def lock_for_intake(out: Outbound, code: str) -> tuple[CaseRow, IntakeRow | None, bool]:
    """The case locked for an intake decision, its last decision, and whether that decision was
    made while this scan waited for the lock. One scan at a time decides (PostgreSQL: two
    scans at the same moment, from two case managers or a double tap through two instances);
    the waiting one then finds the decision, whose messages have just gone out."""
    before = await repo.last_intake(out.session, code)
    case = await repo.get_case(out.session, code, for_update=True)
    assert case is not None
    last = await repo.last_intake(out.session, code)
    return case, last, last is not None and (before is None or before.id != last.id)


async def record_intake(out: Outbound, case: CaseRow, by: Person, ev: Evaluation,
                        decision: str) -> IntakeRow:
    """A new intake decision on evaluation ``ev``; a final one reaches the investigators, and
    one that takes the case in (TAKEN_IN) moves it to 审查起诉. The stage stays there whatever
    happens to intake later (re-scored and scanned again, even 退回 for 补充侦查): the case
    has physically moved."""
    row = await repo.add_intake(out.session, case, by.id, out.now(), ev.color.value, decision,
                                ev.version)
    await out.audit(by.id, "case.intake", case.code,
                    {"color": ev.color.value, "decision": decision, "version": ev.version})
    if decision in TAKEN_IN:
        await move_stage(out, case, PROSECUTION, by.id,
                         {"via": "intake", "decision": decision, "version": ev.version})
    if decision in INTAKE_FINAL:  # the police learn what became of their case
        page, _ = code_links(out, case.code)
        card = intake_notice_card(case_view(out, case), ev, decision, open_items_text(ev, out),
                                  page)
        for investigator in await repo.investigators(out.session, case.code):
            await notify(out, case, investigator, card=card)
    # and the prosecutor of a case manager's final decision (a 待定 asks them to choose instead;
    # 延期受理 / 先收后补 are their own)
    if decision in PROSECUTOR_TOLD and by.id != case.prosecutor:
        await notify(out, case, case.prosecutor,
                     f"{case.code} 已由案管{by.name}扫码受理：{decision}"
                     f"（{ev.color.label} {ev.score}分）{PROSECUTOR_TOLD[decision]}")
    return row


async def waiting_intakes(out: Outbound, code: str) -> list[IntakeRow]:
    """The 待定 decisions since the case's last final one (their case managers wait)."""
    rows = await repo.intake_decisions(out.session, code)
    final = [i for i, r in enumerate(rows) if r.decision in INTAKE_FINAL]
    return [r for r in rows[final[-1] + 1 if final else 0:]
            if r.decision == INTAKE_BY_COLOR[Color.YELLOW]]


async def retire_waiting(out: Outbound, case: CaseRow, manager: str | Card,
                         prosecutor: str | Card) -> list[str]:
    """The case's 待定 is settled: redraw the case managers' cards that still say they wait
    for the prosecutor, and every card still asking the prosecutor to choose. A str is the
    footer the card gets (the prosecutor's loses its buttons); a Card replaces it. Returns the
    case managers who were still waiting (a card redrawn on their behalf), once each, in scan
    order: a second settling finds nobody waiting."""
    waiting = await waiting_intakes(out, case.code)
    waited: list[str] = []
    for row in waiting:
        msg = await msgs.get_message(out.session, row.message_id) if row.message_id else None
        old = msgs.message_card(msg) if msg is not None else None
        if msg is not None and old is not None and not old.footer:
            await redraw_case_card(out, case, msg, replace(old, footer=manager)
                                   if isinstance(manager, str) else manager)
            waited.append(row.by)
    asking: dict[int, bool] = {}  # message id -> whether it still asked (before its redraw)
    for message_id, by in await repo.intake_prompts(out.session, [r.id for r in waiting]):
        if message_id not in asking:
            asking[message_id] = await _retire_prompt(out, case, message_id, prosecutor)
        if asking[message_id] and by is not None:
            waited.append(by)
    return list(dict.fromkeys(waited))


async def settle_choice_cards(out: Outbound, case: CaseRow, whole: Card | None, footer: str,
                              intake: str | None) -> None:
    """The prosecutor chose (延期受理 / 先收后补) on one card or typed it, or the choice went
    moot (re-scored): every other card still offering the case's choice follows
    (`choice_settled`), wherever it was sent, as closing redraws the cards it leaves nothing
    to do on (`redraw_requested_cards`): the 码 cards they asked for in their 1:1 chat or a
    group, and any 受理待定 card left asking."""
    for msg in await msgs.bot_cards_mentioning(out.session, None, case.created_at, case.code):
        card = msgs.message_card(msg)
        if card is not None and offers_choice_on(card, case.code):
            await redraw_case_card(out, case, msg, choice_settled(card, whole, footer, intake))


async def _retire_prompt(out: Outbound, case: CaseRow, message_id: int,
                         prosecutor: str | Card) -> bool:
    """Redraw a card asking the prosecutor to choose; False when it no longer asked."""
    msg = await msgs.get_message(out.session, message_id)
    old = msgs.message_card(msg) if msg is not None else None
    if msg is None or old is None or not old.actions:
        return False
    await redraw_case_card(out, case, msg, replace(old, actions=(), footer=prosecutor)
                           if isinstance(prosecutor, str) else prosecutor)
    return True


async def _retire_moot(out: Outbound, case: CaseRow, manager: str, prosecutor: str,
                       told: str) -> None:
    """The 待定 question went moot before the prosecutor chose: the cards say so (footers
    `manager` and `prosecutor`), and every case manager still waiting for the choice is told
    once (`told`), as they would be told the choice."""
    for person in await retire_waiting(out, case, manager, prosecutor):
        await notify(out, case, person, told)


async def intake_moot_by_rescore(out: Outbound, case: CaseRow, ev: Evaluation) -> str:
    """Re-scored while 待定 (green, red, or yellow again: the 待定 was on the earlier score,
    as a fresh 码 says, 此后已重新评分，需重新扫码受理): the case must be scanned again.
    Returns the footer of the prosecutor's cards."""
    moot = f"{rescored_text(ev)}，不再待定"
    footer = f"{moot}，待案管部门重新扫码受理"
    await _retire_moot(out, case, f"{moot}，请重新扫码受理", footer,
                       f"{case.code} {moot}，无需等待承办检察官选择，请重新扫码受理。")
    # the 码 cards still offering the choice: their 受理 line as a fresh 码 says it now
    # (此后已重新评分，需重新扫码受理)
    last = await repo.last_intake(out.session, case.code)
    await settle_choice_cards(out, case, None, footer, case_view(out, case, last).intake)
    return footer


def rescored_text(ev: Evaluation) -> str:
    """已转为绿码 95分, or, re-scored in the same colour (yellow), 已重新评分为黄码 90分."""
    verb = "已重新评分为" if ev.color is Color.YELLOW else "已转为"
    return f"{verb}{ev.color.label} {ev.score}分"


CLOSED_MOOT = "案件已结案，不再待定"  # the case managers' 待定 cards, once closed
CLOSED_MOOT_ASKED = f"{CLOSED_MOOT}，无需选择"  # the prosecutor's


async def intake_moot_by_closing(out: Outbound, case: CaseRow) -> str:
    """Closed (结案) by the case-management system while 待定: nothing is left to choose.
    Returns the footer of the prosecutor's cards."""
    if case.intake == INTAKE_BY_COLOR[Color.YELLOW]:  # else nobody waits
        await _retire_moot(out, case, CLOSED_MOOT, CLOSED_MOOT_ASKED,
                           f"{case.code} {CLOSED_MOOT}，无需等待承办检察官选择。")
    return CLOSED_MOOT_ASKED


async def intake_waits_again(out: Outbound, case: CaseRow) -> None:
    """Reopened (撤销结案) while its intake was 待定 on the current evaluation: what the
    closing retired (intake_moot_by_closing) asks again. The prosecutor's cards get 延期受理 /
    先收后补 back, the case managers' say they wait, and whoever the closing told that the
    case no longer waits is told it does (the prosecutor too, pointed to the cards)."""
    last = await repo.last_intake(out.session, case.code)
    ev = await repo.current_evaluation(out.session, case)
    if case.status != "open" or last is None or ev is None \
            or last.decision != INTAKE_BY_COLOR[Color.YELLOW] or last.version != ev.version:
        return  # decided, re-scored since, or never scanned: nothing waits
    reopened = f"案件已于 {local(out.now(), out.config.tz)} 重新打开（撤销结案）"
    view = case_view(out, case)
    told: list[str] = []
    msg = await msgs.get_message(out.session, last.message_id) if last.message_id else None
    old = msgs.message_card(msg) if msg is not None else None
    if msg is not None and old is not None and old.footer == CLOSED_MOOT:
        await redraw_case_card(out, case, msg,
                               intake_waiting_card(view, ev, f"{reopened}，仍待选择。"))
        told.append(last.by)
    asked: dict[int, bool] = {}  # message id -> whether the closing had retired it
    for message_id, by in await repo.intake_prompts(out.session, [last.id]):
        if message_id not in asked:
            asked[message_id] = await _ask_again(out, case, message_id, f"{reopened}，请选择")
        if asked[message_id] and by is not None:
            told.append(by)
    again = f"{case.code} {reopened}，受理仍为待定（{ev.color.label} {ev.score}分）"
    for manager in dict.fromkeys(told):
        await notify(out, case, manager, f"{again}，等待承办检察官选择，选择后将通知您。")
    if any(asked.values()):
        await notify(out, case, case.prosecutor, f"{again}：请在「受理待定」卡片上选择延期受理或先收后补。")


async def _ask_again(out: Outbound, case: CaseRow, message_id: int, footer: str) -> bool:
    """Give a prompt the closing retired its choices back; False when it was not that."""
    msg = await msgs.get_message(out.session, message_id)
    old = msgs.message_card(msg) if msg is not None else None
    if msg is None or old is None or old.actions or old.footer != CLOSED_MOOT_ASKED:
        return False
    await redraw_case_card(out, case, msg, replace(old, actions=intake_choices(case.code),
                                                   footer=footer))
    return True


def open_items_text(ev: Evaluation, out: Outbound) -> str:
    if not open_deductions(ev) and not ev.vetoes:
        return "无未销号扣分项。"
    return "\n".join(deduction_lines(ev, out.services.settings.template))


def overseen_units(directory: Directory, person: Person) -> set[str] | None:
    """The units whose cases `person` answers for in 统计 and a case manager's 我的案件: their
    office and every unit below it; None for the province (every case)."""
    home = directory.unit(person.unit)
    return None if home is None or home.parent is None else directory.within(home.id)


def overseen_text(directory: Directory, person: Person) -> str:
    """Those offices in words: 示范市海澄县人民检察院, 示范市人民检察院及下级院."""
    units = overseen_units(directory, person)
    below = units is None or any(
        u.id in units and u.id != person.unit and u.kind != "police" for u in directory.org.units)
    return directory.unit_name(person.unit) + ("及下级院" if below else "")


WAITING_SHOWN = 20  # cases a case manager's 我的案件 lists as waiting for intake, a page
WAITING_FILTERS = {"红码": Color.RED.value, "黄码": Color.YELLOW.value,
                   "绿码": Color.GREEN.value, "待定": "待定"}
WAITING_USAGE = "我的案件 [页码] [红码/黄码/绿码/待定]，如：我的案件 2；我的案件 黄码；我的案件 红码 第2页"
_PAGE = re.compile(r"第?\s*([0-9]{1,4})\s*页?")


@dataclass(frozen=True)
class WaitingQuery:
    """Which page of the waiting list, and of which cases (a 我的案件 filter word, or None)."""

    page: int = 1
    only: str | None = None


def waiting_query(args: str) -> WaitingQuery | None:
    """我的案件 / 待受理's arguments: a page (2, 第2页) and a filter (红码, 黄码, 绿码, 待定), in
    either order; None for anything else (the person gets the usage, not the whole list)."""
    page: int | None = None
    only: str | None = None
    plain = re.sub(r"第\s*([0-9]+)\s*页", r"第\1页", unicodedata.normalize("NFKC", args))
    for word in re.split(r"[\s,，、]+", plain.strip()):
        if not word:
            continue
        if word in WAITING_FILTERS and only is None:
            only = word
        elif (m := _PAGE.fullmatch(word)) is not None and page is None and int(m[1]) > 0:
            page = int(m[1])
        else:
            return None
    return WaitingQuery(page or 1, only)


async def waiting_for_intake(services: Services, manager: Person,
                             query: WaitingQuery = WaitingQuery()
                             ) -> tuple[list[WaitingCase], int]:
    """The open scored cases of the case manager's office and the offices below it that wait
    for intake (no decision on the current score, or 待定 for the prosecutor's choice): the
    query's page of WAITING_SHOWN by code, and how many in all. Read off the event loop: it
    grows with the offices' cases (a city's are its counties')."""
    units = overseen_units(services.directory, manager)
    pending = INTAKE_BY_COLOR[Color.YELLOW]
    only = WAITING_FILTERS.get(query.only or "")
    color = None if only in (None, pending) else only
    offset = (query.page - 1) * WAITING_SHOWN
    return await services.bulk.run(
        lambda session: repo.waiting_for_intake(session, units, pending, WAITING_SHOWN, offset,
                                                color, only == pending),
        lambda found: found)


async def case_stats(services: Services, viewer: Person, period: Period | None = None
                     ) -> StatsView:
    """统计 (chat card, /stats and its CSV): the cases of the viewer's office and the offices
    below it (the province: every case), read off the event loop, broken down per prosecutor
    and per police unit of that part of the roster (those without a case with zeros, in
    roster order; anyone else with cases after them), names resolved. With a period, only
    the cases that entered casebot in it (its days in the bot's time zone), with everything
    about them (colour now, 转码, intake … whenever it happened)."""
    tz = services.config.tz
    now = services.clock.now()
    today = now.astimezone(tz).date()
    d = services.directory
    scope = overseen_units(d, viewer)
    prosecutors = [p.id for p in d.with_role("prosecutor") if scope is None or p.unit in scope]
    units = [u.id for u in d.org.units
             if u.kind == "police" and (scope is None or u.id in scope)]
    created = period.bounds(tz) if period is not None else None
    st = await services.bulk.run(lambda session: repo.case_fact_rows(session, scope, created),
                                 lambda rows: compute(repo.facts_from(rows), today, tz,
                                                      prosecutors, units))
    return StatsView(
        stats=st, scope=d.unit_name(viewer.unit), taken=now.astimezone(tz), period=period,
        prosecutors=tuple((d.person_name(k), g) for k, g in st.per_prosecutor.items()),
        police_units=tuple((d.unit_name(k), g) for k, g in st.per_police_unit.items()))
