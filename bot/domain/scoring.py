"""案件码 scoring: the 100-point sheet, evaluations, colours, 转码 and 销号.

Pure domain code: frozen dataclasses and functions, no I/O, no clock reads (every
timestamp is passed in by the caller).

Rules
-----
* A template has exactly ``ITEM_COUNT`` (10) items worth ``TOTAL_POINTS`` (100) in total,
  spread over the two dimensions in ``DIMENSIONS``; ``veto_count`` (5) of them are
  一票否决 items.
* Scoring is 反向扣分: ``score = 100 - sum(deduction points)`` (clamped to 0..100).
* Colour: any veto hit -> red; otherwise ``score < red_below`` -> red,
  ``score > green_above`` -> green, everything in between (both ends included) -> yellow.
* A deduction must take 1..``max_points`` of its item (a 0-point "deduction" is not a
  deduction: remove it instead), except on a vetoed item (listed in ``vetoes``), where it
  may take 0; 0 on a veto item that is not listed says how to record the veto. ``problem``
  (存在问题) and ``requirement`` (补侦要求) are required, ``purpose`` (补侦目的) and
  ``matters`` (补侦事项) are optional; every text, and the ``comment`` (评分说明), is at most
  ``MAX_TEXT_LENGTH`` characters, without control or bidi formatting characters
  (:mod:`bot.domain.text`; line breaks and tabs allowed). Texts are stored stripped of
  surrounding blanks. At most one deduction per item, so at most ``ITEM_COUNT``.
* A veto names a veto item of the template, at most once, and needs an entry for the same
  item in ``deductions`` (0 points allowed), whose 存在问题 / 补侦要求 tell the investigators
  what to do about it.
* Evaluations are immutable and versioned per case (1, 2, 3 ...). A colour change between
  two consecutive versions is a 转码 (:func:`transcode_between`); an item deducted in one
  version and absent from the next is cleared, 销号 (:func:`cleared_items`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import TypeVar

from bot.domain.text import char_problem

TOTAL_POINTS = 100
ITEM_COUNT = 10
DIMENSIONS: tuple[str, ...] = ("犯罪构成", "量刑情节")
MAX_TEXT_LENGTH = 1000


class Color(StrEnum):
    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"

    @property
    def label(self) -> str:
        return _COLOR_LABELS[self]

    @property
    def rank(self) -> int:
        """0 for red, 1 for yellow, 2 for green: higher is better."""
        return _COLOR_RANKS[self]


_COLOR_LABELS: dict[Color, str] = {
    Color.RED: "红码",
    Color.YELLOW: "黄码",
    Color.GREEN: "绿码",
}
_COLOR_RANKS: dict[Color, int] = {Color.RED: 0, Color.YELLOW: 1, Color.GREEN: 2}

_C = TypeVar("_C", bound=str)  # a colour: a Color, or its value as stored


def color_at(history: Iterable[tuple[datetime, _C]], moment: datetime) -> _C | None:
    """The colour in effect at `moment` in a history of (evaluation time, colour), oldest
    first (None: not scored by then)."""
    color = None
    for at, c in history:
        if at > moment:
            break
        color = c
    return color


def color_at_deadline(history: Sequence[tuple[datetime, _C]], moment: datetime) -> _C | None:
    """The colour a case had when a deadline came at `moment` (羁押期限届满仍为红码): the one in
    effect then; for a case first scored only after it (created or imported late, its deadline
    already passed), its first colour, which describes the file as it already was (None: never
    scored)."""
    return color_at(history, moment) or (history[0][1] if history else None)


def custody_ends_at(deadline: date, tz: tzinfo) -> datetime:
    """When a custody deadline (羁押期限) is reached, 届满: the date is the last day of custody,
    so at the END of that day, 00:00 of the next day local time. A case re-scored green on
    its last day of custody was not red when custody ran out."""
    return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=tz)


def color_at_custody_end(history: Sequence[tuple[datetime, _C]], deadline: date,
                         tz: tzinfo) -> _C | None:
    """The colour a case had when its custody deadline ran out (:func:`custody_ends_at`), by
    :func:`color_at_deadline`: a case first scored only after that is judged by its first
    colour (责任倒查 and 羁押期限届满仍为红码 alike)."""
    return color_at_deadline(history, custody_ends_at(deadline, tz))


# --------------------------------------------------------------------------- template


@dataclass(frozen=True)
class ScoreItem:
    id: str
    label: str
    dimension: str
    max_points: int
    guidance: str
    veto: bool


@dataclass(frozen=True)
class Thresholds:
    """``score < red_below`` is red, ``score > green_above`` is green, the rest yellow."""

    red_below: int = 70
    green_above: int = 90


@dataclass(frozen=True)
class ScoreTemplate:
    version: str
    items: tuple[ScoreItem, ...]
    thresholds: Thresholds = Thresholds()
    veto_count: int = 5

    def item(self, item_id: str) -> ScoreItem:
        """The item with this id; KeyError if there is none."""
        found = self.find(item_id)
        if found is None:
            raise KeyError(f"score template {self.version}: no item {item_id!r}")
        return found

    def find(self, item_id: str) -> ScoreItem | None:
        for it in self.items:
            if it.id == item_id:
                return it
        return None

    @property
    def veto_items(self) -> tuple[ScoreItem, ...]:
        return tuple(it for it in self.items if it.veto)

    @property
    def total_points(self) -> int:
        return sum(it.max_points for it in self.items)


def template_errors(template: ScoreTemplate) -> list[str]:
    """Everything wrong with a template (English, for operators); empty when it is usable."""
    errors: list[str] = []
    if not template.version.strip():
        errors.append("version must not be empty")
    if len(template.items) != ITEM_COUNT:
        errors.append(f"expected {ITEM_COUNT} items, got {len(template.items)}")
    seen: set[str] = set()
    for it in template.items:
        name = it.id or "<empty id>"
        if not it.id.strip():
            errors.append("an item has an empty id")
        elif it.id in seen:
            errors.append(f"item {name}: duplicate id")
        seen.add(it.id)
        if it.max_points <= 0:
            errors.append(f"item {name}: max_points must be > 0, got {it.max_points}")
        if not it.label.strip():
            errors.append(f"item {name}: label must not be empty")
        if it.dimension not in DIMENSIONS:
            errors.append(
                f"item {name}: dimension must be one of {', '.join(DIMENSIONS)},"
                f" got {it.dimension!r}"
            )
        if not it.guidance.strip():
            errors.append(f"item {name}: guidance must not be empty")
    total = template.total_points
    if total != TOTAL_POINTS:
        errors.append(f"max_points must sum to {TOTAL_POINTS}, got {total}")
    vetoes = [it.id for it in template.items if it.veto]
    if len(vetoes) != template.veto_count:
        errors.append(
            f"expected {template.veto_count} veto items, got {len(vetoes)}"
            f" ({', '.join(vetoes) or 'none'})"
        )
    t = template.thresholds
    if not 0 < t.red_below <= t.green_above < TOTAL_POINTS:
        errors.append(
            "thresholds must satisfy 0 < red_below <= green_above < 100,"
            f" got red_below={t.red_below} green_above={t.green_above}"
        )
    return errors


_ITEM_FIELDS = ("id", "label", "dimension", "max_points", "guidance", "veto")
_TEMPLATE_FIELDS = ("version", "items", "thresholds", "veto_count")
_THRESHOLD_FIELDS = ("red_below", "green_above")


def load_template(data: Mapping[str, object], *, validate: bool = True) -> ScoreTemplate:
    """Build a template from parsed YAML/JSON (``config/score_template.yaml``).

    ``version`` and ``items`` are required; ``thresholds`` and ``veto_count`` default to
    70/90 and 5. Unknown keys are errors. Raises ValueError naming the offending path.
    With ``validate`` (the default) the result must also pass :func:`template_errors`.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"score template: expected a mapping, got {_kind(data)}")
    _no_unknown(data, _TEMPLATE_FIELDS, "score template")
    version = _req_str(data, "version", "score template")
    raw_items = _required(data, "items", "score template")
    if not isinstance(raw_items, list):
        raise ValueError(f"score template.items: expected a list, got {_kind(raw_items)}")
    items = tuple(_load_item(raw, f"items[{i}]") for i, raw in enumerate(raw_items))
    thresholds = Thresholds()
    if "thresholds" in data:
        raw_t = data["thresholds"]
        if not isinstance(raw_t, Mapping):
            raise ValueError(f"thresholds: expected a mapping, got {_kind(raw_t)}")
        _no_unknown(raw_t, _THRESHOLD_FIELDS, "thresholds")
        thresholds = Thresholds(
            red_below=_opt_int(raw_t, "red_below", "thresholds", Thresholds.red_below),
            green_above=_opt_int(raw_t, "green_above", "thresholds", Thresholds.green_above),
        )
    veto_count = _opt_int(data, "veto_count", "score template", 5)
    template = ScoreTemplate(
        version=version, items=items, thresholds=thresholds, veto_count=veto_count
    )
    if validate:
        errors = template_errors(template)
        if errors:
            raise ValueError("score template: " + "; ".join(errors))
    return template


def _load_item(raw: object, where: str) -> ScoreItem:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {_kind(raw)}")
    _no_unknown(raw, _ITEM_FIELDS, where)
    veto = _required(raw, "veto", where)
    if not isinstance(veto, bool):
        raise ValueError(f"{where}.veto: expected true or false, got {_kind(veto)}")
    return ScoreItem(
        id=_req_str(raw, "id", where),
        label=_req_str(raw, "label", where),
        dimension=_req_str(raw, "dimension", where),
        max_points=_req_int(raw, "max_points", where),
        guidance=_req_str(raw, "guidance", where),
        veto=veto,
    )


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _no_unknown(data: Mapping[str, object], allowed: Sequence[str], where: str) -> None:
    unknown = [str(k) for k in data if k not in allowed]
    if unknown:
        raise ValueError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))};"
            f" allowed: {', '.join(allowed)}"
        )


def _required(data: Mapping[str, object], key: str, where: str) -> object:
    if key not in data:
        raise ValueError(f"{where}: missing field {key!r}")
    return data[key]


def _req_str(data: Mapping[str, object], key: str, where: str) -> str:
    value = _required(data, key, where)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}.{key}: expected a non-empty string, got {_kind(value)}")
    return value.strip()


def _req_int(data: Mapping[str, object], key: str, where: str) -> int:
    value = _required(data, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}.{key}: expected an integer, got {_kind(value)}")
    return value


def _opt_int(data: Mapping[str, object], key: str, where: str, default: int) -> int:
    return _req_int(data, key, where) if key in data else default


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Deduction:
    item: str
    points: int
    problem: str  # 存在问题 (required)
    purpose: str  # 补侦目的 (optional)
    matters: str  # 补侦事项 (optional)
    requirement: str  # 补侦要求 (required)


@dataclass(frozen=True)
class FieldError:
    """``field`` is a path such as ``deductions[2].points``; ``reason`` is user-facing Chinese;
    ``label`` names the place for people (「因果关系」) where the path would not."""

    field: str
    reason: str
    label: str = dataclasses.field(default="", compare=False)

    def human(self) -> str:
        if self.label:
            return f"{self.label}{self.reason}"
        nested = "." in self.field or "[" in self.field  # a path people cannot read
        return f"{self.field} {self.reason}" if nested else self.reason


class EvaluationError(ValueError):
    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in self.errors))


_REQUIRED_TEXT: tuple[tuple[str, str], ...] = (
    ("problem", "请填写存在问题"),
    ("requirement", "请填写补侦要求"),
)
_TEXT_FIELDS = {"problem": "存在问题", "purpose": "补侦目的", "matters": "补侦事项",
                "requirement": "补侦要求"}


def validate_evaluation(
    template: ScoreTemplate, deductions: Sequence[Deduction], vetoes: Sequence[str],
    comment: str = "",
) -> list[FieldError]:
    """All problems with a submitted evaluation, in form order; empty when acceptable."""
    errors = _deduction_errors(template, deductions, set(vetoes))
    errors += _veto_errors(template, vetoes, {d.item for d in deductions})
    errors += _text_errors("comment", "评分说明", comment, "")
    return errors


def _text_errors(path: str, shown: str, text: str, where: str) -> list[FieldError]:
    if len(text.strip()) > MAX_TEXT_LENGTH:
        return [FieldError(path, f"{shown}不能超过 {MAX_TEXT_LENGTH} 字", where)]
    problem = char_problem(shown, text, multiline=True)
    return [FieldError(path, problem, where)] if problem else []


def _deduction_errors(template: ScoreTemplate, deductions: Sequence[Deduction],
                      vetoes: set[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    total = 0
    for i, d in enumerate(deductions):
        path = f"deductions[{i}]"
        item = template.find(d.item)
        where = f"「{item.label}」" if item is not None else f"第 {i + 1} 条扣分："
        if item is None:
            errors.append(FieldError(f"{path}.item", "评分项不存在", where))
        elif d.item in seen:
            errors.append(FieldError(f"{path}.item", "同一评分项只能扣分一次", where))
        seen.add(d.item)
        if isinstance(d.points, bool) or not isinstance(d.points, int):
            errors.append(FieldError(f"{path}.points", "扣分须为整数", where))
        else:
            total += max(d.points, 0)
            limit = item.max_points if item is not None else None
            least = 0 if d.item in vetoes else 1  # a vetoed item's entry may deduct nothing
            if d.points < least or (limit is not None and d.points > limit):
                if limit is None:
                    errors.append(FieldError(f"{path}.points", "扣分须至少 1 分", where))
                else:
                    # 0 points on a veto item not vetoed: say how a veto is recorded
                    how = ("（记一票否决：把该项列入 vetoes，扣分可填 0）"
                           if item is not None and item.veto and d.points == 0 else "")
                    errors.append(FieldError(f"{path}.points",
                                             f"扣分须在 {least} 到 {limit} 之间{how}", where))
        for name, reason in _REQUIRED_TEXT:
            if not str(getattr(d, name)).strip():
                errors.append(FieldError(f"{path}.{name}", reason, where))
        for name, shown in _TEXT_FIELDS.items():
            errors += _text_errors(f"{path}.{name}", shown, str(getattr(d, name)), where)
    if total > TOTAL_POINTS:
        errors.append(FieldError("deductions", f"扣分合计不能超过 {TOTAL_POINTS} 分"))
    return errors


def _veto_errors(template: ScoreTemplate, vetoes: Sequence[str],
                 deducted: set[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen_vetoes: set[str] = set()
    for j, v in enumerate(vetoes):
        path = f"vetoes[{j}]"
        item = template.find(v)
        where = f"否决项「{item.label}」" if item is not None else f"第 {j + 1} 个否决项："
        if item is None:
            errors.append(FieldError(path, "评分项不存在", where))
        elif not item.veto:
            errors.append(FieldError(path, "该项不是一票否决项", where))
        elif v in seen_vetoes:
            errors.append(FieldError(path, "一票否决项重复", where))
        elif v not in deducted:
            errors.append(FieldError(path, "须在该项填写存在问题和补侦要求（扣分可填 0）", where))
        seen_vetoes.add(v)
    return errors


def compute_score(deductions: Sequence[Deduction]) -> int:
    """``100 - sum(points)``, clamped to 0..100 (validation keeps it there anyway)."""
    return max(0, min(TOTAL_POINTS, TOTAL_POINTS - sum(d.points for d in deductions)))


def color_for(score: int, has_veto: bool, thresholds: Thresholds = Thresholds()) -> Color:
    if has_veto or score < thresholds.red_below:
        return Color.RED
    if score > thresholds.green_above:
        return Color.GREEN
    return Color.YELLOW


@dataclass(frozen=True)
class Evaluation:
    case_code: str
    version: int
    by: str
    at: datetime
    deductions: tuple[Deduction, ...]
    vetoes: tuple[str, ...]
    comment: str
    score: int
    color: Color
    review_request_id: int | None = None
    template_version: str | None = None

    @property
    def has_veto(self) -> bool:
        return bool(self.vetoes)


def new_evaluation(
    template: ScoreTemplate,
    previous: Evaluation | None,
    *,
    case_code: str,
    by: str,
    at: datetime,
    deductions: Sequence[Deduction],
    vetoes: Sequence[str] = (),
    comment: str = "",
    review_request_id: int | None = None,
) -> Evaluation:
    """The next version of a case's evaluation.

    Raises :class:`EvaluationError` (a ValueError carrying ``errors``) when the input fails
    :func:`validate_evaluation`, and plain ValueError for caller mistakes (naive ``at``,
    empty ``by``/``case_code``, ``previous`` belonging to another case).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("evaluation time must be timezone-aware")
    if not case_code.strip():
        raise ValueError("case_code must not be empty")
    if not by.strip():
        raise ValueError("by must not be empty")
    if previous is not None and previous.case_code != case_code:
        raise ValueError(
            f"previous evaluation belongs to case {previous.case_code!r}, not {case_code!r}"
        )
    errors = validate_evaluation(template, deductions, vetoes, comment)
    if errors:
        raise EvaluationError(errors)
    clean = tuple(
        dataclasses.replace(
            d,
            problem=d.problem.strip(),
            purpose=d.purpose.strip(),
            matters=d.matters.strip(),
            requirement=d.requirement.strip(),
        )
        for d in deductions
    )
    score = compute_score(clean)
    vetoes_t = tuple(vetoes)
    return Evaluation(
        case_code=case_code,
        version=1 if previous is None else previous.version + 1,
        by=by,
        at=at,
        deductions=clean,
        vetoes=vetoes_t,
        comment=comment.strip(),
        score=score,
        color=color_for(score, bool(vetoes_t), template.thresholds),
        review_request_id=review_request_id,
        template_version=template.version,
    )


# --------------------------------------------------------------------------- 转码 / 销号


@dataclass(frozen=True)
class Transcode:
    case_code: str
    from_color: Color
    to_color: Color
    by: str
    at: datetime
    from_version: int
    to_version: int

    @property
    def improved(self) -> bool:
        return self.to_color.rank > self.from_color.rank


def transcode_between(prev: Evaluation | None, new: Evaluation) -> Transcode | None:
    """The 转码 from ``prev`` to ``new``, None if the colour did not change.

    The first evaluation of a case (``prev`` None) assigns a colour but is not a 转码.
    """
    if prev is None:
        return None
    _same_case(prev, new)
    if prev.color == new.color:
        return None
    return Transcode(
        case_code=new.case_code,
        from_color=prev.color,
        to_color=new.color,
        by=new.by,
        at=new.at,
        from_version=prev.version,
        to_version=new.version,
    )


def cleared_items(prev: Evaluation | None, new: Evaluation) -> tuple[str, ...]:
    """销号: items deducted in ``prev`` and absent from ``new`` (in ``prev``'s order)."""
    if prev is None:
        return ()
    _same_case(prev, new)
    still = {d.item for d in new.deductions}
    return tuple(d.item for d in prev.deductions if d.item not in still)


def open_deductions(evaluation: Evaluation | None) -> tuple[Deduction, ...]:
    """The problems still open for a case: the deductions of its latest evaluation."""
    return () if evaluation is None else evaluation.deductions


def _same_case(prev: Evaluation, new: Evaluation) -> None:
    if prev.case_code != new.case_code:
        raise ValueError(f"evaluations of different cases: {prev.case_code!r}, {new.case_code!r}")
