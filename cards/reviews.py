"""Review-request cards: the prosecutor's, the filer's receipt and the joint-review notice. Each
is rendered from the request's current state, so updating a card in place is re-rendering it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.domain.review import CHANGED, RESCORE_IF_CHANGED, State
from cards.model import Button, Card, FormField


@dataclass(frozen=True)
class ReviewView:
    id: int
    code: str
    title: str
    color: str | None
    color_label: str
    score: int | None
    filer: str
    items: tuple[str, ...]  # "犯罪事实与行为（−16分）：note"
    reason: str
    due: str
    state: State
    reject_reason: str | None
    joint_time: str | None
    outcome: str | None
    minutes: str | None
    decided_by: str | None
    confirmed_by: str | None
    rescored: str | None  # "黄码 85分（第3版）" once the re-score referencing it exists
    score_url: str
    joint_example: str  # a time ahead, shown as the 评议时间 placeholder
    # 案件已结案（2026-11-27）, the footer, once closed: nothing about the request is done in
    # chat any more; None while the case is open
    case_closed: str | None = None
    overdue: bool = False  # still 待处理 past its answer time: 状态：待处理（已逾期）
    note: str | None = None  # 补充说明 about the whole request (an item's is in `items`)
    prosecutor: str = ""  # the case's prosecutor (承办检察官) now, by name


def _body(v: ReviewView) -> str:
    lines = [f"案件：{v.code} {v.title}",
             f"当前：{v.color_label}{f' {v.score}分' if v.score is not None else ''}",
             f"申请人：{v.filer}", "有异议的项目："]
    lines += [f"· {i}" for i in v.items]
    lines.append(f"复核理由：{v.reason}")
    if v.note:
        lines.append(f"补充说明：{v.note}")
    lines += [f"答复期限：{v.due}",
              f"状态：{v.state.label}{'（已逾期）' if v.overdue else ''}"]
    if v.reject_reason:
        lines.append(f"驳回理由：{v.reject_reason}")
    if v.joint_time:
        lines.append(f"共同评议时间：{v.joint_time}")
    if v.outcome:
        lines.append(f"评议结果：{'调整评分' if v.outcome == 'changed' else '维持原评分'}")
    if v.minutes:
        lines.append(f"评议纪要：{v.minutes}")
    if v.rescored:
        lines.append(f"重新评分：{v.rescored}")
    if v.case_closed:
        lines.append("案件已结案，复核申请不再处理。")
    return "\n".join(lines)


def _data(v: ReviewView) -> dict[str, str]:
    return {"review": str(v.id)}


def prosecutor_card(v: ReviewView) -> Card:
    actions: list[Button] = []
    if v.state is State.PENDING:
        actions = [
            Button(id="review.accept", label="同意并调整", data=_data(v)),
            Button(id="review.reject", label="驳回", data=_data(v),
                   form=(FormField("reason", "驳回理由", multiline=True),)),
            Button(id="review.joint", label="提交检警共同评议", data=_data(v),
                   form=(FormField("time", "评议时间", placeholder=f"如 {v.joint_example}"),)),
        ]
    elif v.state is State.ACCEPTED and v.rescored is None:
        actions = [Button(id="review.rescore", label="去调整评分", url=v.score_url)]
    elif v.state is State.JOINT:
        actions = [Button(id="review.outcome", label="记录评议结果", data=_data(v), form=(
            FormField("outcome", "结果：维持 或 调整"),
            FormField("minutes", "评议纪要", multiline=True),
            FormField("participants", "参加人员", required=False)))]
    elif v.state in RESCORE_IF_CHANGED and v.outcome == CHANGED \
            and v.rescored is None:
        actions = [Button(id="review.rescore", label="去调整评分", url=v.score_url)]
    return Card(title=f"复核申请 #{v.id} · {v.state.label}", body=_body(v), color=v.color,
                actions=() if v.case_closed else tuple(actions), footer=v.case_closed)


def former_card(v: ReviewView) -> Card:
    """The prosecutor's card in the chat of one the case was reassigned away from (改派): as
    it stands, without the buttons only the case's prosecutor may use."""
    return replace(prosecutor_card(v), actions=(),
                   footer=v.case_closed or f"已改派给 {v.prosecutor}")


WITHDRAW, CONFIRM = "撤回申请", "确认评议结果"  # the filer's buttons on their receipt card


def receipt_title(v: ReviewView) -> str:
    return f"您的复核申请 #{v.id} · {v.state.label}"


def receipt_card(v: ReviewView) -> Card:
    actions: list[Button] = []
    if v.state is State.PENDING:
        actions = [Button(id="review.withdraw", label=WITHDRAW, data=_data(v))]
    elif v.state is State.JOINT_DONE:
        actions = [Button(id="review.confirm", label=CONFIRM, data=_data(v))]
    footer = "；".join(f for f in (f"已确认：{v.confirmed_by}" if v.confirmed_by else None,
                                  v.case_closed) if f) or None
    return Card(title=receipt_title(v), body=_body(v), color=v.color,
                actions=() if v.case_closed else tuple(actions), footer=footer)


def confirm_first_card(v: ReviewView, why: str) -> Card:
    """The answer to 申请复核 while the filer's joint review waits for their confirmation: why
    nothing was filed, with the 确认评议结果 that unblocks them."""
    return replace(receipt_card(v), body=f"{why}\n\n{_body(v)}")


def filer_next_step(v: ReviewView) -> str:
    """What the filer of an open request may do about it, where (the code page, beside the
    request, instead of a second form): withdraw it while 待处理, confirm a joint review's
    outcome, or wait; each on their receipt card in the 1:1 chat."""
    card = f"在与 casebot 的单聊中「{receipt_title(v)}」卡片上"
    if v.state in (State.ACCEPTED, State.CONFIRMED):  # agreed, or the joint review: 调整
        return ("已同意调整，正等待承办检察官重新评分；重新评分后新的案件码将发给您，"
                "届时仍有异议可再申请复核。")
    if v.state is State.PENDING:
        return f"如需撤回，请{card}点「{WITHDRAW}」；撤回后可重新申请复核。"
    if v.state is State.JOINT_DONE:
        return f"共同评议结果已记录，请{card}点「{CONFIRM}」。"
    return (f"已提交检警共同评议（{v.joint_time}），评议后由承办检察官记录结果；"
            "共同评议中的申请不能撤回。")


def joint_card(v: ReviewView) -> Card:
    return Card(title=f"检警共同评议 · 复核申请 #{v.id} · {v.state.label}", body=_body(v),
                color=v.color, footer=v.case_closed)


RENDER = {"prosecutor": prosecutor_card, "receipt": receipt_card, "joint": joint_card,
          "former": former_card}
