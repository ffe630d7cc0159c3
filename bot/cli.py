"""The `casebot` command."""

from __future__ import annotations

import argparse
import asyncio
import errno
import fcntl
import logging
import os
import secrets
import shutil
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from aiohttp import web

from bot.clock import Clock, ManualClock, SystemClock
from config.loader import DEFAULT_CONFIG, ConfigError, Settings, load_config, serve_errors

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from bot.app import App
    from storage.audit import Head

log = logging.getLogger("casebot")
T = TypeVar("T")
DEMO_TOKEN = "demo-token"


def _settings(path: str | None, overrides: dict[str, Any] | None = None,
              serving: bool = False, demo: bool = False) -> Settings:
    """The settings, or the config errors on stderr and exit 2. ``serving``: also what only
    running the bot needs (serve, demo, check-config); ``demo``: `casebot demo` (its test
    clock)."""
    try:
        settings = load_config(path, overrides)
        if serving and (errors := serve_errors(settings, demo=demo)):
            raise ConfigError(errors)
        return settings
    except ConfigError as e:
        _config_error(e)


def _config_error(e: ConfigError) -> NoReturn:
    print("configuration error:", file=sys.stderr)
    for line in e.errors:
        print(f"  {line}", file=sys.stderr)
    raise SystemExit(2) from None


def _database_error(settings: Settings, e: Exception, migrate_hint: bool = True) -> NoReturn:
    """One line naming the database, the config that names it and what to do; exit 2."""
    from storage.migrate import SchemaTooNew

    hint = (f"; `casebot migrate --config {settings.source}` creates or upgrades it"
            if migrate_hint and not isinstance(e, SchemaTooNew) else "")
    print(f"error: {e} ({settings.origin('storage.database_url')}{hint})", file=sys.stderr)
    raise SystemExit(2)


async def _open_database(settings: Settings, *, readonly: bool) -> AsyncEngine:
    """The existing database at head (a CLI command never creates or migrates one), or one
    line saying why not and exit 2."""
    from storage import db, migrate

    try:
        return await migrate.open_existing(settings.config.storage.database_url,
                                           readonly=readonly)
    except db.DatabaseUnavailable as e:
        _database_error(settings, e)


def _listen_error(host: str, port: int, e: OSError, where: str) -> NoReturn:
    """``where``: what sets the address (the config's fields, the options)."""
    why = (e.strerror or str(e)).lower()
    print(f"error: cannot listen on {host}:{port}: {why} ({where})", file=sys.stderr)
    raise SystemExit(2)


def _listen_where(settings: Settings) -> str:
    return f"web.host / web.port in {settings.source}, or --host / --port"


def _check_listen(host: str, port: int, where: str) -> None:
    """Bind the address once before starting: a port in use stops the start before the bot
    migrates, connects to DingTalk or starts its workers (aiohttp binds only after that)."""
    try:
        for family, kind, proto, _, addr in {*socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)}:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(addr)
    except OSError as e:
        _listen_error(host, port, e, where)


def _file_error(path: Path, e: Exception) -> NoReturn:
    """An input file that cannot be read: one line, exit 2."""
    if isinstance(e, FileNotFoundError):
        why = "file not found"
    elif isinstance(e, UnicodeDecodeError):
        why = "not UTF-8 text; save it as UTF-8"
    elif isinstance(e, OSError):
        why = f"cannot read: {e.strerror or e}"
    else:
        why = str(e)
    print(f"error: {path}: {why}", file=sys.stderr)
    raise SystemExit(2)


def _say(line: str) -> None:
    print(line, flush=True)


def _run(settings: Settings, clock: Clock, banner: list[str],
         seeders: list[Callable[[App], Awaitable[None]]] | None = None,
         listen_where: str | None = None, announce: Callable[[str], None] = _say) -> None:
    """``announce``: how the banner is told once the socket listens (the demo prints it for
    whoever started it; `serve` logs it, with a timestamp, beside the other lines)."""
    from bot.app import App, create_web_app
    from storage.db import DatabaseUnavailable

    app = App(settings, clock)
    app.seeders.extend(seeders or [])
    webapp = create_web_app(app)
    web_cfg = settings.config.web

    def _print_banner(_: str) -> None:
        # run_app calls this once the socket listens (an on_startup hook would run before
        # the bind, and a client reading the banner could connect too early)
        for line in banner:
            announce(line)

    where = listen_where or _listen_where(settings)
    _check_listen(web_cfg.host, web_cfg.port, where)
    try:
        web.run_app(webapp, host=web_cfg.host, port=web_cfg.port, print=_print_banner,
                    access_log=None, handle_signals=True)
    except ConfigError as e:
        _config_error(e)
    except DatabaseUnavailable as e:
        _database_error(settings, e, migrate_hint=False)
    except OSError as e:
        if e.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
            raise
        _listen_error(web_cfg.host, web_cfg.port, e, where)  # taken since the check


def cmd_serve(args: argparse.Namespace) -> None:
    overrides: dict[str, Any] = {}
    if args.host or args.port:
        overrides["web"] = {k: v for k, v in (("host", args.host), ("port", args.port)) if v}
    settings = _settings(args.config, overrides, serving=True)
    url = f"http://{settings.config.web.host}:{settings.config.web.port}"
    _run(settings, SystemClock(), [f"casebot serving on {url}"], announce=log.info)


DEMO_LOCK = ".casebot-demo.lock"


def _hold_data_dir(data_dir: Path) -> None:
    """Lock ``data_dir`` for this process's lifetime (flock on a file in it, released by the
    kernel when the process ends), or one line and exit 2 when another demo holds it: a
    second `make demo` must not wipe the database of the one running."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(data_dir / DEMO_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        print(f"error: demo data dir {data_dir}: {e.strerror or e} (--data-dir)", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 20).decode(errors="replace").strip()
        print(f"error: demo data dir {data_dir} is in use by another casebot demo"
              f"{f' (pid {holder})' if holder.isdigit() else ''}; nothing was deleted: stop "
              "that demo or pass another --data-dir", file=sys.stderr)
        raise SystemExit(2) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    # the descriptor stays open, and the lock held, until the process exits


def _wipe(data_dir: Path) -> None:
    """Everything in ``data_dir`` except the lock held on it."""
    for entry in data_dir.iterdir():
        if entry.name == DEMO_LOCK:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def cmd_demo(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir).resolve()
    listen_where = "--host / --port"
    # both checks before anything is deleted: a demo already running there keeps its data
    _hold_data_dir(data_dir)
    _check_listen(args.host, args.port, listen_where)
    _wipe(data_dir)  # a demo always starts fresh
    # the roster as a copy in the data directory: imports on /admin/roster change the copy
    # (fresh at every start), never the shipped config/org.yaml
    shutil.copy(DEFAULT_CONFIG.parent / "org.yaml", data_dir / "org.yaml")
    overrides: dict[str, Any] = {
        "org": str(data_dir / "org.yaml"),
        "storage": {"database_url": f"sqlite+aiosqlite:///{data_dir / 'casebot.db'}",
                    "redis_url": None},
        "transports": {"console": {"enabled": True, "test_clock": args.test_clock},
                       "dingtalk": {"enabled": False}},
        "web": {"host": args.host, "port": args.port,
                "public_url": f"http://{args.host}:{args.port}"},
    }
    token_shown = "from CASEBOT_API_TOKEN"  # a real token is never printed
    if not os.environ.get("CASEBOT_API_TOKEN", "").strip():
        os.environ["CASEBOT_API_TOKEN"] = token_shown = DEMO_TOKEN
    if not os.environ.get("CASEBOT_LINK_KEYS", "").replace(",", "").strip():
        # one process, one key: its links need not survive the demo (it starts fresh)
        os.environ["CASEBOT_LINK_KEYS"] = secrets.token_hex(32)
    settings = _settings(str(DEFAULT_CONFIG), overrides, serving=True, demo=True)
    clock: Clock = ManualClock(SystemClock().now()) if args.test_clock else SystemClock()
    url = f"http://{args.host}:{args.port}"
    from bot.demo import seed_demo

    _run(settings, clock, [
        f"integration API token: {token_shown} (Authorization: Bearer …)",
        *(["test clock enabled: POST /console/api/clock {\"advance\": \"8d\"}"]
          if args.test_clock else []),
        f"casebot demo ready: {url}/console  (synthetic demo data in {data_dir})",
    ], seeders=[seed_demo], listen_where=listen_where)


def cmd_migrate(args: argparse.Namespace) -> None:
    from storage import db, migrate

    settings = _settings(args.config)

    def progress(i: int, n: int, rev: str, seconds: float) -> None:
        print(f"[{i}/{n}] applied {rev} ({seconds:.1f} s)", flush=True)

    async def _go() -> None:
        engine = db.create_engine(settings.config.storage.database_url)
        try:
            await migrate.upgrade(engine, progress=progress)
            print(f"database at {await migrate.current(engine)}")
        finally:
            await engine.dispose()

    try:
        asyncio.run(_go())
    except db.DatabaseUnavailable as e:
        _database_error(settings, e, migrate_hint=False)


def cmd_check_config(args: argparse.Namespace) -> None:
    if args.path and args.config and args.path != args.config:
        print(f"error: two config files given ({args.path} and --config {args.config}): "
              "give one", file=sys.stderr)
        raise SystemExit(2)
    name = args.path or args.config or str(DEFAULT_CONFIG)
    settings = _settings(name, serving=True)
    org = settings.org
    print(f"{name}: OK ({len(org.units)} units, {len(org.people)} people, "
          f"{len(org.chats)} chats)")
    cfg = settings.config
    for field, var in settings.from_env.items():  # passwords shown as ***
        print(f"{field} from environment variable {var}: {_url_for_log(field, settings)}")
    today = SystemClock().now().astimezone(cfg.tz).date()
    if note := cfg.reminders.work_calendar().coverage_warning(today):
        print(f"warning: {note}")
    from bot.app import console_exposure, start_warnings

    if exposure := console_exposure(cfg):
        level, line = exposure
        print(f"{'warning' if level >= logging.WARNING else 'note'}: {line}")
    for line in start_warnings(settings):  # what `serve` would warn of at start
        print(f"warning: {line}")


def _url_for_log(field: str, settings: Settings) -> str:
    """The database or Redis URL without its password."""
    from bot.app import without_password
    from storage.db import describe

    storage = settings.config.storage
    if field == "storage.database_url":
        return describe(storage.database_url)
    return without_password(storage.redis_url) if storage.redis_url else "none"


def _anchors(args: argparse.Namespace) -> list[Head]:
    """The heads given with --head and in --heads files; a bad one is one line, exit 2."""
    from storage import audit

    out: list[Head] = []
    for text in args.head or []:
        try:
            out.append(audit.parse_head(text))
        except ValueError as e:
            print(f"error: --head {text[:100]!r}: {e}", file=sys.stderr)
            raise SystemExit(2) from None
    for name in args.heads or []:
        path = Path(name)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            _file_error(path, e)
        found = 0
        for n, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                out.append(audit.parse_head(line))
            except ValueError as e:
                print(f"error: {path}:{n}: {e}", file=sys.stderr)
                raise SystemExit(2) from None
            found += 1
        if not found:
            print(f"error: {path}: no SEQ:HASH line in it", file=sys.stderr)
            raise SystemExit(2)
    return out


async def _audit_session(settings: Settings, use: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``use(session)`` on the existing database, read-only (never creates or migrates it)."""
    from storage import db

    engine = await _open_database(settings, readonly=True)
    try:
        async with db.sessionmaker(engine)() as session:
            return await use(session)
    finally:
        await engine.dispose()


def cmd_audit_verify(args: argparse.Namespace) -> None:
    from storage import audit

    settings = _settings(args.config)
    anchors = _anchors(args)
    report = asyncio.run(_audit_session(
        settings, lambda session: audit.verify(session, anchors=anchors)))
    if not report.ok:
        print(f"audit chain BROKEN at record {report.first_broken}: {report.reason} "
              f"({report.records} records verified before it)")
    for line in report.anchors:
        print(f"audit chain does not hold {line}")
    if not report.intact:
        raise SystemExit(1)
    print(f"audit chain intact: {report.records} records"
          + (f", head {report.head}" if report.head else "")
          + (f"; holds the {len(anchors)} anchor{'s' if len(anchors) > 1 else ''} given"
             if anchors else ""))
    if not anchors:
        print("note: records removed from the end leave a shorter chain that is still intact; "
              "to see that, pass heads kept outside the database: --head SEQ:HASH or --heads "
              "FILE (docs/deploy.md, 'Audit trail')")
    raise SystemExit(0)


def cmd_audit_head(args: argparse.Namespace) -> None:
    from storage import audit

    settings = _settings(args.config)
    found = asyncio.run(_audit_session(settings, audit.head))
    print(audit.head_line(found, settings.config.tz))


def cmd_import_cases(args: argparse.Namespace) -> None:
    from bot.importer import CaseImportError, import_cases
    from storage.db import DatabaseUnavailable

    settings = _settings(args.config)
    label = {"check": "checked", "write": "imported"}

    def progress(phase: str, i: int, n: int) -> None:
        if i == n or i % 500 == 0:
            print(f"\r{label[phase]} {i}/{n}", end="\n" if i == n else "", flush=True)

    try:
        result = asyncio.run(import_cases(settings, SystemClock(), Path(args.file), progress))
    except (OSError, UnicodeDecodeError) as e:
        _file_error(Path(args.file), e)
    except CaseImportError as e:  # a bad file: exit 2, as `import questions` / `import roster`
        print(f"{args.file}：未导入，请修改：", file=sys.stderr)
        for line in e.errors:
            print(f"  {line}", file=sys.stderr)
        raise SystemExit(2) from None
    except DatabaseUnavailable as e:
        _database_error(settings, e)
    for line in result.notes + result.skipped:
        print(line)
    codes = result.codes
    skipped = f"; {len(result.skipped)} rows skipped (already imported)" if result.skipped else ""
    listed = f": {', '.join(codes[:10])}{' …' if len(codes) > 10 else ''}" if codes else ""
    print(f"{len(codes)} cases imported{skipped}{listed}")


def cmd_draw_rfc3797(args: argparse.Namespace) -> None:
    import json

    from bot.domain.draw import parse_rfc3797_source, rfc3797_key_string, rfc3797_select

    try:
        sources = [parse_rfc3797_source(s) for s in args.source]
        rows = rfc3797_select(args.pool, args.count, sources)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.verbose:
        print(json.dumps({"key_string": rfc3797_key_string(sources), "rows": rows},
                         ensure_ascii=False, indent=1))
    else:
        print(json.dumps([r["selected"] for r in rows]))


def cmd_draw_verify(args: argparse.Namespace) -> None:
    # the same code as the stand-alone verify.py (bot/domain/draw.py run as a program), so both
    # print the same line; only a session id, looked up in the database, is the operator's own
    from bot.domain.draw import verify_command

    raise SystemExit(verify_command(
        args.target, args.announced,
        by_session=lambda sid: asyncio.run(_stored_publication(args.config, sid))))


async def _stored_publication(config: str | None, sid: str) -> dict[str, Any] | None:
    from bot.domain.inspection import normalize_session_id
    from bot.inspection import publication_of
    from storage import db
    from storage import inspection as store

    settings = _settings(config)
    engine = await _open_database(settings, readonly=True)
    try:
        async with db.sessionmaker(engine)() as session:
            # typed as in chat: dd20261127-01 or a full-width dash finds DD20261127-01
            s = await store.get_session(session, normalize_session_id(sid))
            return publication_of(s) if s else None
    finally:
        await engine.dispose()


def cmd_import_questions(args: argparse.Namespace) -> None:
    """As the web import (`plan_import`): new and changed rows are written, unchanged ones are
    left alone; edited questions a session asked are noted; bank questions the file leaves out
    are listed, and retired only with --retire-missing. Asked questions whose text the file
    changes are shown as asked and as in the file; --new-question makes them new (作为新题)."""
    from bot.clock import SystemClock
    from bot.domain.question_bank import (
        MADE_NEW_LABEL,
        BankError,
        BankPlan,
        asked_notes,
        made_new_error,
        plan_import,
        read_file,
        split_ids,
    )
    from storage import audit, db
    from storage import inspection as store

    path = Path(args.file)
    try:
        parsed = read_file(path.name, path.read_bytes())
    except OSError as e:
        _file_error(path, e)
    except BankError as e:
        print(f"{path}：未导入，请修改：", file=sys.stderr)
        for line in e.errors:
            print(f"  {line}", file=sys.stderr)
        raise SystemExit(2) from None
    questions, demo = parsed.questions, parsed.demo
    made_new = split_ids(args.new_question or "")
    settings = _settings(args.config)
    in_file = {q.id: q for q in questions}

    async def _go() -> tuple[BankPlan, list[str], int, int, int]:
        engine = await _open_database(settings, readonly=False)
        try:
            now = SystemClock().now()
            async with db.sessionmaker(engine)() as session, session.begin():
                plan = plan_import(await store.bank_snapshot(session, lock=True), questions, demo)
                notes = asked_notes(plan.changed, await store.asks_of_questions(
                    session, [c.id for c in plan.changed]))
                asked = set(await store.asked_question_ids(session))
                reusable = [i for i in plan.text_changed if i in asked]
                before = await store.last_asked(session, reusable)
                for qid in reusable:
                    sid, was = before[qid]
                    made = (f"（{MADE_NEW_LABEL}）" if qid in made_new
                            else f"（仍计为已问；如已改作另一道题：--new-question {qid}）")
                    notes.append(f"{qid} 在 {sid} 问询时：{was.text}\n    文件中：{in_file[qid].text}"
                                 f"\n    {made}")
                if (error := made_new_error(made_new, reusable)) is not None:
                    print(f"{path}：未导入：{error}", file=sys.stderr)
                    raise SystemExit(2)
                retire = plan.missing if args.retire_missing else ()
                write = plan.to_write
                added, updated = await store.import_questions(
                    session, [q for q in questions if q.id in write], demo=demo, at=now,
                    made_new=made_new)
                retired = await store.retire_questions(session, retire)
                if added or updated or retired:
                    await audit.append(session, at=now, actor="cli",
                                       action="inspection.bank.import", subject="bank", data={
                                           "via": "cli", "file": path.name, "added": added,
                                           "updated": updated, "new": [i for i, _ in plan.new],
                                           "changed": [c.id for c in plan.changed],
                                           "unchanged": len(plan.unchanged),
                                           "missing": len(plan.missing),
                                           "retired": list(retire), "made_new": made_new})
                return plan, notes, added, updated, retired
        finally:
            await engine.dispose()

    plan, notes, added, updated, retired = asyncio.run(_go())
    by_cat: dict[str, int] = {}
    for q in questions:
        by_cat[q.category] = by_cat.get(q.category, 0) + 1
    cats = ", ".join(f"{c} {n}" for c, n in by_cat.items())
    print(f"{path}: {len(questions)} questions ({cats}); added {added}, updated {updated}, "
          f"unchanged {len(plan.unchanged)}")
    for note in [*parsed.notes, *notes]:
        print(f"  {note}")
    if plan.missing:
        shown = "、".join(plan.missing[:20]) + (" …" if len(plan.missing) > 20 else "")
        if retired or args.retire_missing:
            print(f"retired {retired} active questions not in the file: {shown}")
        else:
            print(f"{len(plan.missing)} active questions in the bank are not in the file "
                  f"(kept; --retire-missing retires them): {shown}")


def cmd_import_roster(args: argparse.Namespace) -> None:
    from bot.roster import RosterError
    from bot.roster_versions import VersionConflict, import_roster, short_hash
    from storage.db import DatabaseUnavailable

    settings = _settings(args.config)
    org_path = Path(args.org) if args.org else settings.org_path
    try:
        done = asyncio.run(import_roster(settings, SystemClock(), Path(args.file), org_path,
                                         replace_chiefs=args.replace_chiefs))
    except (OSError, UnicodeDecodeError) as e:
        _file_error(Path(args.file), e)
    except ConfigError as e:
        print(f"error: {e.errors[0]}", file=sys.stderr)
        raise SystemExit(2) from None
    except DatabaseUnavailable as e:
        _database_error(settings, e)
    except RosterError as e:  # as the other imports say a bad file: nothing imported, exit 2
        print(f"{args.file}：未导入，请修改：", file=sys.stderr)
        for line in e.errors:
            print(f"  {line}", file=sys.stderr)
        raise SystemExit(2) from None
    except VersionConflict:  # not the file's fault: running it again imports it, exit 1
        print("error: the roster changed while this import ran (an import through an instance); "
              "nothing was imported, run the command again", file=sys.stderr)
        raise SystemExit(1) from None
    if done.version_id is None:
        print(f"{done.rows} roster rows: the roster already holds them, nothing changed "
              f"(roster {short_hash(done.roster_version, full=True)})")
        return
    written = (f"; could not write {org_path}: {done.not_written}" if done.not_written
               else f" and written to {org_path}")
    print(f"{done.rows} roster rows imported as roster #{done.version_id} "
          f"({short_hash(done.roster_version, full=True)}) in the database{written}")
    for h in done.handovers:
        n = done.items.get((h.unit, h.old_id), 0)
        items = (f"; 移交 {n} 项未完成整改: {n} open rectification items handed to "
                 f"{h.new_id}, who is told" if n else "")
        if h.moved_to:
            print(f"{h.unit}: new chief {h.new_name}; {h.old_id} ({h.old_name}) moved to "
                  f"{h.moved_to} as its chief{items}")
        elif h.replaced:
            print(f"{h.unit}: chief role removed from {h.old_id} ({h.old_name}), new chief "
                  f"{h.new_name}" + ("; they now have no role" if h.no_role_left else "")
                  + items)
        else:
            print(f"warning: {h.unit} now has two chiefs, {h.old_id} ({h.old_name}) and "
                  f"{h.new_name}; if this is a handover, run again with --replace-chiefs"
                  + (f" (移交 {n} 项未完成整改: it hands {h.old_name}'s {n} open "
                     f"rectification items to {h.new_id})" if n else ""),
                  file=sys.stderr)
    for v in done.vacated:  # imported, but the unit has nobody to answer for it
        print(f"warning: {v.unit} ({v.unit_name}) now has no chief: {v.old_id} ({v.old_name}) "
              f"moved to {v.moved_to} as its chief and no row names a new one for {v.unit}; "
              f"to name one, import a row for {v.unit} with its chief_id", file=sys.stderr)
    print("every instance on this database uses it at its next tick "
          "(reminders.sweep_interval_seconds, default 60 s), without a restart")


PRUNE_MIN_DAYS = 1  # far beyond any redelivery (DingTalk re-pushes within minutes)
PRUNE_MAX_DAYS = 36500  # a century: more would take the cutoff out of datetime's range


def cmd_prune(args: argparse.Namespace) -> None:
    """Delete `processed_events` rows older than --older-than-days: the de-duplication keys of
    events handled long ago, which no platform redelivers any more. The only table that grows
    for ever without being the record of anything (docs/deploy.md, 'Data growth')."""
    from sqlalchemy import delete

    from storage import db
    from storage.models import ProcessedEvent

    days: int = args.older_than_days
    if days < PRUNE_MIN_DAYS:
        print(f"error: --older-than-days {days}: at least {PRUNE_MIN_DAYS}, beyond the "
              "redelivery window", file=sys.stderr)
        raise SystemExit(2)
    if days > PRUNE_MAX_DAYS:
        print(f"error: --older-than-days {days}: at most {PRUNE_MAX_DAYS} (100 years)",
              file=sys.stderr)
        raise SystemExit(2)
    settings = _settings(args.config)
    cutoff = SystemClock().now() - timedelta(days=days)

    async def _go() -> int:
        engine = await _open_database(settings, readonly=False)
        try:
            async with db.sessionmaker(engine)() as session, session.begin():
                result = await session.execute(
                    delete(ProcessedEvent).where(ProcessedEvent.at < cutoff))
                return int(getattr(result, "rowcount", 0) or 0)
        finally:
            await engine.dispose()

    try:
        n = asyncio.run(_go())
    except db.DatabaseUnavailable as e:
        _database_error(settings, e)
    when = cutoff.astimezone(settings.config.tz).isoformat(timespec="seconds")
    rows, span = ("row" if n == 1 else "rows"), ("1 day" if days == 1 else f"{days} days")
    print(f"processed_events: {n} {rows} handled before {when} deleted ({span} and older)")


def _log_level_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, metavar="LEVEL",
                   help=f"debug, info (the default), warning or error; or {LOG_LEVEL_ENV}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="casebot", description="casebot: 案件码、逾期提醒、检务督导面对面")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the bot with a config file")
    s.add_argument("--config", help=f"config file (default {DEFAULT_CONFIG})")
    s.add_argument("--host", help="listen address (default: web.host in the config)")
    s.add_argument("--port", type=int, help="listen port (default: web.port in the config)")
    _log_level_option(s)
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser("demo", help="run the console on a fresh SQLite with demo data")
    d.add_argument("--port", type=int, default=8080, help="listen port (default 8080)")
    d.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    d.add_argument("--data-dir", default="data/demo",
                   help="wiped and recreated (default data/demo); refused while another demo "
                   "runs on it")
    d.add_argument("--test-clock", action="store_true",
                   help="enable POST /console/api/clock to move the bot's clock")
    _log_level_option(d)
    d.set_defaults(func=cmd_demo)

    m = sub.add_parser("migrate", help="bring the database's tables to this version (SQLite: "
                       "creates the file if needed; PostgreSQL: the database must exist, "
                       "`createdb`, and migrate creates and upgrades its tables)")
    m.add_argument("--config", help=f"config file (default {DEFAULT_CONFIG})")
    m.set_defaults(func=cmd_migrate)

    c = sub.add_parser("check-config", help="validate a config file; non-zero exit on errors")
    c.add_argument("path", nargs="?", help="the casebot.yaml to check (with the files it "
                   f"names; default {DEFAULT_CONFIG})")
    c.add_argument("--config", help="the same as PATH, as the other commands take it")
    c.set_defaults(func=cmd_check_config)

    a = sub.add_parser("audit", help="audit trail tools")
    asub = a.add_subparsers(dest="audit_command", required=True)
    av = asub.add_parser("verify", help="walk the hash chain and name the first broken record "
                         "(read-only; the database must exist and be migrated)")
    av.add_argument("--config", help=f"config file (default {DEFAULT_CONFIG})")
    av.add_argument("--head", action="append", metavar="SEQ:HASH",
                    help="a head taken earlier (`casebot audit head`, or the bot's `audit head` "
                    "log line): fail unless the chain still holds that record with that hash, "
                    "which shows records removed from the end (repeat)")
    av.add_argument("--heads", action="append", metavar="FILE",
                    help="a file of such heads, one a line (e.g. the `audit head` lines grepped "
                    "from the logs; blank and # lines skipped) (repeat)")
    av.set_defaults(func=cmd_audit_verify)
    ah = asub.add_parser("head", help="print the latest record's seq and hash as one line to keep "
                         "outside the database (read-only)")
    ah.add_argument("--config", help=f"config file (default {DEFAULT_CONFIG})")
    ah.set_defaults(func=cmd_audit_head)
    imp = sub.add_parser("import", help="import data")
    isub = imp.add_subparsers(dest="import_command", required=True)
    ic = isub.add_parser("cases", help="import cases from CSV or .xlsx into the existing "
                         "database (title, stage, police_unit, prosecutor, investigators "
                         "separated by |, or the Chinese headers of an export (案件名称, 诉讼阶段, "
                         "移送单位, 承办检察官, 侦查员 …) with units and people by id or roster name, "
                         "deadlines as YYYY-MM-DD or 2026/12/30, 2026.12.30, 2026年12月30日, "
                         "optional external_id: rows whose id a case already has are skipped); "
                         "all rows or none")
    ic.add_argument("file", help="the .xlsx or CSV file (UTF-8 or GBK)")
    ic.add_argument("--config", help=f"config file (default {DEFAULT_CONFIG})")
    ic.set_defaults(func=cmd_import_cases)
    ir = isub.add_parser("roster", help="merge cities and county offices with their chiefs from "
                         "CSV (unit_id, name, kind, parent, code_prefix, chief_id, chief_name, "
                         "chief_dingtalk) into the roster in use: a new roster version in the "
                         "existing database, also written to org.yaml")
    ir.add_argument("file", help="the CSV file (UTF-8 or GBK)")
    ir.add_argument("--config", help=f"config file (default {DEFAULT_CONFIG})")
    ir.add_argument("--org", help="the org.yaml to write (default: the one the config names)")
    ir.add_argument("--replace-chiefs", action="store_true",
                    help="handover (换任): a row naming a new chief for a unit that has one "
                    "removes the chief role from the outgoing chief (their other roles stay; "
                    "with none left they may do nothing); without it the unit has two chiefs")
    ir.set_defaults(func=cmd_import_roster)

    dr = sub.add_parser("draw", help="检务督导面对面 draw tools (bot/domain/draw.md)")
    dsub = dr.add_subparsers(dest="draw_command", required=True)
    rf = dsub.add_parser("rfc3797", help="RFC 3797 selection: print the 1-based positions as JSON")
    rf.add_argument("--pool", type=int, required=True, help="pool size N (positions 1..N)")
    rf.add_argument("--count", type=int, required=True, help="how many to select")
    rf.add_argument("--source", action="append", required=True,
                    help="a public source, in the announced order, e.g. '2 5 12 8 10' (repeat)")
    rf.add_argument("--verbose", action="store_true", help="print the key string and MD5 rows")
    rf.set_defaults(func=cmd_draw_rfc3797)
    dv = dsub.add_parser("verify", help="re-run a published draw: MATCH or MISMATCH "
                         "(read-only; a session id needs an existing, migrated database)")
    dv.add_argument("target", help="a publication JSON file, or a session id in the database")
    dv.add_argument("announced", nargs="?", help="the manifest announced before the draw: the "
                    "manifest.json downloaded then, or the manifest hash of the commitment card")
    dv.add_argument("--config", help=f"config file (default {DEFAULT_CONFIG})")
    dv.set_defaults(func=cmd_draw_verify)

    pr = sub.add_parser("prune", help="delete the de-duplication keys (processed_events) of "
                        "events handled more than --older-than-days ago; every other table is "
                        "the record and is kept")
    pr.add_argument("--older-than-days", type=int, default=30, metavar="DAYS",
                    help=f"keep the last DAYS days (default 30, at least {PRUNE_MIN_DAYS})")
    pr.add_argument("--config", help=f"config file (default {DEFAULT_CONFIG})")
    pr.set_defaults(func=cmd_prune)

    iq = isub.add_parser("questions", help="import the question bank from .yaml, .csv or .xlsx "
                         "into the existing database")
    iq.add_argument("file", help="the question bank file")
    iq.add_argument("--retire-missing", action="store_true",
                    help="retire (stop drawing and listing) the active questions the file leaves "
                    "out; asked questions stay in their sessions' records")
    iq.add_argument("--new-question", metavar="IDS",
                    help="comma-separated ids (Q017,Q018) of asked questions whose text the file "
                    "changes that now hold another question (作为新题): no longer counted as asked "
                    "(drawable again, not shown 已问); the sessions that asked the earlier question "
                    "keep it in their records. Without it an edited asked question stays asked. "
                    "An id that was not asked or whose text the file leaves as it is: nothing "
                    "is imported")
    iq.add_argument("--config", help=f"config file (default {DEFAULT_CONFIG})")
    iq.set_defaults(func=cmd_import_questions)
    return p


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_LEVEL_ENV = "CASEBOT_LOG_LEVEL"


class _Formatter(logging.Formatter):
    """Timestamps in ISO 8601 with the host's UTC offset (2026-11-02T17:58:03.120+08:00): logs
    of instances in other zones, or read after a DST change, still line up."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created).astimezone().isoformat(
            timespec="milliseconds")

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The line, with a line break in the message (a request path, a name, a text someone
        typed: `GET /x%0a… ERROR …`) written as \\n: one record is one line, and nobody can
        forge another. A traceback, added after this, keeps its lines."""
        return super().formatMessage(record).replace("\r", "\\r").replace("\n", "\\n")


def _log_level(args: argparse.Namespace) -> int:
    """--log-level, else CASEBOT_LOG_LEVEL, else INFO; anything else: one line, exit 2."""
    given = getattr(args, "log_level", None)
    name = (given or os.environ.get(LOG_LEVEL_ENV, "").strip() or "INFO").upper()
    if name not in LOG_LEVELS:
        where = "--log-level" if given else f"environment variable {LOG_LEVEL_ENV}"
        print(f"error: {where}: unknown log level {name.lower()!r}; one of "
              f"{', '.join(LOG_LEVELS).lower()}", file=sys.stderr)
        raise SystemExit(2)
    level: int = getattr(logging, name)
    return level


def setup_logging(level: int = logging.INFO) -> None:
    """One line per record on stderr: `TIME LEVEL LOGGER: MESSAGE`."""
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    # storage.migrate prints migration progress itself; the libraries' own INFO is noise here
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    setup_logging(_log_level(args))
    try:
        args.func(args)
    except BrokenPipeError:  # `casebot check-config … | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)  # what a shell reports for a command killed by SIGPIPE


if __name__ == "__main__":
    main()
