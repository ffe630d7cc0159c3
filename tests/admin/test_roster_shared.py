"""Several instances on one PostgreSQL database, each with its own org.yaml (no shared file),
behave as one bot for the roster: an import through one is used by every other from its next
tick, a hand edit of one org.yaml reaches all, and a stale org.yaml never undoes an import."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.app import App
from bot.clock import ManualClock
from config.loader import DEFAULT_DIR, Settings
from storage.models import AuditRecord
from storage.roster import RosterVersion
from tests.admin.conftest import ADMIN
from tests.admin.test_roster_page import GOOD, HEADER, hidden, login, preview, user_ids
from tests.conftest import START, Console, free_port, fresh_postgres, make_settings, open_console

pytestmark = pytest.mark.postgres
NEW_CHIEF = "p-chief-c12-01"  # the chief of a county office GOOD adds


@dataclass
class Node:
    """One instance's settings and its own org.yaml."""

    settings: Settings
    org: Path


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_postgres("casebot_roster") as url:
        yield url


@pytest.fixture
def nodes(tmp_path: Path, pg_url: str) -> list[Node]:
    made = []
    for name in "ab":
        home = tmp_path / name
        home.mkdir()
        org = home / "org.yaml"
        shutil.copy(DEFAULT_DIR / "org.yaml", org)
        made.append(Node(make_settings(home, org=str(org), storage={"database_url": pg_url}),
                         org))
    return made


async def whoami(console: Console, person: str) -> str:
    got = await console.send(person, f"dm:{person}", "我是谁")
    return str(got["messages"][0]["text"])


async def confirm(console: Console, csv: str) -> tuple[int, str]:
    """Preview `csv` and confirm it, as an admin."""
    await login(console, ADMIN)
    status, page = await preview(console, csv)
    assert status == 200, page
    r = await console.client.post("/admin/roster/apply", data=hidden(page))
    return r.status, await r.text()


async def versions(console: Console) -> list[tuple[int, int, str, str | None]]:
    async with console.app.services.db() as s:
        rows = (await s.execute(select(RosterVersion).order_by(RosterVersion.id))).scalars()
        return [(v.id, v.parent_id, v.source, v.imported_by) for v in rows]


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    """The SQL statements `app` sends meanwhile."""
    assert app.engine is not None
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(app.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", record)


async def test_an_import_through_one_instance_is_used_by_the_other_at_its_next_tick(
        nodes: list[Node], caplog: pytest.LogCaptureFixture) -> None:
    a_node, b_node = nodes
    async with open_console(a_node.settings, free_port()) as a, \
            open_console(b_node.settings, free_port()) as b:
        status, page = await confirm(a, GOOD)
        assert status == 200 and "导入成功" in page
        assert NEW_CHIEF not in await user_ids(b)  # B has not looked yet
        caplog.set_level(logging.INFO)
        await b.advance("1m")
        assert NEW_CHIEF in await user_ids(b)
        assert "新设市人民检察院 / 新设市新城区人民检察院" in await whoami(b, NEW_CHIEF)
        [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("roster:")]
        assert line.startswith("roster: roster #2 (imported by p-admin-1) now in use (sha256 ")
        # B's own org.yaml holds the import too: a restart, or a hand edit, starts from it
        assert b_node.org.read_bytes() == a_node.org.read_bytes()
        assert "新设市新城区人民检察院" in b_node.org.read_text(encoding="utf-8")
        # the ticks after read the newest version's id and hash only
        with statements(b.app) as sent:
            await b.advance("1m")
        roster_reads = [s for s in sent if "roster_versions" in s]
        assert len(roster_reads) == 1 and "roster_versions.text" not in roster_reads[0]
        assert "LIMIT" in roster_reads[0]
        # the first version is A's or B's org.yaml, named by its host
        assert await versions(b) == [(1, 0, "file", socket.gethostname()), (2, 1, "import", ADMIN)]


async def test_an_instance_restarting_with_a_stale_org_yaml_keeps_the_import(
        nodes: list[Node]) -> None:
    """B was stopped during the import: its org.yaml is the one from before. B restarts on it
    and uses the import (its file's text is a version already stored, not a new one), and
    rewrites its file; A, on its next tick, still has the import."""
    a_node, b_node = nodes
    async with open_console(b_node.settings, free_port()):
        pass  # B ran, then stopped
    stale = b_node.org.read_bytes()
    async with open_console(a_node.settings, free_port()) as a:
        status, _ = await confirm(a, GOOD)
        assert status == 200
        assert b_node.org.read_bytes() == stale
        async with open_console(b_node.settings, free_port()) as b:
            assert "新设市新城区人民检察院" in await whoami(b, NEW_CHIEF)
            assert b_node.org.read_bytes() == a_node.org.read_bytes() != stale
            await a.advance("1m")
            await b.advance("1m")
            assert NEW_CHIEF in await user_ids(a) and NEW_CHIEF in await user_ids(b)
            assert [v[2] for v in await versions(a)] == ["file", "import"]


async def test_a_hand_edit_of_one_org_yaml_reaches_every_instance(
        nodes: list[Node], caplog: pytest.LogCaptureFixture) -> None:
    a_node, b_node = nodes
    async with open_console(a_node.settings, free_port()) as a, \
            open_console(b_node.settings, free_port()) as b:
        text = b_node.org.read_text(encoding="utf-8")
        assert text.count("name: 余斌梅\n") == 1
        b_node.org.write_text(text.replace("name: 余斌梅\n", "name: 余彬梅\n"), encoding="utf-8")
        await b.advance("1m")  # B publishes its file and uses it
        assert "余彬梅" in await whoami(b, "p-prosecutor-1")
        assert "余斌梅" in await whoami(a, "p-prosecutor-1")
        await a.advance("1m")
        assert "余彬梅" in await whoami(a, "p-prosecutor-1")
        assert a_node.org.read_bytes() == b_node.org.read_bytes()  # A's file rewritten

        # a broken edit of A's file: one warning, the roster in use stays; an import through
        # B still reaches A, and A leaves the broken file to whoever is fixing it
        caplog.set_level(logging.WARNING)
        broken = a_node.org.read_text(encoding="utf-8") + "people: [oops\n"
        a_node.org.write_text(broken, encoding="utf-8")
        await a.advance("1m")
        [warned] = [r.getMessage() for r in caplog.records if "roster" in r.getMessage()]
        assert f"{a_node.org} changed but is not valid, still using the roster" in warned
        assert "余彬梅" in await whoami(a, "p-prosecutor-1")
        status, _ = await confirm(b, GOOD)
        assert status == 200
        await a.advance("1m")
        assert NEW_CHIEF in await user_ids(a) and "余彬梅" in await whoami(a, "p-prosecutor-1")
        assert a_node.org.read_text(encoding="utf-8") == broken
        assert len([r for r in caplog.records if "roster" in r.getMessage()]) == 1
        assert [v[2] for v in await versions(a)] == ["file", "file", "import"]


async def test_two_confirmations_through_two_instances_at_once_import_one(
        nodes: list[Node]) -> None:
    """Two admins confirm different files through A and B at the same moment, both previewed
    against the same roster: one is imported, the other is refused as changed since its
    preview (nothing of it is kept), as within one instance. A confirmation previewed before
    the other instance's import is refused the same way."""
    a_node, b_node = nodes
    other = HEADER + "c01-99,示范市新区人民检察院,county,c01,XN,p-chief-c01-99,郑新,\n"
    async with open_console(a_node.settings, free_port()) as a, \
            open_console(b_node.settings, free_port()) as b:
        pages = []
        for console, csv in ((a, GOOD), (b, other)):
            await login(console, ADMIN)
            pages.append(hidden((await preview(console, csv))[1]))
        answers = await asyncio.gather(
            a.client.post("/admin/roster/apply", data=pages[0]),
            b.client.post("/admin/roster/apply", data=pages[1]))
        assert sorted(r.status for r in answers) == [200, 409]
        refused = next(r for r in answers if r.status == 409)
        assert "名册在预览之后已被修改" in await refused.text()
        await a.advance("1m")
        await b.advance("1m")
        known = [p in await user_ids(a) for p in (NEW_CHIEF, "p-chief-c01-99")]
        assert sorted(known) == [False, True] and await user_ids(a) == await user_ids(b)
        assert [v[2] for v in await versions(a)] == ["file", "import"]
        async with a.app.services.db() as s:
            assert await s.scalar(select(func.count()).select_from(AuditRecord).where(
                AuditRecord.action == "roster.import")) == 1

        _, page = await preview(a, HEADER + "c01-98,示范市东区人民检察院,county,c01,,,,\n")
        status, _ = await confirm(b, HEADER + "c01-97,示范市西区人民检察院,county,c01,,,,\n")
        assert status == 200
        r = await a.client.post("/admin/roster/apply", data=hidden(page))
        assert r.status == 409 and "名册在预览之后已被修改" in await r.text()


async def test_instances_starting_together_publish_their_org_yaml_once(
        nodes: list[Node]) -> None:
    """A fresh database: both instances start at once with the same org.yaml, and later tick at
    once after the same hand edit; each text is stored once."""
    apps = [App(n.settings, ManualClock(START)) for n in nodes]
    await asyncio.gather(*(app.start() for app in apps))
    try:
        for node in nodes:
            text = node.org.read_text(encoding="utf-8")
            node.org.write_text(text.replace("name: 余斌梅\n", "name: 余彬梅\n"),
                                encoding="utf-8")
        await asyncio.gather(*(app.reload_org() for app in apps))
        await asyncio.gather(*(app.reload_org() for app in apps))
        for app in apps:
            person = app.services.directory.person("p-prosecutor-1")
            assert person is not None and person.name == "余彬梅"
        async with apps[0].services.db() as s:
            rows = (await s.execute(select(RosterVersion.source, func.count())
                                    .group_by(RosterVersion.source))).all()
        assert [tuple(r) for r in rows] == [("file", 2)]
    finally:
        for app in apps:
            await app.stop()


async def test_a_hand_edit_made_before_an_import_reached_its_instance_does_not_undo_it(
        nodes: list[Node], caplog: pytest.LogCaptureFixture) -> None:
    """An admin imports through B while an operator edits A's org.yaml, before A's next tick:
    the edit was made on the version the import replaced, so publishing it would undo the
    import. It is kept as org.yaml.unpublished instead, A's org.yaml gets the roster in use,
    one warning says so; the edit made again there reaches both, after the import."""
    a_node, b_node = nodes
    async with open_console(a_node.settings, free_port()) as a, \
            open_console(b_node.settings, free_port()) as b:
        status, _ = await confirm(b, GOOD)
        assert status == 200
        edited = a_node.org.read_text(encoding="utf-8").replace("name: 余斌梅\n", "name: 余彬梅\n")
        a_node.org.write_text(edited, encoding="utf-8")
        caplog.set_level(logging.INFO)
        await a.advance("1m")
        assert NEW_CHIEF in await user_ids(a) and "余斌梅" in await whoami(a, "p-prosecutor-1")
        aside = a_node.org.with_name("org.yaml.unpublished")
        assert aside.read_text(encoding="utf-8") == edited
        assert a_node.org.read_bytes() == b_node.org.read_bytes()
        [warned] = [r.getMessage() for r in caplog.records
                    if r.levelno >= logging.WARNING and r.getMessage().startswith("roster:")]
        assert warned.startswith(f"roster: {a_node.org} was edited on roster #1, but roster #2 "
                                 "(imported by p-admin-1) was added since: the edit is not "
                                 "published, as it would undo that version.")
        assert warned.endswith(f"The edit is kept as {aside}, and {a_node.org} now holds the "
                               "roster in use: make the edit again there")
        assert [v[2] for v in await versions(a)] == ["file", "import"]

        caplog.clear()
        text = a_node.org.read_text(encoding="utf-8")
        a_node.org.write_text(text.replace("name: 余斌梅\n", "name: 余彬梅\n"), encoding="utf-8")
        await a.advance("1m")
        await b.advance("1m")
        for console in (a, b):
            assert "余彬梅" in await whoami(console, "p-prosecutor-1")
            assert NEW_CHIEF in await user_ids(console)
        *_, (edit_id, parent, _, _) = await versions(a)  # (PostgreSQL skips an id)
        assert [v[2] for v in await versions(a)] == ["file", "import", "file"] and parent == 2
        in_use = a.app.settings.org.version_hash()[:8]  # the content hash, beside the row id
        assert (f"roster: {a_node.org} holds a new text, published as roster #{edit_id} "
                f"(sha256 {in_use}…) replacing roster #2: person_change "
                "p-prosecutor-1") in caplog.messages
        assert not [r for r in caplog.records
                    if r.levelno >= logging.WARNING and r.getMessage().startswith("roster:")]
        # the hand edit is in the audit chain, as an import is
        async with a.app.services.db() as s:
            [record] = (await s.execute(select(AuditRecord).where(
                AuditRecord.action == "roster.publish"))).scalars().all()
        assert record.actor == "system"
        assert json.loads(record.data) == {
            "file": str(a_node.org), "host": socket.gethostname(), "replaces": 2,
            "person_change": ["p-prosecutor-1"]}


async def test_instances_sharing_one_org_yaml_publish_a_hand_edit_once(
        tmp_path: Path, pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Two instances read one org.yaml on shared storage: both find the same hand edit at once;
    it is published once, and neither takes the other's publication for a conflicting edit."""
    org = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", org)
    apps = []
    for name in "ab":
        (tmp_path / name).mkdir()
        apps.append(App(make_settings(tmp_path / name, org=str(org),
                                      storage={"database_url": pg_url}), ManualClock(START)))
    await asyncio.gather(*(app.start() for app in apps))
    try:
        caplog.set_level(logging.WARNING)
        org.write_text(org.read_text(encoding="utf-8").replace("name: 余斌梅\n", "name: 余彬梅\n"),
                       encoding="utf-8")
        await asyncio.gather(*(app.reload_org() for app in apps))
        for app in apps:
            person = app.services.directory.person("p-prosecutor-1")
            assert person is not None and person.name == "余彬梅"
        assert not org.with_name("org.yaml.unpublished").exists()
        assert not [r for r in caplog.records if "roster" in r.getMessage()]
        async with apps[0].services.db() as s:
            rows = (await s.execute(select(RosterVersion.id, RosterVersion.parent_id,
                                           RosterVersion.source)
                                    .order_by(RosterVersion.id))).all()
        # one publication of the edit, on the version both started from (ids as PostgreSQL
        # gave them: the two starts racing for the first version may skip one)
        [(first, _, _), _] = rows
        assert [(parent, source) for _, parent, source in rows] == [(0, "file"), (first, "file")]
    finally:
        for app in apps:
            await app.stop()
