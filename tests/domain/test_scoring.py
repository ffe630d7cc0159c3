from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.scoring import (
    Color,
    Deduction,
    Evaluation,
    EvaluationError,
    FieldError,
    ScoreItem,
    ScoreTemplate,
    Thresholds,
    cleared_items,
    color_for,
    compute_score,
    load_template,
    new_evaluation,
    open_deductions,
    template_errors,
    transcode_between,
    validate_evaluation,
)

TEMPLATE_FILE = Path(__file__).resolve().parents[2] / "config" / "score_template.yaml"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _raw() -> dict[str, Any]:
    data = yaml.safe_load(TEMPLATE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def template() -> ScoreTemplate:
    return load_template(_raw())


def ded(item: str, points: int, **kw: str) -> Deduction:
    fields = {"problem": "问题", "purpose": "", "matters": "", "requirement": "要求"}
    fields.update(kw)
    return Deduction(item=item, points=points, **fields)


def evaluate(
    template: ScoreTemplate,
    previous: Evaluation | None,
    deductions: list[Deduction],
    vetoes: tuple[str, ...] = (),
    at: datetime = T0,
    by: str = "p-zhang",
) -> Evaluation:
    return new_evaluation(
        template,
        previous,
        case_code="HY-2026-001",
        by=by,
        at=at,
        deductions=deductions,
        vetoes=vetoes,
    )


# --------------------------------------------------------------------------- template


def test_shipped_template_loads_and_is_valid(template: ScoreTemplate) -> None:
    assert template_errors(template) == []
    assert template.version == "2026.1"
    assert len(template.items) == 10
    assert template.total_points == 100
    assert template.thresholds == Thresholds(70, 90)
    assert len(template.veto_items) == template.veto_count == 5
    assert {it.dimension for it in template.items} == {"犯罪构成", "量刑情节"}
    capacity = [it for it in template.items if it.label == "刑事责任能力未查清"]
    assert len(capacity) == 1 and capacity[0].veto
    assert template.item(capacity[0].id) is capacity[0]
    with pytest.raises(KeyError):
        template.item("nope")
    assert template.find("nope") is None


def test_broken_template_reports_every_problem() -> None:
    data = _raw()
    items = data["items"]
    items[0]["max_points"] -= 1  # sum 99
    items[2]["id"] = items[1]["id"]  # duplicate id
    first_veto = next(it for it in items if it["veto"])
    first_veto["veto"] = False  # 4 vetoes
    tpl = load_template(data, validate=False)
    errors = template_errors(tpl)
    assert any("sum to 100, got 99" in e for e in errors)
    assert any(f"item {items[1]['id']}: duplicate id" in e for e in errors)
    assert any("expected 5 veto items, got 4" in e for e in errors)
    with pytest.raises(ValueError, match="sum to 100"):
        load_template(data)


def test_template_errors_item_checks() -> None:
    items = tuple(ScoreItem(f"i{n}", f"项{n}", "犯罪构成", 10, "说明", n < 5) for n in range(10))
    good = ScoreTemplate("t", items, Thresholds())
    assert template_errors(good) == []
    bad_items = (
        ScoreItem("i0", "项", "其他", 0, "说明", True),
        *items[1:9],
        ScoreItem("i9", "项", "犯罪构成", 20, "", False),
    )
    errors = template_errors(ScoreTemplate("t", bad_items, Thresholds(95, 90)))
    assert any(e.startswith("item i0: max_points") for e in errors)
    assert any(e.startswith("item i0: dimension") for e in errors)
    assert any(e.startswith("item i9: guidance") for e in errors)
    assert any(e.startswith("thresholds") for e in errors)
    assert any("expected 10 items" in e for e in template_errors(ScoreTemplate("t", items[:9])))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("version"), "missing field 'version'"),
        (lambda d: d.update(version=2026.1), "version: expected a non-empty string"),
        (lambda d: d.update(items="x"), "items: expected a list"),
        (lambda d: d["items"][3].pop("max_points"), "items[3]: missing field 'max_points'"),
        (lambda d: d["items"][3].update(max_points="8"), "items[3].max_points: expected an int"),
        (lambda d: d["items"][3].update(max_points=True), "items[3].max_points: expected an int"),
        (lambda d: d["items"][4].update(veto="yes"), "items[4].veto: expected true or false"),
        (lambda d: d["items"][4].update(max_point=3), "items[4]: unknown field(s) 'max_point'"),
        (lambda d: d.update(colour="red"), "unknown field(s) 'colour'"),
        (lambda d: d["thresholds"].update(red_below=None), "thresholds.red_below"),
        (lambda d: d.update(thresholds=[70, 90]), "thresholds: expected a mapping"),
    ],
)
def test_load_template_field_errors(mutate: Any, message: str) -> None:
    data = copy.deepcopy(_raw())
    mutate(data)
    with pytest.raises(ValueError) as exc:
        load_template(data, validate=False)
    assert message in str(exc.value)


def test_load_template_defaults() -> None:
    data = _raw()
    del data["thresholds"], data["veto_count"]
    tpl = load_template(data)
    assert tpl.thresholds == Thresholds(70, 90) and tpl.veto_count == 5


# --------------------------------------------------------------------------- colour


@pytest.mark.parametrize(
    ("score", "color"),
    [
        (0, Color.RED),
        (69, Color.RED),
        (70, Color.YELLOW),
        (80, Color.YELLOW),
        (90, Color.YELLOW),
        (91, Color.GREEN),
        (100, Color.GREEN),
    ],
)
def test_color_boundaries(score: int, color: Color) -> None:
    assert color_for(score, False, Thresholds()) is color
    assert color_for(score, True, Thresholds()) is Color.RED


def test_color_labels() -> None:
    assert [c.label for c in Color] == ["红码", "黄码", "绿码"]
    assert Color("red") is Color.RED and str(Color.GREEN) == "green"


def test_configurable_thresholds() -> None:
    t = Thresholds(red_below=60, green_above=85)
    assert color_for(59, False, t) is Color.RED
    assert color_for(60, False, t) is Color.YELLOW
    assert color_for(85, False, t) is Color.YELLOW
    assert color_for(86, False, t) is Color.GREEN


@given(st.integers(0, 100), st.integers(0, 100), st.booleans())
def test_color_monotone_in_score(a: int, b: int, veto: bool) -> None:
    lo, hi = sorted((a, b))
    assert color_for(lo, veto).rank <= color_for(hi, veto).rank


_points = st.lists(st.integers(0, 30), max_size=15)


@given(_points)
def test_score_in_range(points: list[int]) -> None:
    score = compute_score([ded(f"i{n}", p) for n, p in enumerate(points)])
    assert 0 <= score <= 100
    if sum(points) <= 100:
        assert score == 100 - sum(points)


@given(st.integers(0, 100))
def test_veto_always_red(score: int) -> None:
    assert color_for(score, True) is Color.RED


@given(st.data())
def test_evaluation_invariants(template: ScoreTemplate, data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(template.items), unique=True))
    deductions = [ded(it.id, data.draw(st.integers(1, it.max_points))) for it in chosen]
    vetoes = tuple(
        data.draw(st.lists(st.sampled_from([it.id for it in template.veto_items]), unique=True))
    )
    deductions += [ded(v, 0) for v in vetoes if v not in {it.id for it in chosen}]
    ev = evaluate(template, None, deductions, vetoes)
    assert 0 <= ev.score <= 100
    assert ev.score == 100 - sum(d.points for d in deductions)
    if vetoes:
        assert ev.color is Color.RED
    else:
        assert ev.color is color_for(ev.score, False, template.thresholds)


# --------------------------------------------------------------------------- validation


def test_evaluation_versions_and_score(template: ScoreTemplate) -> None:
    veto_id = template.veto_items[0].id
    plain = [it for it in template.items if not it.veto]
    e1 = evaluate(template, None, [ded(plain[0].id, 5), ded(plain[1].id, 6)])
    assert (e1.version, e1.score, e1.color) == (1, 89, Color.YELLOW)
    assert e1.template_version == "2026.1" and not e1.has_veto
    e2 = evaluate(template, e1, [ded(plain[0].id, 5)], at=T0 + timedelta(days=7))
    assert (e2.version, e2.score, e2.color) == (2, 95, Color.GREEN)
    e3 = evaluate(template, e2, [ded(veto_id, 0)], (veto_id,), at=T0 + timedelta(days=8))
    assert (e3.version, e3.score, e3.color) == (3, 100, Color.RED)


def test_texts_are_stripped(template: ScoreTemplate) -> None:
    ev = evaluate(template, None, [ded(template.items[0].id, 2, problem="  问题  ")])
    assert ev.deductions[0].problem == "问题"


def test_validation_field_paths(template: ScoreTemplate) -> None:
    plain = [it for it in template.items if not it.veto]
    a, b = plain[0], plain[1]
    deductions = [
        ded(a.id, 2),
        ded("ghost", 3),
        ded(b.id, b.max_points + 1),
        ded(a.id, 1),
        ded(b.id, 0, problem=" ", requirement=""),
        ded(plain[2].id, 1, matters="字" * 1001),
    ]
    veto = template.veto_items[0].id
    errors = validate_evaluation(template, deductions, [veto, a.id, veto, "ghost"])
    by_field = {e.field: e.reason for e in errors}
    assert by_field["deductions[1].item"] == "评分项不存在"
    assert by_field["deductions[2].points"] == f"扣分须在 1 到 {b.max_points} 之间"
    assert by_field["deductions[3].item"] == "同一评分项只能扣分一次"
    assert by_field["deductions[4].item"] == "同一评分项只能扣分一次"
    assert by_field["deductions[4].points"] == f"扣分须在 1 到 {b.max_points} 之间"
    assert by_field["deductions[4].problem"] == "请填写存在问题"
    assert by_field["deductions[4].requirement"] == "请填写补侦要求"
    assert by_field["deductions[5].matters"] == "补侦事项不能超过 1000 字"
    assert by_field["vetoes[1]"] == "该项不是一票否决项"
    assert by_field["vetoes[2]"] == "一票否决项重复"
    assert by_field["vetoes[3]"] == "评分项不存在"
    assert by_field["vetoes[0]"] == "须在该项填写存在问题和补侦要求（扣分可填 0）"
    assert "deductions[0].item" not in by_field
    assert all(isinstance(e, FieldError) for e in errors)


def test_purpose_and_matters_optional(template: ScoreTemplate) -> None:
    assert validate_evaluation(template, [ded(template.items[0].id, 1)], []) == []


def test_total_over_100() -> None:
    items = tuple(ScoreItem(f"i{n}", "项", "犯罪构成", 60, "说明", False) for n in range(2))
    tpl = ScoreTemplate("t", items)  # broken on purpose: 120 points
    errors = validate_evaluation(tpl, [ded("i0", 60), ded("i1", 50)], [])
    assert FieldError("deductions", "扣分合计不能超过 100 分") in errors


def test_new_evaluation_raises_with_errors(template: ScoreTemplate) -> None:
    with pytest.raises(EvaluationError) as exc:
        evaluate(template, None, [ded("ghost", 1)])
    assert exc.value.errors == (FieldError("deductions[0].item", "评分项不存在"),)


def test_new_evaluation_caller_errors(template: ScoreTemplate) -> None:
    with pytest.raises(ValueError, match="aware"):
        evaluate(template, None, [], at=datetime(2026, 1, 1))  # noqa: DTZ001
    other = new_evaluation(template, None, case_code="OTHER", by="x", at=T0, deductions=[])
    with pytest.raises(ValueError, match="belongs to case"):
        evaluate(template, other, [])


# --------------------------------------------------------------------------- 转码 / 销号


def test_transcode_detection(template: ScoreTemplate) -> None:
    plain = [it for it in template.items if not it.veto]
    e1 = evaluate(
        template,
        None,
        [ded(plain[0].id, 8), ded(plain[1].id, 8), ded(plain[2].id, 8), ded(plain[3].id, 8)],
    )
    assert e1.color is Color.RED  # 68
    assert transcode_between(None, e1) is None
    e2 = evaluate(
        template,
        e1,
        [ded(plain[0].id, 8), ded(plain[1].id, 8)],
        at=T0 + timedelta(days=7),
        by="p-li",
    )
    t = transcode_between(e1, e2)
    assert t is not None
    assert (t.from_color, t.to_color, t.from_version, t.to_version) == (
        Color.RED,
        Color.YELLOW,
        1,
        2,
    )
    assert (t.by, t.at, t.case_code, t.improved) == ("p-li", e2.at, "HY-2026-001", True)
    e3 = evaluate(
        template, e2, [ded(plain[0].id, 8), ded(plain[1].id, 7)], at=T0 + timedelta(days=8)
    )
    assert e3.color is Color.YELLOW and transcode_between(e2, e3) is None


def test_cleared_items(template: ScoreTemplate) -> None:
    ids = [it.id for it in template.items]
    e1 = evaluate(template, None, [ded(ids[0], 1), ded(ids[1], 1), ded(ids[2], 1)])
    e2 = evaluate(template, e1, [ded(ids[1], 2), ded(ids[3], 1)], at=T0 + timedelta(days=1))
    assert cleared_items(e1, e2) == (ids[0], ids[2])
    assert cleared_items(None, e2) == ()
    assert [d.item for d in open_deductions(e2)] == [ids[1], ids[3]]
    assert open_deductions(None) == ()


def test_a_veto_needs_its_entry_which_may_deduct_nothing(template: ScoreTemplate) -> None:
    veto = template.veto_items[0].id
    plain = next(it for it in template.items if not it.veto)
    errors = validate_evaluation(template, [ded(veto, 0), ded(plain.id, 0)], [veto])
    assert [(e.field, e.reason) for e in errors] == [
        ("deductions[1].points", f"扣分须在 1 到 {plain.max_points} 之间")]


def test_control_and_bidi_characters_are_refused(template: ScoreTemplate) -> None:
    item = template.items[0].id
    deductions = [ded(item, 2, problem="问题\u0001\u0000", requirement="第一\n第二\t完")]
    errors = validate_evaluation(template, deductions, [], comment="\u202e说明")
    assert [(e.field, e.human()) for e in errors] == [
        ("deductions[0].problem",
         f"「{template.items[0].label}」存在问题含有控制字符或不可见的格式字符（U+0001），请删除后重试"),
        ("comment", "评分说明含有控制字符或不可见的格式字符（U+202E），请删除后重试")]
    errors = validate_evaluation(template, [ded(item, 2)], [], comment="长" * 1001)
    assert [e.human() for e in errors] == ["评分说明不能超过 1000 字"]
