"""Inputs checked against the rule (issue 12, item 4).

- every number is bounded (digits, exponent, range) before any arithmetic or formatting:
  ``1E+3000000000`` is refused by the input model and by the rule, never a MemoryError;
- an input the rule does not read (a score for a checklist, a level for a counted leaf) is an
  error naming that field, never a silent 0;
- a manual leaf takes any value in [0, max] with up to three decimals unless a step is set;
- the sentence never contradicts the score at a band edge or a floor.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.vn import vn_decimal
from models.framework import (
    Band,
    BandsRule,
    ChecklistRule,
    CountedRule,
    DerivedRule,
    DerivedSource,
    ManualRule,
    Node,
    ProportionalRule,
)
from models.inputs import CriterionInput
from scoring.rules import RuleInputError, evaluate, input_fields
from tests.scoring.test_scoring_properties import leaf_and_inputs

D = Decimal
FAST = settings(max_examples=80, deadline=None)

HUGE = ["1E+3000000000", "-1E+3000000000", "1E-3000000000", "9" * 40, "0." + "1" * 30]


def leaf(rule: Any = None, max_points: str = "3", code: str = "x") -> Node:
    return Node(code=code, title="x", max_points=D(max_points), rule=rule)


# --- bounded numbers -------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["rate", "score", "value"])
@pytest.mark.parametrize("text", HUGE)
def test_huge_decimal_is_refused_by_the_input_model(field: str, text: str) -> None:
    with pytest.raises(ValidationError) as err:
        CriterionInput.model_validate({field: text})
    assert err.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize("field", ["numerator", "denominator", "count", "failed"])
def test_huge_integer_is_refused_by_the_input_model(field: str) -> None:
    with pytest.raises(ValidationError):
        CriterionInput.model_validate({field: 10**12})


@pytest.mark.parametrize("text", HUGE)
def test_huge_decimal_built_in_code_is_refused_by_the_rule_before_arithmetic(text: str) -> None:
    # model_construct skips validation, as code that builds inputs itself might: the rule still
    # refuses the number from its digits and exponent, without expanding it.
    inputs = CriterionInput.model_construct(rate=D(text))
    with pytest.raises(RuleInputError) as err:
        evaluate(leaf(ProportionalRule()), inputs)
    assert err.value.field == "rate" and "quá dài" in err.value.reason


@FAST
@given(
    st.sampled_from(["rate", "score", "value"]),
    st.integers(min_value=16, max_value=3_000_000_000),
    st.integers(min_value=1, max_value=9),
)
def test_any_long_decimal_is_a_rule_input_error_never_a_crash(
    field: str, exponent: int, digit: int
) -> None:
    """Property: a decimal with more than 15 digits is refused, whatever its exponent."""
    node = {
        "rate": leaf(ProportionalRule()),
        "score": leaf(),
        "value": leaf(DerivedRule(source=DerivedSource.council_override)),
    }[field]
    value = D(f"{digit}E+{exponent}")
    with pytest.raises(ValidationError):
        CriterionInput.model_validate({field: str(value)})
    with pytest.raises(RuleInputError) as err:
        evaluate(node, CriterionInput.model_construct(None, **{field: value}))  # type: ignore[arg-type]
    assert err.value.field == field


# --- wrong input kinds -----------------------------------------------------------------------

ALL_FIELDS: dict[str, Any] = {
    "level": "a",
    "rate": D("50"),
    "numerator": 1,
    "denominator": 2,
    "count": 1,
    "failed": 1,
    "checked": ("a",),
    "counts": {"a": 1},
    "answers": {5: 1},
    "score": D("1"),
    "value": D("1"),
}


@FAST
@given(leaf_and_inputs(), st.sampled_from(sorted(ALL_FIELDS)))
def test_an_input_the_rule_does_not_read_is_an_error_naming_it(
    case: tuple[Node, CriterionInput], field: str
) -> None:
    """Property: adding any field outside the rule's own fields is refused, naming that field."""
    node, inputs = case
    if inputs.not_applicable or field in input_fields(node):
        return
    wrong = inputs.model_copy(update={field: ALL_FIELDS[field]})
    with pytest.raises(RuleInputError) as err:
        evaluate(node, wrong)
    assert err.value.field == field
    assert f"không nhận trường '{field}'" in err.value.reason


def test_checklist_given_a_score_is_refused_not_zero() -> None:
    node = leaf(ChecklistRule(items=({"key": "a", "label": "A", "points": D(1)},)), code="4.1")
    with pytest.raises(RuleInputError) as err:
        evaluate(node, CriterionInput(score=D(1)))
    assert err.value.code == "4.1" and err.value.field == "score"
    assert "các nội dung đạt" in err.value.reason and "'checked'" in err.value.reason


def test_counted_given_a_level_is_refused_not_zero() -> None:
    node = leaf(CountedRule(items=({"key": "tinh", "label": "Cấp tỉnh", "points": D(2)},)))
    with pytest.raises(RuleInputError) as err:
        evaluate(node, CriterionInput(level="tinh"))
    assert err.value.field == "level" and "'counts'" in err.value.reason


# --- manual leaves ---------------------------------------------------------------------------


@pytest.mark.parametrize("score", ["2.868", "0.1", "0", "3", "1.5"])
def test_manual_without_step_accepts_written_scores(score: str) -> None:
    for rule in (None, ManualRule()):
        assert evaluate(leaf(rule), CriterionInput(score=D(score))).score == D(score)


def test_manual_without_step_refuses_a_fourth_decimal_and_out_of_range() -> None:
    with pytest.raises(RuleInputError, match="quá 3 chữ số thập phân"):
        evaluate(leaf(ManualRule()), CriterionInput(score=D("0.1234")))
    with pytest.raises(RuleInputError, match="từ 0 đến 3"):
        evaluate(leaf(ManualRule()), CriterionInput(score=D("3.001")))


def test_manual_with_a_step_set_by_the_framework_keeps_it() -> None:
    with pytest.raises(RuleInputError, match="bội số của 0,25"):
        evaluate(leaf(ManualRule(step=D("0.25"))), CriterionInput(score=D("0.1")))


@FAST
@given(st.decimals(min_value=0, max_value=3, places=3, allow_nan=False, allow_infinity=False))
def test_manual_accepts_every_value_up_to_max_with_three_decimals(score: Decimal) -> None:
    assert evaluate(leaf(ManualRule()), CriterionInput(score=score)).score == score


# --- sentences at band edges -----------------------------------------------------------------

PCT = re.compile(r"\((\d+(?:,\d+)?)%\)")


def _shown_rate(text: str) -> Decimal:
    match = PCT.search(text)
    assert match, text
    return D(match.group(1).replace(",", "."))


def test_floor_edge_never_reads_as_equal() -> None:
    node = leaf(ProportionalRule(floor=D(80), unit_label="hồ sơ"))
    # 39 999/50 000 = 79,998%: two decimals would read "80%" next to "dưới mức tối thiểu 80%".
    result = evaluate(node, CriterionInput(numerator=39_999, denominator=50_000))
    assert result.score == 0
    assert "(79,998%) dưới mức tối thiểu 80%" in result.explanation


@FAST
@given(
    st.integers(min_value=1, max_value=10**9),
    st.data(),
    st.integers(min_value=1, max_value=99),
)
def test_shown_rate_is_on_the_same_side_of_the_floor_as_the_score(
    den: int, data: st.DataObject, floor: int
) -> None:
    """Property: the rate in the sentence compares with the floor as the true rate does."""
    num = data.draw(st.integers(min_value=0, max_value=den))
    node = leaf(ProportionalRule(floor=D(floor), unit_label="hồ sơ"))
    result = evaluate(node, CriterionInput(numerator=num, denominator=den))
    shown = _shown_rate(result.explanation)
    true = D(num) * 100 / D(den)
    assert (shown < floor) == (true < floor)
    assert (shown == floor) == (true == floor)
    assert ("dưới mức tối thiểu" in result.explanation) == (true < floor)


@FAST
@given(st.integers(min_value=1, max_value=10**6), st.data())
def test_shown_rate_falls_in_the_band_the_score_came_from(den: int, data: st.DataObject) -> None:
    """Property: the printed rate lies inside the band named in the sentence."""
    num = data.draw(st.integers(min_value=0, max_value=den))
    bands = (
        Band(min=D(90), points=D(3)),
        Band(min=D(80), max=D(90), points=D(2)),
        Band(max=D(80), points=D(0)),
    )
    node = leaf(BandsRule(bands=bands, unit_label="hồ sơ"))
    result = evaluate(node, CriterionInput(numerator=num, denominator=den))
    shown = _shown_rate(result.explanation)
    expected = 3 if shown >= 90 else 2 if shown >= 80 else 0
    assert result.score == expected, (result.explanation, vn_decimal(shown))
