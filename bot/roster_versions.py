"""The roster every instance uses: the newest roster version in the database
(storage/roster.py), so that an import through one instance reaches all of them.

The imports (/admin/roster, `casebot import roster`) plan against the version in use
(`current`), add their result on top of it (`add_import`), then write it to their org.yaml as
well (`bot.org_file.write_copy`). The commands ask `org_in_use` which roster an instance would
use. Each instance publishes its org.yaml and takes the newest version with `RosterSync`
(bot/roster_sync.py)."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.context import Services, unit_of_work
from bot.directory import Directory
from bot.org_file import read_or_none, write_copy
from bot.rectification import hand_over, items_to_hand_over
from bot.reminders import install as install_reminders
from bot.roster import (
    Handover,
    RosterError,
    Vacated,
    changes_text,
    header_of,
    org_text,
    parse_org_text,
    plan_roster,
    read_csv,
    roster_changes,
)
from bot.signing import Signer
from config.loader import ConfigError, Settings, parse_yaml, validate_file
from config.model import Org
from storage import db, migrate
from storage import roster as store
from storage.roster import RosterVersion, VersionConflict

__all__ = ["Current", "Imported", "Newer", "Saved", "VersionConflict", "add_import",
           "check_text", "current", "describe", "former_names", "import_roster", "newer_than",
           "org_in_use", "sha256_of", "summary"]


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_text(text: str, where: Path | str) -> Org:
    """The roster in an org.yaml text, held to the start-up checks (ConfigError otherwise)."""
    return validate_file(Path(where), Org, parse_yaml(text, where) or {})


def _people_names(texts: list[str]) -> dict[str, str]:
    """Person id -> name in these org.yaml texts, a later text's name over an earlier one's; a
    text that does not parse, or a person entry without both, is passed over."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: a big roster, many times
    names: dict[str, str] = {}
    for text in texts:
        try:
            data = yaml.load(text, Loader=loader)
        except (yaml.YAMLError, ValueError, RecursionError):
            continue
        people = data.get("people") if isinstance(data, dict) else None
        for p in people if isinstance(people, list) else ():
            if isinstance(p, dict) and p.get("id") is not None and p.get("name"):
                names[str(p["id"])] = str(p["name"])
    return names


async def former_names(session: AsyncSession) -> dict[str, str]:
    """The name of everyone on any stored roster version (the newest name each had), read off
    the event loop: how people who have since left the roster are still named
    (`Directory.former`)."""
    return await asyncio.to_thread(_people_names, await store.distinct_texts(session))


def short_hash(roster_version: str, full: bool = False) -> str:
    """The roster's content hash (`Org.version_hash`, as in draw manifests) for a line: its
    first 8 hex digits in the log, all 64 where an operator compares it (`full`)."""
    return f"sha256 {roster_version}" if full else f"sha256 {roster_version[:8]}…"


def cli_operator() -> str:
    """Who ran a command, for the audit record and `roster_versions.imported_by`:
    `cli:USER@HOST` (the OS user; a shared admin account at least names the host)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = f"uid{os.getuid()}"
    return f"cli:{user}@{socket.gethostname()}"[:80]  # the column's width


def describe(version: RosterVersion) -> str:
    """Where a version came from, for the log line that swaps it in. `#N` is the row's id in
    `roster_versions` (one per import or edit); `sha256` (`short_hash`) names the content."""
    if version.source == "import":
        return f"roster #{version.id} (imported by {version.imported_by or 'unknown'})"
    if version.imported_by:  # the host whose org.yaml it was
        return f"roster #{version.id} (the org.yaml of {version.imported_by})"
    return f"roster #{version.id} (an org.yaml)"


def summary(changes: dict[str, list[str]]) -> str:
    """`roster_changes` for a log line: at most five ids of each kind."""
    if not changes:
        return "no unit, person or chat changed"
    return "; ".join(f"{what} {', '.join(ids[:5])}" + (f" (+{len(ids) - 5})" if len(ids) > 5
                                                     else "") for what, ids in changes.items())


@dataclass(frozen=True)
class Current:
    """The roster in use as org.yaml text: the newest version, or the file while the database
    holds none yet (version 0)."""

    text: str
    version_id: int
    where: str

    def data(self) -> dict[str, Any]:
        return parse_org_text(self.text, self.where)


async def current(session: AsyncSession, path: Path) -> Current:
    row = await store.newest(session)
    if row is not None:
        return Current(row.text, row.id, f"roster #{row.id}")
    text = (await asyncio.to_thread(path.read_bytes)).decode("utf-8")
    return Current(text, 0, str(path))


async def add_import(session: AsyncSession, base: Current, merged: dict[str, Any],
                     roster_version: str, *, by: str, at: datetime) -> tuple[int, str]:
    """An import's result as the newest version on top of `base`, in the caller's transaction.
    VersionConflict when another version was added on top of `base` first. Returns the
    version's id and its org.yaml text (`base`'s comment lines kept)."""
    text = org_text(merged, header_of(base.text))
    version_id = await store.add(session, parent_id=base.version_id, text=text,
                                 sha256=sha256_of(text), roster_version=roster_version,
                                 source="import", imported_by=by, at=at)
    return version_id, text


@dataclass(frozen=True)
class Saved:
    """One version, as the admin whose confirmation it overtook is told of it."""

    id: int
    source: str  # "import" | "file"
    by: str | None  # person id or "cli" (import); host (file)
    at: datetime


@dataclass(frozen=True)
class Newer:
    """What was saved on top of the version a preview was made on: who and when, and what it
    changed (empty when that version is not known, or no longer passes this casebot's checks)."""

    versions: tuple[Saved, ...]  # oldest first
    changes: tuple[str, ...] = ()  # 新增单位：…（c01-03）
    touched: frozenset[str] = frozenset()  # ids of the units, people and chats they changed


async def newer_than(session: AsyncSession, base_id: int | None) -> Newer:
    """The versions after `base_id` (None: not known, the newest only), and what changed from
    `base_id` to the newest."""
    if base_id is None:
        row = await store.newest(session)
        rows = [row] if row else []
    else:
        rows = await store.after(session, base_id)
    versions = tuple(Saved(r.id, r.source, r.imported_by, r.created_at) for r in rows)
    base = await store.get(session, base_id) if base_id else None
    if base is None or not rows:
        return Newer(versions)
    try:
        before = check_text(base.text, f"roster #{base.id}")
        after = check_text(rows[-1].text, f"roster #{rows[-1].id}")
    except ConfigError:
        return Newer(versions)
    return Newer(versions, tuple(changes_text(before, after)),
                 frozenset(i for ids in roster_changes(before, after).values() for i in ids))


ATTEMPTS = 3  # plans of `casebot import roster` before it gives up on a busy roster


@dataclass(frozen=True)
class Imported:
    rows: int
    version_id: int | None  # None: the roster already held every row, nothing was added
    roster_version: str  # the roster's hash (Org.version_hash)
    not_written: str | None = None  # why org.yaml could not be written, if it could not
    handovers: tuple[Handover, ...] = ()  # units given a new chief while they had one
    # open 整改事项 per handover (unit, outgoing chief): moved to the incoming chief when it
    # replaced the outgoing one, else what --replace-chiefs would move
    items: dict[tuple[str, str], int] = field(default_factory=dict)
    vacated: tuple[Vacated, ...] = ()  # units their chief left (调任) with none named for them


async def import_roster(settings: Settings, clock: Clock, csv_path: Path,
                        org_path: Path, replace_chiefs: bool = False) -> Imported:
    """`casebot import roster`: all rows or none, checked against the roster in use, added as
    the newest version to the config's database (which must exist, at the current schema) and
    then written to `org_path`; with `replace_chiefs` a unit's outgoing chief loses the role
    (换任), otherwise the unit has two. RosterError with the rows to fix. A version added by
    someone else while it ran is not saved over: the file is planned again on top of it;
    VersionConflict when that happened `ATTEMPTS` times in a row."""
    try:
        rows = read_csv(await asyncio.to_thread(csv_path.read_bytes))
    except RosterError as e:
        raise RosterError([f"{csv_path}: {m}" for m in e.errors]) from None
    operator, where = cli_operator(), str(await asyncio.to_thread(csv_path.resolve))
    engine = await migrate.open_existing(settings.config.storage.database_url, readonly=False)
    try:
        sessions = db.sessionmaker(engine)
        for attempt in range(1, ATTEMPTS + 1):
            async with sessions() as session:
                base = await current(session, org_path)
            try:
                plan = plan_roster(base.data(), rows, replace_chiefs)
            except (ValidationError, RosterError, ConfigError):  # a rolling upgrade
                raise ConfigError([f"the roster in use ({base.where}) was stored by a newer "
                                   "casebot and does not pass this one's checks; import with "
                                   "the newer casebot"]) from None
            if not plan.ok or plan.merged is None or plan.new_version is None:
                raise RosterError([f"{csv_path}:{i.row}: {i.message}" if i.row
                                   else f"{csv_path}: {i.message}" for i in plan.errors])
            roster_version: str = plan.new_version
            if plan.unchanged:
                return Imported(len(rows), None, roster_version)
            now = clock.now()
            # the new roster's Services: the incoming chief's notice goes out through the
            # outbox of the instances on this database (bot/rectification.hand_over)
            services = Services(
                settings=settings, clock=clock, db=sessions,
                directory=Directory(Org.model_validate(plan.merged)),
                signer=Signer(settings.secrets.link_keys),
                external_transports=("dingtalk",) if settings.config.transports.dingtalk.enabled
                else ())
            # the reminders sent to an outgoing chief and not settled follow their items
            # (bot/reminders.hand_over_rectifications); this process sweeps nothing
            install_reminders(services, worker="cli")
            try:
                async with unit_of_work(services) as out:
                    await out.audit("cli", "roster.import", plan.new_version, {
                        "file": csv_path.name, "path": where,
                        "by": operator, "rows": plan.rows, "org": str(org_path),
                        "version_before": plan.base_version, **plan.summary()})
                    version_id, text = await add_import(out.session, base, plan.merged,
                                                        plan.new_version, by=operator, at=now)
                    items = await hand_over(out, plan.handovers, "cli")
                    items |= {k: n for k, n in (await items_to_hand_over(
                        out.session, [h for h in plan.handovers if not h.replaced])).items()
                        if n}
                break
            except VersionConflict:
                # another version landed after `base` was read: nobody confirmed this plan, so
                # the file is planned again on top of it (as running the command again would)
                if attempt == ATTEMPTS:
                    raise
        failed = await write_copy(org_path, text)
        return Imported(len(rows), version_id, roster_version,
                        str(failed.strerror or failed) if failed else None,
                        tuple(plan.handovers), items, tuple(plan.vacated))
    finally:
        await engine.dispose()


async def org_in_use(session: AsyncSession, path: Path, from_file: Org) -> Org:
    """For the commands: the roster an instance would use after its next tick. That is the
    newest version, unless the org.yaml at `path` (read as `from_file`) holds a text not
    stored yet (a hand edit about to be published, or no version at all yet), or the newest
    does not pass this casebot's checks."""
    raw = await read_or_none(path)  # None: moved away since it was read, the newest it is
    if raw is not None and await store.version_with(
            session, hashlib.sha256(raw).hexdigest()) is None:
        return from_file
    row = await store.newest(session)
    if row is None or row.roster_version == from_file.version_hash():
        return from_file
    try:
        return check_text(row.text, f"roster #{row.id}")
    except ConfigError:
        return from_file
