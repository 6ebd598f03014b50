"""The scoring rule a leaf's text states, recognised from the wordings of real tables.

Options and their points come in their own rows (the annex importer collects them), or in the
criterion cell: "- Có thực hiện = 1 điểm", "Ban hành đúng hạn: 2 điểm", "Ban hành đúng hạn
(2 điểm)". From those and the cell's text:

- survey: the self-score column says "XHH";
- proportional: "tỷ lệ … × điểm tối đa" (a floor from "dưới 80% … 0 điểm");
- level × rate: levels with points and "× tỷ lệ" (points of the level times the on-time rate);
- bands: every option is a range of a rate: "từ 80% đến dưới 90%", "trên 80%", "dưới 50%",
  "100%", "từ 90% trở lên";
- deduction: "mỗi … trừ 0,5 điểm" (from the max, never below 0);
- counted: "mỗi … được 1 điểm" / "cộng 1 điểm" (per item, capped at the max);
- checklist: options whose points add up to the max; levels: options whose best is the max;
- manual: nothing recognised (a person types the score).

``infer_rule`` returns the rule, its kind, one Vietnamese sentence saying why, and the text it
was read from, so a user can check it and correct the rule in the YAML.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.vn import parse_vn_decimal, vn_decimal
from models.framework import (
    Band,
    BandsRule,
    ChecklistRule,
    CountedRule,
    DeductionRule,
    LevelRateRule,
    LevelsRule,
    ManualRule,
    Option,
    ProportionalRule,
    Rule,
    SurveyRule,
)

__all__ = ["InferredRule", "infer_rule", "options_in_text", "rate_band"]

_NUM = r"(\d+(?:[.,]\d+)?)"
_POINTS_IN_TEXT = re.compile(rf"=\s*{_NUM}\s*(?:điểm|đ)(?!\w)", re.IGNORECASE)
# The label may hold a parenthesis: "BCĐ họp 4 lần/ năm (Trung bình mỗi quý 1 lần): 20 điểm".
_LABELLED = re.compile(
    rf"^\s*[-–—+•*]*\s*(?P<label>[^:\n]{{2,200}}?)\s*(?::\s*{_NUM}\s*(?:điểm|đ)\b\.?"
    rf"|\(\s*{_NUM}\s*(?:điểm|đ)\s*\))\s*[.;,]?\s*$",
    re.IGNORECASE,
)
_DEDUCT_EACH = re.compile(
    rf"mỗi\s+(?P<item>[^.;\n=]{{1,120}}?)\s*(?:thì\s*)?(?:bị\s*)?trừ\s*{_NUM}\s*(?:điểm|đ)(?!\w)",
    re.IGNORECASE,
)
_DEDUCT_ONE = re.compile(rf"trừ\s*{_NUM}\s*(?:điểm|đ)(?!\w)", re.IGNORECASE)
_COUNT_EACH = re.compile(
    rf"mỗi\s+(?P<item>[^.;\n=]{{1,120}}?)\s*(?:thì\s*)?(?:được\s*)?(?:cộng|tính|chấm|được)\s*"
    rf"{_NUM}\s*(?:điểm|đ)(?!\w)",
    re.IGNORECASE,
)
_TIMES = r"[x×*]|nhân\s+(?:với)?"
_PROPORTIONAL = re.compile(
    rf"tỷ\s*lệ[^\n]{{0,160}}?(?:{_TIMES})\s*(?:với\s*)?(?:số\s*)?điểm\s*(?:tối\s*đa|chuẩn)",
    re.IGNORECASE,
)
# "(Tỷ lệ % thực hiện kế hoạch x 5 điểm)/100", "Tỷ lệ % … * 2 điểm/100" (Định Hóa 6.2, X)
_PROPORTIONAL_POINTS = re.compile(
    rf"tỷ\s*lệ[^\n]{{0,200}}?(?:{_TIMES})\s*{_NUM}\s*(?:điểm|đ)\s*\)?\s*/\s*100",
    re.IGNORECASE,
)
_LEVEL_TIMES_RATE = re.compile(
    rf"(?:(?:{_TIMES})\s*(?:với\s*)?tỷ\s*lệ)|(?:tỷ\s*lệ[^\n]{{0,120}}?(?:{_TIMES})\s*"
    r"(?:với\s*)?(?:số\s*)?điểm\s*(?:của\s*)?(?:mức|tương\s*ứng))",
    re.IGNORECASE,
)
_FLOOR = re.compile(
    rf"(?:dưới|thấp\s*hơn|không\s*đạt)\s*{_NUM}\s*%[^\n.;]{{0,60}}?0\s*điểm", re.IGNORECASE
)
_LEADING_MARKS = re.compile(r"^[\s.,;:\-–—+•*]+")
_BULLET = re.compile(r"[-–—•*+]+")

_PCT = rf"{_NUM}\s*%"
_RANGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"từ\s*{_PCT}\s*(?:đến|tới|-|–)\s*(?:dưới|<)\s*{_PCT}", re.I), "[)"),
    (re.compile(rf"(?:trên|>)\s*{_PCT}\s*(?:đến|tới|-|–)\s*(?:dưới|<)\s*{_PCT}", re.I), "()"),
    (re.compile(rf"(?:trên|>)\s*{_PCT}\s*(?:đến|tới|-|–)\s*{_PCT}", re.I), "(]"),
    (re.compile(rf"từ\s*{_PCT}\s*(?:đến|tới|-|–)\s*{_PCT}", re.I), "[]"),
    (re.compile(rf"{_PCT}\s*(?:-|–)\s*(?:dưới|<)\s*{_PCT}", re.I), "[)"),
    (re.compile(rf"(?:từ|≥|>=)\s*{_PCT}\s*(?:trở\s*lên)?", re.I), "[+"),
    (re.compile(rf"{_PCT}\s*trở\s*lên", re.I), "[+"),
    (re.compile(rf"(?:trên|>)\s*{_PCT}", re.I), "(+"),
    (re.compile(rf"(?:dưới|<|thấp\s*hơn)\s*{_PCT}", re.I), "-)"),
    (re.compile(rf"(?:đạt\s*)?{_PCT}", re.I), "=="),
)


@dataclass(frozen=True)
class InferredRule:
    """A rule read from a leaf's text: the rule, its kind, why (Vietnamese), the text read."""

    rule: Rule
    kind: str
    note: str
    source: str


def _number(text: str) -> Decimal | None:
    try:
        return parse_vn_decimal(text)
    except ValueError:
        return None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


def options_in_text(text: str) -> list[tuple[str, Decimal]]:
    """Options written in a cell: "- Có = 1 điểm", "Đúng hạn: 2 điểm", "Đúng hạn (2 điểm)"."""
    options: list[tuple[str, Decimal]] = []
    previous = 0
    for match in _POINTS_IN_TEXT.finditer(text):
        lines = [
            ln.strip()
            for ln in text[previous : match.start()].split("\n")
            if _LEADING_MARKS.sub("", ln).strip()
        ]
        previous = match.end()
        if not lines:
            continue
        bullets = [i for i, ln in enumerate(lines) if _BULLET.match(ln)]
        chosen = lines[bullets[-1] :] if bullets else lines[-1:]
        label = _LEADING_MARKS.sub("", " ".join(chosen)).strip().rstrip(",;:")
        points = _number(match.group(1))
        if label and points is not None:
            options.append((label, points))
    if options:
        return options
    for line in text.split("\n"):
        m = _LABELLED.match(line)
        if m:
            points = _number(m.group(2) or m.group(3))
            label = _LEADING_MARKS.sub("", m.group("label")).strip()
            if points is not None and label:
                options.append((label, points))
    return options


def rate_band(label: str, points: Decimal) -> Band | None:
    """The range of a rate a label states ("từ 80% đến dưới 90%" → [80, 90)), or None."""
    for pattern, shape in _RANGES:
        m = pattern.search(label)
        if not m:
            continue
        a = _number(m.group(1))
        b = _number(m.group(2)) if m.lastindex and m.lastindex >= 2 else None
        if a is None:
            return None
        if shape in ("[)", "()", "(]", "[]"):
            if b is None or b < a:
                return None
            return Band(
                min=a,
                max=b,
                min_inclusive=shape[0] == "[",
                max_inclusive=shape[1] == "]",
                points=points,
                label=label,
            )
        if shape == "[+":
            return Band(min=a, points=points, label=label)
        if shape == "(+":
            return Band(min=a, min_inclusive=False, points=points, label=label)
        if shape == "-)":
            return Band(max=a, points=points, label=label)
        return Band(min=a, max=a, max_inclusive=True, points=points, label=label)
    return None


def _points_list(values: Iterable[Decimal]) -> str:
    return "; ".join(vn_decimal(v) for v in values)


def _items(found: Sequence[tuple[str, Decimal]]) -> tuple[Option, ...]:
    return tuple(
        Option(key=str(i), label=label, points=p) for i, (label, p) in enumerate(found, start=1)
    )


def _source(found: Sequence[tuple[str, Decimal]]) -> str:
    return "; ".join(f"{label}: {vn_decimal(p)} điểm" for label, p in found)


@dataclass(frozen=True)
class _Leaf:
    """What the recognisers read: the leaf's text, its options and its max (also as text)."""

    text: str
    found: tuple[tuple[str, Decimal], ...]
    max_points: Decimal
    top: str


def _proportional(leaf: _Leaf) -> InferredRule | None:
    proportional = _PROPORTIONAL.search(leaf.text)
    by_points = _PROPORTIONAL_POINTS.search(leaf.text)
    if by_points and _number(by_points.group(1)) == leaf.max_points:
        proportional = by_points
    # The only options beside a proportional rule are its floor ("dưới 80% = 0 điểm").
    if not proportional or not all(p == 0 for _, p in leaf.found):
        return None
    floor_match = _FLOOR.search(leaf.text)
    floor = _number(floor_match.group(1)) if floor_match else None
    floor_text = f", dưới {vn_decimal(floor)}% được 0 điểm" if floor is not None else ""
    rule: Rule = ProportionalRule(floor=floor if floor is not None else Decimal(0))
    return InferredRule(
        rule,
        "proportional",
        f"tỷ lệ × điểm tối đa {leaf.top}{floor_text}",
        proportional.group(0) + (f" … {floor_match.group(0)}" if floor_match else ""),
    )


def _level_rate(leaf: _Leaf) -> InferredRule | None:
    found = leaf.found
    times_rate = _LEVEL_TIMES_RATE.search(leaf.text)
    if not (found and times_rate and max(p for _, p in found) == leaf.max_points):
        return None
    return InferredRule(
        LevelRateRule(options=_items(found)),
        "level_rate",
        f"điểm của mức ({_points_list(p for _, p in found)}) × tỷ lệ",
        f"{_source(found)} … {times_rate.group(0)}",
    )


def _bands(leaf: _Leaf) -> InferredRule | None:
    found = leaf.found
    if len(found) < 2:
        return None
    bands = [rate_band(label, p) for label, p in found]
    ranges = {(b.min, b.max, b.min_inclusive, b.max_inclusive) for b in bands if b}
    # Not bands when two options state the same range (levels that differ by something
    # else: "100% đúng tiến độ" / "100% … nhưng có nhiệm vụ chậm") or an option is itself
    # a deduction ("… trên 30% (mỗi tiêu chí không đạt trừ 0,5 điểm)").
    if (
        any(b is None for b in bands)
        or len(ranges) != len(bands)
        or any(_DEDUCT_ONE.search(label) for label, _ in found)
    ):
        return None
    kept = tuple(b for b in bands if b is not None)
    return InferredRule(
        BandsRule(bands=kept),
        "bands",
        f"khung tỷ lệ: {'; '.join(f'{b.label} → {vn_decimal(b.points)}' for b in kept)}",
        _source(found),
    )


def _deduction_each(leaf: _Leaf) -> InferredRule | None:
    deduct = _DEDUCT_EACH.search(leaf.text)
    if not deduct or leaf.found:
        return None
    per_item = _number(deduct.group(2))
    if per_item is None or per_item <= 0:
        return None
    return InferredRule(
        DeductionRule(per_item=per_item, item_label=deduct.group("item").strip()),
        "deduction",
        f"trừ {vn_decimal(per_item)} điểm mỗi mục không đạt từ {leaf.top}",
        deduct.group(0),
    )


def _counted_each(leaf: _Leaf) -> InferredRule | None:
    counted = _COUNT_EACH.search(leaf.text)
    if not counted or leaf.found:
        return None
    per_item = _number(counted.group(2))
    if per_item is None or per_item <= 0:
        return None
    item = counted.group("item").strip()
    return InferredRule(
        CountedRule(items=(Option(key="1", label=item, points=per_item),)),
        "counted",
        f"{vn_decimal(per_item)} điểm cho mỗi {item}, tối đa {leaf.top}",
        counted.group(0),
    )


def _no_options(leaf: _Leaf) -> InferredRule | None:
    if leaf.found:
        return None
    return InferredRule(ManualRule(), "manual", "không nêu mức điểm nào: chấm tay", "")


def _one_deduction(leaf: _Leaf) -> InferredRule | None:
    found = leaf.found
    if len(found) != 1 or found[0][1] != leaf.max_points:
        return None
    one = _DEDUCT_ONE.search(found[0][0])
    per_item = _number(one.group(1)) if one else None
    if per_item is None or per_item <= 0:
        return None
    return InferredRule(
        DeductionRule(per_item=per_item, item_label=found[0][0]),
        "deduction",
        f"trừ {vn_decimal(per_item)} điểm mỗi mục không đạt từ {leaf.top}",
        _source(found),
    )


def _by_points(leaf: _Leaf) -> InferredRule:
    """The options' points against the max: a checklist, levels, or (no fit) a manual score."""
    found, top, max_points = leaf.found, leaf.top, leaf.max_points
    points = [p for _, p in found]
    items = _items(found)
    if all(p > 0 for p in points) and sum(points) == max_points:
        if len(points) == 1:
            note = f"một mục đạt hoặc không đạt: {top} điểm hoặc 0"
        else:
            sum_text = " + ".join(vn_decimal(p) for p in points)
            note = f"danh sách mục cộng dồn: {sum_text} = {top} (bằng điểm tối đa)"
        return InferredRule(ChecklistRule(items=items), "checklist", note, _source(found))
    if max(points) == max_points:
        return InferredRule(
            LevelsRule(options=items),
            "levels",
            f"chọn một mức: {_points_list(points)} (mức cao nhất bằng điểm tối đa {top})",
            _source(found),
        )
    if max(points) < max_points and sum(points) != max_points:
        # Levels whose best stays below the max (Quảng Điền II.6.3: 1; 0 under a max of 2):
        # the levels are what the document says; the "max reachable" check flags the gap.
        return InferredRule(
            LevelsRule(options=items),
            "levels",
            f"chọn một mức: {_points_list(points)} — mức cao nhất {vn_decimal(max(points))} "
            f"thấp hơn điểm tối đa {top}",
            _source(found),
        )
    return InferredRule(
        ManualRule(),
        "manual",
        f"các mức {_points_list(points)} không khớp điểm tối đa {top} "
        "(tổng và mức cao nhất đều khác): chấm tay",
        _source(found),
    )


# Tried in this order; the first that recognises the leaf wins, else ``_by_points``.
_RECOGNISERS: tuple[Callable[[_Leaf], InferredRule | None], ...] = (
    _proportional,
    _level_rate,
    _bands,
    _deduction_each,
    _counted_each,
    _no_options,
    _one_deduction,
)


def infer_rule(
    options: Sequence[tuple[str, Decimal]],
    guidance: Sequence[str],
    self_note: str,
    max_points: Decimal,
) -> InferredRule:
    """The rule a leaf's options (own rows) and text state; see the module docstring."""
    text = "\n".join(guidance)
    if _fold(self_note) == "xhh":
        return InferredRule(
            SurveyRule(), "survey", "điểm tự chấm ghi “XHH”: điểm lấy từ điều tra xã hội học", "XHH"
        )
    found = list(options) or options_in_text(text)
    leaf = _Leaf(text, tuple(found), max_points, vn_decimal(max_points))
    for recognise in _RECOGNISERS:
        inferred = recognise(leaf)
        if inferred is not None:
            return inferred
    return _by_points(leaf)
