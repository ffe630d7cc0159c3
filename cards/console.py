"""Render a card for the console JSON API (SPEC §5: title, color, body, image, actions)."""

from __future__ import annotations

from typing import Any

from cards.model import Card


def render(card: Card) -> dict[str, Any]:
    return {
        "title": card.title,
        "color": card.color,
        "body": card.body,
        "image": card.image,
        "footer": card.footer,
        "actions": [
            {
                "id": b.id,
                "label": b.label,
                "url": b.url,
                "form": [
                    {"name": f.name, "label": f.label, "required": f.required,
                     "multiline": f.multiline, "placeholder": f.placeholder}
                    for f in b.form
                ],
            }
            for b in card.actions
        ],
    }
