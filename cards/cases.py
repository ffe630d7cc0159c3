"""Case-code cards (案件码): pure builders from case data to platform-neutral cards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain.scoring import Color, Deduction, Evaluation, ScoreTemplate
from bot.domain.workcal import day_text
from cards.model import Button, Card, FormField, keyed_action


@dataclass(frozen=True)
class CaseView:
    """What a card shows about a case (names already resolved)."""

    code: str
    title: str
    stage: str
    police_unit: str
    prosecutor: str
    investigation_deadline: date | None
    custody_deadline: date | None
    external_id: str | None = None  # 统一受案号 in the case-management system
    intake: str | None = None  # the latest intake decision as it stands (intake_state)
    # the current version's cards to the investigators, for those who oversee the case (the
    # prosecutor, case managers, leaders); None for anyone else
    receipts: tuple[ReceiptView, ...] | None = None
    taken_in: date | None = None  # the day it was taken in (受理), when it is in 审查起诉
    withdrawn: str | None = None  # 已撤销（张三 2026-11-27：重复录入）: withdrawn by its prosecutor
    custody_passed: bool = False  # its 羁押期限 has run out: 已届满 after it (bot.cases.custody_passed)

    @property
    def stage_text(self) -> str:
        """审查起诉（2026-11-05 受理） once taken in; else the stage alone."""
        if self.taken_in is None:
            return self.stage
        return f"{self.stage}（{self.taken_in.isoformat()} 受理）"


@dataclass(frozen=True)
class ReceiptView:
    """One investigator's card of the current evaluation: delivered (送达) when, its send
    failed (发送失败), or neither (未送达); acknowledged (已知悉) when."""

    name: str
    delivered_at: datetime | None
    failed: bool
    acknowledged_at: datetime | None

    @property
    def not_delivered(self) -> str:
        """Why the card is not delivered (when it is not)."""
        return "发送失败" if self.failed else "未送达"

    def delivered_text(self, tz: ZoneInfo) -> str:
        return local(self.delivered_at, tz) if self.delivered_at else self.not_delivered

    def acknowledged_text(self, tz: ZoneInfo) -> str:
        return local(self.acknowledged_at, tz) if self.acknowledged_at else "未知悉"


def receipts_line(receipts: tuple[ReceiptView, ...]) -> str:
    """送达 2/2 · 已知悉 1/2（未知悉：张洋艳）; a card not delivered is named with why
    (送达 1/2（发送失败：胡宇）)."""
    n = len(receipts)
    missing: dict[str, list[str]] = {}
    for r in receipts:
        if r.delivered_at is None:
            missing.setdefault(r.not_delivered, []).append(r.name)
    delivered = f"送达 {n - sum(map(len, missing.values()))}/{n}"
    if missing:
        named = [why + "：" + "、".join(names) for why, names in missing.items()]
        delivered += f"（{'；'.join(named)}）"
    unacked = [r.name for r in receipts if r.acknowledged_at is None]
    acked = f"已知悉 {n - len(unacked)}/{n}" + (f"（未知悉：{'、'.join(unacked)}）"
                                                 if unacked else "")
    return f"{delivered} · {acked}"


def local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def intake_state(decision: str, by: str, at: datetime, version: int | None,
                 current_version: int, is_open: bool, tz: ZoneInfo) -> str:
    """What became of the case at intake (扫码分类受理), as it stands now: 放行（李平
    2026-12-15 15:15，第3版评分）; a 待定 still waiting says so; a decision on an earlier
    evaluation says the case must be scanned again."""
    when = f"{by} {local(at, tz)}" + (f"，第{version}版评分" if version else "")
    rescored = version is not None and version != current_version
    if decision == "待定" and is_open and not rescored:
        return f"待定，等待承办检察官选择（{when}）"
    if not rescored:
        return f"{decision}（{when}）"
    return f"{decision}（{when}）；此后已重新评分" + ("，需重新扫码受理" if is_open else "")


def points_text(d: Deduction, vetoes: tuple[str, ...]) -> str:
    """−8分, −8分 · 一票否决, or 一票否决 (a vetoed item's entry may deduct nothing)."""
    if d.item not in vetoes:
        return f"−{d.points}分"
    return f"−{d.points}分 · 一票否决" if d.points else "一票否决"


def deduction_lines(ev: Evaluation, template: ScoreTemplate) -> list[str]:
    lines: list[str] = []
    for i, d in enumerate(ev.deductions, 1):
        item = template.find(d.item)
        lines.append(f"{i}. {item.label if item else d.item}  {points_text(d, ev.vetoes)}")
        lines.append(f"   存在问题：{d.problem}")
        if d.purpose:
            lines.append(f"   补侦目的：{d.purpose}")
        if d.matters:
            lines.append(f"   补侦事项：{d.matters}")
        lines.append(f"   补侦要求：{d.requirement}")
    n = len(ev.deductions)
    for v in ev.vetoes:  # evaluations from before a veto needed an entry of its own
        if v not in {d.item for d in ev.deductions}:
            item = template.find(v)
            n += 1
            lines.append(f"{n}. 一票否决：{item.label if item else v}")
    return lines


def code_title(case: CaseView, ev: Evaluation | None) -> str:
    if case.withdrawn is not None:
        return f"案件码 {case.code} · 已撤销"
    if ev is None:
        return f"案件码 {case.code} · 尚未评分"
    veto = "（一票否决）" if ev.vetoes else ""  # red whatever the score: say why
    return f"案件码 {case.code} · {ev.color.label} {ev.score}分{veto}"


INTAKE_LINE = "受理："  # the 码 card's line saying what became of the case at intake


def case_body(case: CaseView, ev: Evaluation | None, template: ScoreTemplate) -> str:
    lines = [case.withdrawn] if case.withdrawn else []
    lines += [f"案件：{case.title}", f"阶段：{case.stage_text}", f"侦查单位：{case.police_unit}",
             f"承办检察官：{case.prosecutor}"]
    if case.investigation_deadline:
        lines.append(f"侦查期限：{day_text(case.investigation_deadline)}")
    if case.custody_deadline:
        passed = "已届满" if case.custody_passed else ""
        lines.append(f"羁押期限：{day_text(case.custody_deadline)}{passed}")
    if case.intake:
        lines.append(f"{INTAKE_LINE}{case.intake}")
    if ev is None:
        return "\n".join(lines)
    lines.append(f"评分：{ev.score}分（第{ev.version}版）")
    if case.receipts:
        lines.append(receipts_line(case.receipts))
    if ev.deductions or ev.vetoes:
        lines.append("扣分项及补侦要求：")
        lines += deduction_lines(ev, template)
    else:
        lines.append("无扣分项。")
    if ev.comment:
        lines.append(f"评分说明：{ev.comment}")
    return "\n".join(lines)


def delivery_card(case: CaseView, ev: Evaluation, template: ScoreTemplate, page_url: str,
                  qr_url: str, ack: tuple[str, datetime] | None, tz: ZoneInfo,
                  transcode_from: Color | None = None, cleared: tuple[str, ...] = (),
                  closed: str | None = None) -> Card:
    """The card an investigator receives after each evaluation; `cleared`: the items 销号
    since the previous one. `closed` (案件已结案（2026-11-27）): the case is closed, so the
    card keeps only 查看详情 and says so in its footer: a closed case takes no review request,
    and acknowledging the code of a case that is over records nothing anyone acts on."""
    actions: list[Button] = [Button(id="case.open", label="查看详情", url=page_url)]
    if closed is not None:
        acked = f"已知悉：{ack[0]} {local(ack[1], tz)}；" if ack is not None else ""
        return Card(title=code_title(case, ev), body=case_body(case, ev, template),
                    color=ev.color.value, image=qr_url, actions=tuple(actions),
                    footer=acked + closed, code_color=True)
    if (file := review_button(case.code, ev)) is not None:
        actions.append(file)
    footer = None
    if ack is None:
        actions.append(ack_button(case.code, ev))
    else:
        footer = f"已知悉：{ack[0]} {local(ack[1], tz)}"
    body = case_body(case, ev, template)
    if cleared:
        body = f"已销号：{'、'.join(template.item(i).label for i in cleared)}\n" + body
    if transcode_from is not None:
        body = f"转码：{transcode_from.label} → {ev.color.label}\n" + body
    return Card(title=code_title(case, ev), body=body, color=ev.color.value, image=qr_url,
                actions=tuple(actions), footer=footer, code_color=True)


def review_button(code: str, ev: Evaluation) -> Button | None:
    """申请复核 on an investigator's code card, with its form; None when the evaluation has
    no numbered item (deductions, then veto hits) to dispute."""
    disputable = len(ev.deductions) + len(set(ev.vetoes) - {d.item for d in ev.deductions})
    if not disputable:
        return None
    example = {1: "1", 2: "1,2"}.get(disputable, "1,3")
    return Button(
        id="review.file", label="申请复核", data={"code": code, "version": str(ev.version)},
        form=(FormField("items", f"有异议的扣分项序号，如 {example}"),
              FormField("reason", "复核理由", multiline=True),
              FormField("note", "补充说明（可选）", required=False, multiline=True)))


def ack_button(code: str, ev: Evaluation) -> Button:
    """已知悉 of the investigator's card of evaluation `ev`."""
    return Button(id="case.ack", label="已知悉", data={"code": code, "version": str(ev.version)})


@dataclass(frozen=True)
class OwnCode:
    """What the 码 card offers the case's own investigator who asked for it (in their 1:1
    chat), as their delivered card does: 申请复核, and 已知悉 until `acknowledged` (who, when)."""

    acknowledged: tuple[str, datetime] | None
    tz: ZoneInfo
    delivered: bool = True  # False: no card of this version went to them, nothing to 已知悉


INTAKE_BUTTON = "扫码受理"


def view_card(case: CaseView, ev: Evaluation | None, template: ScoreTemplate, page_url: str,
              qr_url: str, *, can_score: bool, score_url: str, can_intake: bool = False,
              can_choose: bool = False, own: OwnCode | None = None,
              closed: str | None = None) -> Card:
    """`码 <code>`: the code as anyone allowed to see it gets it, with what its reader may do
    on it once the card that asked them has scrolled away: a case manager who may take the
    case in (扫码分类受理) gets the button that does it, the prosecutor of a 待定 its two choices
    (`can_choose`), the case's own investigator 申请复核 and 已知悉 (`own`). `closed`
    (案件已结案（2026-11-27）): the case is closed, said in the footer as on the redrawn cards."""
    if case.withdrawn is not None:  # entered by mistake: says so in its title and first line
        return Card(title=code_title(case, ev), body=case_body(case, ev, template))
    footer = closed
    if own is not None and own.acknowledged is not None and closed is None:
        footer = f"已知悉：{own.acknowledged[0]} {local(own.acknowledged[1], own.tz)}"
    return Card(title=code_title(case, ev), body=case_body(case, ev, template),
                color=ev.color.value if ev else None, image=qr_url if ev else None,
                actions=view_actions(case.code, page_url, can_score=can_score,
                                     score_url=score_url, can_intake=can_intake,
                                     can_choose=can_choose, ev=ev,
                                     own=own if closed is None else None),
                footer=footer, code_color=True)


def view_actions(code: str, page_url: str, *, can_score: bool, score_url: str,
                 can_intake: bool, can_choose: bool = False, ev: Evaluation | None = None,
                 own: OwnCode | None = None) -> tuple[Button, ...]:
    """The 码 card's buttons: 查看详情, and 去评分 / 扫码受理 / 延期受理 and 先收后补 / 申请复核
    and 已知悉 for whom they are offered."""
    actions = [Button(id="case.open", label="查看详情", url=page_url)]
    if can_score:
        actions.append(score_button(score_url))
    if can_intake:
        actions.append(Button(id="case.intake", label=INTAKE_BUTTON, data={"code": code}))
    if can_choose:
        actions += intake_choices(code)
    if own is not None and ev is not None:
        if (file := review_button(code, ev)) is not None:
            actions.append(file)
        if own.acknowledged is None and own.delivered:
            actions.append(ack_button(code, ev))
    return tuple(actions)


def intake_list_actions(codes: list[str]) -> tuple[Button, ...]:
    """The case manager's waiting list (待受理, 我的案件): a 受理 per case of the page shown that
    waits for a scan (the same as 扫码受理 on its 码 card; a 待定 waits for its prosecutor)."""
    return tuple(Button(id=keyed_action("case.intake", code), label=f"受理 {code}",
                        data={"code": code}) for code in codes)


SCORE_FORM_BUTTON = "打开评分表"  # the 评分 card's; 码 and 已录入案件 say 去评分


def score_button(score_url: str, label: str = "去评分") -> Button:
    return Button(id="case.score", label=label, url=score_url)


def score_link_card(case: CaseView, ev: Evaluation | None, score_url: str) -> Card:
    state = f"当前：{ev.color.label} {ev.score}分（第{ev.version}版）" if ev else "尚未评分"
    return Card(title=score_card_title(case.code), body=f"案件：{case.title}\n{state}",
                color=ev.color.value if ev else None,
                actions=(score_button(score_url, SCORE_FORM_BUTTON),))


def score_card_title(code: str) -> str:
    return f"评分 {code}"


def created_card_title(code: str) -> str:
    return f"已录入案件 {code}"


WITHDRAW_BUTTON = "确认撤销"


def withdraw_confirm_card(case: CaseView, reason: str, typed_confirm: str) -> Card:
    """撤销案件 asks first: what is withdrawn and what that does, with 确认撤销 (or the
    `typed_confirm` command)."""
    lines = [f"案件：{case.title}", f"阶段：{case.stage_text}", f"侦查单位：{case.police_unit}",
             f"撤销原因：{reason or '未填写'}",
             "撤销后，案件不再列入我的案件、待受理和统计，不再提醒，也不能再评分；此操作不可恢复。",
             f"确认撤销请点「{WITHDRAW_BUTTON}」，或发送「{typed_confirm}」。"]
    return Card(title=f"撤销案件 {case.code}？", body="\n".join(lines), actions=(
        Button(id="case.withdraw", label=WITHDRAW_BUTTON,
               data={"code": case.code, "reason": reason}),))


def new_case_card(form_url: str, title: str = "", cut_at: int | None = None) -> Card:
    """新建案件: the link to the form on which the prosecutor enters a case (`title`: the
    案件名称 typed after the command, prefilled there; `cut_at`: the length it was cut to, the
    typed one being longer than a title may be)."""
    note = f"已截取前 {cut_at} 字预填，可修改" if cut_at is not None else "已预填，可修改"
    lines = [f"案件名称：{title}（{note}）"] if title else []
    lines += ["请在录入表中填写案件名称、阶段、侦查人员和期限，提交后生成案件码并进入评分。",
              "评分后，案件码才会发送给侦查人员。"]
    return Card(title="新建案件", body="\n".join(lines),
                actions=(Button(id="case.new", label="填写案件信息", url=form_url),))


def case_created_card(case: CaseView, investigators: list[str], score_url: str) -> Card:
    """To the prosecutor once the 新建案件 form created the case: what was entered, and
    去评分, the next step (the investigators get the code with the first scoring)."""
    def day(d: date | None) -> str:
        return day_text(d) if d else "未填"

    lines = [f"案件：{case.title}", f"阶段：{case.stage_text}", f"侦查单位：{case.police_unit}",
             f"侦查人员：{'、'.join(investigators)}",
             f"侦查期限：{day(case.investigation_deadline)}", f"羁押期限：{day(case.custody_deadline)}"]
    if case.external_id:
        lines.append(f"统一受案号：{case.external_id}")
    lines.append(CREATED_UNSCORED)
    return Card(title=created_card_title(case.code), body="\n".join(lines),
                actions=(score_button(score_url),))


CREATED_UNSCORED = "尚未评分：评分后案件码将发送给侦查人员。"  # the 已录入案件 card's last line


def created_card_scored(card: Card, ev: Evaluation) -> Card:
    """The 已录入案件 card once the case is first scored: its last line says the code went out
    instead of 尚未评分 (去评分 stays: a case may be scored again)."""
    return replace(card, body=card.body.replace(
        CREATED_UNSCORED, f"已评分：{ev.color.label} {ev.score}分（第{ev.version}版），"
                          "案件码已发送给侦查人员。"))


def reassigned_card(case: CaseView, ev: Evaluation | None, before: str,
                    waiting: Sequence[str], actions: tuple[Button, ...],
                    closed: str | None = None) -> Card:
    """To the prosecutor a case was reassigned to (改派): whose it was, where it stands (its
    score, or 尚未评分), what waits for them (`waiting`: a line each), and the buttons of their
    码 card (`view_actions`)."""
    state = (f"当前：{ev.color.label} {ev.score}分（第{ev.version}版）" if ev is not None
             else CREATED_UNSCORED)
    lines = [f"案件已改派给您：{case.code} {case.title}（原承办检察官 {before}）",
             f"阶段：{case.stage_text}", f"侦查单位：{case.police_unit}", state]
    if case.custody_deadline:
        lines.append(f"羁押期限：{day_text(case.custody_deadline)}"
                     + ("已届满" if case.custody_passed else ""))
    if case.intake:
        lines.append(f"{INTAKE_LINE}{case.intake}")
    lines += waiting
    return Card(title=f"案件已改派给您 · {case.code}", body="\n".join(lines),
                color=ev.color.value if ev is not None else None,
                actions=actions, footer=closed)


def intake_pending_card(case: CaseView, ev: Evaluation, manager: str, *,
                        again: bool = False) -> Card:
    """黄码待定: the prosecutor chooses 延期受理 or 先收后补 (``again``: the case manager scanned
    it once more before the choice)."""
    scanned = "再次扫码受理，提醒您尽快选择" if again else "扫码受理，黄码待定，请选择处理方式"
    return Card(
        title=f"受理待定 {case.code} · 黄码 {ev.score}分",
        body=f"案件：{case.title}\n案管部门 {manager} {scanned}。",
        color=Color.YELLOW.value,
        actions=intake_choices(case.code),
    )


CHOICES = ("intake.defer", "intake.receive")  # the prosecutor's answers to a 待定


def intake_choices(code: str) -> tuple[Button, ...]:
    """The prosecutor's two answers to a 待定."""
    return (Button(id=CHOICES[0], label="延期受理", data={"code": code}),
            Button(id=CHOICES[1], label="先收后补", data={"code": code}))


def offers_choice_on(card: Card, code: str) -> bool:
    """Whether this card still offers 延期受理 / 先收后补 on the case `code`."""
    return any(b.id in CHOICES and b.data.get("code") == code for b in card.actions)


def choice_settled(old: Card, whole: Card | None, footer: str, intake: str | None = None
                   ) -> Card:
    """A card that offered the choice, once it is made (or moot): a 受理待定 card becomes
    `whole` (None: loses its buttons, footed `footer`); a 码 card loses only the two choices,
    footed `footer`, and keeps 查看详情 and 去评分; its 受理 line says `intake` (the decision,
    as a fresh 码 says it), no longer 待定，等待承办检察官选择. A card without buttons stays."""
    if any(a.id not in CHOICES for a in old.actions):
        body = old.body if intake is None else "\n".join(
            f"{INTAKE_LINE}{intake}" if line.startswith(INTAKE_LINE) else line
            for line in old.body.split("\n"))
        return replace(old, body=body, footer=footer,
                       actions=tuple(a for a in old.actions if a.id not in CHOICES))
    if whole is not None:
        return whole
    return replace(old, actions=(), footer=footer) if old.actions else old


def intake_waiting_card(case: CaseView, ev: Evaluation, note: str = "") -> Card:
    """To the case manager: the yellow case waits for the prosecutor's choice (``note``: why
    it waits again, e.g. the case was reopened). No footer while it waits."""
    return Card(title=f"受理 {case.code} · 待定", color=Color.YELLOW.value,
                body=f"案件：{case.title}\n黄码 {ev.score}分，待定：已请承办检察官{case.prosecutor}"
                     "选择延期受理或先收后补。" + (f"\n{note}" if note else ""))


def intake_returned_card(case: CaseView, ev: Evaluation, open_items: str) -> Card:
    """To the case manager: a red case goes back to the investigating agency (红码退回)."""
    return Card(title=f"受理 {case.code} · 退回", color=Color.RED.value,
                body=f"案件：{case.title}\n红码 {ev.score}分，退回侦查机关，补充完善后重新移送。\n"
                     "未销号扣分项：\n" + open_items)


def intake_chosen_card(case: CaseView, ev: Evaluation, decision: str, who: str, at: datetime,
                       tz: ZoneInfo) -> Card:
    """The case manager's 待定 card once the prosecutor has chosen."""
    meaning = {"延期受理": "暂不受理，待侦查机关补充完善后重新移送",
               "先收后补": "予以受理，侦查机关在审查起诉期间补充完善"}[decision]
    return Card(title=f"受理 {case.code} · {decision}", color=ev.color.value,
                body=f"案件：{case.title}\n{ev.color.label} {ev.score}分\n"
                     f"承办检察官{who}已决定：{decision}（{meaning}）。",
                footer=f"{who} {local(at, tz)}")


INTAKE_MEANING = {
    "放行": "案件已受理（绿码放行）。",
    "退回": "案件已退回侦查机关，请补充完善后重新移送。",
    "延期受理": "黄码，承办检察官决定延期受理：请补充完善后再移送。",
    "先收后补": "黄码，承办检察官决定先收后补：案件已受理，请在审查起诉期间补充完善。",
}


def intake_notice_card(case: CaseView, ev: Evaluation, decision: str, open_items: str,
                       page_url: str) -> Card:
    """To the investigators: what became of the case they sent (扫码分类受理)."""
    body = f"案件：{case.title}\n{ev.color.label} {ev.score}分\n{INTAKE_MEANING[decision]}"
    if decision != "放行":
        body += "\n未销号扣分项：\n" + open_items
    return Card(title=f"受理结果 {case.code} · {decision}", body=body, color=ev.color.value,
                actions=(Button(id="case.open", label="查看详情", url=page_url),))


def intake_done_card(case: CaseView, ev: Evaluation, decision: str, who: str, at: datetime,
                     tz: ZoneInfo) -> Card:
    return Card(title=f"受理 {case.code} · {decision}", color=ev.color.value,
                body=f"案件：{case.title}\n{ev.color.label} {ev.score}分\n决定：{decision}",
                footer=f"{who} {local(at, tz)}")
