"""Every rule kind, worked on criteria of the seed documents (tests/fixtures/seeds).

Each test reads the numbers it uses from the seed text itself (``numbers`` fails when the
quoted wording is not in the document), builds a small ``Node`` with the rule the text states,
and checks the score and the Vietnamese sentence that explains it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from core.vn import parse_vn_decimal
from models.framework import (
    Band,
    BandsRule,
    ChecklistRule,
    CountedRule,
    DeductionRule,
    LevelRateRule,
    LevelsRule,
    Node,
    Option,
    ProportionalRule,
    SurveyRule,
)
from models.inputs import CriterionInput
from scoring.rules import RuleInputError, evaluate

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
_NUM = r"(?<![0-9.,])([0-9]+(?:[,.][0-9]+)?)"


def seed(name: str) -> str:
    """A seed document with its whitespace collapsed (cells are tab- or line-separated)."""
    return " ".join((SEEDS / name).read_text(encoding="utf-8").split())


def numbers(text: str, template: str) -> list[Decimal]:
    """The numbers at ``{n}`` in ``template`` as found in the text; ``{any}`` skips text."""
    template = re.sub(r"\s*\{any\}\s*", "{any}", " ".join(template.split()))
    pieces = re.split(r"(\{n\}|\{any\})", template)
    pattern = "".join(
        _NUM if p == "{n}" else ".*?" if p == "{any}" else re.escape(p) for p in pieces
    )
    match = re.search(pattern, text)
    assert match, f"not in the seed: {template}"
    return [parse_vn_decimal(g) for g in match.groups()]


DH = seed("dinh-hoa-commune-2024-framework-and-assignment.txt")
QD = seed("quang-dien-departments-2023-draft-framework.txt")

D = Decimal


def inp(**kwargs: object) -> CriterionInput:
    return CriterionInput.model_validate(kwargs)


# --- survey (XHH), Định Hóa 1.1–1.5 --------------------------------------------------------

SURVEY_TITLES = {
    "1.1": "Đổi mới sáng tạo trong thực hiện chức trách, nhiệm vụ",
    "1.2": "Sự quyết liệt trong lãnh đạo, chỉ đạo thực hiện chức trách, nhiệm vụ",
    "1.3": "Dám nghĩ, dám làm, dám chịu trách nhiệm",
    "1.4": "Trách nhiệm nêu gương và chấp hành nội quy, quy chế làm việc",
    "1.5": "Kịp thời tham mưu, đề xuất, giải quyết công việc",
}


def survey_node(code: str) -> Node:
    (max_points,) = numbers(DH, f"{code} {SURVEY_TITLES[code]} {{any}} {{n}} XHH")
    return Node(code=code, title=SURVEY_TITLES[code], max_points=max_points, rule=SurveyRule())


def test_survey_formula_is_the_one_the_seed_states() -> None:
    assert "(c x 1) + (d x 2) + (e x 3) + (g x 4) + (h x 5)/B" in DH
    assert "B là tổng số người trả lời" in DH


@pytest.mark.parametrize("code", sorted(SURVEY_TITLES))
def test_survey_mean_scaled_to_max(code: str) -> None:
    node = survey_node(code)
    assert node.max_points == 4
    # c=0, d=0, e=2, g=10, h=18 (B=30): mean = (2×3 + 10×4 + 18×5)/30 = 136/30 = 4,5333…
    result = evaluate(node, inp(answers={"3": 2, "4": 10, "5": 18}))
    assert result.score == D("3.627")  # 4,5333… × 4 / 5 = 3,62666… → 3,627
    assert result.explanation == (
        "30 phiếu trả lời, điểm trung bình 136/30 ≈ 4,533 trên thang 5, "
        "quy đổi × 4 điểm / 5 = 3,627 điểm"
    )


def test_survey_extremes() -> None:
    node = survey_node("1.1")
    assert evaluate(node, inp(answers={5: 3})).score == 4
    # Everyone answering "1" still gives mean 1, i.e. 1/5 of the max.
    assert evaluate(node, inp(answers={1: 3})).score == D("0.8")


@pytest.mark.parametrize(
    ("answers", "field_reason"),
    [
        ({6: 1}, "ngoài thang 1–5"),
        ({0: 1}, "ngoài thang 1–5"),
        ({3: -1}, "không được là số âm"),
        ({}, "B = 0"),
        ({4: 0}, "B = 0"),
    ],
)
def test_survey_rejects_bad_answers(answers: dict[int, int], field_reason: str) -> None:
    with pytest.raises(RuleInputError) as err:
        evaluate(survey_node("1.2"), inp(answers=answers))
    assert err.value.code == "1.2"
    assert err.value.field == "answers"
    assert field_reason in err.value.reason


# --- proportional with a floor: Định Hóa 5.5.1, 6.2, 7.2, 5.5.4.6 --------------------------

PROPORTIONAL = {
    "5.5.1": "5.5.1 Kế hoạch cải cách hành chính hằng năm {n} {any} Hoàn thành dưới {n}% kế "
    "hoạch = {n} điểm.{any}(Tỷ lệ % thực hiện kế hoạch x {n} điểm)/100",
    "6.2": "6.2 Kết quả thực hiện kế hoạch phát triển kinh tế - xã hội {n} {any} Hoàn thành "
    "dưới {n}% kế hoạch = {n} điểm.{any}(Tỷ lệ % thực hiện kế hoạch x {n} điểm)/100",
    "7.2": "7.2 Giải ngân vốn đầu tư công {n} {any} Thực hiện dưới {n}% = {n} điểm.{any}"
    "(Tỷ lệ % giải ngân vốn đầu tư công x {n} điểm)/100",
    "5.5.4.6": "5.5.4.6 Tỷ lệ hồ sơ dịch vụ công trực tuyến toàn trình {n} {any} Dưới {n}% = "
    "{n} điểm.{any}(Tỷ lệ % hồ sơ được xử lý trực tuyến toàn trình x {n} điểm)/100",
}


def proportional_node(code: str, unit_label: str = "") -> Node:
    max_points, floor, below, formula_max = numbers(DH, PROPORTIONAL[code])
    assert below == 0 and formula_max == max_points
    rule = ProportionalRule(floor=floor, unit_label=unit_label)
    return Node(code=code, title=code, max_points=max_points, rule=rule)


@pytest.mark.parametrize(
    ("code", "floor", "rate", "expected"),
    [
        ("5.5.1", "80", "85", "0.85"),
        ("5.5.1", "80", "80", "0.8"),  # "từ 80% trở lên": the floor itself counts
        ("5.5.1", "80", "79.99", "0"),
        ("6.2", "80", "100", "5"),
        ("6.2", "80", "92.5", "4.625"),
        ("7.2", "70", "70", "1.4"),  # the 70% floor of 7.2
        ("7.2", "70", "85.5", "1.71"),
        ("7.2", "70", "69.9", "0"),
        ("5.5.4.6", "90", "95", "1.425"),
        ("5.5.4.6", "90", "89", "0"),
    ],
)
def test_proportional_with_floor(code: str, floor: str, rate: str, expected: str) -> None:
    node = proportional_node(code)
    assert isinstance(node.rule, ProportionalRule) and node.rule.floor == D(floor)
    assert evaluate(node, inp(rate=rate)).score == D(expected)


def test_proportional_from_counts_of_the_seed_example() -> None:
    # The guidance's own example: "đã thực hiện 21/21 nhiệm vụ … và đạt 100% kế hoạch".
    done, total, percent = numbers(
        DH,
        "đã thực hiện {n}/{n} nhiệm vụ đề ra tại phụ lục nhiệm vụ trọng tâm, kèm theo Kế hoạch"
        " số..... và đạt {n}% kế hoạch",
    )
    assert done * 100 / total == percent
    node = proportional_node("5.5.1", unit_label="nhiệm vụ hoàn thành")
    result = evaluate(node, inp(numerator=int(done), denominator=int(total)))
    assert result.score == 1
    assert result.explanation == "21/21 nhiệm vụ hoàn thành (100%) × 1 điểm = 1 điểm"


def test_proportional_counts_are_used_exactly() -> None:
    node = proportional_node("6.2", unit_label="nhiệm vụ hoàn thành")
    result = evaluate(node, inp(numerator=84, denominator=87))
    assert result.score == D("4.828")  # 84/87 × 5 = 4,82758… (not 96,55% × 5 = 4,8275)
    assert result.explanation == "84/87 nhiệm vụ hoàn thành (96,55%) × 5 điểm = 4,828 điểm"


def test_proportional_below_floor_explains_why() -> None:
    result = evaluate(proportional_node("7.2"), inp(rate="65"))
    assert result.score == 0
    assert result.explanation == "Tỷ lệ 65% dưới mức tối thiểu 70% nên được 0 điểm"


# --- level × rate --------------------------------------------------------------------------


def on_time_node() -> Node:
    rule = LevelRateRule(
        options=(Option(key="hoan_thanh", label="Hoàn thành", points=D(3)),),
        unit_label="nhiệm vụ đúng hạn",
    )
    return Node(code="7.1", title="Nhiệm vụ được giao", max_points=D(3), rule=rule)


def test_level_times_rate_issue_example() -> None:
    """84/87 tasks on time of a 3-point level.

    84/87 = 96,5517…%, so the score is 3 × 84/87 = 2,89655… → 2,897 (3 places, half-up): the
    issue's sentence "84/87 nhiệm vụ đúng hạn (96,55%) × 3 điểm = 2,897 điểm" is reproduced.
    DOMAIN.md's "= 95.6% of 3 points = 2.868" multiplies by 95,6%, which 84/87 is not (it would
    be 83,17/87); that figure is the arithmetic of a 95,6% rate, checked below, not of 84/87.
    """
    result = evaluate(on_time_node(), inp(numerator=84, denominator=87))
    assert result.score == D("2.897")
    assert result.explanation == "84/87 nhiệm vụ đúng hạn (96,55%) × 3 điểm = 2,897 điểm"
    assert evaluate(on_time_node(), inp(rate="95.6")).score == D("2.868")


def test_level_times_rate_picks_the_level() -> None:
    # Định Hóa 5.2.4.1's levels (2 / 1 / 0,5 / 0) as the level part of a level × rate rule.
    excellent, none, done, good, best = numbers(
        DH,
        "5.2.4.1 Kết quả đánh giá cán bộ, công chức giữ chức vụ lãnh đạo quản lý do cấp trên "
        "đánh giá {n} {any} “Không hoàn thành nhiệm vụ” = {n} điểm. - Được đánh giá “Hoàn "
        "thành nhiệm vụ” = {n} điểm. - Được đánh giá “Hoàn thành tốt nhiệm vụ” = {n} điểm - "
        "Được đánh giá “Hoàn thành xuất sắc nhiệm vụ” = {n} điểm",
    )
    assert (excellent, none, done, good, best) == (D(2), D(0), D("0.5"), D(1), D(2))
    rule = LevelRateRule(
        options=(
            Option(key="xuat_sac", label="Hoàn thành xuất sắc nhiệm vụ", points=best),
            Option(key="tot", label="Hoàn thành tốt nhiệm vụ", points=good),
            Option(key="hoan_thanh", label="Hoàn thành nhiệm vụ", points=done),
        )
    )
    node = Node(code="5.2.4.1", title="x", max_points=excellent, rule=rule)
    result = evaluate(node, inp(level="tot", rate="50"))
    assert result.score == D("0.5")
    assert result.explanation == "Mức “Hoàn thành tốt nhiệm vụ”, tỷ lệ 50% × 1 điểm = 0,5 điểm"
    with pytest.raises(RuleInputError) as err:
        evaluate(node, inp(rate="50"))
    assert err.value.field == "level"


# --- levels: Quảng Điền 1.1 --------------------------------------------------------------


def qd_1_1() -> Node:
    max_points, on_time, late, never = numbers(
        QD,
        "1.1 Ban hành kế hoạch CCHC hằng năm {n} Kế hoạch CCHC của cơ quan năm 2023 Trước và "
        "đúng thời gian quy định {n} Chậm dưới 10 ngày so với thời gian quy định {n} Không ban "
        "hành hoặc ban hành chậm từ 10 ngày trở lên {n}",
    )
    rule = LevelsRule(
        options=(
            Option(key="dung_han", label="Trước và đúng thời gian quy định", points=on_time),
            Option(key="cham_duoi_10", label="Chậm dưới 10 ngày", points=late),
            Option(key="khong", label="Không ban hành hoặc chậm từ 10 ngày", points=never),
        )
    )
    return Node(
        code="1.1", title="Ban hành kế hoạch CCHC hằng năm", max_points=max_points, rule=rule
    )


@pytest.mark.parametrize(
    ("level", "expected"), [("dung_han", 2), ("cham_duoi_10", 1), ("khong", 0)]
)
def test_levels(level: str, expected: int) -> None:
    assert evaluate(qd_1_1(), inp(level=level)).score == expected


def test_levels_explanation() -> None:
    result = evaluate(qd_1_1(), inp(level="cham_duoi_10"))
    assert result.explanation == "Đạt mức “Chậm dưới 10 ngày”: 1 điểm"
    assert result.not_applicable is False and result.counts_in_max is True


def test_levels_unknown_and_missing_level() -> None:
    with pytest.raises(RuleInputError) as err:
        evaluate(qd_1_1(), inp(level="som"))
    assert (err.value.code, err.value.field) == ("1.1", "level")
    assert "không có mức ‘som’" in err.value.reason
    assert str(err.value).startswith("criterion 1.1, field 'level': không có mức")
    assert err.value.message_vi.startswith("Tiêu chí 1.1, trường 'level': ")
    with pytest.raises(RuleInputError, match="chưa chọn mức"):
        evaluate(qd_1_1(), inp())


def test_level_points_above_the_max_are_capped() -> None:
    rule = LevelsRule(options=(Option(key="a", label="A", points=D(3)),))
    node = Node(code="x", title="x", max_points=D(2), rule=rule)
    result = evaluate(node, inp(level="a"))
    assert result.score == 2
    assert "vượt điểm tối đa nên được 2 điểm" in result.explanation


# --- bands ---------------------------------------------------------------------------------


def qd_2_4() -> Node:
    max_points, p100, p95, p90, p85, below = numbers(
        QD,
        "2.4 Kết quả giải quyết hồ sơ TTHC {n} {any} 100% hồ sơ TTHC được giải quyết đúng hạn "
        "và trước hạn {n} Từ 95% - dưới 100% hồ sơ TTHC được giải quyết đúng hạn và trước hạn "
        "{n} Từ 90% - dưới 95% hồ sơ TTHC được giải quyết đúng hạn và trước hạn {n} Từ 85% - "
        "dưới 90% hồ sơ TTHC được giải quyết đúng hạn và trước hạn {n} Dưới 85% hồ sơ TTHC "
        "được giải quyết đúng hạn và trước hạn {n}",
    )
    rule = BandsRule(
        bands=(
            Band(min=D(100), max=D(100), max_inclusive=True, points=p100),
            Band(min=D(95), max=D(100), points=p95),
            Band(min=D(90), max=D(95), points=p90),
            Band(min=D(85), max=D(90), points=p85),
            Band(max=D(85), points=below),
        ),
        unit_label="hồ sơ đúng hạn",
    )
    return Node(code="2.4", title="Kết quả giải quyết hồ sơ TTHC", max_points=max_points, rule=rule)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("100", 4),
        ("99.99", 3),
        ("95", 3),
        ("94.99", 2),
        ("90", 2),
        ("85", 1),
        ("84.9", 0),
        ("0", 0),
    ],
)
def test_bands_over_a_rate(rate: str, expected: int) -> None:
    assert evaluate(qd_2_4(), inp(rate=rate)).score == expected


def test_bands_from_counts_explained() -> None:
    result = evaluate(qd_2_4(), inp(numerator=84, denominator=87))
    assert result.score == 3
    assert result.explanation == (
        "84/87 hồ sơ đúng hạn (96,55%) thuộc mức “từ 95% đến dưới 100%”: 3 điểm"
    )


def test_overlapping_bands_and_gaps_of_quang_dien_6_2() -> None:
    # The draft writes "từ 50% trở lên = 3" next to "từ 40% trở lên = 2" (overlapping) and skips
    # 10–20%: the best matching band wins, an unlisted value earns 0 and says so.
    max_points, b50, b40, b30, b20, b10 = numbers(
        QD,
        "6.2 Thực hiện dịch vụ công trực tuyến toàn trình {n} {any} toàn trình từ 50% trở lên "
        "{n} {any} toàn trình từ 40% trở lên {n} {any} toàn trình từ 30% đến dưới 40% {n} {any} "
        "toàn trình từ 20% đến dưới 30% {n} {any} toàn trình dưới 10% {n}",
    )
    rule = BandsRule(
        bands=(
            Band(min=D(50), points=b50),
            Band(min=D(40), points=b40),
            Band(min=D(30), max=D(40), points=b30),
            Band(min=D(20), max=D(30), points=b20),
            Band(max=D(10), points=b10),
        )
    )
    node = Node(code="6.2", title="x", max_points=max_points, rule=rule)
    assert evaluate(node, inp(rate="55")).score == 3
    assert evaluate(node, inp(rate="45")).score == 2
    assert evaluate(node, inp(rate="35")).score == D("1.5")
    gap = evaluate(node, inp(rate="15"))
    assert gap.score == 0
    assert gap.explanation == "Tỷ lệ 15% không thuộc mức nào được quy định: 0 điểm"


def test_bands_over_a_count_dinh_hoa_7_1() -> None:
    max_points, full, at_most, some, from_n, none = numbers(
        DH,
        "7.1 Nhiệm vụ UBND huyện, Chủ tịch UBND huyện giao {n} {any} 100% nhiệm vụ hoàn thành "
        "đúng hạn, trước hạn = {n} điểm. - Có tối đa {n} nhiệm vụ hoàn thành nhưng quá hạn = "
        "{n} điểm. - Có nhiệm vụ đến hạn nhưng không hoàn thành hoặc từ {n} nhiệm vụ hoàn "
        "thành nhưng quá hạn trở lên = {n} điểm",
    )
    rule = BandsRule(
        measure="count",
        bands=(
            Band(max=D(1), points=full),
            Band(min=D(1), max=at_most, max_inclusive=True, points=some),
            Band(min=from_n, points=none),
        ),
        unit_label="nhiệm vụ hoàn thành quá hạn",
    )
    node = Node(code="7.1", title="x", max_points=max_points, rule=rule)
    assert [evaluate(node, inp(count=n)).score for n in (0, 1, 5, 6, 20)] == [5, 2, 2, 0, 0]
    assert evaluate(node, inp(count=5)).explanation == (
        "5 nhiệm vụ hoàn thành quá hạn thuộc mức “từ 1 đến 5”: 2 điểm"
    )
    with pytest.raises(RuleInputError) as err:
        evaluate(node, inp(count=-1))
    assert err.value.field == "count"
    with pytest.raises(RuleInputError, match="chưa nhập số lượng"):
        evaluate(node, inp())


# --- deduction: Quảng Điền 2 --------------------------------------------------------------


def qd_2() -> Node:
    max_points, per_item, level_max = numbers(
        QD,
        "Thực hiện công tác báo cáo CCHC {n} {any} Nội dung và thời gian báo cáo đảm bảo theo "
        "quy định (Mỗi tiêu chí không đạt yêu cầu trừ {n} điểm) {n}",
    )
    assert level_max == max_points
    rule = DeductionRule(per_item=per_item, item_label="báo cáo")
    return Node(code="2", title="Thực hiện công tác báo cáo CCHC", max_points=max_points, rule=rule)


@pytest.mark.parametrize(
    ("failed", "expected"), [(0, "3"), (1, "2.25"), (2, "1.5"), (3, "0.75"), (4, "0"), (9, "0")]
)
def test_deduction(failed: int, expected: str) -> None:
    assert evaluate(qd_2(), inp(failed=failed)).score == D(expected)


def test_deduction_explanations() -> None:
    assert evaluate(qd_2(), inp(failed=1)).explanation == (
        "1 báo cáo không đạt yêu cầu, trừ 1 × 0,75 điểm: 3 − 0,75 = 2,25 điểm"
    )
    assert evaluate(qd_2(), inp(failed=0)).explanation == (
        "Không có báo cáo nào không đạt yêu cầu: 3 điểm"
    )
    assert evaluate(qd_2(), inp(failed=5)).explanation == (
        "5 báo cáo không đạt yêu cầu, trừ 5 × 0,75 điểm = 3,75 điểm, "
        "không thấp hơn 0 nên được 0 điểm"
    )


def test_deduction_rejects_negative_and_missing() -> None:
    with pytest.raises(RuleInputError) as err:
        evaluate(qd_2(), inp(failed=-1))
    assert (err.value.field, str(err.value)) == (
        "failed",
        "criterion 2, field 'failed': không được là số âm (đã nhập -1)",
    )
    with pytest.raises(RuleInputError):
        evaluate(qd_2(), inp())


# --- checklist: Quảng Điền 6.6.3 ---------------------------------------------------------


def qd_6_6_3() -> Node:
    max_points, report, goals, review, minutes = numbers(
        QD,
        "6.6.3 Báo cáo kết quả duy trì áp dụng và cải tiến Hệ thống quản lý chất lượng theo "
        "Tiêu chuẩn quốc gia TCVN ISO 9001:2015 {n} {any} (không đảm bảo trừ 0,5điểm) {n} Có "
        "Quyết định ban hành mục tiêu chất lượng {n} Có Báo cáo tổng hợp kết quả rà soát, cập "
        "nhật {n} Có Biên bản họp xem xét lãnh đạo {n}",
    )
    rule = ChecklistRule(
        items=(
            Option(key="bao_cao", label="Báo cáo kết quả duy trì", points=report),
            Option(key="muc_tieu", label="Quyết định mục tiêu chất lượng", points=goals),
            Option(key="ra_soat", label="Báo cáo rà soát", points=review),
            Option(key="bien_ban", label="Biên bản họp xem xét lãnh đạo", points=minutes),
        )
    )
    return Node(code="6.6.3", title="ISO", max_points=max_points, rule=rule)


def test_checklist_sums_checked_items() -> None:
    node = qd_6_6_3()
    assert node.max_points == 4
    result = evaluate(node, inp(checked=["bao_cao", "muc_tieu", "bien_ban"]))
    assert result.score == 3
    assert result.explanation == (
        "Đạt 3/4 nội dung (Báo cáo kết quả duy trì; Quyết định mục tiêu chất lượng; "
        "Biên bản họp xem xét lãnh đạo): 3 điểm"
    )
    assert evaluate(node, inp()).score == 0


@pytest.mark.parametrize(("checked", "reason"), [(["iso"], "‘iso’"), (["bao_cao"] * 2, "hai lần")])
def test_checklist_rejects_unknown_or_repeated_items(checked: list[str], reason: str) -> None:
    with pytest.raises(RuleInputError) as err:
        evaluate(qd_6_6_3(), inp(checked=checked))
    assert err.value.field == "checked" and reason in err.value.reason


# --- counted: Quảng Điền 6 (sáng kiến) ----------------------------------------------------


def qd_6() -> Node:
    max_points, per_province, _, per_district, _, _ = numbers(
        QD,
        "Sáng kiến hoặc giải pháp mới trong cải cách hành chính {n} {any} Sáng kiến được Chủ "
        "tịch UBND tỉnh công nhận (01 sáng kiến = {n} điểm) {n} Sáng kiến được Chủ tịch UBND "
        "huyện công nhận (01 sáng kiến = {n} điểm) {n} Trong năm không có sáng kiến được công "
        "nhận {n}",
    )
    rule = CountedRule(
        items=(
            Option(key="tinh", label="sáng kiến cấp tỉnh", points=per_province),
            Option(key="huyen", label="sáng kiến cấp huyện", points=per_district),
        )
    )
    return Node(code="6", title="Sáng kiến", max_points=max_points, rule=rule)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({}, 0),
        ({"tinh": 1}, 2),
        ({"huyen": 1}, 1),
        ({"huyen": 2}, 2),
        ({"tinh": 1, "huyen": 1}, 3),
        ({"tinh": 2}, 3),  # 4 points, capped at the max 3
        ({"huyen": 5}, 3),
    ],
)
def test_counted_items_capped(counts: dict[str, int], expected: int) -> None:
    assert evaluate(qd_6(), inp(counts=counts)).score == expected


def test_counted_explanation_and_errors() -> None:
    result = evaluate(qd_6(), inp(counts={"tinh": 1, "huyen": 2}))
    assert result.explanation == (
        "1 × “sáng kiến cấp tỉnh” (2 điểm) + 2 × “sáng kiến cấp huyện” (1 điểm) = 4 điểm, "
        "tối đa 3 điểm: 3 điểm"
    )
    with pytest.raises(RuleInputError, match="không có loại ‘bo’"):
        evaluate(qd_6(), inp(counts={"bo": 1}))
    with pytest.raises(RuleInputError, match="không được là số âm"):
        evaluate(qd_6(), inp(counts={"tinh": -1}))


def test_counted_own_cap_below_the_max() -> None:
    node = qd_6()
    assert isinstance(node.rule, CountedRule)
    capped = node.model_copy(update={"rule": node.rule.model_copy(update={"cap": D(2)})})
    assert evaluate(capped, inp(counts={"tinh": 1, "huyen": 1})).score == 2


def test_band_with_open_lower_end_trên_80() -> None:
    """Quảng Điền 1.3: "Thực hiện trên 80% kế hoạch" = 2, "từ 70% đến 80%" = 1: 80% earns 1."""
    node = Node(
        code="1.3",
        title="Mức độ hoàn thành kế hoạch",
        max_points=Decimal(2),
        rule=BandsRule(
            bands=(
                Band(min=Decimal(80), min_inclusive=False, points=Decimal(2)),
                Band(min=Decimal(70), max=Decimal(80), max_inclusive=True, points=Decimal(1)),
            )
        ),
    )
    assert evaluate(node, CriterionInput(rate=Decimal(80))).score == Decimal(1)
    top = evaluate(node, CriterionInput(rate=Decimal("80.5")))
    assert top.score == Decimal(2)
    assert "trên 80%" in top.explanation
