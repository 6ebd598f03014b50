"""Inputs checked against a leaf's rule before any arithmetic: the error type, the fields each
rule reads, the bounds on every number, and the refusal of an input the rule does not read.

``evaluate`` (scoring.rules) calls ``check_bounded`` then ``check_kind``; the API, the forms and
the importer's ``sheet score`` reach the rules only through it.
"""

from __future__ import annotations

from models.framework import BandsRule, Node, NotApplicablePolicy
from models.inputs import CriterionInput

__all__ = [
    "MAX_DECIMALS",
    "MAX_DIGITS",
    "RuleInputError",
    "check_bounded",
    "check_kind",
    "input_fields",
    "rule_key",
]

# The largest magnitude and the most digits a Decimal input may have when it reaches a rule
# (models.inputs bounds what the API and the forms accept; this guard also covers inputs built
# in code): checked on the digits and exponent, without expanding the number.
MAX_DIGITS = 15
MAX_DECIMALS = 6


class RuleInputError(ValueError):
    """Inputs that do not fit a criterion's rule; ``code`` is the criterion, ``field`` the input."""

    def __init__(self, code: str, field: str, reason: str) -> None:
        super().__init__(code, field, reason)
        self.code = code
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"criterion {self.code}, field '{self.field}': {self.reason}"

    @property
    def message_vi(self) -> str:
        """The error for a Vietnamese reader: "Tiêu chí 2.3.4, trường 'level': …"."""
        return f"Tiêu chí {self.code}, trường '{self.field}': {self.reason}"


_FIELDS: dict[str, tuple[str, ...]] = {
    "levels": ("level",),
    "proportional": ("rate", "numerator", "denominator"),
    "bands_rate": ("rate", "numerator", "denominator"),
    "bands_count": ("count",),
    "level_rate": ("level", "rate", "numerator", "denominator"),
    "deduction": ("failed",),
    "checklist": ("checked",),
    "counted": ("counts",),
    "survey": ("answers",),
    "manual": ("score",),
    "derived": ("value",),
}


def input_fields(node: Node) -> tuple[str, ...]:
    """The ``CriterionInput`` fields a leaf's rule reads (plus ``not_applicable`` if allowed)."""
    fields = _FIELDS[rule_key(node)]
    if node.na_policy is not NotApplicablePolicy.forbidden:
        fields = ("not_applicable", *fields)
    return fields


_KIND_VI = {
    "levels": "mức đạt được",
    "proportional": "tỷ lệ",
    "bands_rate": "khung tỷ lệ",
    "bands_count": "khung số lượng",
    "level_rate": "mức đạt được × tỷ lệ",
    "deduction": "số nội dung không đạt (trừ điểm)",
    "checklist": "các nội dung đạt",
    "counted": "số lượng theo loại",
    "survey": "phiếu điều tra",
    "manual": "điểm chấm trực tiếp",
    "derived": "giá trị do hệ thống cung cấp",
}


def rule_key(node: Node) -> str:
    """The key of a leaf's rule kind: its ``kind``, bands split by measure, manual if none."""
    rule = node.rule
    if rule is None:
        return "manual"
    if isinstance(rule, BandsRule):
        return f"bands_{rule.measure}"
    return rule.kind


def check_bounded(node: Node, inputs: CriterionInput) -> None:
    """Refuses a number too long or too large to compute with, before any arithmetic."""
    for field in ("rate", "score", "value"):
        d = getattr(inputs, field)
        if d is None:
            continue
        if not d.is_finite():
            raise RuleInputError(node.code, field, "giá trị không phải là một số hữu hạn")
        _sign, digits, exponent = d.as_tuple()
        assert isinstance(exponent, int)  # finite: an int exponent
        # The number of digits written out (without expanding 1E+3000000000) and the decimals.
        whole = len(digits) + exponent if exponent > 0 else len(digits)
        if whole > MAX_DIGITS or -exponent > MAX_DECIMALS:
            raise RuleInputError(
                node.code,
                field,
                f"số quá dài (tối đa {MAX_DIGITS} chữ số, {MAX_DECIMALS} chữ số thập phân)",
            )
    limit = 1_000_000_000
    ints: list[tuple[str, int | None]] = [
        ("numerator", inputs.numerator),
        ("denominator", inputs.denominator),
        ("count", inputs.count),
        ("failed", inputs.failed),
    ]
    ints += [("counts", n) for n in inputs.counts.values()]
    ints += [("answers", n) for pair in inputs.answers.items() for n in pair]
    for field, n in ints:
        if n is not None and abs(n) > limit:
            raise RuleInputError(node.code, field, "số quá lớn (tối đa 1.000.000.000)")


def check_kind(node: Node, inputs: CriterionInput) -> None:
    """Refuses an input the leaf's rule does not read (a score for a checklist, a level for a
    counted leaf): silently ignoring it would score 0 for what the user believes they entered."""
    allowed = set(input_fields(node))
    given = [f for f in type(inputs).model_fields if f != "not_applicable" and _given(inputs, f)]
    for field in given:
        if field not in allowed:
            wanted = ", ".join(f"'{f}'" for f in input_fields(node) if f != "not_applicable")
            raise RuleInputError(
                node.code,
                field,
                f"tiêu chí này chấm theo {_KIND_VI[rule_key(node)]}, không nhận trường "
                f"'{field}' (cần nhập: {wanted})",
            )


def _given(inputs: CriterionInput, field: str) -> bool:
    value = getattr(inputs, field)
    return value is not None and value != () and value != {}
