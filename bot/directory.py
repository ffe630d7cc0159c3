"""Who is who: the org roster from config, indexed for lookups."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from config.model import Chat, Org, Person, Unit


def _norm(text: str) -> str:
    """How a search is typed: full-width letters from an IME, stray spaces, any case."""
    return unicodedata.normalize("NFKC", text).strip().lower()


# how someone no longer on the roster is named: 张三（已离开名册）
LEFT_ROSTER = "已离开名册"


class Directory:
    def __init__(self, org: Org, former: Mapping[str, str] | None = None) -> None:
        """`former`: the names of people on earlier rosters (person id -> name), for those
        who have left this one (`person_name`)."""
        self.org = org
        self.people = {p.id: p for p in org.people}
        self.former = {pid: name for pid, name in (former or {}).items()
                       if pid not in self.people}
        self.units = {u.id: u for u in org.units}
        self.chats = {c.id: c for c in org.chats}
        self._by_platform: dict[tuple[str, str], Person] = {}
        for p in org.people:
            self._by_platform[("console", p.id)] = p
            self._by_platform[("web", p.id)] = p  # a signed-in page acting for its viewer
            for platform, pid in p.ids.items():
                self._by_platform[(platform, pid)] = p

    def person(self, person_id: str) -> Person | None:
        return self.people.get(person_id)

    def by_platform(self, platform: str, user_id: str) -> Person | None:
        return self._by_platform.get((platform, user_id))

    def unit(self, unit_id: str) -> Unit | None:
        return self.units.get(unit_id)

    def person_name(self, person_id: str) -> str:
        """The person's name for display. Someone who has left the roster: the name they had
        on it, marked (张三（已离开名册）), or when no roster known here had them,
        已离开名册的人员（p-0012）; "" stays "". Every page, card and list names people here."""
        p = self.people.get(person_id)
        if p is not None:
            return p.name
        if not person_id:
            return person_id
        name = self.former.get(person_id)
        return f"{name}（{LEFT_ROSTER}）" if name else f"{LEFT_ROSTER}的人员（{person_id}）"

    def known_names(self) -> dict[str, str]:
        """Every name known here, this roster's over earlier ones: the `former` of the
        directory of the roster that replaces this one."""
        return {**self.former, **{p.id: p.name for p in self.org.people}}

    def unit_name(self, unit_id: str) -> str:
        """The unit's name for display; the id itself for a unit not in the roster."""
        u = self.units.get(unit_id)
        return u.name if u is not None else unit_id

    def unit_path(self, unit_id: str) -> str:
        """'示范省人民检察院 / 东川市人民检察院 / …' for display; a police unit is not part of
        that hierarchy: its name, then the procuratorate it works with."""
        u = self.units.get(unit_id)
        if u is not None and u.kind == "police":
            partner = self.units.get(u.parent) if u.parent else None
            return f"{u.name}（对口检察院：{partner.name}）" if partner else u.name
        names: list[str] = []
        while u is not None:
            names.append(u.name)
            u = self.units.get(u.parent) if u.parent else None
        return " / ".join(reversed(names))

    def city_of(self, unit_id: str) -> Unit | None:
        u = self.units.get(unit_id)
        while u is not None and u.kind not in ("city", "province"):
            u = self.units.get(u.parent) if u.parent else None
        return u if u is not None and u.kind == "city" else None

    def chief_of(self, unit_id: str) -> Person | None:
        return next(
            (p for p in self.org.people if p.unit == unit_id and "chief" in p.roles), None
        )

    def with_role(self, role: str, unit_id: str | None = None) -> list[Person]:
        return [
            p for p in self.org.people
            if role in p.roles and (unit_id is None or p.unit == unit_id)
        ]

    def leaders_of(self, unit_id: str) -> list[Person]:
        """Whom an office's escalations (责任倒查, 复核答复（升级）, a joint review) go to: its
        院领导; an office without one (most county offices have only a 检察长) its chief; one
        with neither, the office above's, and so on up. Empty when nobody is found."""
        u = self.units.get(unit_id)
        seen: set[str] = set()
        while u is not None and u.id not in seen:
            seen.add(u.id)
            found = self.with_role("leader", u.id) or self.with_role("chief", u.id)
            if found:
                return found
            u = self.units.get(u.parent) if u.parent else None
        return []

    def inspectors_of(self, created_by: str) -> list[str]:
        """Whom an inspection session's reports and escalations go to: the inspector who ran
        it; every inspector when they are no longer on the roster (or none is known)."""
        if created_by and created_by in self.people:
            return [created_by]
        return [p.id for p in self.with_role("inspector")]

    def led_units(self, person_id: str) -> list[str]:
        """The units whose escalations go to this person (``leaders_of``)."""
        return [u.id for u in self.org.units
                if any(p.id == person_id for p in self.leaders_of(u.id))]

    def chat(self, chat_id: str) -> Chat | None:
        return self.chats.get(chat_id)

    def chat_title(self, chat_id: str) -> str:
        """A group by its name; its id only when the roster no longer has it."""
        chat = self.chats.get(chat_id)
        return chat.title if chat is not None else chat_id

    def chats_of(self, person_id: str) -> list[Chat]:
        return [c for c in self.org.chats if person_id in c.members]

    def may_post(self, person_id: str, chat_id: str) -> bool:
        if chat_id.startswith("dm:"):
            return chat_id == f"dm:{person_id}"
        c = self.chats.get(chat_id)
        return c is not None and person_id in c.members

    # -- search (the admin's 人员 / 单位 / 群 and /admin/roster) -----------------------------------
    def find_people(self, query: str) -> list[Person]:
        """By id or platform id (exactly), else by a part of the name or id."""
        q = _norm(query)
        if not q:
            return []
        exact = [p for p in self.org.people
                 if p.id == q or any(_norm(v) == q for v in p.ids.values())]
        return exact or [p for p in self.org.people if q in _norm(p.name) or q in p.id]

    def find_units(self, query: str) -> list[Unit]:
        """By id or full name (exactly), else by a part of the name or id."""
        q = _norm(query)
        if not q:
            return []
        exact = [u for u in self.org.units if u.id == q or _norm(u.name) == q]
        return exact or [u for u in self.org.units if q in _norm(u.name) or q in u.id]

    def find_chats(self, query: str) -> list[Chat]:
        """By id or platform chat id (exactly), else by a part of the title."""
        q = _norm(query)
        if not q:
            return []
        exact = [c for c in self.org.chats
                 if c.id == q or any(_norm(v) == q for v in c.ids.values())]
        return exact or [c for c in self.org.chats if q in _norm(c.title) or q in c.id]

    def people_of(self, unit_id: str) -> list[Person]:
        return [p for p in self.org.people if p.unit == unit_id]

    def children(self, unit_id: str) -> list[Unit]:
        return [u for u in self.org.units if u.parent == unit_id]

    def within(self, unit_id: str) -> set[str]:
        """The unit and every unit below it (a county's police units too)."""
        below: dict[str, list[str]] = {}
        for u in self.org.units:
            if u.parent:
                below.setdefault(u.parent, []).append(u.id)
        out, todo = set(), [unit_id]
        while todo:
            uid = todo.pop()
            if uid not in out:
                out.add(uid)
                todo += below.get(uid, [])
        return out


def parent_line(d: Directory, u: Unit) -> str:
    """Where a unit belongs: its parent's path (not the unit itself); a police unit's partner."""
    parent = d.unit(u.parent) if u.parent else None
    if u.kind == "police":
        return f"对口检察院：{parent.name}（{parent.id}）" if parent else "对口检察院：未设置"
    return f"隶属：{d.unit_path(parent.id)}" if parent else "隶属：无（最高一级）"
