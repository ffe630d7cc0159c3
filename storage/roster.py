"""Roster versions: the roster every instance uses is the newest row of `roster_versions`.

Each row holds the whole org.yaml text (as written to the file, comments and all), the SHA-256
of that text, the roster's own version hash (`Org.version_hash`: what /admin/roster and every
draw show; two texts differing in comments only have the same), where it came from (`file`:
an org.yaml published by an instance; `import`: the CSV import on /admin/roster or `casebot
import roster`) and who imported it.

History is a line: each version names the version it replaced (`parent_id`, 0 for the
first), and that column is unique. Two instances that add a version on top of the same one at
once (two imports, or two instances publishing the same new org.yaml as they start together)
cannot both succeed: the second gets `VersionConflict` and nothing of its transaction is kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Index, Integer, String, Text, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, table
from storage.types import UTCDateTime

Source = Literal["file", "import"]


class RosterVersion(Base):
    __tablename__ = "roster_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_id: Mapped[int] = mapped_column(Integer)  # the version this one replaced; 0: none
    sha256: Mapped[str] = mapped_column(String(64))  # of the text, UTF-8
    roster_version: Mapped[str] = mapped_column(String(64))  # Org.version_hash() of the roster
    source: Mapped[str] = mapped_column(String(10))  # "file" | "import"
    imported_by: Mapped[str | None] = mapped_column(String(80))  # person id, "cli"; file: host
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text)  # the whole org.yaml

    __table_args__ = (Index("uq_roster_versions_parent", "parent_id", unique=True),
                      Index("ix_roster_versions_sha256", "sha256"))


class VersionConflict(Exception):
    """Another version was added on top of the same one first."""


@dataclass(frozen=True)
class Head:
    id: int
    sha256: str


async def head(session: AsyncSession) -> Head | None:
    """The newest version's id and hash only: what every instance reads at each tick."""
    t = table(RosterVersion)
    row = (await session.execute(
        select(t.c.id, t.c.sha256).order_by(t.c.id.desc()).limit(1))).first()
    return Head(row.id, row.sha256) if row else None


async def newest(session: AsyncSession) -> RosterVersion | None:
    return (await session.execute(
        select(RosterVersion).order_by(RosterVersion.id.desc()).limit(1))).scalar_one_or_none()


async def get(session: AsyncSession, version_id: int) -> RosterVersion | None:
    return await session.get(RosterVersion, version_id)


async def after(session: AsyncSession, version_id: int, limit: int = 20) -> list[RosterVersion]:
    """The versions added after `version_id`, oldest first (at most `limit`, the newest ones)."""
    rows = (await session.execute(
        select(RosterVersion).where(RosterVersion.id > version_id)
        .order_by(RosterVersion.id.desc()).limit(limit))).scalars().all()
    return list(reversed(rows))


async def distinct_texts(session: AsyncSession) -> list[str]:
    """The text of every stored roster, oldest first: of versions with the same roster
    (`roster_version`: their texts differ in comments at most), only the newest."""
    t = table(RosterVersion)
    newest = select(func.max(t.c.id)).group_by(t.c.roster_version)
    return list((await session.execute(
        select(t.c.text).where(t.c.id.in_(newest)).order_by(t.c.id))).scalars())


async def version_with(session: AsyncSession, sha256: str) -> int | None:
    """The newest version (from a file or an import) with exactly this text, if any."""
    t = table(RosterVersion)
    return (await session.execute(select(t.c.id).where(t.c.sha256 == sha256)
                                  .order_by(t.c.id.desc()).limit(1))).scalar_one_or_none()


async def add(session: AsyncSession, *, parent_id: int, text: str, sha256: str,
              roster_version: str, source: Source, imported_by: str | None,
              at: datetime) -> int:
    """A new newest version on top of `parent_id` (0 when there is none yet), inside the
    caller's transaction; VersionConflict when one was added there first (the transaction
    must then be rolled back). Returns its id."""
    t = table(RosterVersion)
    try:
        result = await session.execute(insert(t).values(
            parent_id=parent_id, text=text, sha256=sha256, roster_version=roster_version,
            source=source, imported_by=imported_by, created_at=at).returning(t.c.id))
    except IntegrityError:
        raise VersionConflict(parent_id) from None
    return int(result.scalar_one())
