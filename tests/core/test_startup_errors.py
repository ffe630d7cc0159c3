"""An operator's mistakes at `casebot serve` / `casebot migrate`: each is one precise line and
exit 2 before the bot starts, never a traceback; what the bot can run without (Redis, the API
token) is one warning at start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from config.loader import DEFAULT_DIR
from tests.conftest import free_port, fresh_postgres

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"CASEBOT_API_TOKEN": "t0k", "CASEBOT_LINK_KEYS": "k1"}


def config(tmp_path: Path, **changes: object) -> Path:
    port = free_port()
    cfg: dict[str, object] = {
        "org": str(DEFAULT_DIR / "org.yaml"),
        "score_template": str(DEFAULT_DIR / "score_template.yaml"),
        "storage": {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'casebot.db'}"},
        "web": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "inspection": {"question_bank": None},
        **changes,
    }
    path = tmp_path / "casebot.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("CASEBOT_", "DINGTALK_"))}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, timeout=120,
                          env={**base, "PYTHONPATH": str(ROOT), **SECRETS, **(env or {})})


def closed_port() -> int:
    return free_port()  # nothing listens there


def test_dingtalk_enabled_without_credentials(tmp_path: Path) -> None:
    path = config(tmp_path, transports={"dingtalk": {"enabled": True, "corp_id": "dingcorp"}})
    expected = ("configuration error:\n"
                f"  {path}: transports.dingtalk.client_id_env: environment variable "
                "DINGTALK_CLIENT_ID is not set (DingTalk is enabled)\n"
                f"  {path}: transports.dingtalk.client_secret_env: environment variable "
                "DINGTALK_CLIENT_SECRET is not set (DingTalk is enabled)\n")
    for args in (["check-config", str(path)], ["serve", "--config", str(path)]):
        r = cli(*args)
        assert (r.returncode, r.stderr) == (2, expected), args
    assert not (tmp_path / "casebot.db").exists()  # stopped before touching the database
    creds = {"DINGTALK_CLIENT_ID": "id", "DINGTALK_CLIENT_SECRET": "s"}
    assert cli("check-config", str(path), env=creds).returncode == 0
    # without the CorpId the in-app login behind every card button and form cannot work
    path = config(tmp_path, transports={"dingtalk": {"enabled": True}})
    r = cli("check-config", str(path), env=creds)
    assert (r.returncode, r.stderr) == (2, "configuration error:\n"
                                           f"  {path}: transports.dingtalk.corp_id: required when "
                                           "DingTalk is enabled (the in-app login behind card "
                                           "buttons and forms)\n")


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://casebot@127.0.0.1:{closed_port()}/casebot"
    path = config(tmp_path, storage={"database_url": url})
    for args in (["serve", "--config", str(path)], ["migrate", "--config", str(path)]):
        r = cli(*args)
        assert r.returncode == 2, args
        assert "Traceback" not in r.stderr, args
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith(f"error: cannot open database {url}: "), args
        assert lines[0].endswith(f"(storage.database_url in {path})"), args


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    path = config(tmp_path)
    port = yaml.safe_load(path.read_text(encoding="utf-8"))["web"]["port"]
    with socket.create_server(("127.0.0.1", port)):
        r = cli("serve", "--config", str(path))
    assert r.returncode == 2
    assert r.stderr == (f"error: cannot listen on 127.0.0.1:{port}: address already in use "
                        f"(web.host / web.port in {path}, or --host / --port)\n")
    assert not (tmp_path / "casebot.db").exists()  # checked before the bot starts


def serve_output(path: Path, env: dict[str, str]) -> str:
    """`casebot serve --config path` until it serves, then SIGTERM: everything it printed."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CASEBOT_", "DINGTALK_"))}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--config", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**base, "PYTHONPATH": str(ROOT), **env})
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if not line or line.startswith("casebot serving on"):
            break
    proc.send_signal(signal.SIGTERM)
    out = "".join(lines) + proc.communicate(timeout=30)[0]
    assert "casebot serving on" in out, out
    return out


def test_redis_down_and_no_api_token_are_warned_at_start_and_the_stop_is_logged(tmp_path: Path) -> None:
    path = config(tmp_path, storage={
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'casebot.db'}",
        "redis_url": f"redis://:hunter2@127.0.0.1:{closed_port()}/0"})
    out = serve_output(path, {"CASEBOT_LINK_KEYS": "k1"})
    assert "INFO bot.app: casebot stopping" in out and "INFO bot.app: casebot stopped" in out
    redis_lines = [x for x in out.splitlines() if "WARNING" in x and "redis" in x.lower()]
    assert len(redis_lines) == 1, out
    assert "unreachable at start" in redis_lines[0]
    assert "hunter2" not in out
    token_lines = [x for x in out.splitlines() if "CASEBOT_API_TOKEN" in x]
    assert len(token_lines) == 1 and "WARNING" in token_lines[0], out


@pytest.mark.postgres
async def test_the_start_names_the_database_redis_and_transports_without_passwords(
        tmp_path: Path) -> None:
    """Two instances must share their backends: each one's log says which, passwords masked."""
    async with fresh_postgres("casebot_startlog") as url:
        with_password = url.replace("://postgres@", "://postgres:pg-s3cret@")
        redis_port = closed_port()  # the line is written before Redis is tried
        path = config(tmp_path, storage={
            "database_url": with_password, "redis_prefix": "casebot-a:",
            "redis_url": f"redis://casebot:redis-s3cret@127.0.0.1:{redis_port}/2?password=again"})
        out = serve_output(path, SECRETS)
    lines = [x for x in out.splitlines() if "INFO bot.app: casebot starting:" in x]
    assert len(lines) == 1, out
    db_name = url.rsplit("/", 1)[1]
    assert lines[0].endswith(
        f"casebot starting: database postgresql+asyncpg://postgres:***@127.0.0.1:5432/{db_name}, "
        f"redis redis://casebot:***@127.0.0.1:{redis_port}/2?password=***, "
        "redis prefix casebot-a:, transports console")
    assert "s3cret" not in out and "again" not in out
    # SQLite and no Redis: the database file, and "none"
    path = config(tmp_path)
    out = serve_output(path, SECRETS)
    assert (f"casebot starting: database {tmp_path / 'casebot.db'}, redis none, "
            "redis prefix casebot:, transports console") in out


def test_a_console_other_machines_reach_is_one_warning_at_start(tmp_path: Path) -> None:
    """`web.host: 0.0.0.0`: with allow_remote the console is anyone's (a WARNING at serve and
    check-config); without it, one INFO line that it answers loopback only."""
    port = free_port()
    web = {"host": "0.0.0.0", "port": port, "public_url": f"http://127.0.0.1:{port}"}
    path = config(tmp_path, web=web, transports={"console": {"allow_remote": True}})
    exposed = ("the console (/console, no passwords) answers every address "
               "(transports.console.allow_remote: true) on web.host 0.0.0.0: anyone who can "
               f"reach port {port} can act as any user")
    out = serve_output(path, SECRETS)
    warned = [x for x in out.splitlines() if "console" in x and "WARNING" in x]
    assert len(warned) == 1 and warned[0].endswith(f"WARNING bot.app: {exposed}"), out
    r = cli("check-config", str(path))
    assert r.returncode == 0 and f"warning: {exposed}\n" in r.stdout, r.stdout + r.stderr

    path = config(tmp_path, web=web)
    local = ("the console (/console) answers loopback only (127.0.0.0/8, ::1): other addresses "
             "reaching web.host 0.0.0.0 get 403 (transports.console.allow_remote)")
    out = serve_output(path, SECRETS)
    assert any(x.endswith(f"INFO bot.app: {local}") for x in out.splitlines()), out
    assert "can act as any user" not in out
    r = cli("check-config", str(path))
    assert r.returncode == 0 and f"note: {local}\n" in r.stdout, r.stdout + r.stderr
    # on loopback (the default, and `casebot demo`) neither is said
    path = config(tmp_path, transports={"console": {"allow_remote": True}})
    r = cli("check-config", str(path))
    assert r.returncode == 0 and "/console" not in r.stdout, r.stdout
