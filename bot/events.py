"""Typed inbound events. Transports build these; handlers only ever see these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Event:
    event_id: str  # platform id of the delivery, used for de-duplication
    platform: str  # "console" | "dingtalk"
    user_id: str  # the sender's id on that platform
    chat: str  # "dm:<person id>" or a group chat id
    at: datetime
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # whom replies to this event @-mention, as its transport encodes it: stored with each
    # reply (messages.mention), for a sender the transport cannot find otherwise later
    mention: str | None = None


@dataclass(frozen=True, kw_only=True)
class MessageEvent(Event):
    text: str
    is_direct: bool = False
    mentioned: bool = False  # @-addressed to the bot in a group (DingTalk sends groups only that)
    # `text` is the platform's speech-to-text of a voice message: only read-only commands run
    # from it (a misheard word must not change anything), and it is stored marked as such
    spoken: bool = False


@dataclass(frozen=True, kw_only=True)
class CardActionEvent(Event):
    message_id: int  # the bot message whose card was clicked
    action: str  # the button id
    form: Mapping[str, str] = field(default_factory=dict)
