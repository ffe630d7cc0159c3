"""An operator's configuration mistakes (docs/deploy.md) fail at start with the file, the field
and why; the database and Redis URLs may come from the environment, never shown with their
password; a test clock never runs under `serve`."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import yaml

from bot.app import App
from bot.clock import ManualClock
from config.loader import DEFAULT_DIR, ConfigError, load_config, load_secrets
from tests.conftest import START, make_settings
from tests.core.test_startup_errors import cli, closed_port, config

NO_DB_NAME = ("names no database: postgresql+asyncpg://USER@HOST:PORT/DATABASE (without one "
              "the server's default database is used, e.g. the `postgres` maintenance database)")
NOT_A_NUMBER = ("is not a number: the database index is a whole number from 0 "
                "(redis://HOST:PORT/DB, e.g. /0)")


def errors_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load_config(path, env=env or {})
    return e.value.errors


@pytest.mark.parametrize(("storage", "expected"), [
    ({"database_url": "postgresql+asyncpg://postgres:pg-s3cret@127.0.0.1:5432"},
     f"storage.database_url: {NO_DB_NAME}"),
    ({"database_url": "postgresql://casebot@db/casebot"},
     "storage.database_url: must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
     "(got postgresql://)"),
    ({"database_url": "postgresql+asyncpg://casebot:pg-s3cret@db:54x/casebot"},
     "storage.database_url: not a valid URL: postgresql+asyncpg://USER[:PASSWORD]@HOST[:PORT]"
     "/DATABASE (a port is a number)"),
    ({"redis_url": "redis://127.0.0.1:6379/seven"}, f"storage.redis_url: database 'seven' "
                                                    f"{NOT_A_NUMBER}"),
    ({"redis_url": "redis://127.0.0.1:6379/-1"}, f"storage.redis_url: database '-1' {NOT_A_NUMBER}"),
    ({"redis_url": "rediss://redis.internal/0?db=x"}, f"storage.redis_url: database 'x' "
                                                      f"{NOT_A_NUMBER}"),
    ({"redis_url": "redis://:6379/0"}, "storage.redis_url: names no host: redis://HOST:PORT/DB"),
    ({"redis_url": "redis://127.0.0.1:63x9/0"},
     "storage.redis_url: the port is not a number (redis://HOST:PORT/DB)"),
    ({"redis_url": "unix://?db=1"},
     "storage.redis_url: names no socket: unix:///PATH/TO/redis.sock?db=N"),
    ({"redis_url": "127.0.0.1:6379"},
     "storage.redis_url: must start with redis://, rediss:// or unix://"),
])
def test_a_bad_database_or_redis_url_names_the_field_and_why(
        tmp_path: Path, storage: dict[str, str], expected: str) -> None:
    path = config(tmp_path, storage=storage)
    errors = errors_of(path)
    assert errors == [f"{path}: {expected}"]
    assert "s3cret" not in "".join(errors)


@pytest.mark.parametrize(("section", "expected"), [
    ({"transports": {"dingtalk": {"api_base": "api.dingtalk.com"}}},
     "transports.dingtalk.api_base: must start with http:// or https://"),
    ({"transports": {"dingtalk": {"oapi_base": "https:///robot"}}},
     "transports.dingtalk.oapi_base: names no host: http[s]://HOST[:PORT]"),
    ({"web": {"public_url": "https://"}}, "web.public_url: names no host: http[s]://HOST[:PORT]"),
    ({"web": {"public_url": "http://casebot:80x"}},
     "web.public_url: not a valid URL (http[s]://HOST[:PORT], a port is a number)"),
])
def test_a_bad_http_url_names_the_field_and_why(tmp_path: Path, section: dict[str, object],
                                                expected: str) -> None:
    path = config(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in section.items():
        data[key] = {**data.get(key, {}), **value}  # type: ignore[dict-item]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert errors_of(path) == [f"{path}: {expected}"]


def test_good_urls_load(tmp_path: Path) -> None:
    for storage in ({"database_url": "postgresql+asyncpg://casebot@db.internal:5432/casebot",
                     "redis_url": "redis://redis.internal:6379/0"},
                    {"database_url": "postgresql+asyncpg:///casebot?host=/run/postgresql",
                     "redis_url": "rediss://:pw@redis.internal"},
                    {"redis_url": "unix:///run/redis/redis.sock?db=3"},
                    {"redis_url": "redis://127.0.0.1:6379/"}):
        path = config(tmp_path, storage=storage)
        assert load_config(path, env={}).config.storage.redis_url == storage["redis_url"]


def test_environment_urls_replace_the_files_and_errors_name_the_variable(tmp_path: Path) -> None:
    path = config(tmp_path, storage={"database_url": "postgresql+asyncpg://casebot@db/casebot",
                                     "redis_url": "redis://redis.internal:6379/0"})
    env = {"CASEBOT_DATABASE_URL": " postgresql+asyncpg://casebot:pg-s3cret@db2:5432/cb ",
           "CASEBOT_REDIS_URL": "redis://:r-s3cret@redis2:6379/4"}
    settings = load_config(path, env=env)
    storage = settings.config.storage
    assert storage.database_url == "postgresql+asyncpg://casebot:pg-s3cret@db2:5432/cb"
    assert storage.redis_url == "redis://:r-s3cret@redis2:6379/4"
    assert settings.origin("storage.database_url") == (
        f"environment variable CASEBOT_DATABASE_URL, which overrides storage.database_url in "
        f"{path}")
    # blank is not set: the file's value stays
    settings = load_config(path, env={"CASEBOT_DATABASE_URL": " ", "CASEBOT_REDIS_URL": ""})
    assert settings.config.storage.database_url == "postgresql+asyncpg://casebot@db/casebot"
    assert settings.origin("storage.database_url") == f"storage.database_url in {path}"
    errors = errors_of(path, {"CASEBOT_DATABASE_URL": "postgresql+asyncpg://u:pg-s3cret@db",
                              "CASEBOT_REDIS_URL": "redis://:r-s3cret@redis2/seven"})
    assert errors == [
        f"{path}: storage.database_url (from environment variable CASEBOT_DATABASE_URL): "
        f"{NO_DB_NAME}",
        f"{path}: storage.redis_url (from environment variable CASEBOT_REDIS_URL): database "
        f"'seven' {NOT_A_NUMBER}"]
    assert "s3cret" not in "".join(errors)


def test_check_config_takes_config_and_prints_environment_urls_without_password(
        tmp_path: Path) -> None:
    path = config(tmp_path)
    env = {"CASEBOT_DATABASE_URL": "postgresql+asyncpg://casebot:pg-s3cret@db.internal:5432/cb",
           "CASEBOT_REDIS_URL": "redis://:r-s3cret@redis.internal:6379/2"}
    positional, option = cli("check-config", str(path), env=env), cli(
        "check-config", "--config", str(path), env=env)
    assert positional.returncode == option.returncode == 0, option.stderr
    assert positional.stdout == option.stdout
    assert option.stdout.splitlines()[:3] == [
        f"{path}: OK (125 units, 139 people, 2 chats)",
        "storage.database_url from environment variable CASEBOT_DATABASE_URL: "
        "postgresql+asyncpg://casebot:***@db.internal:5432/cb",
        "storage.redis_url from environment variable CASEBOT_REDIS_URL: "
        "redis://:***@redis.internal:6379/2"]
    assert "s3cret" not in option.stdout + option.stderr
    r = cli("check-config", str(path), "--config", str(tmp_path / "other.yaml"))
    assert (r.returncode, r.stderr) == (2, f"error: two config files given ({path} and --config "
                                           f"{tmp_path / 'other.yaml'}): give one\n")
    assert "PostgreSQL: the database must exist" in " ".join(cli("--help").stdout.split())


def test_an_unreachable_database_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    path = config(tmp_path)
    url = f"postgresql+asyncpg://casebot:pg-s3cret@127.0.0.1:{closed_port()}/casebot"
    r = cli("migrate", "--config", str(path), env={"CASEBOT_DATABASE_URL": url})
    assert r.returncode == 2
    [line] = r.stderr.splitlines()
    assert line.startswith("error: cannot open database postgresql+asyncpg://casebot:***@")
    assert line.endswith(f"(environment variable CASEBOT_DATABASE_URL, which overrides "
                         f"storage.database_url in {path})")
    assert "s3cret" not in r.stderr


def test_serve_and_check_config_refuse_a_test_clock(tmp_path: Path) -> None:
    path = config(tmp_path, transports={"console": {"test_clock": True}})
    expected = ("configuration error:\n"
                f"  {path}: transports.console.test_clock: a test clock never runs under "
                "`casebot serve` (it always uses the real time): remove the key or set it to "
                "false; to move the clock, run `casebot demo --test-clock`\n")
    for args in (["check-config", str(path)], ["serve", "--config", str(path)]):
        r = cli(*args)
        assert (r.returncode, r.stderr) == (2, expected), args
    assert not (tmp_path / "casebot.db").exists()  # stopped before touching the database


def test_a_blank_secret_counts_as_not_set(tmp_path: Path) -> None:
    path = config(tmp_path, transports={"dingtalk": {"enabled": True, "corp_id": "dingcorp"}})
    r = cli("check-config", str(path), env={"DINGTALK_CLIENT_ID": " ",
                                            "DINGTALK_CLIENT_SECRET": "s"})
    assert (r.returncode, r.stderr) == (2, "configuration error:\n"
                                           f"  {path}: transports.dingtalk.client_id_env: "
                                           "environment variable DINGTALK_CLIENT_ID is blank "
                                           "(DingTalk is enabled)\n")
    settings = load_config(path, env={})
    assert load_secrets(settings.config, {"CASEBOT_API_TOKEN": "  "}).api_token is None


def test_a_redis_database_the_server_lacks_stops_the_start(tmp_path: Path) -> None:
    """The local server has the default 16 databases: /17 is a config mistake, not an outage."""
    for env, field in (({}, "storage.redis_url"),
                       ({"CASEBOT_REDIS_URL": "redis://127.0.0.1:6379/16"},
                        "storage.redis_url (from environment variable CASEBOT_REDIS_URL)")):
        path = config(tmp_path, storage={
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'casebot.db'}",
            "redis_url": "redis://127.0.0.1:6379/17"})
        r = cli("serve", "--config", str(path), env=env)
        assert r.returncode == 2, r.stderr
        index = env.get("CASEBOT_REDIS_URL", "/17").rsplit("/", 1)[1]
        assert r.stderr.endswith(
            "configuration error:\n"
            f"  {path}: {field}: the Redis server has no database {index} (it answered 'DB "
            "index is out of range'; it has `databases` in redis.conf, 16 by default, "
            "numbered from 0)\n"), r.stderr
        assert "unreachable" not in r.stderr


@pytest.mark.parametrize("demo_roster", [False, True])
async def test_seeding_the_demo_bank_beside_a_real_roster_is_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, demo_roster: bool) -> None:
    org = tmp_path / "org.yaml"
    shutil.copy(DEFAULT_DIR / "org.yaml", org)
    if not demo_roster:
        org.write_text(org.read_text(encoding="utf-8").replace("demo: true\n", "demo: false\n"),
                       encoding="utf-8")
    settings = make_settings(tmp_path, org=str(org))  # the shipped questions.demo.yaml
    assert settings.org.demo is demo_roster
    app = App(settings, ManualClock(START))
    with caplog.at_level(logging.INFO, logger="bot.inspection"):
        await app.start()
        await app.stop()
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "bot.inspection" and r.levelno == logging.WARNING]
    if demo_roster:
        assert warnings == []
    else:
        assert warnings == [
            f"the question bank was seeded from {DEFAULT_DIR / 'questions.demo.yaml'}, a "
            "SYNTHETIC demo bank (demo: true), while the roster is not a demo roster: import "
            "the real bank (`casebot import questions FILE` or /inspection/bank) and set "
            f"inspection.question_bank: null in {settings.source} (docs/deploy.md)"]
