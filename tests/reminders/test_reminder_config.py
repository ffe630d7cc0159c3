"""The `reminders:` config section: rules in YAML, validated into the domain rules."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from bot.domain.reminders import default_rules
from bot.reminders import service_of
from config.loader import ConfigError, load_config
from tests.conftest import free_port, make_settings, open_console


def test_shipped_rules_are_the_defaults() -> None:
    cfg = load_config().config.reminders
    assert cfg.rules is not None and cfg.domain_rules() == default_rules()
    assert cfg.snooze.max_days == 7 and cfg.sweep_interval_seconds == 60


def test_rule_errors_name_the_field(tmp_path: Path) -> None:
    rule = {"id": "x", "kind": "reevaluate", "trigger": {"colors": ["red"]},
            "recipients": ["prosecutor"], "first_due_days": 7, "escalate_to": ["leader"],
            "text": "案件 {code} {oops}"}
    with pytest.raises(ConfigError) as e:
        make_settings(tmp_path, reminders={"rules": [rule]})
    msg = str(e.value)
    assert "reminders.rules[0]" in msg and "escalate_after is None" in msg and "oops" in msg
    with pytest.raises(ConfigError, match=r"reminders.rules\[0\].recipients\[0\]"):
        make_settings(tmp_path, reminders={"rules": [{**rule, "recipients": ["boss"]}]})
    with pytest.raises(ConfigError, match=r"reminders.snooze.forever: unknown key"):
        make_settings(tmp_path, reminders={"snooze": {"forever": True}})
    with pytest.raises(ConfigError, match="duplicate id"):
        ok = {**rule, "escalate_to": [], "text": "案件 {code}"}
        make_settings(tmp_path, reminders={"rules": [ok, ok]})


def test_custom_rule_and_overrides(tmp_path: Path) -> None:
    s = make_settings(tmp_path, reminders={
        "holidays": ["2027-10-01"], "workdays": ["2027-10-09"],
        "rules": [{"id": "red3", "kind": "reevaluate", "trigger": {"colors": ["red"]},
                   "recipients": ["prosecutor"], "first_due_days": 3, "repeat_days": 3,
                   "working_days": True, "escalate_after": 2, "escalate_to": ["leader"],
                   "text": "案件 {code}《{title}》应于 {due} 评估"}]})
    cfg = s.config.reminders
    [rule] = cfg.domain_rules()
    assert rule.working_days and rule.is_escalation(2) and not rule.is_escalation(1)
    assert cfg.holidays == (date(2027, 10, 1),) and cfg.workdays == (date(2027, 10, 9),)
    with pytest.raises(ConfigError, match="both in holidays and workdays"):
        make_settings(tmp_path, reminders={"holidays": ["2027-10-01"], "workdays": ["2027-10-01"]})


async def test_start_warns_once_about_a_year_without_an_official_arrangement(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The test clock starts 2026-11-02: the reminder horizon is 2026 and 2027, and
    # chinese-calendar 1.11.0 lacks 2027. One warning at start, none when 2027 is first used.
    caplog.set_level(logging.WARNING)
    async with open_console(make_settings(tmp_path), free_port()) as c:
        start = [r.getMessage() for r in caplog.records if "working-day calendar" in r.getMessage()]
        assert len(start) == 1 and "for 2027 " in start[0] and "reminders.holidays" in start[0]
        assert not c.app.services.calendar.is_workday(date(2027, 1, 1))
        assert not c.app.services.calendar.is_workday(date(2027, 10, 1))
        c.app.services.calendar.add_working_days(date(2027, 6, 1), 30)
        assert len([r for r in caplog.records if "2027" in r.getMessage()]) == 1
    caplog.clear()
    # once the config names that year's official schedule, no warning, and the schedule holds
    (tmp_path / "b").mkdir()
    s = make_settings(tmp_path / "b", reminders={"holidays": ["2027-02-11"],
                                                  "workdays": ["2027-02-20"]})
    async with open_console(s, free_port()) as c:
        assert not [r for r in caplog.records if "working-day calendar" in r.getMessage()]
        cal = c.app.services.calendar  # also what review-answer deadlines count with
        assert not cal.is_workday(date(2027, 2, 11)) and cal.is_workday(date(2027, 2, 20))
        assert service_of(c.app.services).cal is cal
