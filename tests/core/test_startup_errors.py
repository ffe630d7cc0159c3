"""An operator's mistakes at `casebot serve` / `casebot migrate`: each is one precise line and
exit 2 before the bot starts, never a traceback; what the bot can run without (Redis, the API
token) is one warning at start."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from config.loader import DEFAULT_DIR
from tests.conftest import free_port, fresh_postgres

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"CASEBOT_API_TOKEN": "t0k", "CASEBOT_LINK_KEYS": "test-link-key-0123456789"}


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


def serve_output(path: Path, env: dict[str, str],
                 meanwhile: Callable[[], object] | None = None) -> str:
    """`casebot serve --config path` until it serves (then `meanwhile()`), then SIGTERM:
    everything it printed."""
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
        if not line or "INFO casebot: casebot serving on http://" in line:
            break
    if meanwhile is not None:
        meanwhile()
    proc.send_signal(signal.SIGTERM)
    out = "".join(lines) + proc.communicate(timeout=30)[0]
    assert "casebot serving on" in out, out
    return out


def test_redis_down_and_no_api_token_are_warned_at_start_and_the_stop_is_logged(tmp_path: Path) -> None:
    path = config(tmp_path, storage={
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'casebot.db'}",
        "redis_url": f"redis://:hunter2@127.0.0.1:{closed_port()}/0"})
    out = serve_output(path, {"CASEBOT_LINK_KEYS": "test-link-key-0123456789"})
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
        "redis prefix casebot-a:, transports console, link key "
        + hashlib.sha256(SECRETS["CASEBOT_LINK_KEYS"].encode()).hexdigest()[:8])
    assert "s3cret" not in out and "again" not in out
    # SQLite and no Redis: the database file, and "none"
    path = config(tmp_path)
    out = serve_output(path, SECRETS)
    assert (f"casebot starting: database {tmp_path / 'casebot.db'}, redis none, "
            "redis prefix casebot:, transports console, link key ") in out


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


@pytest.mark.parametrize("keys, how", [("", "is not set"), (" , ", "holds no key")])
def test_check_config_prints_the_warnings_serve_logs(tmp_path: Path, keys: str,
                                                      how: str) -> None:
    """No API token, no link key: `check-config` passes (exit 0) but says what `serve` warns."""
    path = config(tmp_path)
    env = {"CASEBOT_API_TOKEN": "", "CASEBOT_LINK_KEYS": keys}
    r = cli("check-config", str(path), env=env)
    assert r.returncode == 0, r.stderr
    warned = [x for x in r.stdout.splitlines() if x.startswith("warning: ") and "CASEBOT_" in x]
    assert warned == [
        "warning: integration API (/api/v1) disabled: environment variable CASEBOT_API_TOKEN "
        "is not set",
        f"warning: environment variable CASEBOT_LINK_KEYS {how}: this instance signs links and "
        "session cookies with a random key, so they fail on every other instance and after its "
        "restart; set the same keys on every instance (docs/deploy.md)"], r.stdout
    out = serve_output(path, env)
    for line in warned:
        logged = [x for x in out.splitlines() if line.removeprefix("warning: ") in x]
        assert len(logged) == 1 and " WARNING bot.app: " in logged[0], out
    assert "no signing keys configured" not in out  # said once, not twice


def test_a_short_link_key_stops_check_config_and_serve(tmp_path: Path) -> None:
    path = config(tmp_path)
    expected = ("configuration error:\n"
                f"  {path}: secrets.link_keys_env: environment variable CASEBOT_LINK_KEYS: key 2 "
                "of 2 has 5 characters, fewer than 16; use a long random one, e.g. "
                "`openssl rand -hex 32`\n")
    env = {"CASEBOT_LINK_KEYS": "test-link-key-0123456789,abcde"}
    for args in (["check-config", str(path)], ["serve", "--config", str(path)]):
        r = cli(*args, env=env)
        assert (r.returncode, r.stderr) == (2, expected), args
        assert "abcde" not in r.stderr  # the key itself is never shown


def test_log_lines_have_an_iso_timestamp_with_offset_and_a_level_option(tmp_path: Path) -> None:
    """Every line on stderr is `2026-11-02T17:58:03.120+08:00 LEVEL logger: message`, the
    serving line included; --log-level warning keeps the warnings only."""
    import re

    path = config(tmp_path)
    out = serve_output(path, SECRETS)
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d "
    serving = [x for x in out.splitlines() if "casebot serving on" in x]
    assert len(serving) == 1 and re.match(stamp + "INFO casebot: casebot serving on http://",
                                          serving[0]), out
    # console only: no outbox worker runs (nothing is queued for one), and none is said to
    assert "outbox worker" not in out, out
    r = cli("serve", "--config", str(path), "--log-level", "loud")
    assert r.returncode == 2 and "--log-level: invalid choice: 'LOUD'" in r.stderr
    r = cli("serve", "--config", str(path), env={"CASEBOT_LOG_LEVEL": "loud"})
    assert (r.returncode, r.stderr) == (2, "error: environment variable CASEBOT_LOG_LEVEL: "
                                           "unknown log level 'loud'; one of debug, info, "
                                           "warning, error\n")


def test_a_line_break_in_a_request_cannot_forge_a_log_line(tmp_path: Path) -> None:
    """Whatever a client puts in a path (%0a decodes to a line break) stays in its own record's
    line, written as \\n: no line of the log starts where the client wants."""
    path = config(tmp_path)
    port = yaml.safe_load(path.read_text(encoding="utf-8"))["web"]["port"]
    forged = "2026-11-02T09:00:00.000+08:00 ERROR bot.app: forged"

    def request() -> None:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/x%0a{forged.replace(' ', '%20')}",
            headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        assert refused.value.code == 421

    out = serve_output(path, SECRETS, request)
    [line] = [x for x in out.splitlines() if "unknown Host" in x]
    assert line.endswith(f"INFO bot.web: GET /x\\n{forged} refused: unknown Host 'evil.example'")
    assert not any(x.startswith(forged) for x in out.splitlines()), out
