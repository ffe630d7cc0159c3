"""Each instance's roster (`RosterSync`, at start and at each tick of `App.reload_org`).

It first looks at its org.yaml: a text that is none of the stored versions (a fresh database,
a hand edit) is checked and published as a new version, on top of the version the file held
before the edit. A text already stored (a stale file after a restart, the version this instance
wrote itself) changes nothing. An edit made on a version that another has replaced since (an
import through another instance before this one's tick) is not published, since it would undo
that one: it is kept beside the file as org.yaml.unpublished. Then the instance swaps in the
newest version when it is not the one in use, reading only the newest id while nothing changed,
and writes it to its org.yaml, so that a restart and the next hand edit start from the roster in
use. It never writes over a text that is not a stored version: a hand edit that does not pass
the checks yet is left for its author to fix."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.org_file import keep_unpublished, read_or_none, stamp_of, write_org_text
from bot.roster import roster_changes
from bot.roster_versions import check_text, describe, short_hash, summary
from config.loader import ConfigError
from config.model import Org
from storage import audit
from storage import roster as store
from storage.roster import RosterVersion, VersionConflict

log = logging.getLogger("bot.roster_versions")  # the roster's log lines keep one name

__all__ = ["RosterSync"]


class RosterSync:
    """One instance's org.yaml and the version it uses. A tick and an import through this
    instance's page run one at a time, each holding `lock` until its roster is swapped in: a
    tick that had read an older version just before the import was added would otherwise swap
    it back in over the import."""

    def __init__(self, path: Path, db: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.path = path
        self.db = db
        self.clock = clock
        self.lock = asyncio.Lock()
        self.in_use = 0  # the version in use; 0: the org.yaml read at start, before any
        self.text: str | None = None  # its text
        self._stamp: tuple[int, int] | None = None  # org.yaml (mtime, size) when last read
        self._file_base: int | None = None  # the stored version org.yaml last held (None: not
        # known yet, at start): the version a hand edit of it replaces
        self._aside: str | None = None  # the hash of an edit kept aside, not published: the
        # file may be written over it
        self._refused = 0  # a stored version that fails this casebot's checks (warned once)
        self._checked: tuple[str, Org] | None = None  # the last file published, checked

    def adopted(self, version_id: int, text: str, written: bool) -> None:
        """This instance added and uses `version_id` (its import); `written`: to its org.yaml."""
        self.in_use, self.text = version_id, text
        if written:
            self._file_base = version_id
            self._stamp = stamp_of(self.path)

    async def sync(self, roster: Org) -> tuple[RosterVersion, Org] | None:
        """Publish org.yaml if it holds a new text, then take the newest version if it is not
        the one in use. Returns it with its roster when that is not `roster` (the one in use):
        the roster to swap in. None when there is none. The caller holds `lock` until it has
        swapped that roster in."""
        changed = await self._read_file(roster)
        version = await self._newest()
        org = await self._roster_of(version, roster) if version is not None else None
        if version is not None and org is not None:
            self.in_use, self.text = version.id, version.text
        if changed or org is not None:
            await self._write_file(quiet=org is not None)
        if version is None or org is None or org is roster:
            return None
        return version, org

    async def _roster_of(self, version: RosterVersion, roster: Org) -> Org | None:
        """The roster of `version`: `roster` itself when it is the same (another text, e.g.
        other comments: not parsed again); None when it does not pass this casebot's checks
        (one warning)."""
        if version.roster_version == roster.version_hash():
            return roster
        if self._checked is not None and self._checked[0] == version.sha256:
            return self._checked[1]  # the file this instance has just checked and published
        try:
            return await asyncio.to_thread(check_text, version.text,
                                           f"roster #{version.id}")
        except ConfigError as e:
            self._refused = version.id
            log.warning("roster: %s in the database does not pass this casebot's checks, "
                        "still using the roster in use: %s", describe(version),
                        "; ".join(e.errors))
            return None

    async def _read_file(self, roster: Org) -> bool:
        """True when org.yaml changed on disk since it was last read; a new text that passes
        the checks is published."""
        stamp = stamp_of(self.path)
        if stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        if (raw := await read_or_none(self.path)) is None:
            self._stamp = None
            return False
        sha = hashlib.sha256(raw).hexdigest()
        async with self.db() as session:
            if (held := await store.version_with(session, sha)) is not None:
                self._file_base = held  # stored already: a stale file changes nothing
                return True
        try:
            text = raw.decode("utf-8")
            org = await asyncio.to_thread(check_text, text, self.path)
        except (ConfigError, UnicodeDecodeError) as e:
            why = ("; ".join(e.errors) if isinstance(e, ConfigError)
                   else "not UTF-8 text; save the file as UTF-8")
            log.warning("roster: %s changed but is not valid, still using the roster read "
                        "before: %s", self.path, why)
            return True
        try:
            await self._publish(text, sha, org, roster)
        except VersionConflict:
            await self._conflict(text, sha)
        return True

    async def _publish(self, text: str, sha: str, org: Org, roster: Org) -> None:
        """org.yaml's new text as the newest version, on top of the version the file held
        before; at start, when that is not known (a fresh database, a file edited while the
        instance was down), on top of the newest. A version replaced by a hand edit is in the
        audit chain, with what the edit changed."""
        host = socket.gethostname()
        async with self.db() as session, session.begin():
            top = await store.head(session)
            if (same := await store.version_with(session, sha)) is not None:
                self._file_base = same  # an instance sharing this text published it just now
                return
            parent = self._file_base if self._file_base is not None else top.id if top else 0
            changes: dict[str, list[str]] = {}
            if parent:
                before = await self._roster_at(session, parent, roster)
                changes = roster_changes(before, org) if before is not None else {}
                await audit.append(session, at=self.clock.now(), actor="system",
                                   action="roster.publish", subject=org.version_hash(), data={
                                       "file": str(self.path), "host": host,
                                       "replaces": parent, **changes})
            version_id = await store.add(
                session, parent_id=parent, text=text, sha256=sha,
                roster_version=org.version_hash(), source="file", imported_by=host[:80],
                at=self.clock.now())
        self._file_base = version_id
        self._checked = (sha, org)
        log.info("roster: %s holds a new text, published as roster #%d (%s)%s", self.path,
                 version_id, short_hash(org.version_hash()),
                 f" replacing roster #{parent}: {summary(changes)}" if parent else "")

    async def _roster_at(self, session: AsyncSession, version_id: int, roster: Org
                         ) -> Org | None:
        """The roster of a stored version, for what a hand edit of it changed."""
        if version_id == self.in_use:
            return roster
        row = await store.get(session, version_id)
        try:
            return None if row is None else await asyncio.to_thread(
                check_text, row.text, f"roster #{row.id}")
        except ConfigError:
            return None

    async def _conflict(self, text: str, sha: str) -> None:
        """Another version was added on top of the one org.yaml held before this new text."""
        async with self.db() as session:
            same = await store.version_with(session, sha)
            newest = await store.newest(session)
        if same is not None:  # an instance sharing this file published it first
            self._file_base = same
            return
        if self._file_base is None or newest is None:  # starting together: look again
            self._stamp = None
            return
        # an edit made on a version replaced since: published, it would undo that one
        aside, failed = await keep_unpublished(self.path, text)
        if failed is not None:
            log.warning("roster: %s was edited on roster #%d, but %s was added since: the edit "
                        "is not published, as it would undo that version; it could not be "
                        "kept as %s (%s), so it stays in %s", self.path, self._file_base,
                        describe(newest), aside, failed.strerror or failed, self.path)
            return
        self._aside = sha
        log.warning("roster: %s was edited on roster #%d, but %s was added since: the edit is "
                    "not published, as it would undo that version. The edit is kept as %s, and "
                    "%s now holds the roster in use: make the edit again there", self.path,
                    self._file_base, describe(newest), aside, self.path)

    async def _newest(self) -> RosterVersion | None:
        """The newest version when it is not the one in use; only its id is read while it is."""
        async with self.db() as session:
            top = await store.head(session)
            if top is None or top.id in (self.in_use, self._refused):
                return None
            return await store.get(session, top.id)

    async def _write_file(self, quiet: bool) -> None:
        """org.yaml rewritten with the version in use when it holds another stored version
        (or an edit kept aside)."""
        if self.text is None:
            return
        raw = await read_or_none(self.path)
        if raw == self.text.encode("utf-8"):
            self._file_base = self.in_use
            return
        held = None
        if raw is not None:
            sha = hashlib.sha256(raw).hexdigest()
            if sha == self._aside:
                quiet = True
            else:
                async with self.db() as session:
                    held = await store.version_with(session, sha)
                if held is None:
                    return  # a hand edit not published (it does not pass the checks): left alone
        try:
            await asyncio.to_thread(write_org_text, self.path, self.text)
        except OSError as e:
            log.warning("roster: cannot write roster #%d in use to %s: %s (a restart still "
                        "uses the database's roster)", self.in_use, self.path, e.strerror or e)
            return
        self._file_base = self.in_use
        self._stamp = stamp_of(self.path)
        if not quiet:
            log.info("roster: %s held roster #%s, an older one; rewritten with roster #%d, "
                     "the one in use (a hand edit is published when its text is new)",
                     self.path, held if held is not None else "none", self.in_use)
