"""The statistics card (统计): the figures in all, then per prosecutor and per police unit.

Every prosecutor and police unit of the roster is accounted for, those without a case too
(a supervisor must tell "none" from "missing"). The card stays within a chat card's size
(cards/dingtalk.py): with a large roster it lists the entries with the most cases, names the
ones without a case in one line and sends the reader to the statistics page, which lists
every entry with every figure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from bot.domain.period import Period
from bot.domain.stats import Group, Stats
from cards.dingtalk import CARD_BODY_MAX_BYTES, CARD_BODY_MAX_CHARS, fits
from cards.model import Button, Card

# per group on the card: entries with cases shown in full, names of entries without one; when
# the body would still be too large, fewer (the page has them all)
CARD_LIMITS = ((10, 12), (6, 8), (3, 4), (0, 0))
DATE_RULE = "按案件录入日期"  # which cases a period counts: those that entered casebot in it


@dataclass(frozen=True)
class StatsView:
    """The figures with names resolved: (name, figures) in the order to show (the roster's);
    `scope`, the office whose cases they count (with the offices below it); `taken`, when
    (in the bot's time zone)."""

    stats: Stats
    scope: str
    taken: datetime
    prosecutors: tuple[tuple[str, Group], ...]
    police_units: tuple[tuple[str, Group], ...]
    period: Period | None = None  # None: every case

    @property
    def taken_text(self) -> str:
        """数据截至 as the card, the page and the CSV show it."""
        return self.taken.strftime("%Y-%m-%d %H:%M")

    @property
    def period_text(self) -> str:
        """统计期间 as the card, the page and the CSV show it, with the rule that puts a case
        in the period: 2026-10-01 至 2026-12-31（按案件录入日期）, or 全部."""
        return "全部" if self.period is None else f"{self.period.text}（{DATE_RULE}）"

    @property
    def query(self) -> str:
        """The period as the /stats and /stats.csv links carry it ("" for every case)."""
        return "" if self.period is None else period_query(self.period)


def period_query(p: Period) -> str:
    return f"?from={p.start.isoformat()}&to={p.end.isoformat()}"


def colors_text(g: Group) -> str:
    """3 件（红 0 · 黄 1 · 绿 2）, with 未评分 when there are unscored cases."""
    c = g.by_color
    unscored = f" · 未评分 {c['unscored']}" if c["unscored"] else ""
    return f"{g.cases} 件（红 {c['red']} · 黄 {c['yellow']} · 绿 {c['green']}{unscored}）"


def closed_text(g: Group) -> str:
    """（其中已结案 2 件）, or nothing when none is closed."""
    return f"（其中已结案 {g.closed} 件）" if g.closed else ""


def intake_text(g: Group) -> str:
    """25%（扫码受理 4 件：绿码放行 1 · 黄码待定 2 · 红码退回 1）: the share with the counts it
    comes from. Every case scanned at intake counts, by its first scan, whatever it decided: a
    leader must not read 4 as four cases taken in."""
    if not g.intakes:
        return "—（尚无扫码受理）"
    share = percent(g.green_at_intake, g.intakes)
    parts = " · ".join(f"{label} {g.intake_colors[color]}" for color, label in (
        ("green", "绿码放行"), ("yellow", "黄码待定"), ("red", "红码退回"))
        if g.intake_colors[color])
    return f"{share}（扫码受理 {g.intakes} 件：{parts}）"


def percent(part: int, whole: int) -> str:
    """The share in whole percent, halves rounded up (四舍五入: 1 of 8 is 13%), as a reader
    checking it against its counts works it out."""
    return f"{(200 * part + whole) // (2 * whole)}%"


def days(value: float | None) -> str:
    """Days to one decimal, halves rounded up (7.25 is 7.3); "" when there is none. Rounded
    from the float's shortest text: 1.45 days is stored as 1.4499…, which would show 1.4."""
    if value is None:
        return ""
    return str(Decimal(repr(value)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def group_lines(title: str, word: str, rows: tuple[tuple[str, Group], ...], shown: int,
                names: int) -> list[str]:
    """One group of the card: its entries with cases (the `shown` with the most when there are
    more, in roster order otherwise), then the names of those without a case."""
    if not rows:
        return []
    active = [(n, g) for n, g in rows if g.cases]
    idle = [n for n, g in rows if not g.cases]
    lines = [f"{title}（共 {len(rows)} {word}）："]
    listed = active
    if len(active) > shown:  # stable: equal counts keep the roster's order
        listed = sorted(active, key=lambda r: -r[1].cases)[:shown]
        if shown:
            lines.append(f"案件最多的 {shown} {word}：")
    lines += [f"· {n}：{colors_text(g)}" for n, g in listed]
    if len(active) > len(listed):
        lines.append(f"· 另有 {len(active) - len(listed)} {word}有案件，详见统计页")
    if idle:
        more = f" 等 {len(idle)} {word}" if len(idle) > names else ""
        listed_idle = "、".join(idle[:names])
        lines.append(f"· 无案件（0 件）：{listed_idle}{more}" if listed_idle
                     else f"· 无案件（0 件）：{len(idle)} {word}，详见统计页")
    return lines


def stats_card(v: StatsView, base_url: str) -> Card:
    s = v.stats
    c = s.total.by_color
    median = f"{days(s.median_days_to_green)} 天" if s.median_days_to_green is not None else "—"
    head = (f"统计范围：{v.scope}\n统计期间：{v.period_text}\n数据截至：{v.taken_text}\n"
            f"案件总数：{s.total.cases}{closed_text(s.total)}\n"
            f"红码 {c['red']} · 黄码 {c['yellow']} · 绿码 {c['green']} · 未评分 {c['unscored']}\n"
            f"转码次数：{s.total.transcodes}\n"
            f"首次红/黄码到转绿（中位数）：{median}\n受理时绿码占比：{intake_text(s.total)}\n"
            f"羁押期限届满仍为红码：{s.red_at_custody} 件")
    body = head
    for shown, names in CARD_LIMITS:
        parts = [head]
        for title, word, rows in (("按承办检察官", "人", v.prosecutors),
                                  ("按侦查单位", "个单位", v.police_units)):
            lines = group_lines(title, word, rows, shown, names)
            if lines:
                parts.append("\n".join(lines))
        body = "\n\n".join(parts)
        if fits(body, CARD_BODY_MAX_CHARS, CARD_BODY_MAX_BYTES):
            break
    return Card(title="案件码统计", body=body, actions=(
        Button(id="stats.page", label="查看统计页", url=f"{base_url}/stats{v.query}"),
        Button(id="stats.csv", label="导出 CSV", url=f"{base_url}/stats.csv{v.query}")))
