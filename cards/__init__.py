"""Cards are data: platform-neutral dataclasses here, one pure renderer per platform."""

from cards.model import Button, Card, FormField, card_from_dict, card_to_dict

__all__ = ["Button", "Card", "FormField", "card_from_dict", "card_to_dict"]
