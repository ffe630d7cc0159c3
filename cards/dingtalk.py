"""Render platform-neutral cards for DingTalk. Pure functions, like `cards/console.py`.

Two shapes: the parameters of an interactive card template (`cardParamMap`, string values only,
buttons as callbacks), and — when no template id is configured — a markdown or actionCard robot
message whose buttons are links (DingTalk actionCard buttons cannot call back).

A button with a form (e.g. 申请复核: items and a reason) cannot be filled in on a generic card
template: a template's input components are fixed when the template is designed, and a callback
only carries the `params` the template binds. So a form button is a link in both shapes — a
signed link to the `/dingtalk/act` web form (`link_for`) — and its fields are listed under
`form` in `actions`, for a purpose-built template that does have inputs: such a template may
send the values as callback `params` next to `action`, which the transport accepts too.

Nothing leaves larger than DingTalk takes (limits below): long text and button-less cards are
split into several messages (`robot_messages`), a card with buttons has its body cut
(`fit_card`)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from bot.domain.codes import CODE_PATTERN
from cards.model import Button, Card

_CODE = re.compile(CODE_PATTERN)
COLORS = {"red": ("🔴", "红码"), "yellow": ("🟡", "黄码"), "green": ("🟢", "绿码")}
MAX_ACTION_BUTTONS = 5  # sampleActionCard2..5 carry 2..5 buttons

# -- size limits: every message and card stays within these ------------------------------------
# DingTalk's own pages, as far as we could find them, give no size limit for robot messages
# (sampleText, sampleMarkdown, sessionWebhook text/markdown) nor for card variables. What it
# does, as reported by others (searched 2026-11-27), with a wide margin:
# * a robot message over 20000 bytes is refused, errcode 460101 "message too long, exceed 20000
#   bytes" / "body 大小不合法;请保持大小在 20000bytes 以内" (timonwong/prometheus-webhook-dingtalk
#   #30, feiyu563/PrometheusAlert#318, Le0nsec/SecCrawler#12, ZhuLinsen/daily_stock_analysis#61);
# * markdown over about 3500 characters no longer renders (agentscope-ai/QwenPaw#3742; other
#   connectors split at 3800: QwenLM/qwen-code#5299);
# * an interactive card with about 3000 Chinese characters of markdown shows blank
#   (soimy/openclaw-channel-dingtalk#615).
MESSAGE_MAX_CHARS = 3000  # one text or markdown message, its part mark included
MESSAGE_MAX_BYTES = 9000  # its UTF-8 size: JSON-escaped in a request, still far below 20000
CARD_BODY_MAX_CHARS = 1500  # a card's body, sent twice in a template card (body and markdown)
CARD_BODY_MAX_BYTES = 4500
MARK_RESERVE = 16  # room kept in each part for its mark, （续12/34）

# The variables the card template receives (docs/dingtalk.md, "Card template"). Every card
# sent, updated or answered in a callback carries all of them, unused ones empty: whatever a
# template binds is always set, never missing (a component showing nothing, or a stale value
# after an update that DingTalk applies key by key — a button that no longer applies).
# `notice` is empty on the card itself; a callback answer sets it for one user (`notice_data`).
BUTTON_VARIABLES = tuple(f"btn{i}_{part}" for i in range(1, MAX_ACTION_BUTTONS + 1)
                         for part in ("label", "action", "url"))
TEMPLATE_VARIABLES = ("title", "body", "markdown", "color", "color_label", "image", "footer",
                      "actions", "has_actions", "notice", *BUTTON_VARIABLES)

LinkFor = Callable[[Button], str]  # a URL for a button without one (a callback button)
RobotMessage = tuple[str, dict[str, str]]  # (msgKey, msgParam) for the robot message APIs

# never cut inside these: a markdown link or image, an HTML tag (<font …>), a URL
_ATOMIC = re.compile(r"!?\[[^\]\n]*\]\([^)\n]*\)|<[^<>\n]*>|https?://[^\s<>()\[\]]+")
_SOFT_BREAKS = " ，。；、,;）)"
_GLUE = "\u200d\ufe0e\ufe0f"  # zero-width joiner, variation selectors: stay with their neighbour


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def fits(text: str, max_chars: int = MESSAGE_MAX_CHARS, max_bytes: int = MESSAGE_MAX_BYTES) -> bool:
    return len(text) <= max_chars and _utf8(text) <= max_bytes


def _longest(line: str, max_chars: int, max_bytes: int) -> int:
    """The longest prefix of `line` within both limits (at least one character)."""
    lo, hi = 1, min(len(line), max_chars)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _utf8(line[:mid]) <= max_bytes:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _cut(line: str, max_chars: int, max_bytes: int) -> int:
    """Where to cut a line too long for one part: as far as fits, after a space or punctuation
    when there is one near, never inside a markdown link, a tag or a URL (unless one alone is
    too long), nor between a character and its combining marks or joiners."""
    n = _longest(line, max_chars, max_bytes)
    soft = max(line.rfind(c, max(1, n - 200), n) for c in _SOFT_BREAKS)
    if soft > 0:
        n = soft + 1
    for m in _ATOMIC.finditer(line):
        if m.start() >= n:
            break
        if n < m.end() and m.start() > 0:
            n = m.start()
    while n > 1 and _joined(line, n):
        n -= 1
    return n


def _joined(line: str, n: int) -> bool:
    """Whether `line[n]` belongs to the character before it: a combining mark (any Unicode
    mark: a keycap's U+20E3, a Thai vowel sign), a joiner or variation selector, a skin tone,
    an emoji tag, or the second regional indicator of a flag."""
    ch, before = line[n], line[n - 1]
    if unicodedata.category(ch).startswith("M") or ch in _GLUE or before == "\u200d":
        return True
    if "\U0001f3fb" <= ch <= "\U0001f3ff" or "\U000e0020" <= ch <= "\U000e007f":
        return True
    if _regional(ch) and _regional(before):  # flags are pairs: count the run before
        run = 0
        while run < n and _regional(line[n - 1 - run]):
            run += 1
        return run % 2 == 1
    return False


def _regional(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def _lines(text: str, max_chars: int, max_bytes: int) -> list[str]:
    out: list[str] = []
    for line in text.split("\n"):
        while not fits(line, max_chars, max_bytes):
            n = _cut(line, max_chars, max_bytes)
            out.append(line[:n])
            line = line[n:]
        out.append(line)
    return out


def split_text(text: str, max_chars: int = MESSAGE_MAX_CHARS - MARK_RESERVE,
               max_bytes: int = MESSAGE_MAX_BYTES - 3 * MARK_RESERVE) -> list[str]:
    """`text` in parts within the limits, in order, cut at line ends (a line too long alone is
    cut as `_cut` says). Blank lines at the edges of a part are dropped; nothing else is."""
    parts: list[str] = []
    current: list[str] = []
    chars = size = 0
    for line in _lines(text, max_chars, max_bytes):
        extra = (1 if current else 0)
        if current and (chars + extra + len(line) > max_chars
                        or size + extra + _utf8(line) > max_bytes):
            parts.append("\n".join(current))
            current, chars, size, extra = [], 0, 0, 0
        current.append(line)
        chars += extra + len(line)
        size += extra + _utf8(line)
    parts.append("\n".join(current))
    return [p.strip("\n") for p in parts if p.strip()] or [text.strip("\n")]


def _marked(parts: list[str], sep: str) -> list[str]:
    """（1/3） at the end of the first part, （续2/3） at the start of the others."""
    n = len(parts)
    if n == 1:
        return parts
    return [f"{p}{sep}（1/{n}）" if i == 1 else f"（续{i}/{n}）{sep}{p}"
            for i, p in enumerate(parts, 1)]


def omitted_note(omitted: Sequence[Button]) -> str:
    """The line a card gets for the buttons past MAX_ACTION_BUTTONS, which DingTalk does not
    show: what to send instead. Buttons of one command, one per item (「受理 HY-2026-0006」 …
    on the 待受理 list), are named by their items; any others by their labels."""
    if not omitted:
        return ""
    head = f"卡片最多显示 {MAX_ACTION_BUTTONS} 个按钮"
    labels = [b.label for b in omitted]
    words = {label.partition(" ")[0] for label in labels}
    keys = [label.partition(" ")[2].strip() for label in labels]
    if len(words) == 1 and all(keys):
        word = words.pop()
        if all(_CODE.fullmatch(k) for k in keys):
            return f"{head}；其余案件（{_some(keys)}）请发送「{word} 案件码」"
        return f"{head}；其余（{_some(keys)}）请发送「{word} …」"
    return f"{head}；未显示：{_some(labels)}"


def _some(names: Sequence[str], shown: int = 3) -> str:
    """A few names: 「HY-2026-0006、HY-2026-0007、HY-2026-0008 等 15 个」."""
    more = f" 等 {len(names)} 个" if len(names) > shown else ""
    return f"{'、'.join(names[:shown])}{more}"


def fit_card(card: Card) -> Card:
    """The card as DingTalk can show it: at most MAX_ACTION_BUTTONS buttons (the first ones,
    the others named in a line at the end of the body: `omitted_note`), its body within
    CARD_BODY_MAX_* (cut at a line end, with a short note that points at the card's link
    button, 查看详情, when it has one)."""
    extra = omitted_note(card.actions[MAX_ACTION_BUTTONS:])
    if extra:
        card = replace(card, actions=card.actions[:MAX_ACTION_BUTTONS])
    lead = f"{card.body}\n{extra}" if card.body and extra else card.body or extra
    if fits(lead, CARD_BODY_MAX_CHARS, CARD_BODY_MAX_BYTES):
        return replace(card, body=lead) if extra else card
    link = next((b for b in card.actions if b.url), None)
    note = f"……（内容过长，未全部显示，请点「{link.label}」查看）" if link else \
        "……（内容过长，未全部显示）"
    if extra:
        note = f"{note}\n{extra}"
    head = split_text(card.body, CARD_BODY_MAX_CHARS - len(note) - 1,
                      CARD_BODY_MAX_BYTES - _utf8(note) - 1)[0]
    return replace(card, body=f"{head}\n{note}")


def card_fits(card: Card) -> bool:
    return fits(card.body, CARD_BODY_MAX_CHARS, CARD_BODY_MAX_BYTES)


def heading(card: Card) -> str:
    """The title, marked 🔴/🟡/🟢 on a case code's card only: on a reminder or an inspection
    step the colour is styling (a template's stripe), and a coloured dot would read as a code."""
    mark = COLORS.get(card.color or "") if card.code_color else None
    return f"{mark[0]} {card.title}" if mark else card.title


# A card's texts are plain text, and hold what people typed (a case title, a deduction, a
# review reason, a comment): in markdown, `[看附件](https://…)` would be a link the bot seems
# to vouch for, `![](https://…)` an image the client fetches on its own as the card opens, and
# `<font …>` or `<a …>` markup. A zero-width space after `]` and `<` keeps every character as
# typed and visible, and leaves no link, image, reference definition or tag to render.
_MARKUP = re.compile(r"(?<=\])(?=[(:])|(?<=<)(?=[A-Za-z/!?])")


def plain(text: str) -> str:
    """`text` (plain text) as markdown that shows it as typed: no links, images or tags."""
    return _MARKUP.sub("\u200b", text)


def markdown(card: Card) -> tuple[str, str]:
    """(title, markdown text): the card as one markdown message (no buttons). Its texts are
    shown as typed (`plain`); the image and the footer's grey are the only markup."""
    parts = [f"### {plain(heading(card))}"]
    if card.code_color and card.color in COLORS:
        parts.append(f"**{COLORS[card.color][1]}**")
    if card.body:
        parts.append(plain(card.body).replace("\n", "  \n"))
    if card.image:
        parts.append(f"![]({card.image})")
    if card.footer:
        parts.append(f"<font color=#888888>{plain(card.footer)}</font>")
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
    `link_for`, form buttons become links to the web form (see the module docstring). A long
    body is cut (`fit_card`). Every one of TEMPLATE_VARIABLES is set."""
    card = fit_card(card)
    _, md = markdown(card)
    params: dict[str, str] = {
        "title": heading(card),
        "body": card.body,
        "markdown": md,
        "color": card.color or "",
        "color_label": COLORS[card.color][1] if card.code_color and card.color in COLORS else "",
        "image": card.image or "",
        "footer": card.footer or "",
        "actions": json.dumps([_button(b, link_for) for b in card.actions], ensure_ascii=False),
        "has_actions": "true" if card.actions else "false",
        "notice": "",
    }
    params.update(dict.fromkeys(BUTTON_VARIABLES, ""))
    for i, b in enumerate(card.actions[:MAX_ACTION_BUTTONS], 1):
        url = button_url(b, link_for)
        params[f"btn{i}_label"] = b.label
        params[f"btn{i}_action"] = "" if url else b.id
        params[f"btn{i}_url"] = url
    return params


def card_data(card: Card, link_for: LinkFor | None) -> dict[str, Any]:
    return {"cardParamMap": card_param_map(card, link_for)}


def notice_data(text: str) -> dict[str, Any]:
    """A card callback answer that shows `text` to the clicker alone: the template's `notice`
    variable in the user's private data (other readers keep seeing the card as it is). Key by
    key, so nothing else of the card is replaced by this one-variable map."""
    return {"userPrivateData": {"cardParamMap": {"notice": text}},
            "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True}}


def client_link(url: str) -> str:
    """`url` as a link the DingTalk client opens itself: in its sidebar on a PC, full screen on
    a phone. A plain http(s) link in a message opens the system browser on a PC, where the
    in-app login (免登: the /dingtalk/act links, the score form, the statistics) cannot run.
    DingTalk's pages "消息链接说明" (open.dingtalk.com/document/orgapp/message-link-description:
    pc_slide=true 侧边栏打开, false 浏览器打开) and "单聊相关跳转协议" (the same link without
    pc_slide opens full screen on phones)."""
    return f"dingtalk://dingtalkclient/page/link?url={quote(url, safe='')}&pc_slide=true"


def robot_message(card: Card, link_for: LinkFor, in_client: bool = False) -> RobotMessage:
    """(msgKey, msgParam) for the robot message API when there is no card template: one
    message, the body cut to fit (`fit_card`). `in_client`: buttons open in the DingTalk
    client (`client_link`)."""
    card = fit_card(card)
    title, md = markdown(card)
    buttons = list(card.actions)

    def link(b: Button) -> str:
        url = b.url or link_for(b)
        return client_link(url) if in_client and url else url

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


def text_message(text: str) -> RobotMessage:
    return "sampleText", {"content": text}


def text_messages(text: str) -> list[RobotMessage]:
    """A text in as many messages as it needs, marked （1/3） （续2/3） …"""
    return [text_message(p) for p in _marked(split_text(text), "\n")]


def markdown_messages(title: str, md: str) -> list[RobotMessage]:
    """Markdown in as many messages as it needs; the later ones titled 「…（续2/3）」."""
    parts = _marked(split_text(md), "\n\n")
    n = len(parts)
    return [("sampleMarkdown", {"title": title if i == 1 else f"{title}（续{i}/{n}）", "text": p})
            for i, p in enumerate(parts, 1)]


def robot_messages(text: str | None, card: Card | None, link_for: LinkFor,
                   in_client: bool = False) -> list[RobotMessage]:
    """What one outgoing message becomes without a card template, in order. A card with
    buttons is one message, its body cut to fit (buttons must stay with what they act on);
    text, and a card without buttons (a list such as 我的案件), are split into as many
    messages as they need, so nothing is lost."""
    if card is None:
        return text_messages(text or "")
    if card.actions:
        lead = f"{text}\n\n{card.body}".strip() if text else card.body
        return [robot_message(replace(card, body=lead), link_for, in_client)]
    title, md = markdown(card)
    return markdown_messages(title, f"{plain(text)}\n\n{md}" if text else md)


def mentioning(key: str, param: dict[str, str], names: Sequence[str]) -> dict[str, str]:
    """The message with 「@name」 (each) in front of what it says: a text's content, a markdown
    or actionCard text (on a line of its own, so a heading stays a heading)."""
    ats = " ".join(f"@{n}" for n in names)
    if not ats:
        return param
    if key == "sampleText":
        return {**param, "content": f"{ats} {param['content']}"}
    if "text" in param:
        return {**param, "text": f"{ats}\n\n{param['text']}"}
    return param


def webhook_body(key: str, param: dict[str, str], at_users: Sequence[str] = (),
                 at_dingtalk_ids: Sequence[str] = ()) -> dict[str, Any] | None:
    """A sessionWebhook body for a text or markdown robot message; None for the others (cards
    with buttons go through the OpenAPI). `at_users`: staff userIds to @-mention — in the `at`
    list, and as 「@userId」 in the text, without which DingTalk does not show the mention
    (it shows the person's name in its place). `at_dingtalk_ids`: the same for people without
    a userId (external contacts), by the senderId of their message (`at.atDingtalkIds`)."""
    param = mentioning(key, param, [*at_users, *at_dingtalk_ids])
    at: dict[str, list[str]] = {}
    if at_users:
        at["atUserIds"] = list(at_users)
    if at_dingtalk_ids:
        at["atDingtalkIds"] = list(at_dingtalk_ids)
    if key == "sampleText":
        return {"msgtype": "text", "text": {"content": param["content"]}, "at": at}
    if key == "sampleMarkdown":
        return {"msgtype": "markdown", "markdown": {"title": param["title"], "text": param["text"]},
                "at": at}
    return None


def webhook_text(text: str, at_users: Sequence[str] = (),
                 at_dingtalk_ids: Sequence[str] = ()) -> dict[str, Any]:
    """A short text answer through a sessionWebhook, @-mentioning `at_users` (staff userIds)
    and `at_dingtalk_ids` (external contacts)."""
    body = webhook_body(*text_message(text), at_users, at_dingtalk_ids)
    assert body is not None
    return body
