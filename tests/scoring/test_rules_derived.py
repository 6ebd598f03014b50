"""Not-applicable criteria, derived criteria (days late, year over year) and manual scores."""

from __future__ import annotations

import pytest

from models.framework import (
    Band,
    BandsRule,
    DerivedRule,
    DerivedSource,
    LevelsRule,
    ManualRule,
    Node,
    NotApplicablePolicy,
    Option,
)
from scoring.rules import RuleInputError, evaluate
from tests.scoring.test_rules import DH, QD, D, inp, numbers, qd_1_1

# --- not applicable ------------------------------------------------------------------------


def dh_2_3_4(policy: NotApplicablePolicy = NotApplicablePolicy.fixed_points) -> Node:
    max_points, full, late, unresolved, no_letters = numbers(
        DH,
        "2.3.4 Kết quả giải quyết đơn thư {n} {any} được giải quyết kịp thời, đúng hạn = {n} "
        "điểm.{any}giải quyết quá hạn = {n} điểm.{any}không được giải quyết = {n} điểm.{any}"
        "nếu trong năm đánh giá không có đơn, thư khiếu nại, tố cáo thì chấm {n} điểm với tiêu "
        "chí này",
    )
    rule = LevelsRule(
        options=(
            Option(key="dung_han", label="100% đơn thư giải quyết đúng hạn", points=full),
            Option(key="qua_han", label="Có đơn thư giải quyết quá hạn", points=late),
            Option(key="khong", label="Có đơn thư không được giải quyết", points=unresolved),
        )
    )
    return Node(
        code="2.3.4",
        title="Kết quả giải quyết đơn thư",
        max_points=max_points,
        rule=rule,
        na_policy=policy,
        na_points=no_letters if policy is NotApplicablePolicy.fixed_points else None,
    )


def test_no_complaints_earns_fixed_point_dinh_hoa_2_3_4() -> None:
    result = evaluate(dh_2_3_4(), inp(not_applicable=True))
    assert result.score == 1
    assert result.not_applicable is True and result.counts_in_max is True
    assert result.explanation == "Không phát sinh, theo quy định của tiêu chí được 1 điểm"
    assert evaluate(dh_2_3_4(), inp(level="qua_han")).score == D("0.5")


def test_no_petitions_earns_half_point_dinh_hoa_2_4_2() -> None:
    max_points, floor, full, floor_again, below, no_petitions = numbers(
        DH,
        "2.4.2 Kết quả xử lý kiến nghị tại hội nghị đối thoại {n} {any} Từ {n}% vấn đề, kiến "
        "nghị tại Hội nghị đối thoại được xử lý, giải quyết trở lên = {n} điểm . - Dưới {n}% = "
        "{n} điểm .{any}không có kiến nghị, đề xuất thì chấm {n} điểm đối với tiêu chí này",
    )
    assert floor == floor_again
    rule = BandsRule(bands=(Band(min=floor, points=full), Band(max=floor, points=below)))
    node = Node(
        code="2.4.2",
        title="Kết quả xử lý kiến nghị",
        max_points=max_points,
        rule=rule,
        na_policy=NotApplicablePolicy.fixed_points,
        na_points=no_petitions,
    )
    assert evaluate(node, inp(not_applicable=True)).score == D("0.5")
    assert evaluate(node, inp(numerator=17, denominator=20)).score == 1  # 85%
    assert evaluate(node, inp(rate="84.99")).score == 0


def test_not_applicable_excluded_quang_dien_note() -> None:
    assert (
        "Đối với các tiêu chí tiêu chí, tiêu chí thành phần không phát sinh nhiệm vụ thì không "
        "chấm điểm" in QD
    )
    node = qd_1_1().model_copy(update={"na_policy": NotApplicablePolicy.exclude})
    result = evaluate(node, inp(not_applicable=True))
    assert result.score == 0
    assert result.not_applicable is True and result.counts_in_max is False
    assert "không tính vào điểm tối đa" in result.explanation


def test_not_applicable_forbidden_and_misconfigured() -> None:
    with pytest.raises(RuleInputError) as err:
        evaluate(qd_1_1(), inp(not_applicable=True))
    assert err.value.field == "not_applicable"
    broken = dh_2_3_4().model_copy(update={"na_points": None})
    with pytest.raises(RuleInputError) as err2:
        evaluate(broken, inp(not_applicable=True))
    assert err2.value.field == "na_points"


# --- derived: Quảng Điền III (late report), Định Hóa 8.1, 8.3 -----------------------------


def qd_late_report() -> Node:
    max_points, _, on_time, one_to_three, later = numbers(
        QD,
        "THỰC HIỆN BÁO CÁO TỰ CHẤM ĐIỂM ĐỂ XẾP HẠNG CÔNG TÁC CCHC {n} {any} Kịp thời báo cáo "
        "{any} {n} {any} Theo đúng thời gian yêu cầu {n} Quá từ 01 đến 03 ngày so với thời "
        "gian yêu cầu {n} Quá 03 ngày so với thời gian yêu cầu {n}",
    )
    rule = DerivedRule(
        source=DerivedSource.submission_days_late,
        bands=(
            Band(max=D(1), points=on_time, label="theo đúng thời gian yêu cầu"),
            Band(min=D(1), max=D(3), max_inclusive=True, points=one_to_three),
            Band(min=D(3), points=later),  # "quá 03 ngày": at exactly 3 the better band wins
        ),
    )
    return Node(code="III", title="Báo cáo tự chấm điểm", max_points=max_points, rule=rule)


@pytest.mark.parametrize(("days", "expected"), [(0, 2), (1, 1), (3, 1), (4, 0), (12, 0), (-2, 2)])
def test_late_report_rule(days: int, expected: int) -> None:
    assert evaluate(qd_late_report(), inp(value=days)).score == expected


def test_late_report_explanations() -> None:
    assert evaluate(qd_late_report(), inp(value=0)).explanation == (
        "Gửi báo cáo đúng hạn thuộc mức “theo đúng thời gian yêu cầu”: 2 điểm"
    )
    assert evaluate(qd_late_report(), inp(value=2)).explanation == (
        "Gửi báo cáo chậm 2 ngày thuộc mức “từ 1 ngày đến 3 ngày”: 1 điểm"
    )
    with pytest.raises(RuleInputError, match="chưa nhập giá trị"):
        evaluate(qd_late_report(), inp())


def test_rank_and_score_change_dinh_hoa_8_3() -> None:
    max1, higher1, same1, lower1 = numbers(
        DH,
        "8.3.1 Xếp hạng năm sau cao hơn so với năm trước {n} {any} cao hơn năm trước = {n} "
        "điểm. - Bằng năm trước = {n} điểm. - Thấp hơn năm trước = {n} điểm.",
    )
    rank_node = Node(
        code="8.3.1",
        title="Xếp hạng",
        max_points=max1,
        rule=DerivedRule(
            source=DerivedSource.rank_change,
            bands=(
                Band(min=D(1), points=higher1),
                Band(min=D(0), max=D(0), max_inclusive=True, points=same1),
                Band(max=D(0), points=lower1),
            ),
        ),
    )
    assert [evaluate(rank_node, inp(value=v)).score for v in (3, 0, -2)] == [1, D("0.5"), 0]
    assert evaluate(rank_node, inp(value=3)).explanation == (
        "Xếp hạng tăng 3 bậc so với năm trước thuộc mức “từ 1 trở lên”: 1 điểm"
    )

    max2, higher2, same2, lower2 = numbers(
        DH,
        "8.3.2 Điểm số đạt được năm sau cao hơn so với năm trước {n} {any} cao hơn năm trước = "
        "{n} điểm. - Bằng năm trước = {n} điểm. - Thấp hơn năm trước = {n} điểm.",
    )
    score_node = Node(
        code="8.3.2",
        title="Điểm số",
        max_points=max2,
        rule=DerivedRule(
            source=DerivedSource.score_change,
            bands=(
                Band(min=D("0.001"), points=higher2),
                Band(min=D(0), max=D(0), max_inclusive=True, points=same2),
                Band(max=D(0), points=lower2),
            ),
        ),
    )
    assert [evaluate(score_node, inp(value=v)).score for v in ("2.5", "0", "-0.25")] == [2, 1, 0]


def test_council_override_first_year_full_marks_dinh_hoa_8_1() -> None:
    assert (
        "Năm 2024, năm đầu tiên đánh giá, Hội đồng thẩm định chấm điểm tối đa "
        "đối với Tiêu chí 8.1; 8.2" in DH
    )
    (max_points,) = numbers(DH, "8.1 Phân tích tồn tại{any}hàng năm {n}")
    node = Node(
        code="8.1",
        title="Phân tích tồn tại",
        max_points=max_points,
        rule=DerivedRule(source=DerivedSource.council_override),
    )
    result = evaluate(node, inp(value=max_points))
    assert result.score == 1
    assert result.explanation == "Theo quyết định của Hội đồng thẩm định: 1 điểm"
    assert evaluate(node, inp(value=5)).score == 1  # a value above the max is capped
    assert evaluate(node, inp(value=-1)).score == 0


# --- manual --------------------------------------------------------------------------------


def manual_node(step: str = "0.25") -> Node:
    (max_points,) = numbers(DH, "3.9.1 Thực hiện công khai theo quy định {n}")
    return Node(
        code="3.9.1",
        title="Thực hiện công khai theo quy định",
        max_points=max_points,
        rule=ManualRule(step=D(step)),
    )


def test_manual_score() -> None:
    result = evaluate(manual_node(), inp(score="1.75"))
    assert result.score == D("1.75")
    assert result.explanation == "Điểm chấm trực tiếp: 1,75 điểm"


@pytest.mark.parametrize(
    ("score", "reason"),
    [
        ("2.5", "từ 0 đến 2"),
        ("-0.5", "từ 0 đến 2"),
        ("0.3", "bội số của 0,25"),
        (None, "chưa nhập"),
    ],
)
def test_manual_rejects(score: str | None, reason: str) -> None:
    with pytest.raises(RuleInputError) as err:
        evaluate(manual_node(), inp(score=score))
    assert err.value.field == "score" and reason in err.value.reason


def test_leaf_without_rule_is_scored_by_hand() -> None:
    node = Node(code="5.2.1", title="Phối hợp", max_points=D("0.5"))
    assert evaluate(node, inp(score="0.3")).score == D("0.3")
    with pytest.raises(RuleInputError, match="quá 3 chữ số thập phân"):
        evaluate(node, inp(score="0.3333"))
