"""Evaluation of one leaf criterion: its rule applied to the entered facts, exactly, in Decimal.

``evaluate`` validates the inputs against the node (a rate within 0–100, counts ≥ 0, a level
that exists, …) and raises ``RuleInputError`` naming the criterion and the field; otherwise it
returns the score, capped to [0, max] and rounded by the framework's places and rounding mode,
with one Vietnamese sentence explaining it ("84/87 nhiệm vụ đúng hạn (96,55%) × 3 điểm =
2,897 điểm"). Rates given as counts are used exactly (84/87, not a rounded 96,55%); only the
final score is rounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from core.vn import vn_decimal
from models.framework import (
    Band,
    BandsRule,
    ChecklistRule,
    CountedRule,
    DeductionRule,
    DerivedRule,
    DerivedSource,
    Framework,
    LevelRateRule,
    LevelsRule,
    ManualRule,
    Node,
    NotApplicablePolicy,
    Option,
    ProportionalRule,
    RoundingMode,
    Rule,
    SurveyRule,
)
from models.inputs import CriterionInput
from scoring.input_checks import RuleInputError, check_bounded, check_kind, input_fields

__all__ = [
    "RuleInputError",
    "RuleResult",
    "evaluate",
    "evaluate_criterion",
    "full_marks_inputs",
    "input_fields",
    "quantize",
    "shown_against",
]

_T = TypeVar("_T")

HUNDRED = Decimal(100)
ZERO = Decimal(0)
MANUAL_PLACES = 3

_ROUNDING = {
    RoundingMode.half_up: ROUND_HALF_UP,
    RoundingMode.half_even: ROUND_HALF_EVEN,
    RoundingMode.down: ROUND_DOWN,
}


class RuleResult(BaseModel):
    """The score of one leaf and the sentence that explains it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: Decimal
    explanation: str
    not_applicable: bool = False
    counts_in_max: bool = True


def quantize(value: Decimal, places: int, rounding: RoundingMode = RoundingMode.half_up) -> Decimal:
    """Rounds ``value`` to ``places`` decimals with the framework's rounding mode."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=_ROUNDING[rounding])


def _num(d: Decimal | int) -> str:
    return vn_decimal(d)


def _pct(rate: Decimal, edges: Sequence[Decimal | None] = ()) -> str:
    """96.551724… → "96,55": two decimals (trailing zeros dropped), more when two would put the
    rate on the other side of, or on, one of ``edges`` (79,9977 next to a floor of 80)."""
    places = 2
    shown = quantize(rate, places)
    # Inputs are bounded (numerator, denominator ≤ 10⁹; a rate has ≤ 6 decimals), so a rate
    # that differs from an edge differs by at least 10⁻⁷: 12 places always tell them apart.
    while places < 12 and any(e is not None and _side(shown, e) != _side(rate, e) for e in edges):
        places += 1
        shown = quantize(rate, places)
    return vn_decimal(shown.normalize())


def shown_against(value: Decimal, edges: Sequence[Decimal | None]) -> str:
    """``value`` in Vietnamese with two decimals, or as many more as it takes never to read as
    equal to, or on the other side of, one of ``edges`` (a floor, a band limit)."""
    return _pct(value, edges)


def _side(value: Decimal, edge: Decimal) -> int:
    return (value > edge) - (value < edge)


@dataclass(frozen=True)
class _Ctx:
    node: Node
    places: int
    rounding: RoundingMode

    @property
    def max(self) -> Decimal:
        return self.node.max_points

    def error(self, field: str, reason: str) -> RuleInputError:
        return RuleInputError(self.node.code, field, reason)

    def finish(self, raw: Decimal) -> Decimal:
        """Caps to [0, max] and rounds; rounding never lifts a score above the max."""
        capped = min(max(raw, ZERO), self.max)
        final = quantize(capped, self.places, self.rounding)
        if final > self.max:
            final = quantize(self.max, self.places, RoundingMode.down)
        return final

    def amount(self, raw: Decimal) -> tuple[Decimal, str]:
        """The final score and its text, saying so when the max cut it down."""
        final = self.finish(raw)
        shown = quantize(raw, self.places, self.rounding)
        if shown > self.max:
            text = f"{_num(shown)} điểm, vượt điểm tối đa nên được {_num(final)} điểm"
        else:
            text = f"{_num(final)} điểm"
        return final, text

    # --- input checks -------------------------------------------------------------------

    def non_negative(self, field: str, value: int | None) -> None:
        if value is not None and value < 0:
            raise self.error(field, f"không được là số âm (đã nhập {value})")

    def required(self, field: str, value: _T | None, what: str) -> _T:
        if value is None:
            raise self.error(field, f"chưa nhập {what}")
        return value

    def option(self, options: Sequence[Option], key: str | None, field: str) -> Option:
        if key is None:
            if len(options) == 1:
                return options[0]
            raise self.error(field, "chưa chọn mức đạt được")
        for opt in options:
            if opt.key == key:
                return opt
        known = ", ".join(o.key for o in options)
        raise self.error(field, f"không có mức ‘{key}’ (các mức: {known})")

    def rate(
        self, inputs: CriterionInput, unit_label: str, edges: Sequence[Decimal | None] = ()
    ) -> tuple[Decimal, str]:
        """The rate in percent, exact, and how it reads: "84/87 nhiệm vụ đúng hạn (96,55%)".

        ``edges`` are the thresholds the rule compares the rate with (a floor, band limits):
        the rate is shown with enough decimals that it never reads as equal to an edge it is
        not ("79,9977% dưới mức tối thiểu 80%", not "80% dưới mức tối thiểu 80%").
        """
        num, den = inputs.numerator, inputs.denominator
        if num is not None or den is not None:
            if inputs.rate is not None:
                raise self.error("rate", "chỉ nhập tỷ lệ hoặc tử số/mẫu số, không nhập cả hai")
            if num is None:
                raise self.error("numerator", "đã nhập mẫu số nhưng chưa nhập tử số")
            if den is None:
                raise self.error("denominator", "đã nhập tử số nhưng chưa nhập mẫu số")
            self.non_negative("numerator", num)
            self.non_negative("denominator", den)
            if den == 0:
                raise self.error(
                    "denominator",
                    "mẫu số bằng 0; nếu không phát sinh nhiệm vụ hãy đánh dấu không phát sinh",
                )
            if num > den:
                raise self.error("numerator", f"tử số {num} lớn hơn mẫu số {den}")
            rate = Decimal(num) * HUNDRED / Decimal(den)
            label = f" {unit_label}" if unit_label else ""
            return rate, f"{num}/{den}{label} ({_pct(rate, edges)}%)"
        rate = self.required("rate", inputs.rate, "tỷ lệ (%)")
        if not rate.is_finite():
            raise self.error("rate", "tỷ lệ không hợp lệ")
        if rate < 0 or rate > HUNDRED:
            raise self.error("rate", f"tỷ lệ phải từ 0 đến 100% (đã nhập {_num(rate)})")
        label = f" {unit_label}" if unit_label else ""
        shown = _pct(rate, edges)
        text = f"{shown}%{label}" if unit_label else f"tỷ lệ {shown}%"
        return rate, text

    def count(self, field: str, value: int | None, what: str) -> int:
        n = self.required(field, value, what)
        self.non_negative(field, n)
        return n


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].isalpha() else text


# --- bands ----------------------------------------------------------------------------------


def _in_band(band: Band, value: Decimal) -> bool:
    if band.min is not None and (
        value < band.min or (value == band.min and not band.min_inclusive)
    ):
        return False
    if band.max is not None:
        return value <= band.max if band.max_inclusive else value < band.max
    return True


def _band_range(band: Band, suffix: str) -> str:
    if band.label:
        return band.label
    lo = f"{_num(band.min)}{suffix}" if band.min is not None else None
    hi = f"{_num(band.max)}{suffix}" if band.max is not None else None
    if lo is not None and hi is not None:
        start = "từ" if band.min_inclusive else "trên"
        return f"{start} {lo} đến {hi}" if band.max_inclusive else f"{start} {lo} đến dưới {hi}"
    if lo is not None:
        return f"từ {lo} trở lên" if band.min_inclusive else f"trên {lo}"
    if hi is not None:
        return f"không quá {hi}" if band.max_inclusive else f"dưới {hi}"
    return "mọi giá trị"


def _match_band(
    ctx: _Ctx, bands: Sequence[Band], value: Decimal, value_text: str, suffix: str
) -> tuple[Decimal, str]:
    # Where bands overlap (a written "từ 40% trở lên" next to "từ 50% trở lên", or a shared
    # boundary such as "từ 01 đến 03 ngày" / "quá 03 ngày"), the unit earns the best of them.
    matching = [b for b in bands if _in_band(b, value)]
    if not matching:
        return ctx.finish(ZERO), f"{value_text} không thuộc mức nào được quy định: 0 điểm"
    best = max(matching, key=lambda b: b.points)
    score, text = ctx.amount(best.points)
    return score, f"{value_text} thuộc mức “{_band_range(best, suffix)}”: {text}"


# --- the rules ------------------------------------------------------------------------------


def _levels(ctx: _Ctx, rule: LevelsRule, inputs: CriterionInput) -> tuple[Decimal, str]:
    opt = ctx.option(rule.options, inputs.level, "level")
    score, text = ctx.amount(opt.points)
    return score, f"Đạt mức “{opt.label}”: {text}"


def _proportional(ctx: _Ctx, rule: ProportionalRule, inputs: CriterionInput) -> tuple[Decimal, str]:
    rate, rate_text = ctx.rate(inputs, rule.unit_label, (rule.floor,))
    if rate < rule.floor:
        floor = vn_decimal(rule.floor.normalize())
        return ctx.finish(ZERO), f"{rate_text} dưới mức tối thiểu {floor}% nên được 0 điểm"
    score, text = ctx.amount(rate * ctx.max / HUNDRED)
    return score, f"{rate_text} × {_num(ctx.max)} điểm = {text}"


def _bands(ctx: _Ctx, rule: BandsRule, inputs: CriterionInput) -> tuple[Decimal, str]:
    if rule.measure == "rate":
        edges = [e for b in rule.bands for e in (b.min, b.max)]
        rate, rate_text = ctx.rate(inputs, rule.unit_label, edges)
        return _match_band(ctx, rule.bands, rate, rate_text, "%")
    n = ctx.count("count", inputs.count, "số lượng")
    value_text = f"{n} {rule.unit_label}" if rule.unit_label else f"số lượng {n}"
    return _match_band(ctx, rule.bands, Decimal(n), value_text, "")


def _level_rate(ctx: _Ctx, rule: LevelRateRule, inputs: CriterionInput) -> tuple[Decimal, str]:
    opt = ctx.option(rule.options, inputs.level, "level")
    rate, rate_text = ctx.rate(inputs, rule.unit_label)
    score, text = ctx.amount(opt.points * rate / HUNDRED)
    sentence = f"{rate_text} × {_num(opt.points)} điểm = {text}"
    if len(rule.options) > 1:
        sentence = f"Mức “{opt.label}”, {sentence}"
    return score, sentence


def _deduction(ctx: _Ctx, rule: DeductionRule, inputs: CriterionInput) -> tuple[Decimal, str]:
    failed = ctx.count("failed", inputs.failed, "số nội dung không đạt yêu cầu")
    item = rule.item_label or "nội dung"
    if failed == 0:
        score, text = ctx.amount(ctx.max)
        return score, f"Không có {item} nào không đạt yêu cầu: {text}"
    deducted = rule.per_item * failed
    head = f"{failed} {item} không đạt yêu cầu, trừ {failed} × {_num(rule.per_item)} điểm"
    if deducted >= ctx.max:
        return ctx.finish(ZERO), f"{head} = {_num(deducted)} điểm, không thấp hơn 0 nên được 0 điểm"
    score, text = ctx.amount(ctx.max - deducted)
    return score, f"{head}: {_num(ctx.max)} − {_num(deducted)} = {text}"


def _checklist(ctx: _Ctx, rule: ChecklistRule, inputs: CriterionInput) -> tuple[Decimal, str]:
    by_key = {o.key: o for o in rule.items}
    seen: set[str] = set()
    for key in inputs.checked:
        if key not in by_key:
            known = ", ".join(by_key)
            raise ctx.error("checked", f"không có nội dung ‘{key}’ (các nội dung: {known})")
        if key in seen:
            raise ctx.error("checked", f"nội dung ‘{key}’ được đánh dấu hai lần")
        seen.add(key)
    if not seen:
        return ctx.finish(ZERO), "Không đạt nội dung nào: 0 điểm"
    chosen = [o for o in rule.items if o.key in seen]
    score, text = ctx.amount(sum((o.points for o in chosen), ZERO))
    labels = "; ".join(o.label for o in chosen)
    return score, f"Đạt {len(chosen)}/{len(rule.items)} nội dung ({labels}): {text}"


def _counted(ctx: _Ctx, rule: CountedRule, inputs: CriterionInput) -> tuple[Decimal, str]:
    by_key = {o.key: o for o in rule.items}
    for key, n in inputs.counts.items():
        if key not in by_key:
            known = ", ".join(by_key)
            raise ctx.error("counts", f"không có loại ‘{key}’ (các loại: {known})")
        if n < 0:
            raise ctx.error("counts", f"số lượng loại ‘{key}’ không được là số âm (đã nhập {n})")
    parts = [(o, inputs.counts.get(o.key, 0)) for o in rule.items]
    parts = [(o, n) for o, n in parts if n > 0]
    if not parts:
        return ctx.finish(ZERO), "Không có nội dung nào được tính điểm: 0 điểm"
    raw = sum((o.points * n for o, n in parts), ZERO)
    cap = ctx.max if rule.cap is None else min(rule.cap, ctx.max)
    terms = " + ".join(f"{n} × “{o.label}” ({_num(o.points)} điểm)" for o, n in parts)
    if raw > cap:
        score = ctx.finish(cap)
        return score, f"{terms} = {_num(raw)} điểm, tối đa {_num(cap)} điểm: {_num(score)} điểm"
    score, text = ctx.amount(raw)
    return score, f"{terms} = {text}"


def _survey(ctx: _Ctx, rule: SurveyRule, inputs: CriterionInput) -> tuple[Decimal, str]:
    for answer, n in inputs.answers.items():
        if not 1 <= answer <= rule.scale:
            raise ctx.error("answers", f"phương án trả lời {answer} ngoài thang 1–{rule.scale}")
        if n < 0:
            raise ctx.error("answers", f"số người chọn phương án {answer} không được là số âm")
    respondents = sum(inputs.answers.values())
    if respondents == 0:
        raise ctx.error("answers", "chưa có phiếu trả lời nào (B = 0)")
    weighted = sum(answer * n for answer, n in inputs.answers.items())
    mean = Decimal(weighted) / Decimal(respondents)
    score, text = ctx.amount(mean * ctx.max / Decimal(rule.scale))
    shown = quantize(mean, 3).normalize()
    mean_text = f"{weighted}/{respondents} {'=' if shown == mean else '≈'} {_num(shown)}"
    return score, (
        f"{respondents} phiếu trả lời, điểm trung bình {mean_text} trên thang {rule.scale}, "
        f"quy đổi × {_num(ctx.max)} điểm / {rule.scale} = {text}"
    )


def _manual(ctx: _Ctx, step: Decimal | None, inputs: CriterionInput) -> tuple[Decimal, str]:
    score = ctx.required("score", inputs.score, "điểm")
    if not score.is_finite():
        raise ctx.error("score", "điểm không hợp lệ")
    if score < 0 or score > ctx.max:
        raise ctx.error("score", f"điểm phải từ 0 đến {_num(ctx.max)} (đã nhập {_num(score)})")
    if step is not None and step > 0 and score != ctx.max and score % step != 0:
        raise ctx.error("score", f"điểm phải là bội số của {_num(step)} (đã nhập {_num(score)})")
    # A step is the grid of allowed scores; without one, any score with up to three decimals
    # (DOMAIN: "exact decimals with up to three places"), fewer if the framework rounds to fewer:
    # a written 2,868 or 0,1 is accepted as it is.
    places = min(MANUAL_PLACES, ctx.places)
    if not (step and step > 0) and quantize(score, places, ctx.rounding) != score:
        raise ctx.error("score", f"điểm có quá {places} chữ số thập phân (đã nhập {_num(score)})")
    final, text = ctx.amount(score)
    return final, f"Điểm chấm trực tiếp: {text}"


def _signed_change(value: Decimal, up: str, same: str, down: str) -> str:
    if value > 0:
        return up.format(_num(value))
    if value < 0:
        return down.format(_num(-value))
    return same


def _derived(ctx: _Ctx, rule: DerivedRule, inputs: CriterionInput) -> tuple[Decimal, str]:
    value = ctx.required("value", inputs.value, "giá trị do hệ thống cung cấp")
    if not value.is_finite():
        raise ctx.error("value", "giá trị không hợp lệ")
    if rule.source is DerivedSource.submission_days_late:
        # Early submission is on time: the rule only knows lateness.
        value = max(value, ZERO)
        what = "Gửi báo cáo đúng hạn" if value == 0 else f"Gửi báo cáo chậm {_num(value)} ngày"
        unit = " ngày"
    elif rule.source is DerivedSource.rank_change:
        what = _signed_change(
            value,
            "Xếp hạng tăng {} bậc so với năm trước",
            "Xếp hạng bằng năm trước",
            "Xếp hạng giảm {} bậc so với năm trước",
        )
        unit = ""
    elif rule.source is DerivedSource.score_change:
        what = _signed_change(
            value,
            "Điểm số cao hơn năm trước {} điểm",
            "Điểm số bằng năm trước",
            "Điểm số thấp hơn năm trước {} điểm",
        )
        unit = ""
    else:
        what = "Theo quyết định của Hội đồng thẩm định"
        unit = ""
    if rule.bands:
        score, text = _match_band(ctx, rule.bands, value, what, unit)
        return score, text
    score, text = ctx.amount(value)
    return score, f"{what}: {text}"


# --- entry points ---------------------------------------------------------------------------


def _not_applicable(ctx: _Ctx) -> RuleResult:
    node = ctx.node
    if node.na_policy is NotApplicablePolicy.exclude:
        return RuleResult(
            score=ctx.finish(ZERO),
            explanation="Không phát sinh nhiệm vụ: không chấm điểm, không tính vào điểm tối đa",
            not_applicable=True,
            counts_in_max=False,
        )
    if node.na_policy is NotApplicablePolicy.fixed_points:
        if node.na_points is None:
            raise ctx.error("na_points", "bộ tiêu chí chưa quy định số điểm khi không phát sinh")
        score, text = ctx.amount(node.na_points)
        return RuleResult(
            score=score,
            explanation=f"Không phát sinh, theo quy định của tiêu chí được {text}",
            not_applicable=True,
            counts_in_max=True,
        )
    raise ctx.error(
        "not_applicable", "tiêu chí này luôn phải chấm điểm, không được đánh dấu không phát sinh"
    )


def _apply(ctx: _Ctx, rule: Rule | None, inputs: CriterionInput) -> tuple[Decimal, str]:
    if rule is None:
        # A criterion transcribed without a structured rule is scored by hand, without a step.
        return _manual(ctx, None, inputs)
    if isinstance(rule, LevelsRule):
        return _levels(ctx, rule, inputs)
    if isinstance(rule, ProportionalRule):
        return _proportional(ctx, rule, inputs)
    if isinstance(rule, BandsRule):
        return _bands(ctx, rule, inputs)
    if isinstance(rule, LevelRateRule):
        return _level_rate(ctx, rule, inputs)
    if isinstance(rule, DeductionRule):
        return _deduction(ctx, rule, inputs)
    if isinstance(rule, ChecklistRule):
        return _checklist(ctx, rule, inputs)
    if isinstance(rule, CountedRule):
        return _counted(ctx, rule, inputs)
    if isinstance(rule, SurveyRule):
        return _survey(ctx, rule, inputs)
    if isinstance(rule, ManualRule):
        return _manual(ctx, rule.step, inputs)
    return _derived(ctx, rule, inputs)


def evaluate(
    node: Node,
    inputs: CriterionInput,
    *,
    decimal_places: int = 3,
    rounding: RoundingMode = RoundingMode.half_up,
) -> RuleResult:
    """Scores one leaf from its inputs; RuleInputError when the inputs do not fit its rule."""
    if node.children:
        raise ValueError(f"criterion {node.code} has children: only leaves carry a rule")
    ctx = _Ctx(node, decimal_places, rounding)
    check_bounded(node, inputs)
    if inputs.not_applicable:
        # The other fields of a criterion marked not applicable are ignored, not judged: a form
        # may still carry the level picked before the box was ticked.
        return _not_applicable(ctx)
    check_kind(node, inputs)
    score, text = _apply(ctx, node.rule, inputs)
    return RuleResult(score=score, explanation=_sentence(text))


def evaluate_criterion(framework: Framework, code: str, inputs: CriterionInput) -> RuleResult:
    """Scores the leaf ``code`` of a framework with the framework's places and rounding."""
    return evaluate(
        framework.node(code),
        inputs,
        decimal_places=framework.decimal_places,
        rounding=framework.rounding,
    )


def _inside_top_band(bands: Sequence[Band], *, default: Decimal, step: Decimal) -> Decimal:
    top = max(bands, key=lambda b: b.points)
    if top.min is None:
        return default if top.max is None or default < top.max else top.max - step
    return top.min if top.min_inclusive else top.min + step


def full_marks_inputs(node: Node) -> CriterionInput:
    """Inputs that earn a leaf its full points: a diligent unit, or the council's "first year:
    full marks" decision; the demo, the scenarios of the tests and the benchmarks use it."""
    rule = node.rule
    if isinstance(rule, LevelsRule):
        return CriterionInput(level=max(rule.options, key=lambda o: o.points).key)
    if isinstance(rule, ProportionalRule):
        return CriterionInput(rate=HUNDRED)
    if isinstance(rule, BandsRule):
        if rule.measure == "rate":
            rate = _inside_top_band(rule.bands, default=HUNDRED, step=Decimal("0.01"))
            return CriterionInput(rate=min(rate, HUNDRED))
        count = _inside_top_band(rule.bands, default=ZERO, step=Decimal(1))
        return CriterionInput(count=int(count))
    if isinstance(rule, LevelRateRule):
        best = max(rule.options, key=lambda o: o.points)
        return CriterionInput(level=best.key, rate=HUNDRED)
    if isinstance(rule, DeductionRule):
        return CriterionInput(failed=0)
    if isinstance(rule, ChecklistRule):
        return CriterionInput(checked=tuple(i.key for i in rule.items))
    if isinstance(rule, CountedRule):
        return CriterionInput(counts={rule.items[0].key: 10})
    if isinstance(rule, SurveyRule):
        return CriterionInput(answers={rule.scale: 3})
    if isinstance(rule, DerivedRule):
        if rule.bands:
            value = _inside_top_band(rule.bands, default=Decimal(1), step=Decimal("0.001"))
            return CriterionInput(value=value)
        return CriterionInput(value=node.max_points)
    return CriterionInput(score=node.max_points)  # manual, or a leaf without a rule
