"""One instance's org.yaml beside the roster in use: a tick never swaps an import made on this
instance's page back out, and the file is written the way an operator set it up (its symlink,
its permission bits, a read-only file left alone, instances sharing it never mixing their
writes)."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import threading
from pathlib import Path

import pytest

from bot.org_file import write_org_text
from bot.roster_versions import check_text, sha256_of
from config.loader import DEFAULT_DIR
from config.model import Org
from storage import roster as roster_store
from storage.roster import RosterVersion
from tests.admin.conftest import ADMIN
from tests.admin.test_roster_page import GOOD, hidden, login, preview, user_ids
from tests.conftest import Console, make_settings, open_console

NEW_CHIEF = "p-chief-c12-01"  # the chief of a county office GOOD adds


class Contended(asyncio.Lock):
    """A lock that says when a second task starts waiting for it."""

    def __init__(self) -> None:
        super().__init__()
        self.contended = asyncio.Event()

    async def acquire(self) -> bool:
        if self.locked():
            self.contended.set()
        return await super().acquire()


async def test_a_tick_during_an_import_never_swaps_the_import_back_out(
        console: Console, org_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another instance published a hand edit (version 2). This instance's tick has just read
    it when an admin confirms an import on this instance's page (version 3, on top of 2): the
    import stays in use and in org.yaml, with the edit; the tick does not put version 2 back."""
    edited = org_path.read_text(encoding="utf-8").replace("name: 余斌梅\n", "name: 余彬梅\n")
    async with console.app.services.db() as db, db.begin():
        await roster_store.add(db, parent_id=1, text=edited, sha256=sha256_of(edited),
                               roster_version=check_text(edited, "edit").version_hash(),
                               source="file", imported_by="other-host", at=console.clock.now())
    await login(console, ADMIN)
    status, page = await preview(console, GOOD)
    assert status == 200

    sync = console.app.roster
    assert sync is not None
    sync.lock = lock = Contended()
    read, release = asyncio.Event(), asyncio.Event()
    roster_of = sync._roster_of

    async def read_then_wait(version: RosterVersion, roster: Org) -> Org | None:
        read.set()  # the tick has read version 2 (its session closed) and checks it now
        await release.wait()
        return await roster_of(version, roster)

    monkeypatch.setattr(sync, "_roster_of", read_then_wait)
    tick = asyncio.create_task(console.app.reload_org())
    await read.wait()
    apply = asyncio.create_task(console.client.post("/admin/roster/apply", data=hidden(page)))
    waits = asyncio.create_task(lock.contended.wait())
    await asyncio.wait({apply, waits}, return_when=asyncio.FIRST_COMPLETED)  # done, or waiting
    release.set()
    await tick
    r = await apply
    waits.cancel()
    assert r.status == 200 and "导入成功" in await r.text()
    for _ in range(2):  # at once, and after the next tick
        person = console.app.services.directory.person("p-prosecutor-1")
        assert NEW_CHIEF in await user_ids(console) and person is not None
        assert person.name == "余彬梅"
        text = org_path.read_text(encoding="utf-8")
        assert "新设市新城区人民检察院" in text and "余彬梅" in text
        await console.advance("1m")


async def import_good(console: Console) -> str:
    await login(console, ADMIN)
    _, page = await preview(console, GOOD)
    r = await console.client.post("/admin/roster/apply", data=hidden(page))
    text = await r.text()
    assert r.status == 200 and "导入成功" in text, text
    return text


async def test_an_org_yaml_behind_a_symlink_keeps_its_link_and_its_permissions(
        tmp_path: Path, port: int) -> None:
    """org.yaml is a link to the file on shared storage, readable by its group only: an import
    writes the file the link points to, which keeps its permission bits."""
    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", target)
    target.chmod(0o640)
    link = tmp_path / "org.yaml"
    link.symlink_to(target)
    async with open_console(make_settings(tmp_path, org=str(link)), port) as console:
        await import_good(console)
        assert link.is_symlink() and link.resolve() == target
        assert "新设市新城区人民检察院" in target.read_text(encoding="utf-8")
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
        assert sorted(p.name for p in shared.iterdir()) == ["org.yaml"]  # no temporary left


async def test_a_read_only_org_yaml_is_left_alone_and_the_import_still_counts(
        tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture) -> None:
    """The operator made org.yaml read-only (chmod a-w), though its directory is writable: an
    import is stored and used all the same, the file keeps its text, the page says why in
    Chinese, and the log says it once."""
    org = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", org)
    org.chmod(0o444)
    before = org.read_bytes()
    async with open_console(make_settings(tmp_path, org=str(org)), port) as console:
        page = await import_good(console)
        assert f"无法写入 {org}（没有写入权限）：名册已导入并生效" in page
        assert NEW_CHIEF in await user_ids(console)
        assert org.read_bytes() == before and stat.S_IMODE(org.stat().st_mode) == 0o444
        await console.advance("1m")
        assert NEW_CHIEF in await user_ids(console)
    assert [r.getMessage() for r in caplog.records if "roster" in r.getMessage()] == [
        f"roster: cannot write the imported version to {org}: Permission denied"]


def test_instances_sharing_one_org_yaml_never_mix_their_writes(tmp_path: Path) -> None:
    """Two instances write their versions to one shared org.yaml at the same moment: each
    write is whole, the file always holds one version, and nothing is left beside it."""
    org = tmp_path / "org.yaml"
    texts = ["# a\nunits: []\n" * 200, "# b\npeople: []\n" * 300]
    errors: list[BaseException] = []

    def write(text: str) -> None:
        try:
            for _ in range(100):
                write_org_text(org, text)
        except BaseException as e:  # collected: the test fails on it below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert org.read_text(encoding="utf-8") in texts
    assert os.listdir(tmp_path) == ["org.yaml"]
