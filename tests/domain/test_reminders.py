from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.reminders import (
    CaseState,
    Occurrence,
    default_rules,
    deliver_at,
    find_rule,
    late_when_planned,
    missed_occurrences,
    obsolete,
    occurrences,
    plan_case,
    plan_rectification,
    plan_review_answer,
    plan_review_overdue,
    render_text,
    superseded,
)
from bot.domain.scoring import Color
from bot.domain.workcal import WorkCalendar

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
RULES = default_rules()
EVAL_AT = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)  # Monday


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def state(color: Color | None, **kw: object) -> CaseState:
    base = CaseState(code="HY-2026-001", color=color, last_evaluated_at=EVAL_AT)
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def plan(s: CaseState, now: datetime, horizon: int = 1) -> list[Occurrence]:
    return plan_case(s, RULES, CAL, TZ, now, horizon)


def by_rule(occs: list[Occurrence], rule_id: str) -> list[Occurrence]:
    return [o for o in occs if o.rule_id == rule_id]


def test_default_rules() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)) == 6
    assert {r.kind for r in RULES} == {
        "reevaluate",
        "consultation",
        "custody",
        "review_answer",
        "rectification",
    }
    assert find_rule(RULES, "reevaluate_red") is RULES[0]
    assert find_rule(RULES, "nope") is None


def test_red_weekly() -> None:
    occs = plan(state(Color.RED), EVAL_AT + timedelta(hours=1), horizon=3)
    assert [o.due_at for o in occs] == [
        at(2026, 3, 9, 9),
        at(2026, 3, 16, 9),
        at(2026, 3, 23, 9),
    ]
    assert {o.rule_id for o in occs} == {"reevaluate_red"}
    assert all(o.recipients == ("prosecutor",) and not o.escalation and not o.late for o in occs)
    assert occs[0].key == "reevaluate_red:HY-2026-001:2026-03-09"
    assert [o.index for o in occs] == [0, 1, 2]


def test_yellow_every_15_days() -> None:
    occs = plan(state(Color.YELLOW), EVAL_AT, horizon=2)
    assert [(o.rule_id, o.due_at) for o in occs] == [
        ("reevaluate_yellow", at(2026, 3, 17, 9)),
        ("reevaluate_yellow", at(2026, 4, 1, 9)),
    ]


def test_green_and_unevaluated_get_no_reevaluation() -> None:
    assert plan(state(Color.GREEN), EVAL_AT) == []
    assert plan(state(None, last_evaluated_at=None), EVAL_AT) == []


def test_nothing_for_closed_case() -> None:
    s = state(
        Color.RED,
        closed=True,
        investigation_deadline=date(2026, 3, 20),
        custody_deadline=date(2026, 3, 10),
    )
    assert plan(s, EVAL_AT, horizon=5) == []
    assert plan(s, EVAL_AT + timedelta(days=60), horizon=5) == []


def test_a_closed_case_keeps_only_the_accountability_review_it_owed_when_closed() -> None:
    """责任倒查 is owed by the colour when custody ran out: closing the case afterwards does
    not call it off (and nothing else is planned, no repeat either); a case closed before
    its custody deadline owes nothing."""
    deadline = date(2026, 3, 10)
    red = state(Color.RED, investigation_deadline=date(2026, 3, 20), custody_deadline=deadline,
                history=((EVAL_AT, Color.RED),))
    weekly = dataclasses.replace(find_rule(RULES, "custody_escalation"), repeat_days=7)  # type: ignore[arg-type]
    later = at(2026, 4, 20, 10)
    closed_after = dataclasses.replace(red, closed=True, closed_at=at(2026, 3, 11, 15))
    for rules in (RULES, tuple(weekly if r.id == weekly.id else r for r in RULES)):
        occs = plan_case(closed_after, rules, CAL, TZ, later, horizon=5)
        assert [(o.rule_id, o.index, o.due_at) for o in occs] == [
            ("custody_escalation", 0, at(2026, 3, 11))], rules
    closed_before = dataclasses.replace(red, closed=True, closed_at=at(2026, 3, 9, 15))
    assert plan(closed_before, later, horizon=5) == []
    yellow_then = dataclasses.replace(closed_after, color=Color.RED, history=(
        (EVAL_AT, Color.YELLOW), (at(2026, 3, 11, 9), Color.RED)))
    assert plan(yellow_then, later, horizon=5) == []


def test_only_what_was_owed_in_time_is_late_when_planned() -> None:
    """A first 诉前会商 / 责任倒查 past when its case is scored (or its deadline changed) is
    owed late, not sent late; a later slot, or a reminder the sweep discovers, is late."""
    hour = timedelta(hours=1)
    s = state(Color.YELLOW, investigation_deadline=date(2026, 3, 12))  # consultation 02-25
    (consult,) = by_rule(plan(s, EVAL_AT), "consultation")
    assert consult.due_at < EVAL_AT and consult.late  # the plan: already due
    assert not late_when_planned(consult, "consultation", EVAL_AT, hour)
    (first, second) = by_rule(plan(state(Color.RED), at(2026, 3, 17, 12)), "reevaluate_red")[:2]
    assert late_when_planned(first, "reevaluate", at(2026, 3, 17, 12), hour)
    assert late_when_planned(second, "reevaluate", at(2026, 3, 17, 12), hour)
    review = plan_review_overdue(7, at(2026, 3, 2, 9), CAL, TZ, now=at(2026, 3, 4, 9))[0]
    assert review.index == 0 and late_when_planned(review, "review_answer", at(2026, 3, 4, 9), hour)
    # within late_after of its due time nothing is late
    assert not late_when_planned(review, "review_answer", at(2026, 3, 2, 9, 30), hour)


def test_consultation_at_deadline_minus_15() -> None:
    s = state(Color.YELLOW, investigation_deadline=date(2026, 4, 30))
    (occ,) = by_rule(plan(s, EVAL_AT), "consultation")
    assert occ.due_at == at(2026, 4, 15)
    assert occ.recipients == ("investigators", "prosecutor")
    assert occ.key == "consultation:HY-2026-001:2026-04-15" and not occ.late
    # red as well; not green, not once started, not after the deadline
    assert by_rule(plan(dataclasses.replace(s, color=Color.RED), EVAL_AT), "consultation")
    assert not by_rule(plan(dataclasses.replace(s, color=Color.GREEN), EVAL_AT), "consultation")
    started = dataclasses.replace(s, consultation_started=True)
    assert not by_rule(plan(started, EVAL_AT), "consultation")
    assert not by_rule(plan(s, at(2026, 5, 1, 9)), "consultation")
    # turned yellow after the reminder date: due at once (late), same key
    (late,) = by_rule(plan(s, at(2026, 4, 20, 9)), "consultation")
    assert late.late and late.key == occ.key
    # delivery waits for office hours: 2026-04-15 is a Wednesday
    assert deliver_at(occ, CAL, TZ) == at(2026, 4, 15, 9)


def test_custody_escalation_is_owed_by_the_colour_when_custody_ran_out() -> None:
    """Seed: 羁押期限已至仍是红码 → 责任倒查. Once the deadline has come, the colour then decides
    (a re-score after it does not call the escalation off); before it, the current colour."""
    deadline, after = date(2026, 3, 20), at(2026, 3, 22, 10)
    red_then_yellow = state(Color.YELLOW, custody_deadline=deadline, history=(
        (EVAL_AT, Color.RED), (at(2026, 3, 21, 15), Color.YELLOW)))
    (occ,) = by_rule(plan(red_then_yellow, after), "custody_escalation")
    assert occ.late and occ.key == "custody_escalation:HY-2026-001:2026-03-20"
    yellow_then_red = state(Color.RED, custody_deadline=deadline, history=(
        (EVAL_AT, Color.YELLOW), (at(2026, 3, 21, 15), Color.RED)))
    assert not by_rule(plan(yellow_then_red, after), "custody_escalation")
    # first scored only after the deadline came (entered late): its first colour is the one
    # it had then, as far as anyone knows — red owes it, green does not
    scored_after = state(Color.RED, custody_deadline=deadline, history=(
        (at(2026, 3, 21, 15), Color.RED),))
    assert by_rule(plan(scored_after, after), "custody_escalation")
    green_after = state(Color.RED, custody_deadline=deadline, history=(
        (at(2026, 3, 21, 15), Color.GREEN), (at(2026, 3, 22, 9), Color.RED)))
    assert not by_rule(plan(green_after, after), "custody_escalation")
    # a configured repeat goes on only while the case stays red
    rule = find_rule(RULES, "custody_escalation")
    assert rule is not None
    weekly = dataclasses.replace(rule, repeat_days=7)
    later = at(2026, 4, 5, 10)
    assert [o.index for o in plan_case(red_then_yellow, (weekly,), CAL, TZ, later)] == [0]
    still_red = dataclasses.replace(red_then_yellow, color=Color.RED)
    assert [o.index for o in plan_case(still_red, (weekly,), CAL, TZ, later)] == [0, 1, 2, 3]


def test_the_last_day_of_custody_is_judged_when_it_ends() -> None:
    """羁押期限 2026-03-20 is the last day of custody: a case re-scored green that day at 08:30
    owes no 责任倒查 (it was green when custody ran out, at 03-21 00:00); one re-scored red
    that day does. Scored first on that day: its colour at the end of the day decides."""
    deadline, after = date(2026, 3, 20), at(2026, 3, 21, 10)
    green_that_day = state(Color.GREEN, custody_deadline=deadline, history=(
        (EVAL_AT, Color.RED), (at(2026, 3, 20, 8, 30), Color.GREEN)))
    assert not by_rule(plan(green_that_day, at(2026, 3, 20, 9)), "custody_escalation")
    assert not by_rule(plan(green_that_day, after), "custody_escalation")
    red_that_day = state(Color.RED, custody_deadline=deadline, history=(
        (EVAL_AT, Color.GREEN), (at(2026, 3, 20, 23, 59), Color.RED)))
    (occ,) = by_rule(plan(red_that_day, after), "custody_escalation")
    assert occ.due_at == at(2026, 3, 21) and occ.slot == "2026-03-20"
    first_that_day = state(Color.RED, custody_deadline=deadline, history=(
        (at(2026, 3, 20, 15), Color.RED),))
    (occ,) = by_rule(plan(first_that_day, at(2026, 3, 20, 15)), "custody_escalation")
    assert not occ.late and occ.due_at == at(2026, 3, 21)


def test_custody_escalation_only_while_red() -> None:
    s = state(Color.RED, custody_deadline=date(2026, 3, 20))
    (occ,) = by_rule(plan(s, EVAL_AT), "custody_escalation")
    assert occ.due_at == at(2026, 3, 21)  # the end of the deadline day
    assert occ.escalation and occ.recipients == ("prosecutor", "leader")
    assert deliver_at(occ, CAL, TZ) == at(2026, 3, 23, 9)  # Saturday: the next office hours
    assert not by_rule(
        plan(dataclasses.replace(s, color=Color.YELLOW), EVAL_AT), "custody_escalation"
    )
    # reached while red: still planned (late) after the deadline
    (late,) = by_rule(plan(s, at(2026, 3, 21, 10)), "custody_escalation")
    assert late.late and late.key == occ.key
    rule = find_rule(RULES, "custody_escalation")
    assert rule is not None
    text = render_text(
        rule, code="HY-2026-001", title="张某盗窃案", due=date(2026, 3, 20),
        escalation=occ.escalation)
    assert text.startswith(
        "【责任倒查】案件 HY-2026-001《张某盗窃案》羁押期限已于 2026-03-20（周五）届满"
    )


def test_new_evaluation_replans_and_obsoletes_old_keys() -> None:
    s1 = state(Color.RED, investigation_deadline=date(2026, 6, 30))
    first = plan(s1, EVAL_AT + timedelta(minutes=1), horizon=2)
    pending = {o.key for o in first}
    # re-evaluated 3 days later, still red: the red series moves, consultation stays
    s2 = dataclasses.replace(s1, last_evaluated_at=EVAL_AT + timedelta(days=3))
    second = plan(s2, EVAL_AT + timedelta(days=3, minutes=1), horizon=2)
    assert [o.due_at for o in by_rule(second, "reevaluate_red")] == [
        at(2026, 3, 12, 9),
        at(2026, 3, 19, 9),
    ]
    gone = obsolete(pending, second)
    assert gone == {o.key for o in by_rule(first, "reevaluate_red")}
    # now green: everything pending for the case is obsolete
    s3 = dataclasses.replace(s2, color=Color.GREEN, last_evaluated_at=EVAL_AT + timedelta(days=5))
    third = plan(s3, EVAL_AT + timedelta(days=5), horizon=2)
    assert third == []
    assert obsolete({o.key for o in second}, third) == {o.key for o in second}
    # re-planning with unchanged state obsoletes nothing, even for past-due unsent rows
    later = plan(s2, at(2026, 3, 14, 3), horizon=2)  # Saturday night, 03-12 not yet delivered
    assert obsolete({o.key for o in second}, later) == set()


def test_catch_up_produces_each_missed_slot_once() -> None:
    s = state(Color.RED)
    store: dict[str, Occurrence] = {}

    def tick(now: datetime) -> None:
        for o in plan(s, now):
            store.setdefault(o.key, o)  # INSERT ... ON CONFLICT DO NOTHING

    for hour in range(0, 48):  # bot running for two days
        tick(EVAL_AT + timedelta(hours=hour))
    assert list(store) == ["reevaluate_red:HY-2026-001:2026-03-09"]
    restart = at(2026, 4, 1, 8)  # down from 03-04 until 04-01
    for minute in range(0, 600, 5):
        tick(restart + timedelta(minutes=minute))
    slots = [(o.slot, o.late) for o in store.values()]
    assert slots == [
        ("2026-03-09", False),
        ("2026-03-16", True),
        ("2026-03-23", True),
        ("2026-03-30", True),
        ("2026-04-06", False),
    ]
    rule = find_rule(RULES, "reevaluate_red")
    assert rule is not None
    missed = missed_occurrences(
        rule, EVAL_AT, restart, subject=s.code, cal=CAL, tz=TZ, since=at(2026, 3, 10)
    )
    assert [o.slot for o in missed] == ["2026-03-16", "2026-03-23", "2026-03-30"]
    assert all(o.late for o in missed)
    again = missed_occurrences(
        rule,
        EVAL_AT,
        restart + timedelta(hours=1),
        subject=s.code,
        cal=CAL,
        tz=TZ,
        since=at(2026, 3, 10),
    )
    assert [o.key for o in again] == [o.key for o in missed]


def test_missed_slots_fold_into_the_latest_due_one() -> None:
    """Catch up once (SPEC §3): of the slots due at restart only the last is sent; a slot
    whose successor is still in the future is not folded."""
    restart = at(2026, 4, 1, 9)
    occs = plan(state(Color.RED), restart)
    red = by_rule(occs, "reevaluate_red")
    folded = [o.slot for o in red if superseded(o, occs, restart)]
    assert folded == ["2026-03-09", "2026-03-16", "2026-03-23"]
    assert [o.slot for o in red if o.late and not superseded(o, occs, restart)] == ["2026-03-30"]
    on_time = at(2026, 3, 9, 10)  # a bot that never stopped folds nothing
    assert not any(superseded(o, plan(state(Color.RED), on_time), on_time)
                   for o in plan(state(Color.RED), on_time))


def test_review_answer_after_3_working_days() -> None:
    occs = plan_review_answer(17, at(2026, 3, 2, 15), 3, CAL, TZ)  # Monday
    assert [(o.due_at, o.escalation, o.recipients) for o in occs] == [
        (at(2026, 3, 5, 18), False, ("prosecutor",)),
        (at(2026, 3, 9, 18), True, ("prosecutor", "leader")),
    ]
    assert occs[0].key == "review_answer:review-17:2026-03-05"
    # across National Day: Wed 09-30 + 3 working days = make-up Saturday 10-10
    holiday = plan_review_answer(18, at(2026, 9, 30, 15), 3, CAL, TZ)
    assert [o.due_at for o in holiday] == [at(2026, 10, 10, 18), at(2026, 10, 13, 18)]
    rule = find_rule(RULES, "review_answer")
    assert rule is not None
    text = render_text(rule, code="FH-18", title="复核", due=holiday[1].due_at, escalation=True)
    assert text.startswith("【升级督办】【复核答复提醒】")
    # planned late (after downtime): past ones flagged late, next one pending
    catch = plan_review_answer(18, at(2026, 9, 30, 15), 3, CAL, TZ, now=at(2026, 10, 14), horizon=1)
    assert [(o.slot, o.late) for o in catch] == [
        ("2026-10-10", True),
        ("2026-10-13", True),
        ("2026-10-15", False),
    ]
    with pytest.raises(ValueError):
        plan_review_answer(1, at(2026, 3, 2), 0, CAL, TZ)


def test_rectification_chief_then_inspector() -> None:
    occs = plan_rectification(5, date(2026, 9, 30), CAL, TZ)
    assert [(o.due_at, o.recipients, o.escalation) for o in occs] == [
        (at(2026, 10, 8), ("chief",), False),
        (at(2026, 10, 12), ("chief", "inspector"), True),
    ]
    assert occs[0].key == "rectification_overdue:rectification-5:2026-10-08"
    assert deliver_at(occs[0], CAL, TZ) == at(2026, 10, 8, 9)


def test_rule_validation() -> None:
    base = RULES[0]
    with pytest.raises(ValueError, match="kind"):
        dataclasses.replace(base, kind="other")
    with pytest.raises(ValueError, match="unknown role"):
        dataclasses.replace(base, recipients=("boss",))
    with pytest.raises(ValueError, match="placeholder"):
        dataclasses.replace(base, text="{case}")
    with pytest.raises(ValueError, match="repeat_days"):
        dataclasses.replace(base, repeat_days=0)
    with pytest.raises(ValueError, match="escalate_to is empty"):
        dataclasses.replace(base, escalate_after=1)
    with pytest.raises(ValueError, match="aware"):
        plan(state(Color.RED), datetime(2026, 3, 2))  # noqa: DTZ001


# hypothesis wants naive bounds together with `timezones`
LO, HI = datetime(2026, 1, 1), datetime(2026, 9, 1)  # noqa: DTZ001
_states = st.builds(
    CaseState,
    code=st.sampled_from(["HY-1", "HY-2"]),
    color=st.sampled_from([None, Color.RED, Color.YELLOW, Color.GREEN]),
    last_evaluated_at=st.one_of(
        st.none(), st.datetimes(LO, HI - timedelta(days=90), timezones=st.just(TZ))
    ),
    investigation_deadline=st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2026, 8, 1))),
    custody_deadline=st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2026, 8, 1))),
    closed=st.booleans(),
    consultation_started=st.booleans(),
)
_nows = st.datetimes(LO, HI, timezones=st.just(TZ))


@given(_states, _nows, st.integers(0, 4))
def test_planning_is_deterministic(s: CaseState, now: datetime, horizon: int) -> None:
    a = plan(s, now, horizon)
    b = plan(s, now, horizon)
    assert [o.key for o in a] == [o.key for o in b]
    assert a == b
    assert len({o.key for o in a}) == len(a)
    assert all(o.late == (o.due_at <= now) for o in a)


@given(_states, _nows, st.integers(1, 3), st.timedeltas(timedelta(0), timedelta(days=60)))
def test_advancing_time_keeps_keys(
    s: CaseState, now: datetime, horizon: int, step: timedelta
) -> None:
    rules = tuple(r for r in RULES if r.kind in ("reevaluate", "custody"))
    earlier = {o.key for o in plan_case(s, rules, CAL, TZ, now, horizon)}
    later = {o.key for o in plan_case(s, rules, CAL, TZ, now + step, horizon)}
    assert earlier <= later


def test_review_overdue_across_national_day_and_its_make_up_workday() -> None:
    occs = plan_review_overdue(5, at(2026, 9, 30, 15), CAL, TZ, horizon=2)
    # at the answer time to the prosecutor, then every 2 working days with the leader:
    # 10-01..10-07 are off, Thu 10-08 and Fri 10-09 count; Saturday 10-10 is a make-up
    # workday and counts, Sunday 10-11 does not
    assert [(o.due_at, o.escalation, o.recipients) for o in occs] == [
        (at(2026, 9, 30, 15), False, ("prosecutor",)),
        (at(2026, 10, 9, 15), True, ("prosecutor", "leader")),
        (at(2026, 10, 12, 15), True, ("prosecutor", "leader")),
    ]
    assert occs[0].key == "review_answer:review-5:2026-09-30"


def test_2027_falls_back_to_the_statutory_holidays_without_crashing() -> None:
    cal = WorkCalendar()
    occs = plan_review_overdue(6, at(2027, 9, 30, 15), cal, TZ, horizon=2)  # Thursday
    # 国庆 10-01..03 and its 补假 10-04/05 are off; the rest of the real 调休 is unknown
    assert [o.due_at for o in occs] == [at(2027, 9, 30, 15), at(2027, 10, 7, 15),
                                        at(2027, 10, 11, 15)]
    # a config override for that year's real holidays is honoured
    cal2 = WorkCalendar(overrides_holidays=frozenset(date(2027, 10, d) for d in range(1, 8)))
    occs2 = plan_review_overdue(6, at(2027, 9, 30, 15), cal2, TZ, horizon=1)
    assert occs2[1].due_at == at(2027, 10, 11, 15)
    # and a red case evaluated in 2027 plans its weekly reminders as usual
    red = plan(state(Color.RED, last_evaluated_at=at(2027, 12, 28, 10)), at(2027, 12, 28, 11))
    assert [o.due_at for o in red] == [at(2028, 1, 4, 9)]


# ---------------------------------------------------------------- holidays: once, in office hours

def sent_by_a_running_bot(rule_id: str, anchor: datetime, until: datetime
                          ) -> list[tuple[Occurrence, datetime]]:
    """What the sweep of a bot that never stops sends for one series up to ``until``: each
    slot at its delivery time, unless a later slot is due by then (it is folded into that)."""
    rule = find_rule(RULES, rule_id)
    assert rule is not None
    end = None
    if rule.kind == "consultation":  # anchored at the deadline, which ends the series
        end = anchor + timedelta(days=1)
    occs = occurrences(rule, anchor, until, subject="HY-2026-001", cal=CAL, tz=TZ, horizon=0,
                       until=end)
    out = []
    for o in occs:
        when = deliver_at(o, CAL, TZ, rule=rule)
        if not superseded(o, occs, when):
            out.append((o, when))
    return out


def test_a_weekly_slot_pushed_by_national_day_is_one_reminder_with_the_next() -> None:
    """红码一周一评估 from Thursday 2026-09-24 10:00: the 10-01 slot falls in 国庆 (10-01..07)
    and would go out on Thursday 10-08 at 09:00, an hour before the 10-08 slot: one card at
    10:00 for both, not two identical reminders that morning."""
    sent = sent_by_a_running_bot("reevaluate_red", at(2026, 9, 24, 10), at(2026, 10, 20))
    assert [(o.slot, when) for o, when in sent] == [
        ("2026-10-08", at(2026, 10, 8, 10)), ("2026-10-15", at(2026, 10, 15, 10))]
    # 春节 2026 (02-15..23 off): from Tuesday 02-10 the 02-17 slot waits for 02-24 10:00
    sent = sent_by_a_running_bot("reevaluate_red", at(2026, 2, 10, 10), at(2026, 3, 4))
    assert [(o.slot, when) for o, when in sent] == [
        ("2026-02-24", at(2026, 2, 24, 10)), ("2026-03-03", at(2026, 3, 3, 10))]
    # yellow (every 15 days) outlasts any holiday: the 10-01 slot goes out at 10-08 09:00
    sent = sent_by_a_running_bot("reevaluate_yellow", at(2026, 9, 16, 10), at(2026, 10, 20))
    assert [(o.slot, when) for o, when in sent] == [
        ("2026-10-01", at(2026, 10, 8, 9)), ("2026-10-16", at(2026, 10, 16, 10))]


@pytest.mark.parametrize("rule_id", ["reevaluate_red", "reevaluate_yellow", "consultation"])
@pytest.mark.parametrize("first,last", [(date(2026, 1, 20), date(2026, 2, 28)),
                                        (date(2026, 9, 5), date(2026, 10, 16))])
def test_around_spring_festival_and_national_day_every_slot_goes_out_once_a_day_at_most(
        rule_id: str, first: date, last: date) -> None:
    """SPEC §3, "exactly once, in office hours", over 春节 and 国庆 2026 (and 中秋 09-25..27):
    for evaluations (or investigation deadlines) on every day around them, at any hour, a
    running bot sends each series at most one reminder a day, only in office hours on working
    days, and every slot is covered on the day office hours would first have let it out."""
    day = first
    while day <= last:
        for hour, minute in ((0, 0), (8, 0), (9, 30), (12, 0), (17, 59), (19, 0)):
            anchor = datetime.combine(day, datetime.min.time(), TZ).replace(hour=hour,
                                                                            minute=minute)
            if rule_id == "consultation":  # the deadline, at midnight
                anchor = datetime.combine(day + timedelta(days=15), datetime.min.time(), TZ)
            sent = sent_by_a_running_bot(rule_id, anchor, anchor + timedelta(days=60))
            days = [when.date() for _, when in sent]
            assert len(days) == len(set(days)), (anchor, sent)
            assert all(CAL.is_office_time(when, TZ) for _, when in sent), (anchor, sent)
            rule = find_rule(RULES, rule_id)
            assert rule is not None
            end = anchor + timedelta(days=1) if rule_id == "consultation" else None
            for o in occurrences(rule, anchor, anchor + timedelta(days=50), subject="x",
                                 cal=CAL, tz=TZ, horizon=0, until=end):
                due_day = CAL.next_office_time(o.due_at, TZ).date()
                assert any(p.index >= o.index and when.date() == due_day
                           for p, when in sent), (anchor, o.slot, sent)
        day += timedelta(days=1)


def test_a_late_reevaluation_reminder_says_how_long_it_has_been() -> None:
    """{since} and {days}: the sixth weekly reminder of a red case says 42 days, not 7."""
    rule = find_rule(RULES, "reevaluate_red")
    assert rule is not None
    text = render_text(rule, code="HY-2026-0004", title="盗窃案",
                       since=datetime(2026, 12, 14, 2, 0, tzinfo=TZ),
                       due=datetime(2027, 1, 25, 9, 0, tzinfo=TZ))
    assert "上次评估为 2026-12-14（周一），已满 42 天，应评估日期为 2027-01-25（周一）" in text
    with pytest.raises(ValueError, match=r"unknown placeholder\(s\) 'weeks'; allowed: \{code\} "
                       r"\{title\} \{due\} \{deadline\} \{since\} \{days\} \{unit\} \{owner\}"):
        dataclasses.replace(rule, text="{code} {weeks}")
