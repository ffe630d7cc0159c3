"""Render platform-neutral cards for DingTalk. Pure functions, like `cards/console.py`.

Two shapes: the parameters of an interactive card template (`cardParamMap`, string values only,
buttons as callbacks), and — when no template id is configured — a markdown or actionCard robot
message whose buttons are links (DingTalk actionCard buttons cannot call back).

A button with a form (e.g. 申请复核: items and a reason) cannot be filled in on a generic card
template: a template's input components are fixed when the template is designed, and a callback
only carries the `params` the template binds. So a form button is a link in both shapes — a
signed link to the `/dingtalk/act` web form (`link_for`) — and its fields are listed under
`form` in `actions`, for a purpose-built template that does have inputs: such a template may
send the values as callback `params` next to `action`, which the transport accepts too."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cards.model import Button, Card

COLORS = {"red": ("🔴", "红码"), "yellow": ("🟡", "黄码"), "green": ("🟢", "绿码")}
MAX_ACTION_BUTTONS = 5  # sampleActionCard2..5 carry 2..5 buttons

LinkFor = Callable[[Button], str]  # a URL for a button without one (a callback button)


def heading(card: Card) -> str:
    mark = COLORS.get(card.color or "")
    return f"{mark[0]} {card.title}" if mark else card.title


def markdown(card: Card) -> tuple[str, str]:
    """(title, markdown text): the card as one markdown message (no buttons)."""
    parts = [f"### {heading(card)}"]
    if card.color in COLORS:
        parts.append(f"**{COLORS[card.color][1]}**")
    if card.body:
        parts.append(card.body.replace("\n", "  \n"))
    if card.image:
        parts.append(f"![]({card.image})")
    if card.footer:
        parts.append(f"<font color=#888888>{card.footer}</font>")
    return card.title, "\n\n".join(parts)


def button_url(b: Button, link_for: LinkFor | None) -> str:
    """Where a template button leads: its own URL, the web form for a form button, or nowhere
    (a callback button)."""
    if b.url:
        return b.url
    return link_for(b) if b.form and link_for is not None else ""


def _button(b: Button, link_for: LinkFor | None) -> dict[str, Any]:
    url = button_url(b, link_for)
    out: dict[str, Any] = {"id": b.id, "label": b.label, "url": url,
                           "type": "link" if url else "callback",
                           "params": {"action": b.id, **b.data}}
    if b.form:
        out["form"] = [{"name": f.name, "label": f.label, "required": f.required,
                        "multiline": f.multiline, "placeholder": f.placeholder} for f in b.form]
    return out


def card_param_map(card: Card, link_for: LinkFor | None = None) -> dict[str, str]:
    """Variables for the configured card template. Values must be strings (DingTalk rejects
    others); lists go as JSON strings, and the first buttons also as flat keys. With
    `link_for`, form buttons become links to the web form (see the module docstring)."""
    _, md = markdown(card)
    params: dict[str, str] = {
        "title": heading(card),
        "body": card.body,
        "markdown": md,
        "color": card.color or "",
        "color_label": COLORS[card.color][1] if card.color in COLORS else "",
        "image": card.image or "",
        "footer": card.footer or "",
        "actions": json.dumps([_button(b, link_for) for b in card.actions], ensure_ascii=False),
        "has_actions": "true" if card.actions else "false",
    }
    for i, b in enumerate(card.actions[:MAX_ACTION_BUTTONS], 1):
        url = button_url(b, link_for)
        params[f"btn{i}_label"] = b.label
        params[f"btn{i}_action"] = "" if url else b.id
        params[f"btn{i}_url"] = url
    return params


def card_data(card: Card, link_for: LinkFor | None) -> dict[str, Any]:
    return {"cardParamMap": card_param_map(card, link_for)}


def robot_message(card: Card, link_for: LinkFor) -> tuple[str, dict[str, str]]:
    """(msgKey, msgParam) for the robot message API when there is no card template."""
    title, md = markdown(card)
    buttons = list(card.actions[:MAX_ACTION_BUTTONS])

    def link(b: Button) -> str:
        return b.url or link_for(b)

    if not buttons:
        return "sampleMarkdown", {"title": title, "text": md}
    if len(buttons) == 1:
        b = buttons[0]
        return "sampleActionCard", {"title": title, "text": md, "singleTitle": b.label,
                                    "singleURL": link(b)}
    param = {"title": title, "text": md}
    for i, b in enumerate(buttons, 1):
        param[f"actionTitle{i}"] = b.label
        param[f"actionURL{i}"] = link(b)
    return f"sampleActionCard{len(buttons)}", param


def text_message(text: str) -> tuple[str, dict[str, str]]:
    return "sampleText", {"content": text}


def webhook_body(text: str | None, card: Card | None, at_user: str | None = None) -> dict[str, Any]:
    """Body for a sessionWebhook reply: text, or a card as markdown (webhooks take no cards)."""
    at = {"atUserIds": [at_user]} if at_user else {}
    if card is not None:
        title, md = markdown(card)
        if text:
            md = f"{text}\n\n{md}"
        return {"msgtype": "markdown", "markdown": {"title": title, "text": md}, "at": at}
    return {"msgtype": "text", "text": {"content": text or ""}, "at": at}
