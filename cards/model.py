"""Platform-neutral cards. A card is stored as JSON with its message, so a click can be checked
against the buttons the card shows *now*: a button that disappeared cannot be clicked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_DATA_BYTES = 1024  # button payloads stay small: DingTalk card params are size-limited


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
        if len(json.dumps(self.data, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
            raise ValueError(f"button {self.id} payload over {MAX_DATA_BYTES} bytes")


@dataclass(frozen=True)
class Card:
    title: str
    body: str = ""
    color: str | None = None  # "red" | "yellow" | "green" | None
    image: str | None = None  # URL of an image, e.g. the QR code
    actions: tuple[Button, ...] = ()
    footer: str | None = None

    def button(self, action_id: str) -> Button | None:
        return next((b for b in self.actions if b.id == action_id), None)


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
    )
