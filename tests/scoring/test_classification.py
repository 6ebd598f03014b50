"""Classification bands, the top-band quota, vetoes and shared ranks, per group.

The bands are the issue's example (≥90 xuất sắc, ≥70 tốt, ≥50 hoàn thành, else không hoàn
thành); Hà Bắc's written total (94,5) is read from its seed report.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from core.vn import parse_vn_decimal
from models.framework import ClassBand, ClassificationScheme, Framework, Node, TieBreak
from scoring.aggregate import score_sheet
from scoring.classification import (
    UnitTotal,
    classify,
    quota_of_next_band,
    rank,
    rank_units,
    top_quota,
)

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
D = Decimal

BANDS = (
    ClassBand(key="excellent", label="Hoàn thành xuất sắc nhiệm vụ", min_total=D(90)),
    ClassBand(key="good", label="Hoàn thành tốt nhiệm vụ", min_total=D(70)),
    ClassBand(key="pass", label="Hoàn thành nhiệm vụ", min_total=D(50)),
    ClassBand(key="fail", label="Không hoàn thành nhiệm vụ", min_total=D(0)),
)


def scheme(**kwargs: object) -> ClassificationScheme:
    return ClassificationScheme.model_validate({"bands": BANDS, **kwargs})


def unit(uid: str, total: str, group: str = "xa", **kwargs: object) -> UnitTotal:
    return UnitTotal.model_validate({"unit_id": uid, "total": total, "group": group, **kwargs})


def bands_of(results: list[UnitTotal], sch: ClassificationScheme) -> dict[str, str]:
    return {c.unit_id: c.band_key for c in classify(sch, results)}


def test_ha_bac_total_is_excellent() -> None:
    text = (SEEDS / "ha-bac-commune-2023-self-assessment-summary.txt").read_text(encoding="utf-8")
    (written,) = re.findall(r"Tổng điểm tự chấm ([0-9]+,[0-9]+) điểm", text)
    (result,) = classify(scheme(), [UnitTotal(unit_id="ha-bac", total=parse_vn_decimal(written))])
    assert result.band_key == "excellent" and result.rank == 1
    assert result.reasons == ("Tổng điểm 94,5 ≥ 90: “Hoàn thành xuất sắc nhiệm vụ”",)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        ("100", "excellent"),
        ("90", "excellent"),
        ("89.999", "good"),
        ("70", "good"),
        ("69.5", "pass"),
        ("50", "pass"),
        ("49.999", "fail"),
        ("0", "fail"),
    ],
)
def test_bands_on_the_total(total: str, band: str) -> None:
    assert bands_of([unit("a", total)], scheme()) == {"a": band}


def test_bands_are_sorted_whatever_their_order() -> None:
    shuffled = ClassificationScheme(bands=(BANDS[2], BANDS[0], BANDS[3], BANDS[1]))
    assert bands_of([unit("a", "75")], shuffled) == {"a": "good"}


def test_total_below_every_band_gets_the_lowest() -> None:
    three = ClassificationScheme(bands=BANDS[:3])
    (result,) = classify(three, [unit("a", "20")])
    assert result.band_key == "pass"
    assert result.reasons == ("Tổng điểm 20 dưới mọi mức: “Hoàn thành nhiệm vụ”",)


def test_quota_is_20_percent_of_the_units_rated_good_nd48_2023_nd335_2025() -> None:
    """Nghị định 335/2025/NĐ-CP, the article on the levels, khoản 5 điểm a: "xuất sắc" "không
    vượt quá 20% tổng số … được xếp loại 'Hoàn thành tốt nhiệm vụ'" of the same agency and group
    (the final count rated "tốt", docs/regulation.md [Q1])."""
    totals = ["98", "97", "95", "93", "91", "85", "80", "72", "60", "40"]
    results = [unit(f"u{i}", t) for i, t in enumerate(totals)]
    out = classify(scheme(top_quota_percent=D(20), source="Nghị định 335/2025/NĐ-CP"), results)
    # 5 candidates and 3 units rated "tốt": keeping k needs k ≤ 20% × (8 − k), so k = 1
    # (1 ≤ 1,4; 2 > 1,2). Keeping 2 of 10, as 20% of the whole group would, breaks the rule.
    assert [c.band_key for c in out] == ["excellent", *["good"] * 7, "pass", "fail"]
    pushed = out[1]
    assert pushed.quota_demoted and pushed.natural_band_key == "excellent"
    assert pushed.reasons[-1] == (
        "Số đơn vị “Hoàn thành xuất sắc nhiệm vụ” không vượt quá 20% số đơn vị “Hoàn thành tốt "
        "nhiệm vụ” của nhóm (Nghị định 335/2025/NĐ-CP): giữ 1 đơn vị, 7 đơn vị “Hoàn thành tốt "
        "nhiệm vụ”; đơn vị đứng thứ 2/5 trong số đề nghị “Hoàn thành xuất sắc nhiệm vụ”: xếp loại "
        "“Hoàn thành tốt nhiệm vụ”"
    )
    assert not out[0].quota_demoted
    excellent = sum(c.band_key == "excellent" for c in out)
    good = sum(c.band_key == "good" for c in out)
    assert excellent * 100 <= 20 * good


def test_quota_ties_broken_by_critical_criteria_then_code() -> None:
    results = [
        unit("b", "95", unit_code="B", critical_total="10"),
        unit("a", "95", unit_code="A", critical_total="12"),
        unit("c", "95", unit_code="C", critical_total="12"),
        *(unit(f"x{i}", "80") for i in range(12)),
    ]
    # 12 "tốt" + 3 candidates: k = floor(20 × 15 / 120) = 2; equal totals, so the critical sum
    # decides (a, c), then the code (a < c).
    got = bands_of(results, scheme(top_quota_percent=D(20)))
    assert (got["a"], got["c"], got["b"]) == ("excellent", "excellent", "good")
    one = bands_of(results, scheme(top_quota_percent=D(10)))  # floor(10 × 15 / 110) = 1
    assert (one["a"], one["c"], one["b"]) == ("excellent", "good", "good")


def test_quota_of_the_whole_group_when_the_framework_says_so() -> None:
    results = [
        unit("b", "95", unit_code="B", critical_total="20"),
        unit("a", "95", unit_code="A", critical_total="1"),
        *(unit(f"x{i}", "60") for i in range(8)),
    ]
    sch = scheme(top_quota_percent=D(10), tie_break=TieBreak.total_then_code, quota_basis="group")
    got = bands_of(results, sch)
    assert (got["a"], got["b"]) == ("excellent", "good")


def test_quota_size() -> None:
    assert quota_of_next_band(D(20), 10, 0) == 0
    assert quota_of_next_band(D(20), 3, 5) == 1
    assert quota_of_next_band(D(20), 10, 2) == 2  # 2 ≤ 20% × 10
    assert quota_of_next_band(D(20), 9, 2) == 1  # 2 > 20% × 9 = 1,8
    assert quota_of_next_band(D(20), 0, 3) == 0  # no minimum of one unless the framework sets it
    assert quota_of_next_band(D(20), 0, 3, min_top=1) == 1
    assert quota_of_next_band(D(100), 0, 4) == 2
    assert quota_of_next_band(D(0), 10, 4) == 0
    assert top_quota(D(20), 10) == 2
    assert top_quota(D(20), 14) == 2  # floor(2,8)
    assert top_quota(D(20), 3) == 0
    assert top_quota(D(20), 3, min_top=1) == 1
    assert top_quota(D(0), 10) == 0
    assert top_quota(D(100), 4) == 4
    assert top_quota(D(20), 0) == 0


def test_no_minimum_of_one_unless_the_framework_sets_it() -> None:
    results = [unit("a", "99"), unit("b", "95"), unit("c", "91")]
    assert set(bands_of(results, scheme(top_quota_percent=D(20))).values()) == {"good"}
    assert bands_of(results, scheme(top_quota_percent=D(20), min_top=1)) == {
        "a": "excellent",
        "b": "good",
        "c": "good",
    }
    closed = bands_of(results, scheme(top_quota_percent=D(0)))
    assert set(closed.values()) == {"good"}


def test_approved_exception_keeps_the_top_band_with_its_decision_number() -> None:
    """Nghị định 335/2025/NĐ-CP, the article on the levels, khoản 5 điểm b: an organisation with
    outstanding results may exceed the ratio when the competent level decides; the decision's
    number is carried in the reasons."""
    results = [unit("a", "99"), unit("b", "95"), unit("c", "91")]
    out = {
        c.unit_id: c
        for c in classify(scheme(top_quota_percent=D(20)), results, exceptions={"b": "125/QĐ-UBND"})
    }
    assert out["b"].band_key == "excellent" and out["b"].quota_exception == "125/QĐ-UBND"
    assert "quyết định số 125/QĐ-UBND" in out["b"].reasons[-1]
    assert out["a"].band_key == "good" and out["a"].quota_demoted  # the exception takes no place
    with pytest.raises(ValueError, match="not classified"):
        classify(scheme(), results, exceptions={"z": "1/QĐ"})


def test_quota_and_ranks_are_per_group() -> None:
    results = [
        unit("xa1", "96", "commune"),
        unit("xa2", "94", "commune"),
        *(unit(f"xa{i}", "80", "commune") for i in range(3, 11)),
        unit("p1", "92", "department"),
        unit("p2", "91", "department"),
        unit("p3", "50", "department"),
        unit("p4", "45", "department"),
        unit("p5", "30", "department"),
    ]
    out = {c.unit_id: c for c in classify(scheme(top_quota_percent=D(20)), results)}
    # communes: 8 "tốt" + 2 candidates → 1; departments: no unit "tốt" → none stays excellent
    assert out["xa1"].band_key == "excellent" and out["xa2"].band_key == "good"
    assert out["p1"].band_key == "good" and out["p2"].band_key == "good"
    assert [out[u].rank for u in ("xa1", "xa2", "xa3", "xa4")] == [1, 2, 3, 3]
    assert [out[u].rank for u in ("p1", "p2", "p3", "p4", "p5")] == [1, 2, 3, 4, 5]


def test_veto_caps_the_band_and_takes_no_quota_place() -> None:
    results = [
        unit("a", "99", critical_zero=("3.5",)),
        unit("b", "95"),
        unit("c", "40", critical_zero=("3.5",)),
        *(unit(f"x{i}", "80") for i in range(5)),
    ]
    out = {
        c.unit_id: c
        for c in classify(scheme(top_quota_percent=D(20), veto_max_band="good"), results)
    }
    assert out["a"].band_key == "good" and out["a"].vetoed
    assert out["a"].reasons[-1] == (
        "Tiêu chí quyết định 3.5 đạt 0 điểm: xếp loại tối đa “Hoàn thành tốt nhiệm vụ”"
    )
    assert out["b"].band_key == "excellent"  # 6 "tốt" (a among them) + 1 candidate → 1
    assert out["c"].band_key == "fail" and not out["c"].vetoed  # already below the cap
    assert out["a"].rank == 1  # the rank follows the total alone


def test_veto_condition_forces_fail_whatever_the_score_nd335_2025() -> None:
    """Nghị định 335/2025/NĐ-CP, the article on the levels, khoản 4 điểm b–d: "Không hoàn thành
    nhiệm vụ" in any of the listed cases, whatever the score (a disciplinary decision, a
    conclusion of the competent level)."""
    (out,) = classify(
        scheme(source="Nghị định 335/2025/NĐ-CP"),
        [unit("a", "99", vetoes=("Người đứng đầu bị kỷ luật khiển trách năm 2026",))],
    )
    assert out.band_key == "fail" and out.vetoed and out.natural_band_key == "excellent"
    assert out.reasons[-1] == (
        "Người đứng đầu bị kỷ luật khiển trách năm 2026: xếp loại “Không hoàn thành nhiệm vụ” "
        "không phụ thuộc số điểm (Nghị định 335/2025/NĐ-CP)"
    )


def test_bands_on_the_share_of_the_applicable_maximum() -> None:
    """A department with perfect answers and one criterion not applicable: 89,5 of 92 points
    is 97,28 on the 100 scale, "xuất sắc" — not "tốt" as on the raw total."""
    u = unit("a", "89.5", max_total="92", nominal_max="100")
    (share,) = classify(scheme(), [u])
    assert share.band_key == "excellent"
    assert share.reasons[0] == (
        "Tổng điểm 89,5/92 điểm tối đa áp dụng, quy về thang 100: 97,28 ≥ 90: "
        "“Hoàn thành xuất sắc nhiệm vụ”"
    )
    (raw,) = classify(scheme(band_basis="total"), [u])
    assert raw.band_key == "good"


def test_share_shown_with_enough_digits_at_the_edge() -> None:
    # 89,99/99,99 × 100 = 89,99899…: two decimals would print "90" next to the 90 band.
    u = unit("a", "89.99", max_total="99.99", nominal_max="100")
    (out,) = classify(scheme(), [u])
    assert out.band_key == "good"
    assert out.reasons[0].startswith(
        "Tổng điểm 89,99/99,99 điểm tối đa áp dụng, quy về thang 100: 89,999 "
    )


def test_no_veto_without_a_veto_band() -> None:
    assert bands_of([unit("a", "99", critical_zero=("3.5",))], scheme()) == {"a": "excellent"}


def test_rank_shares_ties() -> None:
    assert rank([D(90), D(85), D(85), D(70)]) == [1, 2, 2, 4]
    assert rank([D(70), D(85), D(90), D(85)]) == [4, 2, 1, 2]
    assert rank([]) == []
    assert rank([D("94.5"), D("94.500")]) == [1, 1]


def test_rank_units_per_group() -> None:
    results = [unit("a", "80", "xa"), unit("b", "90", "phong"), unit("c", "85", "xa")]
    assert rank_units(results) == {"a": 2, "b": 1, "c": 1}


def test_unit_total_from_a_scored_sheet() -> None:
    fw = Framework(
        name="x",
        year=2024,
        nodes=(
            Node(code="1", title="a", max_points=D(95)),
            Node(code="2", title="b", max_points=D(5), critical=True),
        ),
    )
    sheet = score_sheet(fw, {"1": D(95), "2": D(0)})
    total = UnitTotal.from_sheet(sheet, unit_id="binh-thanh", group="commune")
    assert (total.total, total.critical_total, total.critical_zero) == (D(95), D(0), ("2",))
    (result,) = classify(scheme(veto_max_band="good"), [total])
    assert (result.natural_band_key, result.band_key, result.vetoed) == ("excellent", "good", True)


def test_scheme_errors() -> None:
    with pytest.raises(ValueError, match="veto_max_band"):
        classify(scheme(veto_max_band="gold"), [unit("a", "1")])
    with pytest.raises(ValueError, match="twice"):
        classify(scheme(), [unit("a", "1"), unit("a", "2")])
