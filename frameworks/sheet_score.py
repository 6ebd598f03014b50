"""Scores a filled table with the engine (issue 12, item 7): the inputs each row's written score
and explanation give, the engine's score beside the written one, and the totals.

For every leaf of the framework the row with the same code is looked up and its inputs are
read where they can be, in this order:
- a fraction "84/87" in the explanation gives the numerator and denominator of a rate rule, a
  percentage "95,6%" the rate (proportional, bands of a rate, level × rate);
- the written score gives: a manual score; the level whose points it equals; the checklist
  items whose points add up to it (when exactly one subset does); the failed items of a
  deduction ((max − score) / per item); the count of a counted rule (score / points);
- a level × rate takes the level whose points × rate give the written score, else the best.
What cannot be read is said per row ("không đọc được số liệu"); survey and derived leaves are
left to the written score. Nothing here guesses silently: each row says where its inputs came
from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations
from typing import Any

from frameworks.annex import AnnexImport, ImportedNode
from models.framework import (
    BandsRule,
    ChecklistRule,
    CountedRule,
    DeductionRule,
    Framework,
    LevelRateRule,
    LevelsRule,
    ManualRule,
    Node,
    ProportionalRule,
)
from models.inputs import CriterionInput
from scoring.aggregate import score_sheet
from scoring.rules import RuleInputError, RuleResult, evaluate, quantize

__all__ = ["ScoredRow", "SheetScoreReport", "score_table"]

_FRACTION = re.compile(r"(?<![\d/.,])(\d{1,9})\s*/\s*(\d{1,9})(?![\d/]|\s*/)")
_PERCENT = re.compile(r"(\d{1,3}(?:[.,]\d{1,6})?)\s*%")
_MAX_SUBSET_ITEMS = 12  # 4 096 subsets at most for a checklist


@dataclass(frozen=True)
class ScoredRow:
    """One leaf: the score written, the engine's, the inputs used and where they came from."""

    code: str
    line: int | None
    written: Decimal | None
    engine: Decimal | None
    inputs: dict[str, Any]
    explanation: str
    note: str

    @property
    def differs(self) -> bool:
        """True when both scores are known and disagree."""
        return self.written is not None and self.engine is not None and self.written != self.engine


@dataclass(frozen=True)
class SheetScoreReport:
    """Every leaf and the totals, written and computed."""

    rows: tuple[ScoredRow, ...]
    written_total: Decimal | None
    engine_total: Decimal
    max_total: Decimal

    @property
    def differences(self) -> int:
        """Rows (and the total) where the engine disagrees with the table."""
        total = int(self.written_total is not None and self.written_total != self.engine_total)
        return sum(1 for r in self.rows if r.differs) + total

    def to_json(self) -> dict[str, Any]:
        """The shape of `sheet score --json`."""
        return {
            "rows": [
                {
                    "code": r.code,
                    "line": r.line,
                    "written": _dec(r.written),
                    "engine": _dec(r.engine),
                    "inputs": r.inputs,
                    "explanation": r.explanation,
                    "note": r.note,
                }
                for r in self.rows
            ],
            "total": {"written": _dec(self.written_total), "engine": _dec(self.engine_total)},
            "max_total": _dec(self.max_total),
            "differences": self.differences,
        }


def _dec(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return f"{value.normalize():f}" if value != value.to_integral_value() else f"{value:.0f}"


def _rate_inputs(text: str) -> tuple[dict[str, Any], str]:
    fraction = _FRACTION.search(text)
    if fraction:
        num, den = int(fraction.group(1)), int(fraction.group(2))
        if den > 0 and num <= den:
            return {"numerator": num, "denominator": den}, f"tỷ lệ {num}/{den} đọc từ giải trình"
    percent = _PERCENT.search(text)
    if percent:
        rate = Decimal(percent.group(1).replace(",", "."))
        if rate <= 100:
            return {"rate": rate}, f"tỷ lệ {percent.group(0)} đọc từ giải trình"
    return {}, ""


def _checklist_keys(rule: ChecklistRule, score: Decimal) -> tuple[str, ...] | None:
    items = rule.items
    if len(items) > _MAX_SUBSET_ITEMS:
        return None
    found = [
        combo
        for n in range(len(items) + 1)
        for combo in combinations(items, n)
        if sum((o.points for o in combo), Decimal(0)) == score
    ]
    return tuple(o.key for o in found[0]) if len(found) == 1 else None


_Inputs = tuple[dict[str, Any] | None, str]


def _level_rate_inputs(
    node: Node, rule: LevelRateRule, written: Decimal | None, text: str
) -> _Inputs:
    """The rate from the explanation and the level whose points × rate give the written score."""
    data, why = _rate_inputs(text)
    if not data:
        return None, "không đọc được tỷ lệ trong giải trình"
    best = max(rule.options, key=lambda o: o.points)
    level = best
    for option in rule.options:
        probe = evaluate(node, CriterionInput(level=option.key, **data))
        if written is not None and probe.score == written:
            level = option
            break
    return {"level": level.key, **data}, f"{why}; mức “{level.label}”"


def _levels_inputs(rule: LevelsRule, written: Decimal) -> _Inputs:
    matching = [o for o in rule.options if o.points == written]
    if len(matching) == 1:
        return {"level": matching[0].key}, f"mức “{matching[0].label}” theo điểm ghi"
    return None, "điểm ghi không ứng với đúng một mức"


def _checklist_inputs(rule: ChecklistRule, written: Decimal) -> _Inputs:
    keys = _checklist_keys(rule, written)
    if keys is not None:
        return {"checked": keys}, "các nội dung đạt có tổng điểm bằng điểm ghi"
    return None, "không xác định được các nội dung đạt từ điểm ghi"


def _deduction_inputs(node: Node, rule: DeductionRule, written: Decimal) -> _Inputs:
    failed = (node.max_points - written) / rule.per_item
    if failed >= 0 and failed == failed.to_integral_value():
        return {"failed": int(failed)}, "số nội dung không đạt suy từ điểm ghi"
    return None, "điểm ghi không ứng với số nội dung không đạt"


def _counted_inputs(rule: CountedRule, written: Decimal) -> _Inputs:
    per = rule.items[0].points
    count = written / per if per else Decimal(-1)
    if count >= 0 and count == count.to_integral_value():
        return {"counts": {rule.items[0].key: int(count)}}, "số lượng suy từ điểm ghi"
    return None, "điểm ghi không ứng với số lượng"


def _inputs_from_written(node: Node, written: Decimal) -> _Inputs:
    """The inputs a written score gives for the rules that read one (levels, items, counts)."""
    rule = node.rule
    if isinstance(rule, LevelsRule):
        return _levels_inputs(rule, written)
    if isinstance(rule, ChecklistRule):
        return _checklist_inputs(rule, written)
    if isinstance(rule, DeductionRule):
        return _deduction_inputs(node, rule, written)
    if isinstance(rule, CountedRule):
        return _counted_inputs(rule, written)
    return None, "cách chấm này cần số liệu khác (điều tra, hệ thống): giữ điểm ghi"


def _inputs_for(node: Node, entry: ImportedNode | None) -> _Inputs:
    """The inputs read for one leaf, and where they came from (or why there are none)."""
    if entry is None:
        return None, "không có dòng này trong bảng"
    written, text = entry.stated_self, entry.explanation
    rule = node.rule
    if rule is None or isinstance(rule, ManualRule):
        if written is None:
            return None, "chưa ghi điểm"
        return {"score": written}, "điểm ghi trong bảng (chấm tay)"
    if isinstance(rule, ProportionalRule) or (
        isinstance(rule, BandsRule) and rule.measure == "rate"
    ):
        data, why = _rate_inputs(text)
        return (data, why) if data else (None, "không đọc được tỷ lệ trong giải trình")
    if isinstance(rule, LevelRateRule):
        return _level_rate_inputs(node, rule, written, text)
    if written is None:
        return None, "chưa ghi điểm"
    return _inputs_from_written(node, written)


def score_table(framework: Framework, imported: AnnexImport) -> SheetScoreReport:
    """Enters the inputs each row gives and scores them with ``framework``'s rules."""
    entries = {e.code: e for e in imported.entries}
    rows: list[ScoredRow] = []
    results: dict[str, RuleResult | Decimal | None] = {}
    for leaf in framework.leaves():
        entry = entries.get(leaf.code)
        data, why = _inputs_for(leaf, entry)
        engine: Decimal | None = None
        text = ""
        if data is not None:
            try:
                result = evaluate(
                    leaf,
                    CriterionInput.model_validate(data),
                    decimal_places=framework.decimal_places,
                    rounding=framework.rounding,
                )
                engine, text = result.score, result.explanation
                results[leaf.code] = result
            except (RuleInputError, ValueError) as exc:
                why = f"{why}; số liệu không hợp với cách chấm: {exc}"
        written = entry.stated_self if entry else None
        if leaf.code not in results:
            results[leaf.code] = written
        rows.append(
            ScoredRow(
                code=leaf.code,
                line=entry.line if entry else None,
                written=written,
                engine=None if engine is None else quantize(engine, framework.decimal_places),
                inputs=_jsonable(data or {}),
                explanation=text,
                note=why,
            )
        )
    sheet = score_sheet(framework, results)
    return SheetScoreReport(
        rows=tuple(rows),
        written_total=imported.total.self_score if imported.total else None,
        engine_total=sheet.total,
        max_total=sheet.max_total,
    )


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Decimal):
            out[key] = _dec(value)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            out[key] = list(value)
        else:
            out[key] = value
    return out
