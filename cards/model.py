"""Platform-neutral cards. A card is stored as JSON with its message, so a click can be checked
against the buttons the card shows *now*: a button that disappeared cannot be clicked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_DATA_BYTES = 1024  # button payloads stay small: DingTalk card params are size-limited
_DATA_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(…, ensure_ascii=False), built once


KEY_SEP = ":"  # see keyed_action


def keyed_action(action_id: str, key: str) -> str:
    """The id of one of several buttons of route `action_id` on one card (a card's buttons
    need distinct ids: a click names only its button's id): `case.intake:HY-2026-0001`. The
    dispatcher routes it as `action_id`."""
    return f"{action_id}{KEY_SEP}{key}"


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    required: bool = True
    multiline: bool = False
    placeholder: str = ""


@dataclass(frozen=True)
class Button:
    """`id` is the route (e.g. "case.ack"); `data` its payload; `url` makes it a link."""

    id: str
    label: str
    url: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    form: tuple[FormField, ...] = ()

    def __post_init__(self) -> None:
        # most buttons carry no data: "{}" is within the limit, nothing to serialise
        if self.data and len(_DATA_JSON.encode(self.data).encode()) > MAX_DATA_BYTES:
            raise ValueError(f"button {self.id} payload over {MAX_DATA_BYTES} bytes")


@dataclass(frozen=True)
class Done:
    """A button someone's click took off the card: the action's id and label, and who clicked
    (a person id). Kept with the card, never shown: a second tap of theirs on the button
    (a double tap, an old rendering) is answered as what it is."""

    action: str
    label: str
    by: str


@dataclass(frozen=True)
class Card:
    title: str
    body: str = ""
    color: str | None = None  # "red" | "yellow" | "green" | None
    image: str | None = None  # URL of an image, e.g. the QR code
    actions: tuple[Button, ...] = ()
    footer: str | None = None
    done: tuple[Done, ...] = ()  # see Done; kept by Outbound.update_card while the state stands
    # `color` is a case code's (the case-code cards): DingTalk names it 红码/黄码/绿码; on any
    # other card (a reminder, an inspection step) the colour is styling and named nowhere
    code_color: bool = False
    # people (person ids) the card is for beyond whom it answers, @-mentioned where the platform
    # can (in a group: the county chief who must answer a question the host revealed)
    mentions: tuple[str, ...] = ()

    def button(self, action_id: str) -> Button | None:
        return next((b for b in self.actions if b.id == action_id), None)

    def done_by(self, action_id: str, person_id: str) -> Done | None:
        """This person's click took this button off the card (and it is still gone)."""
        if self.button(action_id) is not None:
            return None
        return next((d for d in self.done if d.action == action_id and d.by == person_id), None)


def kept_done(old: Card | None, new: Card) -> tuple[Done, ...]:
    """What `new`, replacing `old` on the same message, keeps of `old.done`: the records of
    buttons still gone while the card still says what it said (title and footer, where cards
    put their state and who acted: 已知悉：胡宇 …); none once it says something else (已更新为第2版)."""
    if old is None or not old.done or (old.title, old.footer) != (new.title, new.footer):
        return ()
    return tuple(d for d in old.done if new.button(d.action) is None)


def card_to_dict(card: Card) -> dict[str, Any]:
    """Like dataclasses.asdict, written out: cards are serialised on every send."""
    return {
        "title": card.title, "body": card.body, "color": card.color, "image": card.image,
        "footer": card.footer,
        "actions": [{"id": b.id, "label": b.label, "url": b.url, "data": dict(b.data),
                     "form": [{"name": f.name, "label": f.label, "required": f.required,
                               "multiline": f.multiline, "placeholder": f.placeholder}
                              for f in b.form]}
                    for b in card.actions],
        "done": [{"action": d.action, "label": d.label, "by": d.by} for d in card.done],
        "code_color": card.code_color,
        "mentions": list(card.mentions),
    }


def card_from_dict(data: dict[str, Any]) -> Card:
    actions = tuple(
        Button(
            id=a["id"],
            label=a["label"],
            url=a.get("url"),
            data=dict(a.get("data") or {}),
            form=tuple(FormField(**f) for f in a.get("form") or ()),
        )
        for a in data.get("actions") or ()
    )
    return Card(
        title=data["title"],
        body=data.get("body", ""),
        color=data.get("color"),
        image=data.get("image"),
        actions=actions,
        footer=data.get("footer"),
        done=tuple(Done(**d) for d in data.get("done") or ()),
        code_color=bool(data.get("code_color")),
        mentions=tuple(str(m) for m in data.get("mentions") or ()),
    )
