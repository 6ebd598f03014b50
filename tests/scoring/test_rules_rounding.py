"""Rule inputs validated, rounding of scores, and CriterionInput as JSON."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.framework import (
    Framework,
    LevelsRule,
    Node,
    Option,
    RoundingMode,
)
from models.inputs import CriterionInput
from scoring.rules import RuleInputError, evaluate, evaluate_criterion, input_fields
from tests.scoring.test_rules import (
    D,
    inp,
    on_time_node,
    proportional_node,
    qd_1_1,
    qd_2,
    qd_2_4,
)
from tests.scoring.test_rules_derived import dh_2_3_4, manual_node

# --- rate validation and rounding ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "reason"),
    [
        ({"rate": "100.5"}, "rate", "từ 0 đến 100%"),
        ({"rate": "-1"}, "rate", "từ 0 đến 100%"),
        ({"numerator": 88, "denominator": 87}, "numerator", "lớn hơn mẫu số"),
        ({"numerator": 0, "denominator": 0}, "denominator", "mẫu số bằng 0"),
        ({"numerator": -1, "denominator": 5}, "numerator", "số âm"),
        ({"numerator": 3}, "denominator", "chưa nhập mẫu số"),
        ({"denominator": 3}, "numerator", "chưa nhập tử số"),
        ({"rate": "50", "numerator": 1, "denominator": 2}, "rate", "không nhập cả hai"),
        ({}, "rate", "chưa nhập tỷ lệ"),
    ],
)
def test_rate_validation(kwargs: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(RuleInputError) as err:
        evaluate(proportional_node("6.2"), inp(**kwargs))
    assert err.value.code == "6.2" and err.value.field == field
    assert reason in err.value.reason


@pytest.mark.parametrize(
    ("places", "rounding", "expected"),
    [
        (3, RoundingMode.half_up, "2.897"),
        (3, RoundingMode.half_even, "2.896"),
        (3, RoundingMode.down, "2.896"),
        (2, RoundingMode.half_up, "2.90"),
        (0, RoundingMode.half_up, "3"),
    ],
)
def test_rounding_modes(places: int, rounding: RoundingMode, expected: str) -> None:
    # 96,55% × 3 = 2,8965 exactly: the mode decides the last place.
    result = evaluate(on_time_node(), inp(rate="96.55"), decimal_places=places, rounding=rounding)
    assert str(result.score) == expected


def test_rounding_never_lifts_above_the_max() -> None:
    rule = LevelsRule(options=(Option(key="du", label="Đạt", points=D("0.75")),))
    node = Node(code="x", title="x", max_points=D("0.75"), rule=rule)
    # 0,75 rounds half-up to 0,8 with one place; the max keeps it at 0,7.
    assert evaluate(node, inp(level="du"), decimal_places=1).score == D("0.7")


def test_evaluate_criterion_uses_the_framework_rounding() -> None:
    framework = Framework(
        name="Thử",
        year=2024,
        decimal_places=2,
        rounding=RoundingMode.down,
        nodes=(on_time_node(),),
    )
    assert evaluate_criterion(framework, "7.1", inp(numerator=84, denominator=87)).score == D(
        "2.89"
    )


def test_only_leaves_are_evaluated() -> None:
    parent = Node(code="I", title="x", max_points=D(3), children=(qd_2(),))
    with pytest.raises(ValueError, match="only leaves"):
        evaluate(parent, inp())


def test_input_fields() -> None:
    assert input_fields(qd_1_1()) == ("level",)
    assert input_fields(dh_2_3_4()) == ("not_applicable", "level")
    assert input_fields(qd_2_4()) == ("rate", "numerator", "denominator")
    assert input_fields(manual_node()) == ("score",)


# --- CriterionInput as JSON ----------------------------------------------------------------


def test_criterion_input_round_trips_through_json() -> None:
    original = CriterionInput(answers={3: 2, 5: 18}, rate=D("96.55"), checked=("a",))
    stored = original.to_json_dict()
    assert stored == {"rate": "96.55", "checked": ["a"], "answers": {"3": 2, "5": 18}}
    assert CriterionInput.model_validate(stored) == original
    assert CriterionInput.model_validate_json(original.model_dump_json()) == original


def test_criterion_input_refuses_unknown_fields_and_is_frozen() -> None:
    with pytest.raises(ValidationError):
        CriterionInput.model_validate({"levle": "a"})
    frozen = CriterionInput(level="a")
    with pytest.raises(ValidationError):
        frozen.level = "b"  # type: ignore[misc]
