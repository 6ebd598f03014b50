"""Rules recognised from the wordings of real tables (issue 12, item 1): options in their own
rows or in the cell ("label: points", "label (points)", "= points"), bands of a rate, deductions
"mỗi … trừ", proportional "tỷ lệ … × điểm tối đa", level × rate, counted items; each with the
sentence saying why and the text it was read from."""

from __future__ import annotations

from decimal import Decimal

import pytest

from frameworks.rule_infer import infer_rule, options_in_text, rate_band
from models.framework import (
    BandsRule,
    CountedRule,
    DeductionRule,
    LevelRateRule,
    LevelsRule,
    Node,
    ProportionalRule,
    SurveyRule,
)
from models.inputs import CriterionInput
from scoring.rules import evaluate

D = Decimal


def infer(text: str, max_points: str = "2", options: list[tuple[str, str]] | None = None):
    opts = [(label, D(p)) for label, p in options or []]
    return infer_rule(opts, text.split("\n"), "", D(max_points))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- Có thực hiện = 1 điểm\n- Không thực hiện = 0 điểm",
            [("Có thực hiện", "1"), ("Không thực hiện", "0")],
        ),
        (
            "Ban hành đúng hạn: 2 điểm\nBan hành chậm: 1 điểm",
            [("Ban hành đúng hạn", "2"), ("Ban hành chậm", "1")],
        ),
        (
            "Ban hành đúng hạn (2 điểm)\nKhông ban hành (0 điểm)",
            [("Ban hành đúng hạn", "2"), ("Không ban hành", "0")],
        ),
        ("Ban hành đúng hạn: 0,5 đ", [("Ban hành đúng hạn", "0.5")]),
        (  # a parenthesis in the label (a district DTI table, tests/fixtures/real)
            "BCĐ họp 4 lần/ năm (Trung bình mỗi quý 1 lần): 20 điểm\nCòn lại: 0 điểm",
            [("BCĐ họp 4 lần/ năm (Trung bình mỗi quý 1 lần)", "20"), ("Còn lại", "0")],
        ),
        (
            "Đúng hạn (trước ngày 15/12) (2 điểm)",
            [("Đúng hạn (trước ngày 15/12)", "2")],
        ),
    ],
)
def test_options_in_the_criterion_cell(text: str, expected: list[tuple[str, str]]) -> None:
    assert options_in_text(text) == [(label, D(p)) for label, p in expected]


@pytest.mark.parametrize(
    ("label", "lo", "hi", "lo_in", "hi_in"),
    [
        ("Từ 80% đến dưới 90%", "80", "90", True, False),
        ("từ 80% - dưới 90% hồ sơ", "80", "90", True, False),
        ("Trên 80%", "80", None, False, False),
        ("Từ 90% trở lên", "90", None, True, False),
        ("Dưới 50%", None, "50", True, False),
        ("Đạt 100%", "100", "100", True, True),
        ("Từ 90% đến 100%", "90", "100", True, True),
    ],
)
def test_rate_bands(label: str, lo: str | None, hi: str | None, lo_in: bool, hi_in: bool) -> None:
    band = rate_band(label, D(1))
    assert band is not None
    assert (band.min, band.max) == (None if lo is None else D(lo), None if hi is None else D(hi))
    assert (band.min_inclusive, band.max_inclusive) == (lo_in, hi_in)


def test_bands_from_options() -> None:
    got = infer(
        "",
        "2",
        [("Đạt 100%", "2"), ("Từ 80% đến dưới 100%", "1"), ("Dưới 80%", "0")],
    )
    assert got.kind == "bands" and isinstance(got.rule, BandsRule)
    node = Node(code="x", title="x", max_points=D(2), rule=got.rule)
    assert evaluate(node, CriterionInput(rate=D("85"))).score == 1
    assert evaluate(node, CriterionInput(rate=D("100"))).score == 2
    assert got.source == "Đạt 100%: 2 điểm; Từ 80% đến dưới 100%: 1 điểm; Dưới 80%: 0 điểm"


def test_free_standing_deduction() -> None:
    got = infer("Mỗi báo cáo chậm hoặc không đúng yêu cầu trừ 0,5 điểm.", "2")
    assert got.kind == "deduction" and isinstance(got.rule, DeductionRule)
    assert (
        got.rule.per_item == D("0.5")
        and got.rule.item_label == "báo cáo chậm hoặc không đúng yêu cầu"
    )
    assert got.source == "Mỗi báo cáo chậm hoặc không đúng yêu cầu trừ 0,5 điểm"


def test_proportional_with_a_floor() -> None:
    got = infer("Điểm = tỷ lệ hồ sơ giải quyết đúng hạn × điểm tối đa; dưới 80% thì 0 điểm", "3")
    assert got.kind == "proportional" and isinstance(got.rule, ProportionalRule)
    assert got.rule.floor == D(80)
    assert "tỷ lệ hồ sơ giải quyết đúng hạn × điểm tối đa" in got.source


def test_level_times_rate() -> None:
    got = infer(
        "Điểm đạt được = điểm của mức × tỷ lệ nhiệm vụ hoàn thành đúng hạn",
        "3",
        [("Hoàn thành đúng hạn", "3"), ("Hoàn thành chậm", "2")],
    )
    assert got.kind == "level_rate" and isinstance(got.rule, LevelRateRule)


def test_counted_items() -> None:
    got = infer("Mỗi sáng kiến được công nhận cấp tỉnh được 1 điểm, tối đa 3 điểm", "3")
    assert got.kind == "counted" and isinstance(got.rule, CountedRule)
    assert got.rule.items[0].points == 1


def test_levels_and_survey_and_manual() -> None:
    assert isinstance(infer("", "2", [("Đúng hạn", "2"), ("Chậm", "1")]).rule, LevelsRule)
    assert isinstance(infer_rule([], [], "XHH", D(2)).rule, SurveyRule)
    manual = infer("Căn cứ kết quả kiểm tra", "2")
    assert manual.kind == "manual" and manual.note == "không nêu mức điểm nào: chấm tay"


def test_same_range_twice_is_levels_not_bands() -> None:
    got = infer(
        "",
        "5",
        [("Hoàn thành 100% nhiệm vụ đúng tiến độ", "5"), ("Hoàn thành 100% nhưng có chậm", "3")],
    )
    assert got.kind == "levels"
