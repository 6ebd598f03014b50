"""Checks of the written text (issue 12, item 3): percentages beside fractions recomputed,
totals that include a bonus section as the document defines them, the "max reachable" check."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from frameworks.sheet_check import check_sheet
from frameworks.text_checks import arithmetic_slips

D = Decimal
BUILTIN = Path(__file__).resolve().parents[2] / "frameworks" / "builtin"


def test_a_wrong_percentage_beside_its_fraction_is_a_slip() -> None:
    (slip,) = arithmetic_slips("84/87 nhiệm vụ hoàn thành đúng hạn, đạt 95,6%")
    assert slip.text == "84/87 = 96,55%, ghi 95,6%"
    assert slip.written == D("95.6")


def test_rounded_or_truncated_percentages_are_not_slips() -> None:
    assert arithmetic_slips("84/87 nhiệm vụ (96,55%)") == []
    assert arithmetic_slips("84/87 nhiệm vụ (96,5%)") == []  # truncated at the written place
    assert arithmetic_slips("84/87 nhiệm vụ (97%)") == []
    assert arithmetic_slips("2/3 = 66,67%") == []


def test_dates_and_document_numbers_are_not_fractions() -> None:
    assert arithmetic_slips("Báo cáo ngày 22/11/2024, đạt 95%") == []
    assert arithmetic_slips("Kế hoạch số 45/KH-UBND, hoàn thành 90%") == []


def test_slips_in_the_explanation_column_are_findings() -> None:
    table = (
        "TT\tNội dung\tĐiểm tối đa\tĐiểm tự chấm\tGiải trình\n"
        "1\tNhiệm vụ đúng hạn\t3\t2,868\t84/87 nhiệm vụ đúng hạn, đạt 95,6%\n"
        "2\tHồ sơ đúng hạn\t2\t2\t120/120 hồ sơ (100%)\n"
    )
    out = check_sheet(table.encode()).to_json()
    (slip,) = [i for i in out["inconsistencies"] if i["kind"] == "arithmetic_slip"]
    assert slip["code"] == "1" and slip["note"] == "84/87 = 96,55%, ghi 95,6%"
    assert slip["stated"] == "95.6"


def test_a_total_defined_as_criteria_plus_bonus_is_not_a_difference() -> None:
    table = (
        "TT\tNội dung\tĐiểm tối đa\n"
        "I\tTiêu chí\t90\n"
        "1\tA\t90\n"
        "II\tĐiểm thưởng\t10\n"
        "1\tSáng kiến cấp tỉnh\t10\n"
        "\tTổng điểm (I + II)\t100\n"
    )
    out = check_sheet(table.encode()).to_json()
    assert out["max_total"] == "90"
    assert [i for i in out["inconsistencies"] if i["kind"] == "total_differs"] == []


def test_quang_dien_builtin_flags_the_maxima_its_best_levels_cannot_reach() -> None:
    """II.6.3 and II.6.4 state 2 points with a best level of 1, II.6.7.2 states 1 with a best
    level of 0,5: a perfect department gets 97,5 of 100, and the check says where."""
    out = check_sheet((BUILTIN / "quang-dien-departments-2023.yaml").read_bytes()).to_json()
    found = [(i["code"], i["stated"], i["computed"]) for i in out["inconsistencies"]]
    assert found == [("II.6.3", "1", "2"), ("II.6.4", "1", "2"), ("II.6.7.2", "0.5", "1")]


def test_dinh_hoa_builtin_every_max_is_reachable() -> None:
    out = check_sheet((BUILTIN / "dinh-hoa-commune-2024.yaml").read_bytes()).to_json()
    assert out["inconsistencies"] == []


def test_a_score_on_the_line_of_the_level_reached_is_the_criterions_and_is_checked() -> None:
    """A filled sheet writes the self score on the level's line: it is read as the criterion's
    score (no "không biết thuộc tiêu chí nào" noise) and checked against the max."""
    table = (
        "TT\tNội dung\tĐiểm tối đa\tĐiểm tự chấm\n"
        "1\tBan hành kế hoạch\t2\t\n"
        "\tĐúng hạn\t2\t\n"
        "\tChậm dưới 10 ngày\t1\t3\n"
    )
    out = check_sheet(table.encode()).to_json()
    assert out["warnings"] == []
    assert out["score_total"] == "3"
    assert [(i["code"], i["kind"]) for i in out["inconsistencies"]] == [("1", "score_exceeds_max")]
