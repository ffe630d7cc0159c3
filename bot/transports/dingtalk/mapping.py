"""DingTalk frame data → core events. Pure functions over the SDK's frame models: no I/O."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dingtalk_stream import CardCallbackMessage, ChatbotMessage

from bot.directory import Directory
from bot.dispatcher import command_text
from bot.events import CardActionEvent, MessageEvent
from config.model import Org

NOT_REGISTERED_GROUP = "本群尚未登记，请联系管理员"
NOT_REGISTERED_USER = "您尚未在本系统登记钉钉账号，请联系管理员"
# someone from outside the org (no senderStaffId): no roster entry can name them, so being told
# to have their account registered would not help
EXTERNAL_USER = ("本系统仅供本单位钉钉组织内已登记的工作人员使用，外部联系人无法使用。"
                 "如有事项，请联系群内的工作人员。")
NOT_STORED = "抱歉，系统暂时无法处理您的消息（数据库不可用），请稍后重新发送。"
TEXT_ONLY = ("目前只能处理文字、语音和案件码图片。查看案件码请发送「码 案件码」（如：码 HY-2026-0001）"
             "或案件码二维码的图片，其他命令发送「帮助」查看。")
NOT_FILES = ("不能处理文件和视频。查看案件码请发送「码 案件码」（如：码 HY-2026-0001）"
             "或案件码二维码的图片（截图或照片），其他命令发送「帮助」查看。")
NO_CODE_IN_PICTURE = "图片中没有识别到案件码，请发送「码 案件编号」"
PICTURE_FAILED = "图片未能读取（可能过大或已失效），请重新发送，或发送「码 案件编号」"
# the commands whose one required argument is a case code: sent with a picture of a case
# code's QR (「扫码受理」 and the QR photographed), they act on the code found in it
PICTURE_COMMANDS = frozenset({"码", "code", "受理", "扫码受理", "已知悉", "收到", "延期受理",
                              "先收后补"})


class MalformedFrame(ValueError):
    """The frame cannot be understood at all: log it and refuse it (ACK 400)."""


# chat ids for DingTalk users and groups that are not in the roster: their answers go through
# the outbox like any reply (see DingTalkTransport.target), though no person or chat exists
RAW_USER = "dt-user:"  # + staff userId
RAW_GROUP = "dt-group:"  # + openConversationId


def raw_target(chat: str) -> tuple[bool, str] | None:
    """(group?, DingTalk id) of a raw chat id; None for the roster's own chats."""
    for prefix, group in ((RAW_USER, False), (RAW_GROUP, True)):
        if chat.startswith(prefix) and len(chat) > len(prefix):
            return group, chat[len(prefix):]
    return None


@dataclass(frozen=True)
class Addressee:
    """Whom an answer in a group is for: @-mentioned where DingTalk can mention (a
    sessionWebhook's `at`; a card's `atUserIds`, staff only), named by `nick` where it cannot.
    Staff by their userId (`staff_id`); someone from outside the org (an external contact: no
    senderStaffId) by their `dingtalk_id` (the callback's senderId) in `at.atDingtalkIds`."""

    staff_id: str  # "" for an external contact
    nick: str
    dingtalk_id: str = ""  # only for an external contact

    @property
    def key(self) -> str:
        """Who this is, whichever id they have."""
        return self.staff_id or self.dingtalk_id

    def encode(self) -> str:
        """As kept in `messages.mention`, so any instance, after any restart, can mention them."""
        d = {"staffId": self.staff_id, "nick": self.nick}
        if self.dingtalk_id:
            d["dingtalkId"] = self.dingtalk_id
        return json.dumps(d, ensure_ascii=False)

    @staticmethod
    def decode(stored: str | None) -> Addressee | None:
        """From `messages.mention`; None for nothing stored, or something unreadable."""
        try:
            d = json.loads(stored) if stored else None
        except ValueError:
            return None
        if not isinstance(d, dict):
            return None
        staff_id, nick, dingtalk_id = d.get("staffId"), d.get("nick"), d.get("dingtalkId")
        staff_id = staff_id if isinstance(staff_id, str) else ""
        dingtalk_id = dingtalk_id if isinstance(dingtalk_id, str) and not staff_id else ""
        if not staff_id and not dingtalk_id:
            return None
        return Addressee(staff_id, nick if isinstance(nick, str) and nick else staff_id,
                         dingtalk_id)


def at_ids(to: Sequence[Addressee]) -> tuple[list[str], list[str]]:
    """A sessionWebhook's `at.atUserIds` (staff) and `at.atDingtalkIds` (external contacts)."""
    return ([a.staff_id for a in to if a.staff_id],
            [a.dingtalk_id for a in to if not a.staff_id and a.dingtalk_id])


@dataclass(frozen=True)
class Refusal:
    """A well-formed message the core cannot take: answer it with `reply`, in `chat` (a
    roster chat, or a raw one for an unknown user or group; None: only the webhook can),
    mentioning `sender` when it came from a group."""

    reason: str
    reply: str
    chat: str | None = None
    event_id: str = ""
    webhook: str | None = None
    webhook_expires_ms: int = 0
    sender: Addressee | None = None


@dataclass(frozen=True)
class Incoming:
    event: MessageEvent
    webhook: str | None  # the message's sessionWebhook ...
    webhook_expires_ms: int  # ... and when it stops working (epoch ms)
    sender: Addressee | None = None  # in a group: whom the answers mention
    # a picture (or pictures in rich text): their downloadCodes, to look for a case-code QR
    # in; the event's text is then set from what is found (「<command> <code>」)
    pictures: tuple[str, ...] = ()
    command: str = "码"  # the command sent with the pictures (one of PICTURE_COMMANDS)

    def refused(self, reason: str, reply: str) -> Refusal:
        """Answered with `reply` instead of being handled (a picture without a code)."""
        return Refusal(reason, reply, self.event.chat, self.event.event_id, self.webhook,
                       self.webhook_expires_ms, self.sender)


def chat_index(org: Org) -> dict[str, str]:
    """DingTalk openConversationId → org chat id."""
    return {c.ids["dingtalk"]: c.id for c in org.chats if "dingtalk" in c.ids}


def event_id(msg_id: str) -> str:
    return f"dingtalk:{msg_id}"


def _text(msg: ChatbotMessage) -> str | None:
    if msg.message_type == "text" and msg.text is not None:
        return str(msg.text.content or "").strip()
    if msg.message_type == "richText" and msg.rich_text_content is not None:
        items = [i for i in msg.rich_text_content.rich_text_list if isinstance(i, dict)]
        text = "".join(str(i["text"]) for i in items if "text" in i).strip()
        if not text and any("text" not in i for i in items):
            return None  # only a picture (in a group, with the @ alone): nothing to read
        return text
    return None


def picture_command(text: str) -> str | None:
    """`text` as a command word of PICTURE_COMMANDS alone (「扫码受理」, 「@casebot 受理。」,
    「已知悉：」): that word; None for anything else (a command with its arguments typed)."""
    word = speech_text(command_text(text))
    return word if unicodedata.normalize("NFKC", word).lower() in PICTURE_COMMANDS else None


def _pictures(msg: ChatbotMessage) -> tuple[str, ...]:
    """The downloadCodes of a picture message, or of the pictures in a rich-text one."""
    if msg.message_type == "picture" and msg.image_content is not None:
        code = msg.image_content.download_code
        return (code,) if isinstance(code, str) and code else ()
    if msg.message_type == "richText" and msg.rich_text_content is not None:
        items = msg.rich_text_content.rich_text_list or []
        return tuple(str(i["downloadCode"]) for i in items
                     if isinstance(i, dict) and isinstance(i.get("downloadCode"), str)
                     and i["downloadCode"])
    return ()


def addressed(msg: ChatbotMessage) -> bool:
    """Whether a group message @-mentions the bot (`isInAtList`, or the bot among `atUsers`).
    DingTalk delivers group messages only then; a frame that says otherwise is chatter among
    people, left to the dispatcher like the console's (no 未知命令 for it). A frame that says
    nothing either way counts as addressed, as DingTalk would not have sent it otherwise."""
    if msg.conversation_type != "2":
        return True
    bot = msg.chatbot_user_id
    if any(u.dingtalk_id == bot for u in msg.at_users or [] if bot):
        return True
    if msg.is_in_at_list is None and not msg.at_users:
        return True
    return msg.is_in_at_list is True


def speech_text(recognition: str) -> str:
    """DingTalk's speech-to-text as a command: without the punctuation and spaces it puts
    around what was said (「我的案件。」: 我的案件). Inside, nothing changes: the dispatcher
    normalises it as it does typed text."""
    start, end = 0, len(recognition)
    while start < end and _edge(recognition[start]):
        start += 1
    while end > start and _edge(recognition[end - 1]):
        end -= 1
    return recognition[start:end]


def _edge(ch: str) -> bool:
    """Punctuation (。，？！…) or a space of any kind: what speech-to-text adds around words."""
    return ch.isspace() or unicodedata.category(ch)[0] in "PZ"


def _recognition(msg: ChatbotMessage) -> str | None:
    """What a voice message said (`content.recognition`, DingTalk's speech-to-text), or None
    for anything else, and for a voice message it could not make out."""
    if msg.message_type != "audio":
        return None
    content = msg.extensions.get("content") if isinstance(msg.extensions, dict) else None
    recognition = content.get("recognition") if isinstance(content, dict) else None
    return (speech_text(recognition) or None) if isinstance(recognition, str) else None


def _at(ms: Any, now: datetime) -> datetime:
    try:
        return datetime.fromtimestamp(int(ms) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return now


def parse_bot_message(data: Mapping[str, Any]) -> ChatbotMessage:
    try:
        msg = ChatbotMessage.from_dict(dict(data))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        raise MalformedFrame(f"bot message: {type(e).__name__}: {e}") from e
    if not isinstance(msg.message_id, str) or not msg.message_id:
        raise MalformedFrame("bot message without msgId")
    if msg.conversation_type not in ("1", "2"):
        raise MalformedFrame(f"bot message with conversationType {msg.conversation_type!r}")
    if msg.message_type == "richText" and (msg.rich_text_content is None or not isinstance(
            msg.rich_text_content.rich_text_list, list)):
        raise MalformedFrame("richText message without a content.richText list")
    return msg


def group_sender(msg: ChatbotMessage) -> Addressee | None:
    """The sender of a group message, to mention in the answers: by staff userId, or, for an
    external contact (no senderStaffId), by their senderId; None in a 1:1 chat."""
    if msg.conversation_type != "2":
        return None
    nick = msg.sender_nick.strip() if isinstance(msg.sender_nick, str) else ""
    staff_id, sender_id = msg.sender_staff_id, msg.sender_id
    if isinstance(staff_id, str) and staff_id:
        return Addressee(staff_id, nick or staff_id)
    if isinstance(sender_id, str) and sender_id:
        return Addressee("", nick, sender_id)
    return None


def _expires_ms(msg: ChatbotMessage) -> int:
    expires = msg.session_webhook_expired_time
    return int(expires) if expires else 0


def _refusal(msg: ChatbotMessage, reason: str, reply: str, chat: str | None) -> Refusal:
    return Refusal(reason, reply, chat, event_id(msg.message_id), msg.session_webhook or None,
                   _expires_ms(msg), group_sender(msg))


def message_event(msg: ChatbotMessage, directory: Directory, chats: Mapping[str, str],
                  now: datetime, raw: Mapping[str, Any],
                  for_the_bot: Callable[[str, bool], bool] = lambda text, spoken: True,
                  ) -> Incoming | Refusal | None:
    """The event to handle, the answer instead (a Refusal), or None: nothing to do (a picture
    or file in a group that does not @-mention the bot, or people talking in a group not in
    the roster). `for_the_bot(text, spoken)`: whether a group message without the @ is a
    command all the same (Dispatcher.for_the_bot)."""
    staff_id = str(msg.sender_staff_id or "")
    if msg.conversation_type == "2":
        conv = str(msg.conversation_id or "")
        chat = chats.get(conv)
        if chat is None and not addressed(msg):
            said = _text(msg)
            spoken = said is None and (said := _recognition(msg)) is not None
            if said is None or not for_the_bot(said, spoken):
                return None  # chatter: as in a registered group, no answer
        if chat is None:
            return _refusal(msg, f"unknown group {conv!r}", NOT_REGISTERED_GROUP,
                            f"{RAW_GROUP}{conv}" if conv else None)
    else:
        person = directory.by_platform("dingtalk", staff_id) if staff_id else None
        if person is None:
            return _refusal(msg, f"unknown user {staff_id!r}",
                            NOT_REGISTERED_USER if staff_id else EXTERNAL_USER,
                            f"{RAW_USER}{staff_id}" if staff_id else None)
        chat = f"dm:{person.id}"
    mentioned = msg.conversation_type != "1" and addressed(msg)
    text, spoken = _text(msg), False
    if text is None and (text := _recognition(msg)) is not None:
        spoken = True
    pictures = _pictures(msg)
    command = picture_command(text) if pictures and text and not spoken else None
    if command is not None and msg.conversation_type == "2" and not mentioned:
        command, pictures = None, ()  # not for the bot: the text alone, as it would be read
    if pictures and not text:  # a picture alone (in a group, with the @)
        text, command = "", "码"
    elif command and text:  # 「扫码受理」 with the QR: the text as typed if it holds no code
        pass
    elif text is None:
        if msg.conversation_type == "2" and not mentioned:
            return None
        reply = NOT_FILES if msg.message_type in ("file", "video") else TEXT_ONLY
        return _refusal(msg, f"unsupported msgtype {msg.message_type!r}", reply, chat)
    else:
        pictures = ()
    if pictures and msg.conversation_type == "2" and not mentioned:
        return None
    event = MessageEvent(
        event_id=event_id(msg.message_id), platform="dingtalk", user_id=staff_id, chat=chat,
        at=_at(msg.create_at, now), text=text, is_direct=msg.conversation_type == "1",
        mentioned=mentioned, raw=raw, spoken=spoken,
    )
    return Incoming(event, msg.session_webhook or None, _expires_ms(msg), group_sender(msg),
                    pictures, command or "码")


@dataclass(frozen=True)
class CardClick:
    out_track_id: str
    user_id: str  # the clicker's staff userId; "" when the callback names no userId (external)
    action: str
    form: dict[str, str]
    other_id: str = ""  # what names a clicker without a userId (a unionId), for the log only


def parse_card_callback(data: Mapping[str, Any]) -> CardClick:
    """`content.cardPrivateData`: the clicked button's `actionIds` and its `params` (ours put
    the core's button id in `params.action`; the rest is the form). The clicker: `userId`, a
    staff userId as our cards are delivered with `userIdType` 1. Someone from outside the org
    (an external contact in a group) has no userId: a callback with `userId` empty or missing,
    or naming them by another id (`userIdType` 2 = unionId, or a `unionId` field alone), is
    theirs, `user_id` "" (not a malformed frame: they clicked, and are answered)."""
    try:
        cb = CardCallbackMessage.from_dict(dict(data))
    except (TypeError, ValueError, AttributeError) as e:
        raise MalformedFrame(f"card callback: {type(e).__name__}: {e}") from e
    private = cb.content.get("cardPrivateData") if isinstance(cb.content, dict) else None
    if not isinstance(private, dict):
        raise MalformedFrame("card callback without content.cardPrivateData")
    params = private.get("params") or {}
    action_ids = private.get("actionIds") or []
    if not isinstance(params, dict) or not isinstance(action_ids, list):
        raise MalformedFrame("card callback with bad actionIds/params")
    action = params.get("action") or (action_ids[0] if action_ids else None)
    if not isinstance(action, str) or not action or not cb.card_instance_id:
        raise MalformedFrame("card callback without action or outTrackId")
    form = {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in params.items() if k != "action"}
    user_id = cb.user_id if isinstance(cb.user_id, str) else ""
    union_id = data.get("unionId")
    if data.get("userIdType") in (2, "2"):  # a unionId: no roster entry is keyed by one
        user_id, union_id = "", user_id or union_id
    return CardClick(str(cb.card_instance_id), user_id, action, form,
                     union_id if isinstance(union_id, str) else "")


def clicker_mention(chat: str, staff_id: str, name: str) -> str | None:
    """`Event.mention` of a card click: in a group, its answers mention the clicker. Stored
    with them, since no message of theirs is stored to find them by from another instance or
    after a restart."""
    return None if chat.startswith("dm:") else Addressee(staff_id, name).encode()


def card_event(click: CardClick, *, callback_id: str, message_id: int, chat: str,
               now: datetime, raw: Mapping[str, Any], clicker_name: str) -> CardActionEvent:
    return CardActionEvent(
        event_id=f"dingtalk:card:{callback_id}", platform="dingtalk", user_id=click.user_id,
        chat=chat, at=now, message_id=message_id, action=click.action, form=click.form, raw=raw,
        mention=clicker_mention(chat, click.user_id, clicker_name),
    )
