"""A bad config fails at start with the file, the field path and the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.domain.workcal import WorkCalendar
from config.loader import DEFAULT_CONFIG, DEFAULT_DIR, ConfigError, load_config


def write_config(tmp: Path, main: str, org: str | None = None) -> Path:
    for f in DEFAULT_DIR.glob("*.yaml"):
        shutil.copy(f, tmp / f.name)
    (tmp / "casebot.yaml").write_text(main, encoding="utf-8")
    if org is not None:
        (tmp / "org.yaml").write_text(org, encoding="utf-8")
    return tmp / "casebot.yaml"


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load_config(path, env={})
    return e.value.errors


def test_default_config_loads_with_demo_org() -> None:
    s = load_config(DEFAULT_CONFIG, env={})
    assert s.config.timezone == "Asia/Shanghai"
    assert s.org.demo is True
    counties = [u for u in s.org.units if u.kind == "county"]
    cities = [u for u in s.org.units if u.kind == "city"]
    assert len(counties) == 111
    assert 10 <= len(cities) <= 12
    roles = {r for p in s.org.people for r in p.roles}
    assert roles == {"investigator", "prosecutor", "case_manager", "inspector", "chief",
                     "leader", "admin"}


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "storage:\n  databse_url: sqlite+aiosqlite:///x.db\n")
    errs = errors_of(path)
    assert errs == [f"{path}: storage.databse_url: unknown key"]


def test_wrong_type_names_field(tmp_path: Path) -> None:
    path = write_config(tmp_path, "web:\n  port: eighty\n")
    [err] = errors_of(path)
    assert err.startswith(f"{path}: web.port: ")
    assert "integer" in err


def test_bad_yaml_names_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, "web:\n  port: [8080\n")
    [err] = errors_of(path)
    assert err.startswith(f"{path}: line ")
    assert "bad YAML" in err


def test_missing_field_in_org(tmp_path: Path) -> None:
    org = yaml.safe_load((DEFAULT_DIR / "org.yaml").read_text(encoding="utf-8"))
    del org["people"][0]["name"]
    path = write_config(tmp_path, "timezone: Asia/Shanghai\n",
                        yaml.safe_dump(org, allow_unicode=True))
    [err] = errors_of(path)
    assert err == f"{tmp_path / 'org.yaml'}: people[0].name: required field missing"


def test_unknown_role_and_reference(tmp_path: Path) -> None:
    org = yaml.safe_load((DEFAULT_DIR / "org.yaml").read_text(encoding="utf-8"))
    org["people"][0]["roles"] = ["wizard"]
    path = write_config(tmp_path, "{}\n", yaml.safe_dump(org, allow_unicode=True))
    err = errors_of(path)[0]
    assert "people[0].roles[0]" in err and "'investigator'" in err
    org["people"][0]["roles"] = ["chief"]
    org["people"][0]["unit"] = "nowhere"
    (tmp_path / "org.yaml").write_text(yaml.safe_dump(org, allow_unicode=True), encoding="utf-8")
    [err] = errors_of(path)
    assert err == f"{tmp_path / 'org.yaml'}: people[0].unit: unknown unit 'nowhere'"


def test_a_typo_in_a_list_is_one_line(tmp_path: Path) -> None:
    """A misspelt role or recipient is named once, not followed by a second line saying the
    list is empty (it is not: it holds the typo)."""
    main = (DEFAULT_DIR / "casebot.yaml").read_text(encoding="utf-8")
    path = write_config(tmp_path, main.replace("recipients: [chief]", "recipients: [cheif]"))
    [err] = errors_of(path)
    assert err.startswith(f"{path}: reminders.rules[5].recipients[0]: Input should be ")
    org = yaml.safe_load((DEFAULT_DIR / "org.yaml").read_text(encoding="utf-8"))
    org["people"][0]["roles"] = ["wizard"]
    path = write_config(tmp_path, "{}\n", yaml.safe_dump(org, allow_unicode=True))
    [err] = errors_of(path)
    assert "people[0].roles[0]: Input should be " in err


def _org_with(change: dict[str, dict[str, object]]) -> str:
    org = yaml.safe_load((DEFAULT_DIR / "org.yaml").read_text(encoding="utf-8"))
    for unit in org["units"]:
        unit.update(change.get(unit["id"], {}))
    return yaml.safe_dump(org, allow_unicode=True)


@pytest.mark.parametrize(("change", "message"), [
    # a city office turned into a county office: its county offices hang under a county
    ({"c01": {"kind": "county", "parent": "c02"}},
     "units[2].parent: a county unit's parent must be a city unit; 'c01' is a county unit"),
    ({"c01-01": {"parent": "prov"}},
     "units[2].parent: a county unit's parent must be a city unit; 'prov' is a province unit"),
    ({"c02": {"parent": "c01"}},
     "parent: a city unit's parent must be a province unit; 'c01' is a city unit"),
    ({"c01": {"parent": None}}, "units[1].parent: a city unit needs a parent (province)"),
    ({"prov": {"parent": "c01"}}, "units[0].parent: the province is at the top and has no parent"),
    ({"ps-hc": {"parent": "ps-hc-xd"}},
     "parent: a police unit's parent must be a province or city or county unit; "
     "'ps-hc-xd' is a police unit"),
])
def test_org_hierarchy_is_checked(tmp_path: Path, change: dict[str, dict[str, object]],
                                  message: str) -> None:
    path = write_config(tmp_path, "{}\n", _org_with(change))
    [err] = errors_of(path)
    assert err.startswith(f"{tmp_path / 'org.yaml'}: ") and message in err, err
    r = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and message in r.stderr, r.stderr


def test_police_staff_are_not_chiefs(tmp_path: Path) -> None:
    org = yaml.safe_load((DEFAULT_DIR / "org.yaml").read_text(encoding="utf-8"))
    i = next(i for i, p in enumerate(org["people"]) if p["id"] == "p-investigator-1")
    org["people"][i]["roles"].append("chief")
    path = write_config(tmp_path, "{}\n", yaml.safe_dump(org, allow_unicode=True))
    [err] = errors_of(path)
    assert f"people[{i}].roles: a chief (chief) heads a procuratorate; 'ps-hc-xd' is a police unit" \
        in err


def test_urls_without_their_scheme(tmp_path: Path) -> None:
    # what an operator types from memory: host and port, no scheme. Redis would fail at start
    # with a traceback; links and QR codes would point nowhere
    path = write_config(tmp_path, "storage: {redis_url: 'redis.internal:6379'}\n"
                                  "web: {public_url: casebot.example.gov.cn}\n")
    assert errors_of(path) == [
        f"{path}: storage.redis_url: must start with redis://, rediss:// or unix://",
        f"{path}: web.public_url: must start with http:// or https://",
    ]


def test_bad_timezone_and_office_hours(tmp_path: Path) -> None:
    path = write_config(tmp_path, "timezone: Mars/Olympus\noffice_hours: {start: '18:00', end: '09:00'}\n")
    errs = errors_of(path)
    assert any("timezone: unknown time zone 'Mars/Olympus'" in e for e in errs)
    assert any("office_hours: start must be before end" in e for e in errs)


def test_secrets_come_from_environment() -> None:
    s = load_config(DEFAULT_CONFIG, env={"CASEBOT_API_TOKEN": "t0k", "CASEBOT_LINK_KEYS": "new,old"})
    assert s.secrets.api_token == "t0k"
    assert s.secrets.link_keys == (b"new", b"old")
    assert "t0k" not in DEFAULT_CONFIG.read_text(encoding="utf-8")


def test_check_config_cli_exit_codes(tmp_path: Path) -> None:
    good = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", str(DEFAULT_CONFIG)],
                          capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert "OK" in good.stdout
    path = write_config(tmp_path, "web: {port: 0}\nsurprise: 1\n")
    bad = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", str(path)],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert f"{path}: surprise: unknown key" in bad.stderr
    assert f"{path}: web.port:" in bad.stderr


def test_broken_score_template_fails_check_config(tmp_path: Path) -> None:
    path = write_config(tmp_path, "{}\n")
    tpl = yaml.safe_load((DEFAULT_DIR / "score_template.yaml").read_text(encoding="utf-8"))
    tpl["items"][1]["id"] = tpl["items"][0]["id"]  # duplicate id
    tpl["items"][2]["max_points"] -= 1  # sums to 99
    (tmp_path / "score_template.yaml").write_text(yaml.safe_dump(tpl, allow_unicode=True),
                                                  encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert f"{tmp_path / 'score_template.yaml'}:" in r.stderr
    assert "sum to 100" in r.stderr and "duplicate" in r.stderr
    tpl = yaml.safe_load((DEFAULT_DIR / "score_template.yaml").read_text(encoding="utf-8"))
    tpl["veto_count"] = 4
    (tmp_path / "score_template.yaml").write_text(yaml.safe_dump(tpl, allow_unicode=True),
                                                  encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "veto" in r.stderr


def test_check_config_warns_about_years_without_an_official_arrangement(tmp_path: Path) -> None:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    expected = WorkCalendar().coverage_warning(today)
    r = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", str(DEFAULT_CONFIG)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    if expected is None:  # a chinese-calendar that knows this year and the next
        assert "warning" not in r.stdout
    else:
        assert f"warning: {expected}" in r.stdout.splitlines()
    # this year's and next year's schedule in the config: no warning
    path = write_config(tmp_path, f"reminders:\n  holidays: [{today.year}-12-31, "
                                  f"{today.year + 1}-12-31]\n")
    r = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", str(path)],
                       capture_output=True, text=True,  # the secrets set: their warnings off
                       env={**os.environ, "CASEBOT_API_TOKEN": "t0k",
                            "CASEBOT_LINK_KEYS": "test-link-key-0123456789"})
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout and "warning" not in r.stdout



def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_an_impossible_date_is_a_config_error_not_a_traceback(tmp_path: Path,
                                                               command: str) -> None:
    path = write_config(tmp_path, "reminders:\n  holidays: [2027-10-01, 2026-13-01]\n")
    r = cli(command, str(path)) if command == "check-config" else cli(command, "--config",
                                                                       str(path))
    assert r.returncode == 2
    assert r.stderr == ("configuration error:\n"
                        f"  {path}: reminders.holidays[1]: not a valid date: '2026-13-01'"
                        " (month must be in 1..12)\n")


def test_dates_must_be_written_as_dates(tmp_path: Path) -> None:
    path = write_config(tmp_path, "reminders:\n  holidays: [20270101]\n"
                                  "  workdays: ['2027-2-6', 2027-02-06 09:00:00]\n")
    assert errors_of(path) == [
        f"{path}: reminders.holidays[0]: not a date (YYYY-MM-DD): 20270101",
        f"{path}: reminders.workdays[0]: not a date (YYYY-MM-DD): '2027-2-6'",
        f"{path}: reminders.workdays[1]: not a date (YYYY-MM-DD): '2027-02-06 09:00:00'",
    ]
    path = write_config(tmp_path, "reminders:\n  holidays: [!!timestamp 2026-13-01]\n")
    assert errors_of(path) == [f"{path}: bad YAML: month must be in 1..12"]


def test_times_must_be_written_hh_mm(tmp_path: Path) -> None:
    """"9:00" got pydantic's "input is too short", which does not say what to write; unquoted,
    YAML 1.1 read 9:00 as the number 540 (base 60) and 18:00 as 1080."""
    path = write_config(tmp_path, "office_hours: {start: '9:00', end: '24:00'}\n")
    assert errors_of(path) == [
        f"{path}: office_hours.start: not a time (HH:MM, e.g. 09:00): '9:00'",
        f"{path}: office_hours.end: not a valid time: '24:00' (hour must be in 0..23; HH:MM, "
        "e.g. 09:00)",
    ]
    path = write_config(tmp_path, "office_hours: {start: 9:00, end: 18}\n")
    assert errors_of(path) == [
        f"{path}: office_hours.start: not a time (HH:MM, e.g. 09:00): '9:00'",
        f"{path}: office_hours.end: not a time (HH:MM, e.g. 09:00): 18",
    ]
    path = write_config(tmp_path, "office_hours: {start: 08:30, end: 17:30}\n")
    hours = load_config(path, env={}).config.office_hours
    assert (hours.start, hours.end) == (time(8, 30), time(17, 30))


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, "")
    path.write_bytes("timezone: Asia/Shanghai\n# 检察院\n".encode("gb18030"))
    assert errors_of(path) == [f"{path}: line 2: not UTF-8 text (byte 0xbc); save the file as"
                               " UTF-8"]
    r = cli("check-config", str(path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[1:] == [f"  {path}: line 2: not UTF-8 text (byte 0xbc); save"
                                         " the file as UTF-8"]
    path.write_text("timezone: Asia/Shanghai\n", encoding="utf-8")
    (tmp_path / "org.yaml").write_bytes(b"demo: true\nunits: [\xff]\n")
    assert errors_of(path) == [f"{tmp_path / 'org.yaml'}: line 2: not UTF-8 text (byte 0xff);"
                               " save the file as UTF-8"]
    path.write_bytes(b"timezone: Asia/Shanghai\nweb: {host: \"a\x00\"}\n")
    assert errors_of(path) == [f"{path}: line 2: bad YAML: character #x0000 is not allowed"]


def test_a_missing_file_names_the_field_that_names_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, "org: missing-org.yaml\nscore_template: nope.yaml\n"
                                  "inspection: {question_bank: gone.yaml}\n")
    assert errors_of(path) == [
        f"{path}: org: file not found: {tmp_path / 'missing-org.yaml'}",
        f"{path}: score_template: file not found: {tmp_path / 'nope.yaml'}",
    ]
    (tmp_path / "score_template.yaml").rename(tmp_path / "nope.yaml")
    for command in (["check-config", str(path)], ["serve", "--config", str(path)]):
        r = cli(*command)
        assert r.returncode == 2 and r.stderr.splitlines()[1:] == [
            f"  {path}: org: file not found: {tmp_path / 'missing-org.yaml'}"]
    path = write_config(tmp_path, "inspection: {question_bank: gone.yaml}\n")
    for command in (["check-config", str(path)], ["serve", "--config", str(path)]):
        r = cli(*command)  # what running the bot needs; other commands do without it
        assert r.returncode == 2 and r.stderr.splitlines()[1:] == [
            f"  {path}: inspection.question_bank: file not found: {tmp_path / 'gone.yaml'}"]
    path = write_config(tmp_path, "org: .\n")
    assert errors_of(path) == [f"{path}: org: {tmp_path}: is a directory, not a file"]
    r = cli("serve", "--config", str(tmp_path / "nothing.yaml"))
    assert r.returncode == 2
    assert r.stderr == f"configuration error:\n  {tmp_path / 'nothing.yaml'}: file not found\n"


def test_check_config_piped_into_a_reader_that_leaves_prints_no_traceback() -> None:
    """`casebot check-config … | head`: the reader closes the pipe; no BrokenPipe traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "check-config", str(DEFAULT_CONFIG)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command writes its first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and "Traceback" not in err


@pytest.mark.parametrize(("field", "message"), [
    ("dingtalk", "people[{i}].ids.dingtalk: {value!r} is already the dingtalk id of {other!r}"),
    ("code_prefix", "units[{i}].code_prefix: {value!r} is already the code prefix of unit "
                    "{other!r}"),
])
def test_one_platform_account_per_person_and_one_code_prefix_per_office(
        tmp_path: Path, field: str, message: str) -> None:
    """A DingTalk id given to two people would let the first person's account act as the
    second, silently; a code prefix given to two offices would hand out one code twice. Both
    are refused at start and by check-config, naming the file and the field."""
    org = yaml.safe_load((DEFAULT_DIR / "org.yaml").read_text(encoding="utf-8"))
    if field == "dingtalk":
        owners = [(i, p) for i, p in enumerate(org["people"]) if p.get("ids", {}).get("dingtalk")]
        (_, first), (i, second) = owners[0], owners[1]
        value = second["ids"]["dingtalk"] = first["ids"]["dingtalk"]
        other = first["id"]
    else:
        offices = [(i, u) for i, u in enumerate(org["units"]) if u.get("code_prefix")]
        (_, first), (i, second) = offices[0], offices[1]
        value = second["code_prefix"] = first["code_prefix"]
        other = first["id"]
    path = write_config(tmp_path, "{}\n", yaml.safe_dump(org, allow_unicode=True))
    [err] = errors_of(path)
    expected = message.format(i=i, value=value, other=other)
    assert err.startswith(f"{tmp_path / 'org.yaml'}: ") and expected in err, err
    r = subprocess.run([sys.executable, "-m", "bot.cli", "check-config", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and expected in r.stderr, r.stderr


def test_a_key_given_twice_is_an_error_naming_the_file_the_key_and_the_lines(
        tmp_path: Path) -> None:
    """YAML keeps the last of two equal keys: a second `storage:` block appended to a config
    silently dropped its `database_url` (and the bot used the default database)."""
    path = write_config(tmp_path, "storage:\n  database_url: sqlite+aiosqlite:///mine.db\n"
                                  "timezone: Asia/Shanghai\n"
                                  "web: {port: 8081, port: 8082}\n"
                                  "storage:\n  redis_url: redis://127.0.0.1:6379/0\n")
    expected = [f"{path}: web.port: duplicate key (line 4; first at line 4)",
                f"{path}: storage: duplicate key (line 5; first at line 1)"]
    assert errors_of(path) == expected
    r = cli("check-config", str(path))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "configuration error:\n" + "".join(f"  {e}\n" for e in expected)
    # org.yaml goes through the same loader: the first unit's name given twice
    path = write_config(tmp_path, "timezone: Asia/Shanghai\n")
    org = tmp_path / "org.yaml"
    lines = org.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("name:"))
    lines.insert(at + 1, lines[at].replace("name:", "name: 另一个", 1))
    org.write_text("".join(lines), encoding="utf-8")
    assert errors_of(path) == [
        f"{org}: units[0].name: duplicate key (line {at + 2}; first at line {at + 1})"]
    # a key of a merged mapping (<<) that the mapping sets again is no duplicate
    path = write_config(tmp_path, "web: {<<: {host: 0.0.0.0, port: 1}, port: 8081}\n")
    web = load_config(path, env={}).config.web
    assert (web.host, web.port) == ("0.0.0.0", 8081)
